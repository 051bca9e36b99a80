"""Per-conversation system prompt and sampling settings."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.core.common.types import SamplingSettings


class ConversationSettingsDialog(QDialog):
    def __init__(
        self, *, system_prompt: str, sampling: SamplingSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Chat settings"))
        self.system_prompt = QPlainTextEdit(system_prompt)
        self.system_prompt.setPlaceholderText(self.tr("e.g. You are a concise assistant."))
        self.temperature = self._double(0.0, 2.0, 0.05, sampling.temperature)
        self.top_p = self._double(0.0, 1.0, 0.01, sampling.top_p)
        self.min_p = self._double(0.0, 1.0, 0.01, sampling.min_p)
        self.repeat_penalty = self._double(0.5, 2.0, 0.01, sampling.repeat_penalty)
        self.top_k = self._int(0, 1000, sampling.top_k)
        self.max_tokens = self._int(1, 32768, sampling.max_tokens)
        self.seed = self._int(-1, 2**31 - 1, sampling.seed)
        self.seed.setSpecialValueText(self.tr("random"))
        form = QFormLayout()
        form.addRow(self.tr("System prompt:"), self.system_prompt)
        form.addRow(self.tr("Temperature:"), self.temperature)
        form.addRow(self.tr("Top-p:"), self.top_p)
        form.addRow(self.tr("Top-k:"), self.top_k)
        form.addRow(self.tr("Min-p:"), self.min_p)
        form.addRow(self.tr("Repeat penalty:"), self.repeat_penalty)
        form.addRow(self.tr("Max reply tokens:"), self.max_tokens)
        form.addRow(self.tr("Seed:"), self.seed)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(lambda: self._show_sampling(SamplingSettings()))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def sampling(self) -> SamplingSettings:
        return SamplingSettings(
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            top_k=self.top_k.value(),
            min_p=self.min_p.value(),
            repeat_penalty=self.repeat_penalty.value(),
            max_tokens=self.max_tokens.value(),
            seed=self.seed.value(),
        )

    def _show_sampling(self, sampling: SamplingSettings) -> None:
        self.temperature.setValue(sampling.temperature)
        self.top_p.setValue(sampling.top_p)
        self.top_k.setValue(sampling.top_k)
        self.min_p.setValue(sampling.min_p)
        self.repeat_penalty.setValue(sampling.repeat_penalty)
        self.max_tokens.setValue(sampling.max_tokens)
        self.seed.setValue(sampling.seed)

    @staticmethod
    def _double(low: float, high: float, step: float, value: float) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setValue(value)
        return box

    @staticmethod
    def _int(low: int, high: int, value: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        return box
