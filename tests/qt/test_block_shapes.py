"""The rounded grounds the chat view paints under the user's messages and code blocks."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.common.types import Role
from autoglm_desktop.qt.chat.view import USER_INDENT, ChatView, ViewMessage
from autoglm_desktop.qt.common.markdown_render import CODE_PAD, code_style_background


def shown(qtbot: QtBot, messages: list[ViewMessage]) -> tuple[ChatView, QImage]:
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    view.set_messages(messages)
    qtbot.waitUntil(lambda: view.rendered_entry_count == len(messages))
    return view, view.viewport().grab().toImage()


def block_box(view: ChatView, text: str) -> tuple[float, float, float, float]:
    """The block holding ``text``: left margin edge, top, right edge, bottom (viewport)."""
    document = view.document()
    block = document.find(text).block()
    rect = document.documentLayout().blockBoundingRect(block)
    right = document.textWidth() - document.documentMargin() - block.blockFormat().rightMargin()
    scroll = view.verticalScrollBar().value()
    return rect.left(), rect.top() - scroll, right, rect.bottom() - scroll


def test_a_code_block_gets_a_padded_rounded_ground(qtbot: QtBot) -> None:
    reply = ViewMessage(1, Role.ASSISTANT, "Code:\n\n```\nprint(1)\nprint(2)\nprint(3)\n```\n")
    view, image = shown(qtbot, [reply])
    ground = QColor(code_style_background(dark=False))
    left, top, _right, bottom = block_box(view, "print(2)")
    middle = round((top + bottom) / 2)

    # Left of the code's own background, inside the padding: the ground.
    assert image.pixelColor(round(left + CODE_PAD / 2), middle) == ground
    # Left of the padding: the page.
    assert image.pixelColor(round(left - 3), middle) == view.palette().base().color()


def test_a_user_message_sits_right_on_a_rounded_ground(qtbot: QtBot) -> None:
    message = ViewMessage(1, Role.USER, "Hello there")
    view, image = shown(qtbot, [message])
    left, top, right, bottom = block_box(view, "Hello there")
    middle = round((top + bottom) / 2)
    ground = image.pixelColor(round(left + USER_INDENT + 4), middle)

    assert ground != view.palette().base().color()  # tinted, from its left edge on
    assert image.pixelColor(round(left + USER_INDENT / 2), middle) == view.palette().base().color()
    assert image.pixelColor(round(right + 4), middle) == ground  # the pad on the right
    # The corners are rounded: the ground's very corner is the page.
    first = view.document().find("Hello there").block().previous()
    corner_top = view.document().documentLayout().blockBoundingRect(first).top()
    corner = image.pixelColor(round(left + USER_INDENT), round(corner_top))
    assert corner != ground
