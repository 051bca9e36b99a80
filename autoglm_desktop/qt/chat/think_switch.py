"""The Think switch beside the composer: thinking on or off, or gpt-oss's reasoning effort.

It shows only what the loaded model's chat template supports (``ReasoningSupport``): a
check box for templates with an on/off switch, a choice of low / medium / high for a
reasoning effort, nothing for models without a switch. The setting belongs to the open
conversation; the window stores it.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QWidget

from autoglm_desktop.core.common.types import ReasoningSupport, ThinkControl, Thinking

EFFORTS = (Thinking.LOW.value, Thinking.MEDIUM.value, Thinking.HIGH.value)


class ThinkSwitch(QWidget):
    """Signals: changed(Thinking): the user picked another setting."""

    changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._support = ReasoningSupport()
        self.checkbox = QCheckBox(self.tr("Think"))
        self.checkbox.setToolTip(
            self.tr("Let the model think before it answers: slower, often better answers")
        )
        self.effort = QComboBox()
        self.effort.setToolTip(self.tr("How long the model reasons before it answers"))
        for label, setting in (
            (self.tr("Think: low"), Thinking.LOW),
            (self.tr("Think: medium"), Thinking.MEDIUM),
            (self.tr("Think: high"), Thinking.HIGH),
        ):
            self.effort.addItem(label, setting.value)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.checkbox)
        layout.addWidget(self.effort)
        self.checkbox.toggled.connect(self._on_toggled)
        self.effort.activated.connect(self._on_effort)
        self.set_support(None)

    def set_support(self, support: ReasoningSupport | None) -> None:
        """Show the control the model's template supports (None: no model, nothing shown)."""
        self._support = support or ReasoningSupport()
        control = self._support.control
        switch = control in (ThinkControl.ENABLE_THINKING, ThinkControl.NO_THINK_SUFFIX)
        self.checkbox.setVisible(switch)
        self.effort.setVisible(control is ThinkControl.REASONING_EFFORT)
        self.setVisible(bool(self._support.choices))

    def show_setting(self, setting: Thinking) -> None:
        """Show a conversation's setting (its default: the model's); emits nothing."""
        shown = self._support.resolve(setting)
        blocked = self.checkbox.blockSignals(True)
        self.checkbox.setChecked(shown is Thinking.ON)
        self.checkbox.blockSignals(blocked)
        index = self.effort.findData(shown.value)
        if index >= 0:
            self.effort.setCurrentIndex(index)

    def setting(self) -> Thinking:
        """The setting shown now (as the model applies it)."""
        if self._support.control is ThinkControl.REASONING_EFFORT:
            data = self.effort.currentData()
            return Thinking(data) if data in EFFORTS else self._support.default
        return Thinking.ON if self.checkbox.isChecked() else Thinking.OFF

    def _on_toggled(self, _checked: bool) -> None:
        self.changed.emit(self.setting())

    def _on_effort(self, _index: int) -> None:
        self.changed.emit(self.setting())
