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

from autoglm_desktop.qt.common.segments import split_plain

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
    *,
    key: int,
    reasoning: str,
    seconds: float | None,
    expanded: bool,
    muted: str,
    scheme: str,
    last: bool = True,
    note: str = "",
) -> str:
    """The section of a finished reply: its folded line, and the reasoning when unfolded.

    A long reasoning is shown in parts (see the view): ``reasoning`` is then the first part,
    and ``last`` is false. ``note``: a muted line after the reasoning.
    """
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
    body = body_html(reasoning, muted=muted, last=last and not note)
    if note:
        body += body_html(note, muted=muted, last=last, italic=True)
    return f'<p style="margin-top:0px; margin-bottom:4px;">{toggle}{copy}</p>{body}'


def body_html(reasoning: str, *, muted: str, last: bool = True, italic: bool = False) -> str:
    """Reasoning text as the unfolded section shows it; ``last``: the section ends after it."""
    # Paragraphs of a few thousand characters: QTextDocument lays out a paragraph as a whole,
    # in a time that grows faster than its length (a long reasoning would freeze the window).
    pieces = split_plain(reasoning)
    style = " font-style:italic;" if italic else ""
    return "".join(
        f'<p style="margin-top:0px; margin-bottom:{10 if end else 0}px; '
        f'margin-left:{INDENT_PX}px; color:{muted}; white-space:pre-wrap;{style}">'
        f"{html.escape(piece if end else piece.removesuffix(chr(10))).replace(chr(10), '<br>')}"
        "</p>"
        for end, piece in ((last and i == len(pieces) - 1, piece) for i, piece in enumerate(pieces))
    )


def unfinished_note() -> str:
    """After the start of a long reasoning unfolded while the answer is still written."""
    return QCoreApplication.translate(
        "ReasoningSection", "… the rest of the thinking shows when the reply is finished."
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
