"""The Thinking section of a reply in the transcript: live while it streams, then folded.

A thinking model's reasoning shows above its answer: "Thinking…" and the reasoning as it
streams (muted, indented), folded to one "▸ Thought for 12 s" line once the answer starts. A
click on that line unfolds it ("▾ …", with a link that copies the reasoning). This module
writes the section's HTML and text formats; the view places them.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QColor, QFont, QTextBlockFormat, QTextCharFormat

TOGGLE_ACTION = "reasoning"  # action:reasoning?entry=KEY folds or unfolds the section
COPY_ACTION = "copy-reasoning"
INDENT_PX = 14


def duration_text(seconds: float | None) -> str:
    """The folded line: Thought for 12 s (or 2 min 5 s); without a duration, Thoughts."""
    if seconds is None:
        return QCoreApplication.translate("ReasoningSection", "Thoughts")
    whole = max(1, round(seconds))
    if whole < 60:
        text = QCoreApplication.translate("ReasoningSection", "Thought for %1 s")
        return text.replace("%1", str(whole))
    minutes, rest = divmod(whole, 60)
    text = QCoreApplication.translate("ReasoningSection", "Thought for %1 min %2 s")
    return text.replace("%1", str(minutes)).replace("%2", str(rest))


def thinking_html(*, muted: str) -> str:
    """The live label above reasoning that is still streaming."""
    label = QCoreApplication.translate("ReasoningSection", "Thinking…")
    return (
        f'<p style="margin-top:0px; margin-bottom:4px; color:{muted}; font-style:italic;">'
        f"{html.escape(label)}</p>"
    )


def section_html(
    *, key: int, reasoning: str, seconds: float | None, expanded: bool, muted: str, scheme: str
) -> str:
    """The section of a finished reply: its folded line, and the reasoning when unfolded."""
    arrow = "▾" if expanded else "▸"
    link_style = f"color:{muted}; text-decoration:none;"
    toggle = (
        f'<a href="{scheme}:{TOGGLE_ACTION}?entry={key}" style="{link_style}">'
        f"{arrow}&nbsp;{html.escape(duration_text(seconds))}</a>"
    )
    if not expanded:
        return f'<p style="margin-top:0px; margin-bottom:6px;">{toggle}</p>'
    copy_label = QCoreApplication.translate("ReasoningSection", "Copy thinking")
    copy = (
        f'<span style="color:{muted};">&nbsp;·&nbsp;</span>'
        f'<a href="{scheme}:{COPY_ACTION}?entry={key}" style="{link_style}">'
        f"{html.escape(copy_label)}</a>"
    )
    body = html.escape(reasoning).replace("\n", "<br>")
    return (
        f'<p style="margin-top:0px; margin-bottom:4px;">{toggle}{copy}</p>'
        f'<p style="margin-top:0px; margin-bottom:10px; margin-left:{INDENT_PX}px; '
        f'color:{muted}; white-space:pre-wrap;">{body}</p>'
    )


def streaming_formats(*, muted: str) -> tuple[QTextBlockFormat, QTextCharFormat]:
    """The block and character formats of reasoning text while it streams."""
    block = QTextBlockFormat()
    block.setLeftMargin(INDENT_PX)
    block.setBottomMargin(0)
    char = QTextCharFormat()
    char.setForeground(QColor(muted))
    char.setFontItalic(False)
    char.setFontWeight(QFont.Weight.Normal)
    return block, char
