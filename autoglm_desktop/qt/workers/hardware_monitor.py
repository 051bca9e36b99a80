"""Live hardware readings once a second, taken on a thread of their own.

Reading NVML, sysfs and /proc can take milliseconds (NVML's first call much longer), so the
GUI thread never does it: it only receives finished snapshots as a signal.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from autoglm_desktop.core.engine.build import llama_build
from autoglm_desktop.core.machine.hardware import CpuLoadMeter, read_hardware
from autoglm_desktop.qt.workers.background import WorkerThread

INTERVAL_MS = 1000


class HardwareMonitor(QObject):
    snapshot = Signal(object)  # HardwareSnapshot
    buildProbed = Signal(object)  # LlamaBuild: which GPU backends llama.cpp has

    def __init__(self) -> None:
        super().__init__()
        self.engine_pid: int | None = None  # set from the GUI thread; read here (atomic in Python)
        self._meter = CpuLoadMeter()
        self._timer: QTimer | None = None

    @Slot()
    def start(self) -> None:
        self.buildProbed.emit(llama_build())  # remembered, or probed once (about a second)
        self._timer = QTimer(self, interval=INTERVAL_MS)
        self._timer.timeout.connect(self.read_now)
        self._timer.start()
        self.read_now()

    @Slot()
    def read_now(self) -> None:
        self.snapshot.emit(read_hardware(cpu_meter=self._meter, engine_pid=self.engine_pid))

    @Slot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()


def start_hardware_monitor() -> WorkerThread[HardwareMonitor]:
    """A :class:`HardwareMonitor` reading on its own thread until the result's ``close()``."""
    monitor = HardwareMonitor()
    return WorkerThread(
        monitor, name="hardware-monitor", on_start=monitor.start, on_finish=monitor.stop
    )
