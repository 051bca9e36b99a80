"""Live meters for RAM, swap, CPU, each GPU's VRAM and the model's own memory."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QProgressBar, QWidget

from autoglm_desktop.core.machine.hardware import GpuReading, HardwareSnapshot

UNKNOWN = "—"


def gib(value: int | None) -> str:
    return UNKNOWN if value is None else f"{value / (1 << 30):.1f} GB"


class Meter(QProgressBar):
    """A bar with its own text; shows "unknown" rather than a wrong number."""

    def __init__(self) -> None:
        super().__init__()
        self.setRange(0, 1000)
        self.setTextVisible(True)

    def show_fraction(self, fraction: float | None, text: str) -> None:
        if fraction is None:
            self.setValue(0)
            self.setFormat(text or self.tr("unknown"))
            return
        self.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
        self.setFormat(text)


class HardwareMeters(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ram = Meter()
        self.swap = Meter()
        self.cpu = Meter()
        self.model_memory = QLabel(UNKNOWN)
        self._gpu_meters: dict[tuple[str, int], Meter] = {}
        self._form = QFormLayout(self)
        self._form.setContentsMargins(0, 0, 0, 0)
        self._form.addRow(self.tr("RAM:"), self.ram)
        self._form.addRow(self.tr("Swap:"), self.swap)
        self._form.addRow(self.tr("CPU:"), self.cpu)
        self._form.addRow(self.tr("Model uses:"), self.model_memory)

    def show_snapshot(self, snapshot: HardwareSnapshot) -> None:
        memory = snapshot.memory
        total, available = memory.effective_total_bytes, memory.effective_available_bytes
        if total and available is not None:
            used = total - available
            self.ram.show_fraction(used / total, f"{gib(used)} / {gib(total)}")
        else:
            self.ram.show_fraction(None, "")
        if memory.swap_total_bytes:
            used_swap = memory.swap_used_bytes or 0
            self.swap.show_fraction(
                used_swap / memory.swap_total_bytes,
                f"{gib(used_swap)} / {gib(memory.swap_total_bytes)}",
            )
        else:
            self.swap.show_fraction(0.0, self.tr("none"))
        loads = snapshot.cpu.per_core_load
        if loads:
            average = sum(loads) / len(loads)
            per_core = " ".join(f"{load * 100:.0f}%" for load in loads[:16])
            self.cpu.show_fraction(average, per_core)
        else:
            self.cpu.show_fraction(None, "")
        self.model_memory.setText(
            self.tr("%1 RAM").replace("%1", gib(memory.engine_rss_bytes))
            if memory.engine_rss_bytes
            else self.tr("no model loaded")
        )
        for gpu in snapshot.gpus:
            self._show_gpu(gpu)

    def _show_gpu(self, gpu: GpuReading) -> None:
        key = (gpu.backend, gpu.index)
        meter = self._gpu_meters.get(key)
        if meter is None:
            meter = self._gpu_meters[key] = Meter()
            self._form.insertRow(self._form.rowCount() - 1, f"{gpu.name}:", meter)
        if gpu.total_bytes and gpu.used_bytes is not None:
            text = f"{gib(gpu.used_bytes)} / {gib(gpu.total_bytes)}"
            if gpu.used_by_us_bytes:
                text += self.tr(" (model: %1)").replace("%1", gib(gpu.used_by_us_bytes))
            meter.show_fraction(gpu.used_bytes / gpu.total_bytes, text)
        else:
            meter.show_fraction(None, "")
