"""Outside text (errors, model, file and repository names) shown as plain text, never as HTML.

Qt guesses: a label, a message box or a tool tip whose text looks like HTML renders it, so a
model named ``<img src=...>`` would load a local image and ``<font size=...>`` would change the
layout. Every widget that shows such text is set to plain text here, and the text itself is
cut short and cleaned by :func:`plain_message` (a 100 MB error freezes a label for minutes).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from autoglm_desktop.core.common.untrusted_text import plain_message


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that always shows its text as plain text."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(plain_message(text))
    return label


def set_plain_text(label: QLabel, text: object) -> None:
    """Show ``text`` (an error, a name...) in ``label`` as plain text, cut short and cleaned."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(plain_message(text))


def plain_tooltip(text: str) -> str:
    """A tool tip that shows ``text`` as it is (Qt renders a tool tip that looks like HTML)."""
    if not text:
        return ""
    return f"<p style='white-space:pre-wrap'>{html.escape(plain_message(text))}</p>"


def escaped(text: str) -> str:
    """``text`` to put inside a label's own HTML (links), cleaned and escaped."""
    return html.escape(plain_message(text))


def plain_message_box(
    parent: QWidget | None,
    icon: QMessageBox.Icon,
    title: str,
    text: str,
    buttons: QMessageBox.StandardButton = QMessageBox.StandardButton.Ok,
) -> QMessageBox:
    """A message box whose text, which may quote outside text, is shown as plain text."""
    box = QMessageBox(icon, title, plain_message(text, limit=4000), buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box
