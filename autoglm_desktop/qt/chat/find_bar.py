"""The find bar under the transcript: a text box, older/newer buttons and the outcome."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget


class FindBar(QWidget):
    """Asks for text to find in the open conversation; hidden until open_bar().

    Signals:
        findRequested(str, bool): find this text; True: older (upward), False: newer.
    """

    findRequested = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result_label = QLabel()
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(self.tr("Find in this chat"))
        self.edit.setClearButtonEnabled(True)
        self.edit.returnPressed.connect(self._on_return_pressed)
        self.edit.textChanged.connect(lambda _text: self.result_label.clear())
        self.older_button = self._button("↑", self.tr("Older match (Enter)"))
        self.older_button.clicked.connect(lambda: self._request(older=True))
        self.newer_button = self._button("↓", self.tr("Newer match (Shift+Enter)"))
        self.newer_button.clicked.connect(lambda: self._request(older=False))
        close = self._button("✕", self.tr("Close (Esc)"))
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.edit, self.older_button, self.newer_button, self.result_label, close):
            layout.addWidget(widget, 1 if widget is self.edit else 0)
        self.hide()

    def open_bar(self) -> None:
        self.show()
        self.edit.setFocus()
        self.edit.selectAll()

    def show_result(self, found: bool) -> None:
        self.result_label.setText("" if found else self.tr("No match"))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
        else:
            super().keyPressEvent(event)

    def _on_return_pressed(self) -> None:
        shift = QGuiApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier
        self._request(older=not shift)

    def _request(self, *, older: bool) -> None:
        if self.edit.text():
            self.findRequested.emit(self.edit.text(), older)

    def _button(self, text: str, tooltip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tooltip)
        button.setAutoRaise(True)
        return button
