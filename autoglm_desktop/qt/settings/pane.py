"""The Settings pane: live meters and the load plan, automatic or fixed by hand.

For threads, GPU layers, context and KV cache type it shows the automatic value with its
reason, lets the user fix a value instead, and predicts the memory of the resulting plan
against what the machine has free right now (red when it will not fit). Below: the remote
servers (:mod:`autoglm_desktop.qt.settings.remote_servers`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.engine.build import (
    CPU_ONLY,
    LlamaBuild,
    cached_llama_build,
    restrict_to_build,
)
from autoglm_desktop.core.machine.hardware import HardwareSnapshot
from autoglm_desktop.core.models.gguf_info import GGUFInfo, read_gguf_info
from autoglm_desktop.core.planning.overrides import load_overrides, save_overrides
from autoglm_desktop.core.planning.speed_profile import kept_machine_speed, plan_forecast
from autoglm_desktop.core.planning.thread_probe import (
    ThreadProbeResult,
    candidate_threads,
    recall_threads,
    remember_threads,
)
from autoglm_desktop.core.planning.tuner import PlanOverrides, TunedPlan, plan_for
from autoglm_desktop.core.remote.keys import ApiKeyStore
from autoglm_desktop.qt.common.plain_text import plain_label, set_plain_text
from autoglm_desktop.qt.common.speed_text import speed_explanation
from autoglm_desktop.qt.settings.meters import HardwareMeters, Meter, gib
from autoglm_desktop.qt.settings.remote_servers import RemoteServersSection
from autoglm_desktop.qt.settings.speed_test import SpeedTestBox
from autoglm_desktop.qt.workers.background import WorkerThread
from autoglm_desktop.qt.workers.thread_probe_worker import ThreadProbeWorker, start_thread_probe

KV_TYPES = ("f16", "q8_0", "q4_0")
RED = "QProgressBar::chunk { background-color: #d9534f; }"


class SettingRow:
    """One tunable: an Auto checkbox, an editor, and the reason for the automatic value."""

    def __init__(self, label: str, editor: QSpinBox | QComboBox, grid: QGridLayout, row: int):
        self.auto = QCheckBox(label)
        self.auto.setChecked(True)
        self.editor = editor
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: palette(placeholder-text);")
        grid.addWidget(self.auto, row * 2, 0)
        grid.addWidget(editor, row * 2, 1)
        grid.addWidget(self.reason, row * 2 + 1, 0, 1, 2)
        self.auto.toggled.connect(lambda checked: editor.setEnabled(not checked))
        editor.setEnabled(False)

    def value(self) -> int | str | None:
        if self.auto.isChecked():
            return None
        if isinstance(self.editor, QComboBox):
            return str(self.editor.currentText())
        return int(self.editor.value())

    def show(self, *, automatic: int | str, reason: str, fixed: int | str | None) -> None:
        for widget in (self.auto, self.editor):
            widget.blockSignals(True)
        self.auto.setChecked(fixed is None)
        self.editor.setEnabled(fixed is not None)
        shown = automatic if fixed is None else fixed
        if isinstance(self.editor, QComboBox):
            self.editor.setCurrentText(str(shown))
        else:
            self.editor.setValue(int(shown))
        for widget in (self.auto, self.editor):
            widget.blockSignals(False)
        self.reason.setText(reason)


class SettingsPane(QWidget):
    applyRequested = Signal(object)  # TunedPlan
    idleReleaseChanged = Signal(int)  # minutes; 0: off
    probeRequested = Signal(object, object)  # LoadPlan, candidate thread counts (queued)

    def __init__(
        self, parent: QWidget | None = None, *, api_keys: ApiKeyStore | None = None
    ) -> None:
        super().__init__(parent)
        self.meters = HardwareMeters()
        self._info: GGUFInfo | None = None
        self._model_path: Path | None = None
        self._hardware: HardwareSnapshot | None = None
        self.auto_plan: TunedPlan | None = None
        self.chosen_plan: TunedPlan | None = None
        self._build: LlamaBuild = cached_llama_build() or CPU_ONLY
        self.build_label = QLabel()
        self.build_label.setWordWrap(True)
        self._show_build()

        self.threads = QSpinBox(minimum=1, maximum=256)
        self.gpu_layers = QSpinBox(minimum=0, maximum=1000)
        self.context = QSpinBox(minimum=256, maximum=1 << 20, singleStep=1024)
        self.kv_type = QComboBox()
        self.kv_type.addItems(KV_TYPES)
        plan_box = QGroupBox(self.tr("Load settings"))
        grid = QGridLayout(plan_box)
        self.rows = {
            "n_threads": SettingRow(self.tr("Threads (auto)"), self.threads, grid, 0),
            "n_gpu_layers": SettingRow(self.tr("GPU layers (auto)"), self.gpu_layers, grid, 1),
            "n_ctx": SettingRow(self.tr("Context (auto)"), self.context, grid, 2),
            "kv_cache": SettingRow(self.tr("KV cache (auto)"), self.kv_type, grid, 3),
        }
        self.measure_button = QPushButton(self.tr("Measure the fastest thread count"))
        self.measure_button.setToolTip(
            self.tr(
                "Decodes a few dozen tokens at each thread count (a few seconds) and remembers "
                "the fastest for this model on this computer."
            )
        )
        self.measure_button.clicked.connect(self._on_measure)
        self.measure_status = plain_label()  # may quote an engine error
        self.measure_status.setWordWrap(True)
        grid.addWidget(self.measure_button, 8, 0, 1, 2)
        grid.addWidget(self.measure_status, 9, 0, 1, 2)
        self._probe: WorkerThread[ThreadProbeWorker] | None = None
        self._probe_hardware: HardwareSnapshot | None = None
        for row in self.rows.values():
            row.auto.toggled.connect(self._recompute)
        for editor in (self.threads, self.gpu_layers, self.context):
            editor.valueChanged.connect(self._recompute)
        self.kv_type.currentTextChanged.connect(self._recompute)

        self.predicted_ram = Meter()
        self.predicted_vram: list[Meter] = []
        self._predicted_grid = QGridLayout()
        self._predicted_grid.addWidget(QLabel(self.tr("RAM:")), 0, 0)
        self._predicted_grid.addWidget(self.predicted_ram, 0, 1)
        self.explanation = plain_label()  # names the model, may quote a file error
        self.explanation.setWordWrap(True)
        self.apply_button = QPushButton(self.tr("Apply and reload"))
        self.apply_button.clicked.connect(self._on_apply)
        predicted_box = QGroupBox(self.tr("Predicted memory"))
        predicted_layout = QVBoxLayout(predicted_box)
        predicted_layout.addLayout(self._predicted_grid)
        predicted_layout.addWidget(self.explanation)
        self.speed_forecast = QLabel()
        self.speed_forecast.setWordWrap(True)
        self.speed_forecast.hide()
        predicted_layout.addWidget(self.speed_forecast)
        predicted_layout.addWidget(self.apply_button)

        self.idle_release = QCheckBox(self.tr("Release memory when idle for"))
        self.idle_minutes = QSpinBox(minimum=1, maximum=240, value=10, suffix=self.tr(" min"))
        self.idle_release.toggled.connect(self._emit_idle)
        self.idle_minutes.valueChanged.connect(self._emit_idle)
        idle = QHBoxLayout()
        idle.addWidget(self.idle_release)
        idle.addWidget(self.idle_minutes)
        idle.addStretch(1)

        meters_box = QGroupBox(self.tr("This computer now"))
        meters_layout = QVBoxLayout(meters_box)
        meters_layout.addWidget(self.meters)
        meters_layout.addWidget(self.build_label)
        layout = QVBoxLayout(self)
        self.model_title = plain_label(self.tr("No model selected"))  # a file name
        self.model_title.setWordWrap(True)
        layout.addWidget(meters_box)
        layout.addWidget(self.model_title)
        layout.addWidget(plan_box)
        layout.addWidget(predicted_box)
        self.speed_test = SpeedTestBox()
        self.speed_test.measured.connect(lambda _speed: self._recompute())
        layout.addWidget(self.speed_test)
        layout.addLayout(idle)
        self.remote_servers = RemoteServersSection(keys=api_keys or ApiKeyStore())
        layout.addWidget(self.remote_servers)
        layout.addStretch(1)

    # -- inputs --------------------------------------------------------------------------

    def set_model(self, path: Path | None, *, info: GGUFInfo | None = None) -> None:
        """Show the plan for another model (its GGUF header unless given, stored overrides)."""
        self._model_path, self._info = path, None
        if path is not None:
            try:
                self._info = info or read_gguf_info(path)
            except AutoGLMError as exc:
                set_plain_text(self.model_title, exc)
                self._recompute()
                return
            self.model_title.setText(path.name)
            fixed = load_overrides(path)
            self._show_fixed(fixed)
        self._recompute()

    def set_idle_release(self, minutes: int) -> None:
        self.idle_release.blockSignals(True)
        self.idle_release.setChecked(minutes > 0)
        if minutes > 0:
            self.idle_minutes.setValue(minutes)
        self.idle_release.blockSignals(False)

    @property
    def model_path(self) -> Path | None:
        return self._model_path

    def show_snapshot(self, snapshot: HardwareSnapshot, *, refresh: bool = True) -> None:
        """Take new readings; redraw only when visible (``refresh``), compute plans lazily."""
        self._hardware = snapshot
        if refresh:
            self.meters.show_snapshot(snapshot)
            self._recompute()

    def plan_now(self) -> TunedPlan | None:
        """The plan to load with: automatic values, except those fixed by hand."""
        self._recompute()
        return self.chosen_plan

    # -- computing -----------------------------------------------------------------------

    def overrides(self) -> PlanOverrides:
        kv = self.rows["kv_cache"].value()
        return PlanOverrides(
            n_threads=_int_or_none(self.rows["n_threads"].value()),
            n_gpu_layers=_int_or_none(self.rows["n_gpu_layers"].value()),
            n_ctx=_int_or_none(self.rows["n_ctx"].value()),
            kv_type=str(kv) if kv is not None else None,
        )

    def set_llama_build(self, build: LlamaBuild) -> None:
        self._build = build
        self._show_build()
        self._recompute()

    def _show_build(self) -> None:
        gpus = sorted(self._build.gpu_backends)
        if self._build.gpu_offload and gpus:
            text = self.tr("llama.cpp can use: %1").replace("%1", ", ".join(self._build.backends))
        else:
            text = self.tr("This llama.cpp build runs on the CPU only; GPUs are not used.")
        self.build_label.setText(text)

    def _recompute(self) -> None:
        info = self._info
        hardware = restrict_to_build(self._hardware, self._build) if self._hardware else None
        self.apply_button.setEnabled(info is not None and hardware is not None)
        if info is None or hardware is None:
            self.auto_plan = self.chosen_plan = None
            return
        try:
            measured = recall_threads(info=info, hardware=hardware)
            self.auto_plan = plan_for(
                info=info, hardware=hardware, model_path=self._model_path, measured_threads=measured
            )
            self.chosen_plan = plan_for(
                info=info,
                hardware=hardware,
                overrides=self.overrides(),
                model_path=self._model_path,
                measured_threads=measured,
            )
        except AutoGLMError as exc:
            set_plain_text(self.explanation, exc)
            self.auto_plan = self.chosen_plan = None
            return
        self._show_auto(self.auto_plan)
        self._show_prediction(self.chosen_plan)

    def _show_auto(self, tuned: TunedPlan) -> None:
        plan, reasons = tuned.plan, tuned.reasons
        info = self._info
        # As the estimator counts them: the declared layers, else the blk.N tensors found.
        n_layer = (info.n_layer or len(info.layer_bytes)) if info is not None else 0
        self.gpu_layers.setMaximum(n_layer + 1)
        fixed = self.overrides()
        self.rows["n_threads"].show(
            automatic=plan.n_threads or 1,
            reason=reasons.get("n_threads", ""),
            fixed=fixed.n_threads,
        )
        self.rows["n_gpu_layers"].show(
            automatic=plan.n_gpu_layers,
            reason=reasons.get("n_gpu_layers", ""),
            fixed=fixed.n_gpu_layers,
        )
        self.rows["n_ctx"].show(
            automatic=plan.n_ctx, reason=reasons.get("n_ctx", ""), fixed=fixed.n_ctx
        )
        self.rows["kv_cache"].show(
            automatic=plan.type_k, reason=reasons.get("kv_cache", ""), fixed=fixed.kv_type
        )

    def _show_prediction(self, tuned: TunedPlan) -> None:
        budget, estimate = tuned.budget, tuned.estimate
        ram_limit = budget.ram_bytes or 1
        self.predicted_ram.show_fraction(
            estimate.ram_bytes / ram_limit,
            self.tr("%1 of %2 free")
            .replace("%1", gib(estimate.ram_bytes))
            .replace("%2", gib(budget.ram_bytes)),
        )
        self.predicted_ram.setStyleSheet("" if estimate.ram_bytes <= budget.ram_bytes else RED)
        while len(self.predicted_vram) < len(budget.gpus):
            meter = Meter()
            row = len(self.predicted_vram) + 1
            self._predicted_grid.addWidget(plain_label(budget.gpus[row - 1].name + ":"), row, 0)
            self._predicted_grid.addWidget(meter, row, 1)
            self.predicted_vram.append(meter)
        for meter, need, have in zip(
            self.predicted_vram, estimate.vram_bytes, budget.gpu_bytes, strict=False
        ):
            meter.show_fraction(
                need / (have or 1),
                self.tr("%1 of %2 free").replace("%1", gib(need)).replace("%2", gib(have)),
            )
            meter.setStyleSheet("" if need <= have else RED)
        prefix = "" if tuned.fits else self.tr("Will not fit: ")
        self.explanation.setText(prefix + tuned.explanation)
        self._show_speed(tuned)

    def _show_speed(self, tuned: TunedPlan) -> None:
        speed = None
        if self._info is not None and self._hardware is not None:
            kept = kept_machine_speed(hardware=self._hardware)
            speed = plan_forecast(info=self._info, plan=tuned.plan, speed=kept)
        self.speed_forecast.setVisible(speed is not None)
        if speed is not None:
            self.speed_forecast.setText(speed_explanation(speed))

    # -- actions -------------------------------------------------------------------------

    def _show_fixed(self, fixed: PlanOverrides) -> None:
        for key, value in (
            ("n_threads", fixed.n_threads),
            ("n_gpu_layers", fixed.n_gpu_layers),
            ("n_ctx", fixed.n_ctx),
            ("kv_cache", fixed.kv_type),
        ):
            row = self.rows[key]
            row.auto.blockSignals(True)
            row.auto.setChecked(value is None)
            row.editor.setEnabled(value is not None)
            if value is not None:
                if isinstance(row.editor, QComboBox):
                    row.editor.setCurrentText(str(value))
                else:
                    row.editor.setValue(int(value))
            row.auto.blockSignals(False)

    def _on_apply(self) -> None:
        tuned = self.plan_now()
        if tuned is None or self._model_path is None:
            return
        if not tuned.fits and not confirm_load_anyway(self, tuned):
            return
        save_overrides(self._model_path, self.overrides())
        self.applyRequested.emit(tuned)

    # -- thread measurement --------------------------------------------------------------

    def _on_measure(self) -> None:
        if self._probe is not None and self.measure_button.text() == self.tr("Cancel measuring"):
            self._probe.worker.cancel()
            self.measure_status.setText(self.tr("Cancelling after the current run…"))
            return
        tuned, hardware = self.plan_now(), self._hardware
        if tuned is None or hardware is None:
            return
        if self._probe is None:
            self._probe = start_thread_probe()
            worker = self._probe.worker
            self.probeRequested.connect(worker.run)
            worker.measured.connect(self._on_probe_measured)
            worker.finished.connect(self._on_probe_finished)
            worker.failed.connect(self._on_probe_failed)
        self._probe_hardware = hardware
        candidates = candidate_threads(hardware)
        self.measure_button.setText(self.tr("Cancel measuring"))
        self.measure_status.setText(
            self.tr("Measuring %1 thread counts…").replace("%1", str(len(candidates)))
        )
        self._probe.worker.rearm()
        self.probeRequested.emit(tuned.plan, candidates)

    def _on_probe_measured(self, threads: int, tokens_per_s: float) -> None:
        self.measure_status.setText(
            self.measure_status.text()
            + "\n"
            + self.tr("%1 threads: %2 tokens/s")
            .replace("%1", str(threads))
            .replace("%2", f"{tokens_per_s:.1f}")
        )

    def _on_probe_finished(self, result: ThreadProbeResult | None) -> None:
        self.measure_button.setText(self.tr("Measure the fastest thread count"))
        if result is None:
            self.measure_status.setText(self.tr("Measuring was cancelled; nothing was changed."))
            return
        if self._info is not None and self._probe_hardware is not None:
            remember_threads(result, info=self._info, hardware=self._probe_hardware)
        self.measure_status.setText(
            self.tr("Fastest: %1 threads (remembered for this model and computer).").replace(
                "%1", str(result.best_threads)
            )
        )
        self._recompute()

    def _on_probe_failed(self, message: str) -> None:
        self.measure_button.setText(self.tr("Measure the fastest thread count"))
        self.measure_status.setText(message)

    def close_workers(self) -> None:
        self.speed_test.close_worker()
        self.remote_servers.close_calls()
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    def _emit_idle(self) -> None:
        self.idleReleaseChanged.emit(
            self.idle_minutes.value() if self.idle_release.isChecked() else 0
        )


def confirm_load_anyway(parent: QWidget, tuned: TunedPlan) -> bool:
    """Ask before loading a plan that does not fit, saying what will happen."""
    text = QCoreApplication.translate(
        "SettingsPane",
        "This plan needs more memory than this computer has free right now:\n\n%1\n\n"
        "Loading it anyway may make the computer swap and slow down, or the model may be "
        "stopped by the system; your chats stay safe either way. Load anyway?",
    ).replace("%1", tuned.explanation)
    answer = QMessageBox.warning(
        parent,
        QCoreApplication.translate("SettingsPane", "Model may not fit"),
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


def _int_or_none(value: int | str | None) -> int | None:
    return int(value) if value is not None else None
