"""Measures this PC's llama.cpp speed off the GUI thread (the speed forecast's profile)."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal, Slot

from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.engine.build import usable_hardware
from autoglm_desktop.core.planning.speed_profile import MachineSpeed
from autoglm_desktop.qt.workers.background import WorkerThread


class SpeedProfileWorker(QObject):
    progressed = Signal(int, int)  # models timed, of
    finished = Signal(object)  # MachineSpeed, or None when cancelled
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Safe from any thread: the model being timed is abandoned (its process killed)."""
        self._cancel.set()

    def rearm(self) -> None:
        """Clear an earlier cancel; called before queueing :meth:`run`, never inside it."""
        self._cancel.clear()

    @Slot()
    def run(self) -> None:
        # The GPUs this llama.cpp build can use (asking the build may take a moment: not on
        # the GUI thread).
        # numpy and the GGUF writer load only when a measurement runs (not at start-up).
        from autoglm_desktop.core.planning.speed_measurement import iter_measure_speed

        measurement = iter_measure_speed(hardware=usable_hardware())
        try:
            for item in measurement:
                if self._cancel.is_set():
                    break
                if isinstance(item, MachineSpeed):
                    self.finished.emit(item)
                    return
                self.progressed.emit(item.done, item.total)
        except AutoGLMError as exc:
            self.failed.emit(str(exc))
            return
        finally:
            measurement.close()  # kills the timing process and removes the scratch models
        self.finished.emit(None)


def start_speed_profile() -> WorkerThread[SpeedProfileWorker]:
    """A :class:`SpeedProfileWorker` on its own thread; ``close()`` cancels a measurement."""
    worker = SpeedProfileWorker()
    return WorkerThread(worker, name="speed-profile", interrupt=worker.cancel)
