"""The chat transcript widget, offscreen: rendering, streaming, links and scrolling."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication, QPalette, QTextCursor
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.common.types import MessageStatus, Role
from autoglm_desktop.qt.chat import view as chat_view_module
from autoglm_desktop.qt.chat.view import ChatView, ViewMessage
from autoglm_desktop.qt.common.markdown_render import code_style_background, render_markdown

CODE = 'def greet(name):\n    return f"<b>{name}</b>"  # keep <tags>'
WAIT_MS = 20_000  # only a hang takes this long
REPLY = f"Here you go:\n\n```python\n{CODE}\n```\n\nAnd **bold** text."


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    return widget


def user(message_id: int, text: str) -> ViewMessage:
    return ViewMessage(message_id=message_id, role=Role.USER, text=text)


def assistant(
    message_id: int, text: str, status: MessageStatus = MessageStatus.COMPLETE
) -> ViewMessage:
    return ViewMessage(
        message_id=message_id, role=Role.ASSISTANT, text=text, status=status, header="SmolLM2"
    )


def hrefs(view: ChatView) -> list[str]:
    found = []
    block = view.document().begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            href = iterator.fragment().charFormat().anchorHref()
            if href:
                found.append(href)
            iterator += 1
        block = block.next()
    return found


def href_of(view: ChatView, prefix: str) -> str:
    matches = [href for href in hrefs(view) if href.startswith(prefix)]
    assert len(matches) == 1, matches
    return matches[0]


def click(view: ChatView, href: str) -> None:
    view.anchorClicked.emit(QUrl(href))


def char_format_at(view: ChatView, text: str) -> QTextCursor:
    """A cursor just inside the first occurrence of `text` (its format is that of `text`)."""
    cursor = view.document().find(text)
    assert not cursor.isNull(), f"{text!r} is not in the document"
    cursor.setPosition(cursor.selectionStart() + 1)
    return cursor


def stream(view: ChatView, text: str, *, chunk: int = 3) -> None:
    for start in range(0, len(text), chunk):
        view.append_stream_text(text[start : start + chunk])


# --- static rendering ----------------------------------------------------------------------


def test_messages_show_role_headers_and_actions(view: ChatView) -> None:
    view.set_messages([user(1, "Hello"), assistant(2, "Hi there")])

    text = view.toPlainText()
    assert "You" in text
    assert "SmolLM2" in text
    assert text.index("Hello") < text.index("Hi there")
    assert sorted(hrefs(view)) == sorted(
        [
            href_of(view, "action:copy?entry=0"),
            href_of(view, "action:edit?"),
            href_of(view, "action:copy?entry=1"),
            href_of(view, "action:regenerate?"),
        ]
    )


def test_html_in_messages_is_shown_as_text(view: ChatView) -> None:
    view.set_messages([user(1, "<b>user</b> **stars**"), assistant(2, "<i>model</i> & co")])

    text = view.toPlainText()
    assert "<b>user</b> **stars**" in text  # user text is shown exactly as typed
    assert "<i>model</i> & co" in text
    assert not char_format_at(view, "user</b>").charFormat().font().bold()
    assert not char_format_at(view, "model</i>").charFormat().fontItalic()


def test_assistant_markdown_is_rendered(view: ChatView) -> None:
    view.set_messages([assistant(1, "# Title\n\nSome **bold** and `code`.\n\n- one\n- two")])

    text = view.toPlainText()
    assert "**" not in text
    assert "#" not in text
    assert char_format_at(view, "Title").block().blockFormat().headingLevel() == 1
    assert char_format_at(view, "bold").charFormat().fontWeight() >= 600
    assert char_format_at(view, "two").block().textList() is not None


def test_code_block_is_highlighted_and_copy_puts_the_exact_code_on_the_clipboard(
    view: ChatView, qtbot: QtBot
) -> None:
    view.set_messages([user(1, "Code please"), assistant(2, REPLY)])
    keyword = char_format_at(view, "def greet").charFormat().foreground().color()
    name = char_format_at(view, "greet(").charFormat().foreground().color()
    assert keyword != name  # pygments colours tokens differently

    with qtbot.waitSignal(view.copiedToClipboard) as copied:
        click(view, href_of(view, "copy-code:0"))

    assert QGuiApplication.clipboard().text() == CODE
    assert copied.args and copied.args[0]


def test_copy_message_puts_the_raw_markdown_on_the_clipboard(view: ChatView) -> None:
    view.set_messages([user(1, "Question"), assistant(2, REPLY)])

    click(view, href_of(view, "action:copy?entry=1"))

    assert QGuiApplication.clipboard().text() == REPLY


def test_interrupted_and_failed_replies_are_marked(view: ChatView) -> None:
    view.set_messages(
        [
            assistant(1, "Cut short", MessageStatus.INTERRUPTED),
            assistant(2, "", MessageStatus.ERROR),
            assistant(3, "Was streaming when the app closed", MessageStatus.STREAMING),
        ]
    )

    lines = view.toPlainText().splitlines()
    assert lines[lines.index("Cut short") + 1] == "— reply interrupted"
    assert "— reply failed" in lines
    marker = lines.index("Was streaming when the app closed") + 1
    assert lines[marker] == "— reply interrupted"


def test_notice_is_shown_in_a_muted_colour(view: ChatView) -> None:
    view.set_messages([user(1, "Hi"), assistant(2, "Hello")])

    view.add_notice("3 earlier messages were left out to fit the context")

    notice = char_format_at(view, "earlier messages were left out")
    body = char_format_at(view, "Hello")
    assert view.toPlainText().rstrip().endswith("left out to fit the context")
    assert notice.charFormat().foreground().color() != body.charFormat().foreground().color()


# --- actions ---------------------------------------------------------------------------


def test_edit_link_asks_to_edit_that_user_message(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([user(41, "First"), assistant(42, "Reply"), user(43, "Second")])
    edit_links = [href for href in hrefs(view) if href.startswith("action:edit")]
    assert len(edit_links) == 2

    with qtbot.waitSignal(view.editRequested) as first:
        click(view, edit_links[0])
    with qtbot.waitSignal(view.editRequested) as second:
        click(view, edit_links[1])

    assert first.args == [41]
    assert second.args == [43]


def test_regenerate_is_offered_on_the_last_reply_only(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([user(1, "Q1"), assistant(2, "A1"), user(3, "Q2"), assistant(4, "A2")])
    regenerate = href_of(view, "action:regenerate")
    headers = [line for line in view.toPlainText().splitlines() if "SmolLM2" in line]
    assert ["Regenerate" in line for line in headers] == [False, True]

    with qtbot.waitSignal(view.regenerateRequested):
        click(view, regenerate)

    view.append_message(user(5, "Q3"))
    assert "Regenerate" not in view.toPlainText()
    assert not [href for href in hrefs(view) if href.startswith("action:regenerate")]
    with qtbot.assertNotEmitted(view.regenerateRequested):
        click(view, regenerate)  # a stale link (e.g. from a copy of the page) does nothing


def test_regenerate_link_moves_to_the_new_reply(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([user(1, "Q1"), assistant(2, "A1")])
    view.append_message(user(3, "Q2"))
    view.begin_assistant_message(header="SmolLM2")
    assert not [href for href in hrefs(view) if href.startswith("action:regenerate")]

    stream(view, "A2")
    view.end_assistant_message(final=assistant(4, "A2"))
    view.add_notice("A notice after the reply")  # must not swallow the link

    with qtbot.waitSignal(view.regenerateRequested):
        click(view, href_of(view, "action:regenerate"))
    assert view.toPlainText().count("Regenerate") == 1
    assert "A notice after the reply" in view.toPlainText()


def test_web_links_open_outside_and_other_links_do_not(view: ChatView) -> None:
    opened: list[str] = []

    class Handler(QObject):
        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            opened.append(url.toString())

    handler = Handler()
    QDesktopServices.setUrlHandler("https", handler, "open")  # type: ignore[arg-type]
    QDesktopServices.setUrlHandler("file", handler, "open")  # type: ignore[arg-type]
    try:
        view.set_messages([assistant(1, "See [the docs](https://example.org/docs).")])
        click(view, href_of(view, "https://"))
        click(view, "file:///etc/passwd")
    finally:
        QDesktopServices.unsetUrlHandler("https")
        QDesktopServices.unsetUrlHandler("file")

    assert opened == ["https://example.org/docs"]
    assert not view.openLinks()


# --- streaming ----------------------------------------------------------------------------


def test_streamed_text_shows_up_progressively(view: ChatView) -> None:
    view.set_messages([user(1, "Tell me")])
    view.begin_assistant_message(header="SmolLM2")
    assert view.is_streaming

    shown = ""
    for chunk in ["Once", " upon", " a time", "\nthere was", " a model."]:
        view.append_stream_text(chunk)
        shown += chunk
        assert view.toPlainText().endswith(shown)
    assert view.toPlainText().index("Tell me") < view.toPlainText().index("Once")


def test_finished_blocks_are_rendered_while_streaming(view: ChatView, qtbot: QtBot) -> None:
    view.begin_assistant_message(header="SmolLM2")

    stream(view, "# Title\n\nA **bold** start.\n\n```python\nx = 1\n\n")

    assert char_format_at(view, "Title").block().blockFormat().headingLevel() == 1
    assert char_format_at(view, "bold").charFormat().fontWeight() >= 600
    assert "```python" in view.toPlainText()  # the code block is still open: left raw

    stream(view, "y = 2\n```\nAfter.")
    assert "```" not in view.toPlainText()
    with qtbot.waitSignal(view.copiedToClipboard):
        click(view, href_of(view, "copy-code:0"))  # copy works while the reply streams
    assert QGuiApplication.clipboard().text() == "x = 1\n\ny = 2"
    assert view.toPlainText().endswith("After.")


def test_end_renders_the_whole_reply_as_markdown(view: ChatView) -> None:
    view.set_messages([user(1, "Code please")])
    view.begin_assistant_message(header="SmolLM2")
    stream(view, REPLY)

    view.end_assistant_message(final=assistant(2, REPLY))

    assert not view.is_streaming
    text = view.toPlainText()
    assert "**" not in text
    assert "```" not in text
    assert char_format_at(view, "bold").charFormat().fontWeight() >= 600
    assert CODE.splitlines()[1] in text
    assert text.count("SmolLM2") == 1


def test_stopped_reply_is_marked_interrupted(view: ChatView) -> None:
    view.begin_assistant_message(header="SmolLM2")
    stream(view, "Half an ans")

    view.end_assistant_message(final=assistant(1, "Half an ans", MessageStatus.INTERRUPTED))

    assert view.toPlainText().rstrip().endswith("Half an ans\n— reply interrupted")


def test_text_outside_the_basic_plane_keeps_streaming_right(view: ChatView) -> None:
    view.begin_assistant_message(header="SmolLM2")
    text = "😀 emoji **first**\n\n𝔘𝔫𝔦𝔠𝔬𝔡𝔢 second\n\nthird 😀"

    stream(view, text, chunk=2)

    assert char_format_at(view, "first").charFormat().fontWeight() >= 600
    assert view.toPlainText().endswith("third 😀")
    assert "**" not in view.toPlainText()


def test_notice_during_streaming_goes_before_the_reply(view: ChatView) -> None:
    view.set_messages([user(1, "Question")])
    view.begin_assistant_message(header="SmolLM2")
    stream(view, "First part.\n\nSecond")

    view.add_notice("2 earlier messages were left out")
    stream(view, " part.")
    view.end_assistant_message(final=assistant(2, "First part.\n\nSecond part."))

    text = view.toPlainText()
    assert text.index("Question") < text.index("left out") < text.index("SmolLM2")
    assert text.rstrip().endswith("First part.\nSecond part.")


def test_switching_conversation_drops_the_stream(view: ChatView) -> None:
    view.begin_assistant_message(header="SmolLM2")
    stream(view, "Reply for the old chat")

    view.set_messages([user(7, "Other chat")])
    view.append_stream_text(" late token")
    view.end_assistant_message(final=assistant(8, "Reply for the old chat"))

    assert not view.is_streaming
    assert "old chat" not in view.toPlainText()
    assert "late token" not in view.toPlainText()


def test_a_second_stream_needs_the_first_to_end(view: ChatView) -> None:
    view.begin_assistant_message(header="SmolLM2")

    with pytest.raises(RuntimeError):
        view.begin_assistant_message(header="SmolLM2")
    with pytest.raises(RuntimeError):
        view.append_message(user(1, "Too early"))


# --- streaming cost is independent of what came before ---------------------------------------


@pytest.fixture
def render_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    calls: list[str] = []

    def counting_render(text: str, **kwargs: object) -> object:
        calls.append(text)
        return render_markdown(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(chat_view_module, "render_markdown", counting_render)
    yield calls


def long_conversation(count: int) -> list[ViewMessage]:
    return [
        user(i, f"Question {i}")
        if i % 2 == 0
        else assistant(i, f"Answer **{i}**\n\n```\ncode\n```")
        for i in range(count)
    ]


def test_streaming_never_renders_earlier_messages_again(
    view: ChatView, render_calls: list[str]
) -> None:
    view.set_messages(long_conversation(201))  # ends with the user's question
    rendered_before = len(render_calls)
    earlier_text = view.toPlainText()
    reply = "".join(f"Paragraph {i} with *emphasis*.\n\n" for i in range(150))

    view.begin_assistant_message(header="SmolLM2")
    stream(view, reply, chunk=4)

    during_stream = render_calls[rendered_before:]
    assert "".join(during_stream) == reply[: len("".join(during_stream))]  # reply pieces only
    assert len(during_stream) >= 100  # finished paragraphs were rendered one by one
    assert view.toPlainText().startswith(earlier_text)


def test_each_streamed_line_adds_exactly_one_block(view: ChatView) -> None:
    view.set_messages(long_conversation(200))
    view.begin_assistant_message(header="SmolLM2")
    view.append_stream_text("first line")
    blocks_before = view.document().blockCount()

    for i in range(300):
        view.append_stream_text(f"\nline {i} of a list without blank lines")

    assert view.document().blockCount() == blocks_before + 300


# --- scrolling and palette --------------------------------------------------------------


def test_streaming_follows_the_bottom_only_while_the_user_is_there(
    view: ChatView, qtbot: QtBot
) -> None:
    view.set_messages(long_conversation(40))
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=WAIT_MS)
    view.begin_assistant_message(header="SmolLM2")
    reply = "".join(f"Paragraph {i} of the reply.\n\n" for i in range(40))
    stream(view, reply)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum(), timeout=WAIT_MS)

    bar.setValue(bar.maximum() - 300)  # the user scrolls up a little, into the reply
    reading_at = bar.value()
    more = "".join(f"More {i}.\n\n" for i in range(20))
    stream(view, more)
    # Qt lays a long document out in steps: wait until the new text has made the view longer.
    qtbot.waitUntil(lambda: bar.maximum() > reading_at + 300, timeout=WAIT_MS)
    assert bar.value() == reading_at

    # Rendering the reply again first removes it: the scroll bar clamps for a moment, which
    # must not count as the user going back to the bottom.
    view.end_assistant_message(final=assistant(99, reply + more))
    qtbot.waitUntil(lambda: bar.maximum() > reading_at + 300, timeout=WAIT_MS)
    assert bar.value() == reading_at


def test_code_style_follows_the_palette(view: ChatView) -> None:
    view.set_messages([assistant(1, "```python\nprint(1)\n```")])
    view.begin_assistant_message(header="SmolLM2")
    stream(view, "Streaming **on**\n\nmore")

    dark = QPalette()
    for role, colour in [
        (QPalette.ColorRole.Window, "#202124"),
        (QPalette.ColorRole.Base, "#1e1e1e"),
        (QPalette.ColorRole.Text, "#e8e8e8"),
        (QPalette.ColorRole.WindowText, "#e8e8e8"),
    ]:
        dark.setColor(role, QColor(colour))
    view.setPalette(dark)

    background = char_format_at(view, "print").block().blockFormat().background().color()
    assert background == QColor(code_style_background(dark=True))
    assert view.is_streaming
    view.append_stream_text(" text")
    assert view.toPlainText().endswith("Streaming on\nmore text")


# --- long conversations: lazy layout and search ---------------------------------------------


def numbered_conversation(count: int) -> list[ViewMessage]:
    """Messages whose texts are unique: "message-<n> ..." with some Markdown in replies."""
    return [
        user(i, f"message-{i} question")
        if i % 2 == 0
        else assistant(i, f"message-{i} answer with **bold** text\n\n```\ncode {i}\n```")
        for i in range(count)
    ]


def scroll_until(view: ChatView, qtbot: QtBot, *, top: bool, shows: str) -> int:
    """Scroll to one end again and again, as a user would, until `shows` is rendered.

    Each scroll must change what is rendered within WAIT_MS: a slow machine takes more steps,
    only a view that stops moving fails. Returns the most entries rendered at once meanwhile.
    """
    bar = view.verticalScrollBar()
    most = 0
    for _ in range(10_000):  # a step loads or drops at least one message
        text = view.toPlainText()
        if shows in text:
            return most

        def moved(before: str = text) -> bool:
            bar.setValue(0 if top else bar.maximum())
            return view.toPlainText() != before

        qtbot.waitUntil(moved, timeout=WAIT_MS)
        most = max(most, view.rendered_entry_count)
    raise AssertionError(f"{shows!r} not reached")


def test_a_long_conversation_renders_only_its_newest_messages(view: ChatView, qtbot: QtBot) -> None:
    messages = numbered_conversation(2000)
    view.set_messages(messages)
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=WAIT_MS)
    qtbot.wait(50)  # give the lazy layout turns to (wrongly) render more than it needs

    assert 2 <= view.rendered_entry_count < 200
    text = view.toPlainText()
    assert "message-1999 answer" in text and "message-0 question" not in text
    assert "Regenerate" in text


def test_scrolling_to_the_top_loads_older_messages_in_place(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(numbered_conversation(2000))
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=WAIT_MS)
    rendered = view.rendered_entry_count
    layout = view.document().documentLayout()

    bar.setValue(1)  # the user reaches the top
    reading = view.cursorForPosition(view.viewport().rect().center()).block()
    offset = layout.blockBoundingRect(reading).top() - bar.value()
    reading_text = reading.text()
    qtbot.waitUntil(lambda: view.rendered_entry_count > rendered, timeout=WAIT_MS)

    # The older messages went in above: the user still sees the same text at the same place.
    assert reading.text() == reading_text
    assert abs(layout.blockBoundingRect(reading).top() - bar.value() - offset) <= 1
    # All the way up and back down: the window slides, it does not grow with the conversation.
    most = scroll_until(view, qtbot, top=True, shows="message-0 question")
    assert "message-1999" not in view.toPlainText()
    most = max(most, scroll_until(view, qtbot, top=False, shows="message-1999 answer"))
    assert most < 1000
    assert "Regenerate" in view.toPlainText()


def test_find_reaches_a_message_not_rendered_yet(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(numbered_conversation(2000))
    assert "message-17 " not in view.toPlainText()

    with qtbot.waitSignal(view.searchFinished, timeout=WAIT_MS) as finished:
        view.find_text("MESSAGE-17 answer")

    assert finished.args == [True]
    assert view.textCursor().selectedText() == "message-17 answer"
    assert view.rendered_entry_count < 200
    with qtbot.waitSignal(view.searchFinished, timeout=WAIT_MS) as again:
        view.find_text("message-17 answer")  # the next match upward: there is none
    assert again.args == [False]


@pytest.mark.parametrize("position", ["rendered", "far up"])
def test_find_unfolds_a_thinking_section_that_holds_the_match(
    view: ChatView, qtbot: QtBot, position: str
) -> None:
    messages = numbered_conversation(400)
    index = len(messages) - 1 if position == "rendered" else 5
    thinker = messages[index]
    messages[index] = ViewMessage(
        message_id=thinker.message_id,
        role=Role.ASSISTANT,
        text=thinker.text,
        reasoning="First I weigh the zebra crossing rule.",
        reasoning_s=3.0,
    )
    view.set_messages(messages)
    qtbot.waitUntil(lambda: view.verticalScrollBar().maximum() > 0, timeout=WAIT_MS)
    assert "zebra" not in view.toPlainText()  # folded, or not rendered

    with qtbot.waitSignal(view.searchFinished, timeout=WAIT_MS) as found:
        view.find_text("Zebra crossing")

    assert found.args == [True]
    assert view.textCursor().selectedText() == "zebra crossing"
    assert "First I weigh the zebra crossing rule." in view.toPlainText()  # unfolded
    with qtbot.waitSignal(view.searchFinished, timeout=WAIT_MS) as again:
        view.find_text("zebra crossing")  # no other match above
    assert again.args == [False]


def test_find_in_the_rendered_part_and_a_miss(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(numbered_conversation(2000))
    with qtbot.waitSignal(view.searchFinished, timeout=WAIT_MS) as near:
        view.find_text("code 1999")
    assert near.args == [True] and view.textCursor().selectedText() == "code 1999"
    with qtbot.waitSignal(view.searchFinished, timeout=WAIT_MS) as missing:
        view.find_text("no such words")
    assert missing.args == [False]


def test_removing_the_last_turn_keeps_earlier_messages_and_moves_regenerate(
    view: ChatView, qtbot: QtBot, render_calls: list[str]
) -> None:
    view.set_messages(numbered_conversation(6))
    before = len(render_calls)
    view.remove_messages_from(4)  # the user's last question and the reply to it

    assert "message-4" not in view.toPlainText() and "message-5" not in view.toPlainText()
    assert "message-3 answer" in view.toPlainText()
    # The reply that is last now was laid out again for its Regenerate link, from the Markdown
    # rendered before: no message's Markdown was rendered again.
    assert render_calls[before:] == []
    with qtbot.waitSignal(view.regenerateRequested):
        click(view, href_of(view, "action:regenerate"))
