"""The Settings pane's "Speed of this PC" box: measure once, see when, measure again."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.planning.speed_profile import MachineSpeed, load_machine_speed
from autoglm_desktop.qt.workers.background import WorkerThread
from autoglm_desktop.qt.workers.speed_profile_worker import SpeedProfileWorker, start_speed_profile


class SpeedTestBox(QGroupBox):
    measureRequested = Signal()  # queued to the worker
    measured = Signal(object)  # MachineSpeed: forecasts can be shown now
    stopped = Signal()  # a measurement ended: measured, cancelled or failed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Speed of this PC"))
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.hide()
        self.button = QPushButton()
        self.button.clicked.connect(self._on_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.button)
        self._worker: WorkerThread[SpeedProfileWorker] | None = None
        self._running = False
        self._show_kept(load_machine_speed(hardware=read_hardware(include_gpus=False)))

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Measure now (a few minutes on a small PC, in a separate process)."""
        if self._running:
            return
        if self._worker is None:
            self._worker = start_speed_profile()
            worker = self._worker.worker
            self.measureRequested.connect(worker.run)
            worker.progressed.connect(self._on_progress)
            worker.finished.connect(self._on_finished)
            worker.failed.connect(self._on_failed)
        self._running = True
        self.button.setText(self.tr("Cancel"))
        self.status.setText(self.tr("Timing llama.cpp on small test models…"))
        self.progress.setRange(0, 0)
        self.progress.show()
        self._worker.worker.rearm()
        self.measureRequested.emit()

    def cancel(self) -> None:
        if self._worker is not None and self._running:
            self._worker.worker.cancel()
            self.status.setText(self.tr("Cancelling…"))

    def close_worker(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        self._running = False

    def _on_button(self) -> None:
        if self._running:
            self.cancel()
        else:
            self.start()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _on_finished(self, speed: MachineSpeed | None) -> None:
        self._running = False
        self.progress.hide()
        if speed is None:
            self._show_kept(load_machine_speed(hardware=read_hardware(include_gpus=False)))
            self.status.setText(self.tr("Measuring was cancelled; nothing was changed."))
        else:
            self._show_kept(speed)
            self.measured.emit(speed)
        self.stopped.emit()

    def _on_failed(self, message: str) -> None:
        self._running = False
        self.progress.hide()
        self.button.setText(self.tr("Try again"))
        self.status.setText(self.tr("The speed could not be measured: %1").replace("%1", message))

    def _show_kept(self, speed: MachineSpeed | None) -> None:
        if speed is None:
            self.status.setText(
                self.tr(
                    "Not measured yet. Measure once (a few minutes) to see how fast each "
                    "model will write on this PC, in the Models window and before a download."
                )
            )
            self.button.setText(self.tr("Measure speed"))
            return
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(speed.measured_at))
        self.status.setText(
            self.tr("Measured on %1. Speed forecasts show beside each model.").replace("%1", when)
        )
        self.button.setText(self.tr("Measure again"))
