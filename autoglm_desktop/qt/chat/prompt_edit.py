"""The message box: Enter sends, Shift+Enter starts a new line, Esc stops the reply.

A very large paste (a log, a book, a line of 100k characters) is kept aside and shown as one
short line, "[Pasted text #1, 2,000,000 characters]", which the sent prompt replaces by the
text: QPlainTextEdit lays out a block as a whole, in a time that grows faster than its length,
and would freeze the window for seconds on such a paste.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget

LARGE_PASTE_CHARS = 50_000  # a longer paste is kept aside
LONG_LINE_CHARS = 5_000  # so is a paste with a longer line


class PromptEdit(QPlainTextEdit):
    submitted = Signal(str)
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(
            self.tr("Type a message — Enter to send, Shift+Enter for a new line, Esc to stop")
        )
        self.setTabChangesFocus(True)
        self.setMaximumHeight(96)
        self._pasted: dict[str, str] = {}  # the line shown for a large paste → its text

    def prompt_text(self) -> str:
        """The message as it will be sent: the text, with large pastes in their places."""
        text = self.toPlainText()
        for shown, pasted in self._pasted.items():
            text = text.replace(shown, pasted)
        return text

    def clear(self) -> None:
        self._pasted.clear()
        super().clear()

    def insertFromMimeData(self, source: QMimeData) -> None:  # Qt override
        text = source.text() if source.hasText() else ""
        if len(text) <= LARGE_PASTE_CHARS and _longest_line(text) <= LONG_LINE_CHARS:
            super().insertFromMimeData(source)
            return
        label = self.tr("Pasted text #%1, %2 characters")
        shown = (
            "["
            + label.replace("%1", str(len(self._pasted) + 1)).replace("%2", f"{len(text):,}")
            + "]"
        )
        self._pasted[shown] = text
        self.insertPlainText(shown)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, modifiers = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if modifiers & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit(self.prompt_text())
            return
        if key == Qt.Key.Key_Escape:
            self.stopRequested.emit()
            return
        super().keyPressEvent(event)


def _longest_line(text: str) -> int:
    longest, start = 0, 0
    while start <= len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        longest = max(longest, end - start)
        start = end + 1
    return longest
