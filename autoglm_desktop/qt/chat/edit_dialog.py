"""The Edit dialog of a message: any message opens at once, however long, and keeps its text.

QPlainTextEdit lays out only the lines it shows, but taking a 2 MB text in one call holds the
window up, and a line of 500,000 characters is laid out as a whole whenever it is shown. So a
long message goes into the editor in chunks, one per event-loop turn (Send waits until all of
it is in), and a line too long to lay out is kept aside, shown as one short line in brackets
("[Long line #1, 500,000 characters]") that the edited text puts back, as the message box does
with a large paste. Nothing is dropped: unedited, the dialog gives back the message exactly.
"""

from __future__ import annotations

import re
import secrets

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.qt.chat.prompt_edit import LONG_LINE_CHARS
from autoglm_desktop.qt.common.step_timer import step_timer

LOAD_CHUNK_CHARS = 50_000  # put into the editor per event-loop turn (a few milliseconds)


class EditMessageDialog(QDialog):
    """Edit a message's text; text() is the edited message, long lines put back in place.

    Signals:
        loaded(): all of the message is in the editor (at once for a message of normal size).
    """

    loaded = Signal()

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Edit message"))
        self._source = text
        self._position = 0  # how much of the message is in the editor
        self._aside: dict[str, str] = {}  # the line shown for a long line → that line
        self._label_tag = self._tag_for(text)
        self.editor = QPlainTextEdit()
        self.editor.setUndoRedoEnabled(False)  # the load is not an edit to undo
        self.editor.setReadOnly(True)
        self._end = QTextCursor(self.editor.document())
        buttons = QDialogButtonBox()
        self.send_button: QPushButton = buttons.addButton(
            self.tr("Send"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.editor)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.resize(520, 260)
        self._timer = step_timer(self, self._load_chunk)
        self._load_chunk()

    @property
    def is_loaded(self) -> bool:
        return self._position >= len(self._source)

    def text(self) -> str:
        """The edited message, with the long lines kept aside back in their places.

        Unedited, the message exactly as it was (the editor's text may differ in a few
        characters: Qt takes a carriage return for a line break).
        """
        document = self.editor.document()
        if not document.isModified():
            return self._source
        shown = document.toRawText().replace("\u2029", "\n")  # toPlainText() drops no-break spaces
        if not self._aside:
            return shown
        labels = re.compile("|".join(map(re.escape, self._aside)))
        return labels.sub(lambda found: self._aside[found.group()], shown)

    def accept(self) -> None:
        if self.is_loaded:  # Send waits for the whole message
            super().accept()

    def _load_chunk(self) -> None:
        """Put the next chunk of lines into the editor; long lines as their short line."""
        start = self._position
        end = self._source.find("\n", min(start + LOAD_CHUNK_CHARS, len(self._source)))
        end = len(self._source) if end < 0 else end + 1
        lines = self._source[start:end].split("\n")
        for index, line in enumerate(lines):
            content = line.removesuffix("\r")
            if len(content) > LONG_LINE_CHARS:
                label = self._long_line_label(f"{len(self._aside) + 1}{self._label_tag}", content)
                self._aside[label] = content
                lines[index] = label + line[len(content) :]
        self._end.insertText("\n".join(lines))
        self._position = end
        self._show_state()
        if not self.is_loaded:
            self._timer.start()
            return
        self.editor.setReadOnly(False)
        self.editor.setUndoRedoEnabled(True)
        self.editor.document().setModified(False)
        self.editor.moveCursor(QTextCursor.MoveOperation.Start)
        self.loaded.emit()

    def _long_line_label(self, number: str, content: str) -> str:
        label = self.tr("Long line #%1, %2 characters")
        return "[" + label.replace("%1", number).replace("%2", f"{len(content):,}") + "]"

    def _tag_for(self, text: str) -> str:
        """What the lines shown for long lines carry so that the message holds none of them.

        Nothing, unless the message already holds text like them; then a token it lacks.
        """
        prefix = "[" + self.tr("Long line #%1, %2 characters").split("%1")[0]
        if prefix not in text:
            return ""
        tag = "·" + secrets.token_hex(4)
        while tag in text:
            tag = "·" + secrets.token_hex(4)
        return tag

    def _show_state(self) -> None:
        self.send_button.setEnabled(self.is_loaded)
        if not self.is_loaded:
            note = self.tr("Loading the message… %1%").replace(
                "%1", str(100 * self._position // len(self._source))
            )
        else:
            note = self.tr("Sending replaces this message and every message after it.")
            if self._aside:
                note += " " + self.tr(
                    "Lines too long to edit here are shown in brackets; they are sent as they are."
                )
        self.note.setText(note)
