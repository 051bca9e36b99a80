"""Runs the optional thread-count measurement off the GUI thread, cancellable between runs."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal, Slot

from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.planning.thread_probe import (
    ThreadMeasurement,
    best_of,
    iter_probe_threads,
)
from autoglm_desktop.qt.workers.background import WorkerThread


class ThreadProbeWorker(QObject):
    measured = Signal(int, float)  # threads, tokens/s
    finished = Signal(object)  # ThreadProbeResult, or None when cancelled
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Safe from any thread: stops after the candidate that is running."""
        self._cancel.set()

    def rearm(self) -> None:
        """Clear an earlier cancel. Called before queueing :meth:`run`, not inside it.

        A cancel sent before the queued run starts must not be lost.
        """
        self._cancel.clear()

    @Slot(object, object)
    def run(self, plan: LoadPlan, candidates: list[int]) -> None:
        measurements: list[ThreadMeasurement] = []
        try:
            for measurement in iter_probe_threads(plan=plan, candidates=candidates):
                measurements.append(measurement)
                self.measured.emit(measurement.threads, measurement.tokens_per_s)
                if self._cancel.is_set():
                    break
        except AutoGLMError as exc:
            self.failed.emit(str(exc))
            return
        complete = len(measurements) == len(candidates) and not self._cancel.is_set()
        self.finished.emit(best_of(measurements) if complete else None)


def start_thread_probe() -> WorkerThread[ThreadProbeWorker]:
    """A :class:`ThreadProbeWorker` on its own thread; ``close()`` cancels a measurement first."""
    worker = ThreadProbeWorker()
    return WorkerThread(worker, name="thread-probe", interrupt=worker.cancel)
