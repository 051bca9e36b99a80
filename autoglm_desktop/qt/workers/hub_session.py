"""Everything the model pages do off the GUI thread, and the hub session they share.

* :class:`BackgroundCalls` runs hub requests (search, repository detail, model card, the
  catalog ranking) on daemon threads. huggingface_hub's ``list_models`` has no timeout, so a
  request may hang on a bad network: a newer request of the same kind simply supersedes it, and
  an abandoned thread never holds up the app or its exit (a QThread could not be abandoned so).
* :class:`LibraryWorker` scans, imports and deletes models on a QThread of its own.
* :class:`HubSession` holds the hub settings, the :class:`HubClient` made from them and the
  :class:`DownloadManager`, whose own thread does the transfers; :class:`DownloadBridge` turns
  its listener calls into a Qt signal.

Results always reach the GUI thread through queued signals, and slots are bound methods of
objects living there.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from autoglm_desktop.core.common.errors import AutoGLMError, LibraryError
from autoglm_desktop.core.hub.client import HubClient
from autoglm_desktop.core.hub.downloads import DownloadManager, DownloadStatus, RetryPolicy
from autoglm_desktop.core.hub.settings import (
    HubSettings,
    clear_access_token,
    load_access_token,
    load_hub_settings,
    save_access_token,
    save_hub_settings,
)
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

log = logging.getLogger(__name__)

_STOP_DOWNLOADS_TIMEOUT_S = 3.0


class BackgroundCalls(QObject):
    """Blocking calls on daemon threads; per kind of call only the newest result is delivered."""

    finished = Signal(str, int, object)  # kind, ticket, result
    failed = Signal(str, int, object)  # kind, ticket, AutoGLMError
    _done = Signal(str, int, bool, object)  # from the calling thread to this object's thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tickets = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._done.connect(self._deliver)

    def run(self, kind: str, call: Callable[[], object]) -> int:
        """Start ``call`` on a new thread; an earlier call of this ``kind`` is abandoned."""
        ticket = next(self._tickets)
        self._latest[kind] = ticket
        thread = threading.Thread(
            target=self._work, args=(kind, ticket, call), name=f"hub-{kind}", daemon=True
        )
        thread.start()
        return ticket

    def abandon(self, kind: str) -> None:
        """Forget the call of this kind in flight: its result will be dropped."""
        self._latest.pop(kind, None)

    def busy(self, kind: str) -> bool:
        return kind in self._latest

    def _work(self, kind: str, ticket: int, call: Callable[[], object]) -> None:
        try:
            result, ok = call(), True
        except AutoGLMError as error:
            result, ok = error, False
        except Exception as error:  # a bug must not end silently in a thread nobody watches
            log.exception("Background %s call failed", kind)
            result, ok = AutoGLMError(f"Something went wrong: {error}"), False
        with contextlib.suppress(RuntimeError):  # the page was closed while the call ran
            self._done.emit(kind, ticket, ok, result)

    @Slot(str, int, bool, object)
    def _deliver(self, kind: str, ticket: int, ok: bool, result: object) -> None:
        if self._latest.get(kind) != ticket:
            return  # superseded or abandoned
        del self._latest[kind]
        (self.finished if ok else self.failed).emit(kind, ticket, result)


# --------------------------------------------------------------------------- library


class LibraryWorker(QObject):
    """Scans, imports and deletes models; lives on its own QThread (see :class:`LibraryThread`)."""

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


class LibraryThread:
    """Runs a :class:`LibraryWorker` on its own QThread until :meth:`close`."""

    def __init__(self, sources: LibrarySources | None = None) -> None:
        self.worker = LibraryWorker(sources)
        self.thread = QThread()
        self.thread.setObjectName("library-worker")
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def close(self) -> None:
        self.thread.quit()
        self.thread.wait()


# --------------------------------------------------------------------------- hub session


class DownloadBridge(QObject):
    """Re-emits the download manager's listener calls (on its thread) as a queued signal."""

    statusChanged = Signal(object)  # DownloadStatus

    def relay(self, status: DownloadStatus) -> None:
        with contextlib.suppress(RuntimeError):  # the window closed as a download wound down
            self.statusChanged.emit(status)


class HubSession(QObject):
    """The hub settings, the client made from them, the access token and the download queue."""

    settingsChanged = Signal(object)  # HubSettings
    tokenChanged = Signal(bool)  # whether a token is saved

    def __init__(self, *, policy: RetryPolicy | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.settings: HubSettings = load_hub_settings()
        self.client = HubClient(settings=self.settings)
        self.bridge = DownloadBridge(self)
        self.downloads = DownloadManager(
            client=self.client, policy=policy, listener=self.bridge.relay
        )
        self._started = False

    @property
    def offline(self) -> bool:
        return self.settings.is_offline

    @property
    def has_token(self) -> bool:
        return load_access_token() is not None

    def apply_settings(self, settings: HubSettings) -> None:
        """Save the settings and use them from the next request on.

        Raises:
            HubSettingsError: the custom address or the proxy is not valid.
        """
        save_hub_settings(settings)
        self.settings = settings
        self._new_client()
        self.settingsChanged.emit(settings)

    def save_token(self, token: str) -> None:
        """Raises HubSettingsError when the text is not a token."""
        save_access_token(token)
        self._new_client()
        self.tokenChanged.emit(True)

    def clear_token(self) -> None:
        clear_access_token()
        self._new_client()
        self.tokenChanged.emit(False)

    def _new_client(self) -> None:
        self.client = HubClient(settings=self.settings)
        self.downloads.client = self.client  # the next request of a running download uses it

    def start_downloads(self) -> None:
        """Start the download thread (it then runs queued downloads one after another)."""
        self.downloads.start()
        self._started = True

    def close(self) -> None:
        """Stop transfers; parts are kept and running downloads resume at the next start."""
        if self._started:
            self.downloads.stop(timeout=_STOP_DOWNLOADS_TIMEOUT_S)
            self._started = False
