"""The dialog shown when the chat history cannot be opened, and the choices it offers.

The window opens whatever the history's state (it chats without saving meanwhile); this dialog,
a window-modal child of it, says what is wrong in plain words and offers only the choices that
make sense for that failure. It never blocks in ``exec()``: the window opens it and acts on
``finished`` (see ``MainWindow``), so tests find it among the window's children and click.
"""

from __future__ import annotations

import enum

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from autoglm_desktop.core.common.errors import (
    HistoryDamagedError,
    HistoryDiskFullError,
    HistoryLockedError,
    HistoryReadOnlyError,
    HistoryTooNewError,
    StoreError,
)


class HistoryChoice(enum.Enum):
    RECOVER = "recover"  # rebuild from what can be read; the damaged file kept aside
    FRESH = "fresh"  # an empty history; the old file kept aside
    RETRY = "retry"  # open it again (the lock is gone, space was freed...)
    READ_ONLY = "read_only"  # read it, change nothing
    UNSAVED = "unsaved"  # chat in this window without saving
    QUIT = "quit"


def choices_for(error: StoreError, *, file_exists: bool) -> list[HistoryChoice]:
    """The sensible choices for ``error``, the recommended first; UNSAVED and QUIT always."""
    choices: list[HistoryChoice]
    if isinstance(error, HistoryDamagedError):
        choices = [HistoryChoice.RECOVER, HistoryChoice.FRESH]
    elif isinstance(error, HistoryTooNewError):
        choices = [HistoryChoice.READ_ONLY, HistoryChoice.FRESH]
    elif isinstance(error, HistoryLockedError):
        choices = [HistoryChoice.RETRY]
    elif isinstance(error, HistoryReadOnlyError | HistoryDiskFullError):
        choices = [HistoryChoice.READ_ONLY, HistoryChoice.RETRY] if file_exists else []
        choices = choices or [HistoryChoice.RETRY]
    else:
        choices = [HistoryChoice.RETRY, HistoryChoice.FRESH] if file_exists else []
        choices = choices or [HistoryChoice.RETRY]
    return [*choices, HistoryChoice.UNSAVED, HistoryChoice.QUIT]


class HistoryProblemDialog(QDialog):
    """Explains why the history did not open; :attr:`choice` says what the user picked.

    Closing it (Esc, the title bar) means chatting without saving: the window stays usable.
    """

    def __init__(self, error: StoreError, *, file_exists: bool, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("historyProblemDialog")
        self.setWindowTitle(self.tr("Chat history problem"))
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.error = error
        self.choice = HistoryChoice.UNSAVED
        explanation = QLabel(self._explanation(error))
        explanation.setWordWrap(True)
        details = QLabel(self.tr("Details: %1").replace("%1", str(error)))
        details.setWordWrap(True)
        for label in (explanation, details):
            label.setTextFormat(Qt.TextFormat.PlainText)  # paths and errors are not markup
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons: dict[HistoryChoice, QPushButton] = {}
        row = QHBoxLayout()
        row.addStretch(1)
        for choice in choices_for(error, file_exists=file_exists):
            button = QPushButton(self._label(choice))
            button.setObjectName(f"history_{choice.value}")
            button.clicked.connect(lambda _checked=False, picked=choice: self._pick(picked))
            row.addWidget(button)
            self.buttons[choice] = button
        next(iter(self.buttons.values())).setDefault(True)
        layout = QVBoxLayout(self)
        layout.addWidget(explanation)
        layout.addWidget(details)
        layout.addLayout(row)
        self.resize(620, 220)

    def _pick(self, choice: HistoryChoice) -> None:
        self.choice = choice
        self.accept()

    def reject(self) -> None:
        self.choice = HistoryChoice.UNSAVED
        super().reject()

    def _explanation(self, error: StoreError) -> str:
        if isinstance(error, HistoryDamagedError):
            return self.tr(
                "Your chat history file is damaged and cannot be opened. You can recover the "
                "conversations that can still be read, or start a new, empty history. Either "
                "way the damaged file is kept next to it under a new name; it is never deleted."
            )
        if isinstance(error, HistoryTooNewError):
            return self.tr(
                "Your chat history was saved by a newer version of AutoGLM Desktop. Open it "
                "read-only to read your conversations (nothing new is saved), or update the app."
            )
        if isinstance(error, HistoryLockedError):
            return self.tr(
                "Your chat history is in use by another program (or another AutoGLM Desktop "
                "window). Close it and press Retry, or chat without saving for now."
            )
        if isinstance(error, HistoryReadOnlyError):
            return self.tr(
                "Your chat history cannot be changed: the file or its folder is read-only. You "
                "can open it read-only, or chat without saving."
            )
        if isinstance(error, HistoryDiskFullError):
            return self.tr(
                "The disk holding your chat history is full. Free some space and press Retry, "
                "or chat without saving for now."
            )
        return self.tr("Your chat history could not be opened.")

    def _label(self, choice: HistoryChoice) -> str:
        labels = {
            HistoryChoice.RECOVER: self.tr("Recover what can be read"),
            HistoryChoice.FRESH: self.tr("Start a fresh history"),
            HistoryChoice.RETRY: self.tr("Retry"),
            HistoryChoice.READ_ONLY: self.tr("Open read-only"),
            HistoryChoice.UNSAVED: self.tr("Chat without saving"),
            HistoryChoice.QUIT: self.tr("Quit"),
        }
        return labels[choice]
