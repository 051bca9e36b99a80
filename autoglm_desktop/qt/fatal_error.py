"""A message box for a problem that stops the app before its window can open."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from autoglm_desktop import APP_NAME
from autoglm_desktop.core.common.untrusted_text import plain_message
from autoglm_desktop.qt.app import create_application


def fatal_error_box(message: str) -> QMessageBox:
    """The box that shows ``message`` as plain text (built apart, so tests can look at it)."""
    create_application()
    box = QMessageBox(QMessageBox.Icon.Critical, APP_NAME, plain_message(message))
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def show_fatal_error(message: str) -> None:
    """Show ``message`` and wait until the user closes the box."""
    fatal_error_box(message).exec()
