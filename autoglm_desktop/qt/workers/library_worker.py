"""The library worker: scans, imports and deletes models on a thread of its own.

Scanning walks folders and other apps' stores and reads GGUF headers, so it never runs on the
GUI thread; requests arrive as queued signals and run one after another.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from autoglm_desktop.core.common.errors import AutoGLMError, LibraryError
from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.models.library import (
    LibrarySources,
    LocalModel,
    add_folder,
    delete_model,
    forget_model,
    import_model_file,
    scan_library,
)
from autoglm_desktop.core.planning.fit import FitEstimate, estimate_local_fit
from autoglm_desktop.qt.workers.background import WorkerThread

log = logging.getLogger(__name__)


class LibraryWorker(QObject):
    """Scans, imports and deletes models; lives on its own thread (:func:`start_library_worker`)."""

    scanned = Signal(object)  # list[LocalModel]
    fitted = Signal(object)  # dict[Path, FitEstimate]: models the estimator could judge
    imported = Signal(object)  # list[LocalModel]
    deleted = Signal(object)  # LocalModel
    failed = Signal(str)

    def __init__(self, sources: LibrarySources | None = None) -> None:
        super().__init__()
        self.sources = sources

    @Slot()
    def scan(self) -> None:
        try:
            models = scan_library(self.sources)
        except (AutoGLMError, OSError) as error:
            self.failed.emit(str(error))
            return
        self.scanned.emit(models)
        self.fitted.emit(_fits(models))

    @Slot(object)
    def import_files(self, paths: list[Path]) -> None:
        models, problems = [], []
        for path in paths:
            try:
                models.append(import_model_file(path))
            except LibraryError as error:
                problems.append(str(error))
        if models:
            self.imported.emit(models)
        if problems:
            self.failed.emit("\n".join(problems))
        self.scan()

    @Slot(object)
    def add_folder(self, folder: Path) -> None:
        try:
            add_folder(folder)
        except LibraryError as error:
            self.failed.emit(str(error))
            return
        self.scan()

    @Slot(object)
    def delete(self, model: LocalModel) -> None:
        try:
            delete_model(model)
        except LibraryError as error:
            self.failed.emit(str(error))
        else:
            self.deleted.emit(model)
        self.scan()

    @Slot(object)
    def forget(self, model: LocalModel) -> None:
        forget_model(model)
        self.scan()


def _fits(models: list[LocalModel]) -> dict[Path, FitEstimate]:
    hardware = read_hardware()
    fits = {}
    for model in models:
        try:
            fits[model.path] = estimate_local_fit(model.path, hardware=hardware)
        except (AutoGLMError, OSError, ValueError) as error:
            log.debug("No fit estimate for %s: %s", model.path, error)
    return fits


def start_library_worker(sources: LibrarySources | None = None) -> WorkerThread[LibraryWorker]:
    """A :class:`LibraryWorker` running on its own thread until the result's ``close()``."""
    return WorkerThread(LibraryWorker(sources), name="library-worker")
