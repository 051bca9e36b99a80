"""The chat transcript: one conversation's messages, with a reply streaming in at the end.

Streaming costs the same per token however long the reply or the conversation: each chunk is
inserted as plain text with a cursor kept at the end of the document. Finished Markdown blocks
of the reply (paragraphs, closed code blocks) are rendered as they complete, replacing only
their own range; when the reply ends it is rendered once as a whole.

Long conversations are laid out lazily: the view holds every message but renders a window of
them: at first the newest ones (about a screenful), then a small chunk per event-loop turn
wherever fewer than a few screens of text lie beyond what is visible, above or below. Text
going in or out above the visible part does not move what the user reads. The window is kept
to a few dozen screens by dropping the far end (an edit at the top of a QTextDocument costs in
proportion to the document), so no step costs more than a chunk's rendering, however long the
conversation: showing, scrolling and searching it never stall the window.

A message too large to render in one step (hostile output: a megabyte table, a line of 500k
characters, a pasted book) is cut into parts (see common/segments.py) that the lazy layout
treats as it treats messages; the first part carries the header, the last one the actions
again. While a reply streams, its raw text is shown in blocks of bounded length and a finished
block too large to render at once waits for the end of the reply.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QUrl, QUrlQuery, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QGuiApplication,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import QFrame, QTextBrowser, QWidget

from autoglm_desktop.core.common.types import MessageStatus, Role
from autoglm_desktop.qt.chat import block_shapes, reasoning_section
from autoglm_desktop.qt.common.markdown_render import (
    CODE_PAD,
    COPY_CODE_SCHEME,
    FinishedBlockSplitter,
    RenderedMarkdown,
    code_header_background,
    code_style_background,
    padding_line_html,
    render_markdown,
    render_plain,
)
from autoglm_desktop.qt.common.segments import (
    MAX_BLOCK_COST,
    WHOLE_COST,
    display_cost,
    split_markdown,
    split_plain,
)
from autoglm_desktop.qt.common.step_timer import step_timer

ACTION_SCHEME = "action"
_OPENABLE_SCHEMES = ("http", "https")
_LINK_SEPARATOR = "\u00a0·\u00a0"
_PLACEHOLDER = "X"  # see _replace_range
_BOTTOM_SLACK_PX = 4
FIRST_PAINT_CHARS = 1_500  # rendered at once when a conversation is shown; more follows at once
CHUNK_CHARS = 1_000  # rendered per event-loop turn above it: a few ms on a slow machine
MARGIN_SCREENS = 2  # more messages are rendered while fewer screens than this lie beyond
MAX_WINDOW_CHARS = 30_000  # the far end of a larger window is dropped
_ENTRY_OVERHEAD_CHARS = 200  # a header, links and margins cost about as much as this text
RAW_LINE_CHARS = 2_000  # a streamed line is shown in blocks of at most this many characters
RAW_KEEP_CHARS = 40_000  # a longer raw reply shows "…" for its start until it is rendered
_ELLIPSIS = "…"
MAX_TEXT_WIDTH = 760  # the text column on wide windows, centred (logical pixels)
USER_INDENT = 72  # the user's messages sit to the right, on a tinted ground
USER_PAD = 12  # the text inside that ground


@dataclass(frozen=True)
class ViewMessage:
    """One message as the transcript shows it."""

    message_id: int
    role: Role
    text: str
    status: MessageStatus = MessageStatus.COMPLETE
    header: str = ""  # the name above the message; empty: "You" / "Assistant" / "System"
    reasoning: str = ""  # a thinking model's reasoning, shown folded above the answer
    reasoning_s: float | None = None  # how long it thought (None: unknown)

    @property
    def interrupted(self) -> bool:
        # STREAMING outside a live stream means the app died while the reply was written.
        return self.status in (MessageStatus.INTERRUPTED, MessageStatus.STREAMING)


@dataclass(frozen=True)
class _Notice:
    text: str


@dataclass(frozen=True)
class _Part:
    """One part of a message too large to render at once (see common/segments.py)."""

    index: int
    count: int
    text: str
    plain: bool  # shown as plain text, not as Markdown
    reasoning: bool = False  # a part of the unfolded Thinking section, not of the answer
    section_end: bool = False  # the Thinking section's last part

    @property
    def first(self) -> bool:
        return self.index == 0

    @property
    def last(self) -> bool:
        return self.index == self.count - 1


@dataclass
class _Entry:
    key: int  # stable id of the entry inside this view; links carry it as ?entry=KEY
    item: ViewMessage | _Notice
    code_blocks: tuple[str, ...] = ()
    # The reply's Markdown as last rendered, and for which theme (dark or not): scrolling back
    # to an entry the lazy layout dropped lays it out again without rendering it again.
    rendered: tuple[bool, RenderedMarkdown] | None = None
    reasoning_open: bool | None = None  # the Thinking section unfolded (None: as by default)
    part: _Part | None = None  # None: the whole message

    @property
    def text(self) -> str:
        """The text this entry shows: its part of the message, or all of it."""
        return self.part.text if self.part is not None else self.item.text

    @property
    def first(self) -> bool:
        return self.part is None or self.part.first

    @property
    def last(self) -> bool:
        return self.part is None or self.part.last


@dataclass
class _Stream:
    key: int
    header: str
    start: QTextCursor  # end of the block before the reply (moves if a notice goes before it)
    raw_start: QTextCursor  # end of the block before the not-yet-rendered text
    parts: list[str] = field(default_factory=list)
    splitter: FinishedBlockSplitter = field(default_factory=FinishedBlockSplitter)
    code_blocks: list[str] = field(default_factory=list)
    incremental: bool = True  # render finished blocks while streaming
    line_chars: int = 0  # characters shown in the last block of the raw text
    head_dropped: bool = False  # the raw text starts with an ellipsis block
    # The reasoning streams as plain text under "Thinking…" until the answer starts; then
    # the section folds to one line.
    reasoning_parts: list[str] = field(default_factory=list)
    reasoning_start: QTextCursor | None = None  # end of the header block; None: no reasoning
    reasoning_clock: float = 0.0  # when the reasoning began (time.monotonic())
    folded: bool = False
    reasoning_s: float | None = None
    expanded: bool = False  # the folded section unfolded again by the user


@dataclass
class _Search:
    text: str
    backward: bool
    next_index: int  # the next entry (not rendered) to look into, in the search's direction


@dataclass(frozen=True)
class _Theme:
    dark: bool
    muted: str
    accent: str
    user_background: str
    inline_code_background: str


class ChatView(QTextBrowser):
    """Read-only transcript of one conversation.

    Signals:
        editRequested(int): the user wants to edit the user message with this id.
        regenerateRequested(): the user wants the last reply written again.
        copiedToClipboard(str): something was copied; the text suits a status bar.
        searchFinished(bool): a find_text() ended; True when the match is selected.
    """

    editRequested = Signal(int)
    regenerateRequested = Signal()
    copiedToClipboard = Signal(str)
    searchFinished = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: list[_Entry] = []
        self._first_shown = 0  # the rendered window: entries[_first_shown:_last_shown]
        self._last_shown = 0
        self._search: _Search | None = None
        self._fill_timer = step_timer(self, self._fill_step)
        self._search_timer = step_timer(self, self._search_step)
        self._stream: _Stream | None = None
        self._regenerate_link: QTextCursor | None = None
        self._keys = itertools.count()
        self._stick_to_bottom = True
        self._tracking_scroll = True  # False while the view itself rewrites the document
        self._theme = self._theme_from_palette()
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.document().setUndoRedoEnabled(False)  # an undo stack would grow with every token
        self.document().setDocumentMargin(12)
        # A borderless page; on wide windows the text keeps a readable width, centred.
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        self._end = QTextCursor(self.document())
        self.anchorClicked.connect(self._on_anchor_clicked)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_scroll_range_changed)
        self._render_all()

    # --- public API ---------------------------------------------------------------------------

    @property
    def is_streaming(self) -> bool:
        return self._stream is not None

    @property
    def rendered_entry_count(self) -> int:
        """How many of the messages and notices are laid out now."""
        return self._last_shown - self._first_shown

    def set_messages(self, messages: list[ViewMessage]) -> None:
        """Show another conversation (or the same one re-read); drops a reply being streamed.

        Only about a screenful of the newest messages is rendered at once; older ones follow
        in small steps from the event loop while they are near the visible part.
        """
        self._entries = [entry for message in messages for entry in self._entries_for(message)]
        self._stream = None
        self._search = None
        self._show_tail()

    def append_message(self, message: ViewMessage) -> None:
        """Add one finished message at the end (e.g. the user's new prompt)."""
        self._require_not_streaming()
        self._remove_regenerate_link()
        self._ensure_tail_shown()
        self._append_entries(self._entries_for(message))

    def remove_messages_from(self, message_id: int) -> None:
        """Drop the message with this id and everything after it (before an edit or regenerate).

        Notices just before a removed reply go with it: they were about that reply.
        """
        self._require_not_streaming()
        index = self._message_index(message_id)
        if index is None:
            return
        item = self._entries[index].item
        if isinstance(item, ViewMessage) and item.role == Role.ASSISTANT:
            while index > 0 and isinstance(self._entries[index - 1].item, _Notice):
                index -= 1
        if self._last_shown < len(self._entries) or index < self._first_shown:
            del self._entries[index:]
            self._show_tail()
            return
        self._truncate(index)
        last = self._last_message_index()
        if last >= self._first_shown and self._is_reply(self._entries[last]):
            self._rerender_from(last)  # the reply above is the last one now: Regenerate link

    def add_notice(self, text: str) -> None:
        """Show a muted notice, e.g. that earlier messages were left out to fit the context."""
        if self._stream is None:
            self._ensure_tail_shown()
        entry = _Entry(next(self._keys), _Notice(text))
        gap = self._last_shown < len(self._entries)  # see _relayout_message
        self._entries.append(entry)
        if gap:
            return  # the lazy layout shows it after the entries before it
        self._last_shown = len(self._entries)
        if self._stream is None:
            self._insert_entries(self._document_end(), [entry])
        else:  # the notice is about the reply being written: put it before that reply
            self._insert_entries(self._stream.start.position(), [entry])

    def begin_assistant_message(self, *, header: str) -> None:
        """Start a reply at the end; its text comes through append_stream_text()."""
        self._require_not_streaming()
        self._remove_regenerate_link()
        self._ensure_tail_shown()
        self._begin_stream(_Stream(next(self._keys), header, *self._cursors_at_end()))

    def append_stream_text(self, text: str) -> None:
        """Append a chunk of the reply being streamed (ignored when no reply is streaming)."""
        stream = self._stream
        text = text.replace("\r", "")
        if stream is None or not text:
            return
        if stream.reasoning_start is not None and not stream.folded:
            self.fold_stream_reasoning(seconds=time.monotonic() - stream.reasoning_clock)
        stream.parts.append(text)
        self._end.movePosition(QTextCursor.MoveOperation.End)
        if self._insert_raw(stream, text):
            stream.incremental = False  # the document no longer mirrors the text
        if self._document_end() - stream.raw_start.position() > RAW_KEEP_CHARS:
            self._drop_raw_head(stream)
        if stream.incremental:
            finished = stream.splitter.feed(text)
            if finished is None:
                return
            if display_cost(finished) > MAX_BLOCK_COST:
                stream.incremental = False  # too large to render at once: rendered in parts
            else:
                self._render_finished_blocks(stream, finished)

    def append_stream_reasoning(self, text: str) -> None:
        """Append a chunk of the reasoning of the reply being streamed, under "Thinking…".

        Reasoning that comes after the answer began is kept for the reply's final rendering.
        """
        stream = self._stream
        text = text.replace("\r", "")
        if stream is None or not text:
            return
        stream.reasoning_parts.append(text)
        if stream.folded or stream.parts:
            return
        if stream.reasoning_start is None:
            self._open_stream_reasoning(stream)
        _, char_format = reasoning_section.streaming_formats(muted=self._theme.muted)
        self._end.movePosition(QTextCursor.MoveOperation.End)
        self._insert_raw(stream, text, char_format)

    def fold_stream_reasoning(self, *, seconds: float | None) -> None:
        """The answer starts: fold the streamed reasoning to "Thought for N s"."""
        stream = self._stream
        if stream is None or stream.folded:
            return
        stream.folded = True
        stream.reasoning_s = seconds
        if stream.reasoning_start is None:
            return
        start = stream.reasoning_start.position()
        folded = reasoning_section.section_html(
            key=stream.key,
            reasoning="",
            seconds=seconds,
            expanded=False,
            muted=self._theme.muted,
            scheme=ACTION_SCHEME,
        )
        with self._scroll_position_kept():
            self._replace_range(start, self._document_end(), folded)
            self._end.movePosition(QTextCursor.MoveOperation.End)
            section_end = self._end.position()
            self._end.insertBlock(QTextBlockFormat(), QTextCharFormat())
        stream.raw_start.setPosition(section_end)
        stream.line_chars = 0

    def end_assistant_message(self, *, final: ViewMessage) -> None:
        """Replace the streamed reply by `final`, rendered as Markdown with its actions.

        Ignored when no reply is streaming (e.g. the user switched to another conversation).
        """
        stream = self._stream
        if stream is None:
            return
        self._stream = None
        entries = self._entries_for(final, key=stream.key, reasoning_open=stream.expanded or None)
        if len(entries) > 1 or self._last_shown < len(self._entries):
            # The raw text goes with the document, the parts come lazily.
            self._entries.extend(entries)
            self._show_tail()
            return
        start = stream.start.position()
        with self._scroll_position_kept():
            self._replace_range(start, self._document_end(), "")
            self._append_entries(entries)

    def scroll_to_bottom(self) -> None:
        """Show the end of the conversation and follow new text again."""
        self._ensure_tail_shown()
        self._stick_to_bottom = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def find_text(self, text: str, *, backward: bool = True) -> None:
        """Select the next match of `text` (case-insensitive) above or below the current one.

        Without a current match the search starts at the bottom (backward) or top (forward)
        of what is visible. Messages not rendered are searched in memory, and the window is
        moved to the match. searchFinished tells the outcome, at once or from a later turn
        of the event loop. While a reply streams, only the rendered messages are searched.
        """
        self._search = None
        if not text:
            self.searchFinished.emit(False)
            return
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        if not self.textCursor().hasSelection():
            edge = QPoint(0, self.viewport().height() - 1) if backward else QPoint(0, 0)
            self.setTextCursor(self.cursorForPosition(edge))
        if self.find(text, flags):
            self.searchFinished.emit(True)
        elif self._stream is None:
            # Nothing visible matches past the cursor: look on in the messages' texts, folded
            # Thinking sections included, from the entry at the cursor on.
            here = self._entry_index_at(self.textCursor().position())
            if here is None:
                start = self._last_shown - 1 if backward else self._first_shown
            elif backward and self._folded_reasoning_matches(self._entries[here], text):
                start = here  # its Thinking section lies above the cursor
            else:
                start = here + (-1 if backward else 1)
            self._search = _Search(text, backward, start)
            self._search_step()
        else:
            self.searchFinished.emit(False)

    def clear(self) -> None:
        self.set_messages([])

    # --- rendering ------------------------------------------------------------------------

    def _render_all(self) -> None:
        """Render the entries from the first shown one on, as a new document."""
        self._theme = self._theme_from_palette()
        document = self.document()
        document.clear()
        document.setDefaultStyleSheet(
            f"code {{ background-color: {self._theme.inline_code_background}; }}"
            "h1 { font-size: x-large; } h2 { font-size: large; } h3 { font-size: medium; }"
        )
        self._regenerate_link = None
        self._end = QTextCursor(document)
        self._insert_entries(0, self._entries[self._first_shown : self._last_shown])
        if self._stream is not None:
            old = self._stream
            stream = _Stream(old.key, old.header, *self._cursors_at_end())
            self._begin_stream(stream)
            self.append_stream_reasoning("".join(old.reasoning_parts))
            stream.reasoning_clock = old.reasoning_clock
            if old.folded:
                self.fold_stream_reasoning(seconds=old.reasoning_s)
                if old.expanded:
                    self._toggle_stream_reasoning()
            text = "".join(old.parts)
            if len(text) > RAW_KEEP_CHARS:  # only its end: the start would be dropped at once
                stream.incremental = False
                text = text[-RAW_KEEP_CHARS // 2 :]
            self.append_stream_text(text)
            stream.parts = old.parts
        self._schedule_fill()

    def _insert_entries(self, position: int, entries: list[_Entry]) -> int:
        """Render `entries` at `position` (the end of a block), one by one; returns their end.

        Each entry's first block (its header) carries the entry's key as its user state, so
        the entry can be found again for removal.
        """
        last = self._last_message_index()
        last_entry = self._entries[last] if last >= 0 and self._stream is None else None
        for entry in entries:
            is_last = entry is last_entry
            start = position
            position = self._replace_range(
                start, start, self._entry_html(entry, last_message=is_last)
            )
            self.document().findBlock(start + 1).setUserState(entry.key)
            if is_last and self._is_reply(entry):
                # A part of a long reply has its links in its last block, not in a header.
                links = start + 1 if entry.part is None else position
                self._track_regenerate_link(block_position=links)
        return position

    def _entries_for(
        self, message: ViewMessage, *, key: int | None = None, reasoning_open: bool | None = None
    ) -> list[_Entry]:
        """The entries showing `message`: itself, or its parts when it is too large.

        `reasoning_open`: the Thinking section unfolded (None: as by default); a long one
        unfolded is shown in parts of its own, before the answer.
        """
        first_key = next(self._keys) if key is None else key
        expanded = _expanded_by_default(message) if reasoning_open is None else reasoning_open
        parts = _parts_of(message, reasoning_open=expanded)
        if parts is None:
            return [_Entry(first_key, message, reasoning_open=reasoning_open)]
        keys = [first_key, *(next(self._keys) for _ in parts[1:])]
        entries = [_Entry(k, message, part=part) for k, part in zip(keys, parts, strict=True)]
        entries[0].reasoning_open = reasoning_open
        return entries

    def _append_entries(self, entries: list[_Entry]) -> None:
        """Add entries at the end: laid out now if one, else from a new window at the tail."""
        self._entries.extend(entries)
        if len(entries) > 1:
            self._show_tail()
            return
        self._last_shown = len(self._entries)
        self._insert_entries(self._document_end(), entries)

    def _show_tail(self) -> None:
        """Render about a screenful of the newest entries, as a new document, at the bottom."""
        self._last_shown = len(self._entries)
        self._first_shown = self._window_start(self._last_shown, FIRST_PAINT_CHARS)
        self._stick_to_bottom = True
        self._render_all()

    def _ensure_tail_shown(self) -> None:
        if self._last_shown < len(self._entries):
            self._show_tail()

    def _truncate(self, index: int) -> None:
        """Drop the entries from `index` (rendered, as all after it) on, from the document too."""
        self._remove_regenerate_link()
        start = self._entry_start(self._entries[index].key)
        del self._entries[index:]
        self._last_shown = len(self._entries)
        if start is None:  # not found (cannot happen): render again rather than show wrong text
            self._render_all()
        else:
            self._replace_range(start, self._document_end(), "")

    def _rerender_from(self, index: int) -> None:
        entries = self._entries[index:]
        start = self._entry_start(entries[0].key)
        if start is None:
            self._render_all()
            return
        self._replace_range(start, self._document_end(), "")
        self._insert_entries(self._document_end(), entries)

    def _folded_reasoning_matches(self, entry: _Entry, text: str) -> bool:
        item = entry.item
        return (
            isinstance(item, ViewMessage)
            and entry.first
            and text.casefold() in item.reasoning.casefold()
            and not self._reasoning_expanded(entry)
        )

    def _entry_index_at(self, position: int) -> int | None:
        """The index of the rendered entry holding document `position` (None: none)."""
        block = self.document().findBlock(position)
        while block.isValid() and block.userState() < 0:
            block = block.previous()
        if not block.isValid():
            return None
        key = block.userState()
        return next(
            (i for i in range(self._first_shown, self._last_shown) if self._entries[i].key == key),
            None,
        )

    def _entry_start(self, key: int) -> int | None:
        """The end of the block before the rendered entry `key`; None when not rendered."""
        block = self.document().lastBlock()
        while block.isValid():
            if block.userState() == key:
                return block.position() - 1
            block = block.previous()
        return None

    def _begin_stream(self, stream: _Stream) -> None:
        self._stream = stream
        start = stream.start.position()
        self._replace_range(start, start, self._header_html(stream.header, links=""))
        self.document().findBlock(start + 1).setUserState(stream.key)
        # Text inserted at a cursor's position pushes that cursor along: set them afterwards.
        stream.start.setPosition(start)
        self._end.movePosition(QTextCursor.MoveOperation.End)
        header_end = self._end.position()
        # The raw text gets blocks of its own, so rendering a finished part never touches them.
        self._end.insertBlock(QTextBlockFormat(), QTextCharFormat())
        stream.raw_start.setPosition(header_end)

    def _insert_raw(
        self, stream: _Stream, text: str, char_format: QTextCharFormat | None = None
    ) -> bool:
        """Show streamed text as it is, in blocks of at most RAW_LINE_CHARS characters.

        QTextDocument lays out a block as a whole, in a time that grows faster than its
        length; a longer line is cut (in the document only) and rendered in parts at the end.
        Returns whether a line was cut.
        """
        char_format = char_format or QTextCharFormat()
        if "\n" not in text and stream.line_chars + len(text) <= RAW_LINE_CHARS:
            self._end.insertText(text, char_format)
            stream.line_chars += len(text)
            return False
        cut = False
        for line in text.splitlines(keepends=True):
            content = line.removesuffix("\n")
            while stream.line_chars + len(content) > RAW_LINE_CHARS:
                take = RAW_LINE_CHARS - stream.line_chars
                self._end.insertText(content[:take], char_format)
                self._end.insertBlock(self._end.blockFormat(), char_format)
                content = content[take:]
                stream.line_chars = 0
                cut = True
            self._end.insertText(content + line[len(content) :], char_format)
            stream.line_chars = 0 if line.endswith("\n") else stream.line_chars + len(content)
        return cut

    def _drop_raw_head(self, stream: _Stream) -> None:
        """Keep the document small while a huge reply streams: its start shows as "…".

        The whole reply is rendered in parts when it ends; until then an edit would cost in
        proportion to the document, and ending the reply would stall while removing it.
        """
        stream.incremental = False  # what is not shown cannot be rendered piece by piece
        document = self.document()
        first = document.findBlock(stream.raw_start.position() + 1)
        with self._reading_position_kept():
            if not stream.head_dropped:
                cursor = QTextCursor(first)
                cursor.insertText(_ELLIPSIS, QTextCharFormat())
                cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
                stream.head_dropped = True
                first = document.findBlock(stream.raw_start.position() + 1)
            first = first.next()  # the ellipsis stays
            cut = document.findBlock(self._document_end() - RAW_KEEP_CHARS // 2)
            if cut.position() <= first.position():
                return
            cursor = QTextCursor(document)
            cursor.setPosition(first.position())
            cursor.setPosition(cut.position(), QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()

    def _open_stream_reasoning(self, stream: _Stream) -> None:
        """Put "Thinking…" under the reply's header, and a block for the reasoning's text."""
        start = stream.raw_start.position()
        stream.reasoning_clock = stream.reasoning_clock or time.monotonic()
        label = reasoning_section.thinking_html(muted=self._theme.muted)
        self._replace_range(start, self._document_end(), label)
        stream.reasoning_start = QTextCursor(self.document())
        stream.reasoning_start.setPosition(start)
        stream.reasoning_start.setKeepPositionOnInsert(True)  # the section is rewritten there
        block_format, char_format = reasoning_section.streaming_formats(muted=self._theme.muted)
        self._end.movePosition(QTextCursor.MoveOperation.End)
        self._end.insertBlock(block_format, char_format)
        stream.line_chars = 0

    def _toggle_stream_reasoning(self) -> None:
        """Unfold (or fold again) the reasoning of the reply whose answer is streaming."""
        stream = self._stream
        if stream is None or not stream.folded or stream.reasoning_start is None:
            return
        stream.expanded = not stream.expanded
        reasoning, note = "".join(stream.reasoning_parts), ""
        if stream.expanded and len(reasoning) > WHOLE_COST:  # all of it in parts at the end
            reasoning, note = split_plain(reasoning)[0], reasoning_section.unfinished_note()
        section = reasoning_section.section_html(
            key=stream.key,
            reasoning=reasoning,
            seconds=stream.reasoning_s,
            expanded=stream.expanded,
            muted=self._theme.muted,
            scheme=ACTION_SCHEME,
            note=note,
        )
        start, end = stream.reasoning_start.position(), stream.raw_start.position()
        self._stick_to_bottom = False  # stay where the user clicked
        with self._scroll_position_kept():
            stream.raw_start.setPosition(self._replace_range(start, end, section))

    def _toggle_reasoning(self, entry: _Entry) -> None:
        """Fold or unfold a finished reply's Thinking section (renders that entry again).

        A long reasoning unfolds in parts of its own, which the lazy layout shows like any
        other entries, from the next turns of the event loop on (see _relayout_message).
        """
        index = next((i for i, e in enumerate(self._entries) if e is entry), -1)
        start = self._entry_start(entry.key)
        if not self._first_shown <= index < self._last_shown or start is None:
            return
        assert isinstance(entry.item, ViewMessage)
        opened = not self._reasoning_expanded(entry)
        end = index + 1
        while end < len(self._entries) and self._entries[end].item is entry.item:
            end += 1
        entries = self._entries_for(entry.item, key=entry.key, reasoning_open=opened)
        if any(e.part is not None and e.part.reasoning for e in [*entries, entry]):
            self._relayout_message(index, end, entries)
            return
        if index + 1 < self._last_shown:
            stop = self._entry_start(self._entries[index + 1].key)
        elif self._stream is not None:
            stop = self._stream.start.position()
        else:
            stop = self._document_end()
        if stop is None:
            return
        entry.reasoning_open = opened
        self._stick_to_bottom = False  # stay where the user clicked
        with self._scroll_position_kept():
            self._replace_range(start, stop, "")
            self._insert_entries(start, [entry])

    def _relayout_message(self, index: int, end: int, entries: list[_Entry]) -> None:
        """Show `entries` in place of entries[index:end] (a message), starting at once.

        The first entry is rendered now; the rest of the message, and what follows it, is
        dropped from the document and comes back from the lazy layout, one chunk per turn
        (while a reply streams below, whatever the scroll position, see _fill_step).
        """
        start = self._entry_start(self._entries[index].key)
        if start is None:
            return
        self._stick_to_bottom = False  # stay where the user clicked
        self._regenerate_link = None  # if it was there, it goes with what is dropped
        with self._scroll_position_kept():
            self._replace_range(start, self._insertion_end(), "")
            self._entries[index:end] = entries
            self._last_shown = index + 1
            self._insert_entries(start, entries[:1])
        self._schedule_fill()

    def _insertion_end(self) -> int:
        """Where the lazy layout puts newer entries: the end, or before a streaming reply."""
        return self._stream.start.position() if self._stream is not None else self._document_end()

    @staticmethod
    def _reasoning_expanded(entry: _Entry) -> bool:
        """Unfolded when the user said so; by default only a reply with no answer shows it."""
        if entry.reasoning_open is not None:
            return entry.reasoning_open
        return isinstance(entry.item, ViewMessage) and _expanded_by_default(entry.item)

    def _render_finished_blocks(self, stream: _Stream, finished: str) -> None:
        start = stream.raw_start.position()
        end = start + _utf16_len(finished)
        shown = QTextCursor(self.document())
        shown.setPosition(start + 1)
        shown.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        if shown.selectedText().replace("\u2029", "\n") != finished[:-1]:
            stream.incremental = False  # the document differs from the text; render at the end
            return
        rendered = render_markdown(
            finished,
            dark=self._theme.dark,
            first_code_index=len(stream.code_blocks),
            copy_link_query=f"entry={stream.key}",
            copy_label=self.tr("Copy"),
        )
        stream.code_blocks.extend(rendered.code_blocks)
        stream.raw_start.setPosition(self._replace_range(start, end, rendered.html))

    def _replace_range(self, start: int, end: int, html_text: str) -> int:
        """Replace [start, end) by HTML blocks; `start` must be the end of a block.

        Returns the end of the last inserted block. QTextCursor.insertHtml merges the first
        inserted block into the current one, losing its block format (margins, heading level,
        table); a throw-away first block takes that merge and is deleted afterwards.
        """
        with self._scroll_position_kept():
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            # The block before keeps its user state (the key of its entry), which Qt drops
            # when that block is a plain-text one (white-space: pre-wrap). The empty first
            # block of the document loses it, as before: it may be stale after _trim_top.
            before = self.document().findBlock(start)
            state = before.userState() if before.length() > 1 else -1
            # Whitespace after the last tag would become a trailing space in the last block.
            cursor.insertHtml(f"<p>{_PLACEHOLDER}</p>{html_text.rstrip()}")
            placeholder = QTextCursor(self.document())
            placeholder.setPosition(start)
            placeholder.deleteChar()
            if state != -1:
                self.document().findBlock(start).setUserState(state)
            return cursor.position()

    def _cursors_at_end(self) -> tuple[QTextCursor, QTextCursor]:
        start = QTextCursor(self.document())
        start.movePosition(QTextCursor.MoveOperation.End)
        return start, QTextCursor(start)

    def _document_end(self) -> int:
        return self.document().characterCount() - 1

    def _require_not_streaming(self) -> None:
        if self._stream is not None:
            raise RuntimeError("a reply is still streaming; end it first")

    # --- lazy layout: older messages are rendered near the top only ------------------------

    def _window_start(self, end: int, budget: int) -> int:
        """The first of the entries before `end` that together cost about `budget` characters.

        At least one entry, and never past the last message (its Regenerate link must show).
        """
        start, spent = end, 0
        while start > 0 and spent < budget:
            start -= 1
            spent += _entry_cost(self._entries[start])
        return min(start, max(self._last_message_index(), 0))

    def _window_end(self, start: int, budget: int) -> int:
        """The end of the entries from `start` on that together cost about `budget` characters."""
        end, spent = start, 0
        while end < len(self._entries) and spent < budget:
            spent += _entry_cost(self._entries[end])
            end += 1
        return end

    def _schedule_fill(self) -> None:
        if not self._fill_timer.isActive():
            self._fill_timer.start()

    def _fill_step(self) -> None:
        """Render one chunk where the user is heading, drop the far end; come back for more."""
        bar = self.verticalScrollBar()
        margin = MARGIN_SCREENS * self.viewport().height()
        # One piece of work per event-loop turn, so that no turn holds the window up for long;
        # a window grown too large drops a far entry before it loads another.
        if self._trim_bottom() or self._trim_top():
            pass
        elif self._first_shown > 0 and bar.value() < margin:
            self._load_older()
        elif self._last_shown < len(self._entries) and (
            bar.value() > bar.maximum() - margin or self._stream is not None
        ):
            self._load_newer()
        else:
            return
        self._schedule_fill()

    def _load_older(self) -> None:
        start = self._window_start(self._first_shown, CHUNK_CHARS)
        entries = self._entries[start : self._first_shown]
        if self._render_markdown_of(entries):
            return  # laid out in the next turn: rendering and layout each take a turn
        with self._reading_position_kept():
            self._insert_entries(0, entries)
        self._first_shown = start

    def _load_newer(self) -> None:
        end = self._window_end(self._last_shown, CHUNK_CHARS)
        entries = self._entries[self._last_shown : end]
        if self._render_markdown_of(entries):
            return
        self._last_shown = end
        with self._reading_position_kept():
            self._insert_entries(self._insertion_end(), entries)

    def _render_markdown_of(self, entries: list[_Entry]) -> bool:
        """Render the replies' Markdown not rendered yet for this theme; whether there was any."""
        todo = [
            entry
            for entry in entries
            if isinstance(entry.item, ViewMessage)
            and entry.item.role == Role.ASSISTANT
            and not (entry.part is not None and entry.part.reasoning)
            and (entry.rendered is None or entry.rendered[0] != self._theme.dark)
        ]
        for entry in todo:
            self._rendered_markdown(entry)
        return bool(todo)

    def _rendered_markdown(self, entry: _Entry) -> RenderedMarkdown:
        """The reply's Markdown as HTML for the current theme, rendered once and kept."""
        dark = self._theme.dark
        if entry.rendered is None or entry.rendered[0] != dark:
            assert isinstance(entry.item, ViewMessage)
            if entry.part is not None and entry.part.plain:
                rendered = render_plain(entry.text)
            else:
                rendered = render_markdown(
                    entry.text,
                    dark=dark,
                    copy_link_query=f"entry={entry.key}",
                    copy_label=self.tr("Copy"),
                )
            entry.rendered = (dark, rendered)
        return entry.rendered[1]

    def _window_chars(self) -> int:
        return sum(_entry_cost(e) for e in self._entries[self._first_shown : self._last_shown])

    def _trim_bottom(self) -> bool:
        """Drop the newest rendered entries while the window is too large and they are far away.

        All that may go goes in one edit: an edit costs a relayout, whatever it removes.
        """
        if self._stream is not None:
            return False
        far = self.verticalScrollBar().value() + (1 + MARGIN_SCREENS) * self.viewport().height()
        layout = self.document().documentLayout()
        excess, last, start = self._window_chars() - MAX_WINDOW_CHARS, self._last_shown, None
        while excess > 0 and last - self._first_shown > 1:
            entry_start = self._entry_start(self._entries[last - 1].key)
            block = self.document().findBlock(entry_start) if entry_start is not None else None
            if block is None or layout.blockBoundingRect(block).top() < far:
                break
            start, last = entry_start, last - 1
            excess -= _entry_cost(self._entries[last])
        if start is None:
            return False
        self._regenerate_link = None  # if it was there, it goes with the entries
        with self._reading_position_kept():
            self._replace_range(start, self._document_end(), "")
        self._last_shown = last
        return True

    def _trim_top(self) -> bool:
        """Drop the oldest rendered entries while the window is too large and they are far away."""
        near = self.verticalScrollBar().value() - MARGIN_SCREENS * self.viewport().height()
        layout = self.document().documentLayout()
        excess, first, end = self._window_chars() - MAX_WINDOW_CHARS, self._first_shown, None
        while excess > 0 and self._last_shown - first > 1:
            next_start = self._entry_start(self._entries[first + 1].key)
            block = self.document().findBlock(next_start) if next_start is not None else None
            if block is None or layout.blockBoundingRect(block).bottom() > near:
                break
            excess -= _entry_cost(self._entries[first])
            end, first = next_start, first + 1
        if end is None:
            return False
        with self._reading_position_kept():
            cursor = QTextCursor(self.document())
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
        self._first_shown = first
        return True

    @contextlib.contextmanager
    def _reading_position_kept(self) -> Iterator[None]:
        """Change text above or below what is visible without moving what the user reads."""
        if not self._tracking_scroll:  # nested
            yield
            return
        layout = self.document().documentLayout()
        anchor = self.cursorForPosition(QPoint(0, 0))
        if anchor.block() == self.document().firstBlock():  # it stays on top: take the next
            anchor.movePosition(QTextCursor.MoveOperation.NextBlock)
        top_before = layout.blockBoundingRect(anchor.block()).top()
        bar = self.verticalScrollBar()
        stick, value = self._stick_to_bottom, bar.value()
        self._tracking_scroll = False
        try:
            yield
        finally:
            grown = layout.blockBoundingRect(anchor.block()).top() - top_before
            self._tracking_scroll = True
            self._stick_to_bottom = stick
            bar.setValue(bar.maximum() if stick else value + round(grown))

    # --- search: in the document, then in the messages not rendered --------------------------

    def _search_step(self) -> None:
        """Look for the search's text in the next unrendered entries; show the window there."""
        search = self._search
        if search is None:
            return
        needle = search.text.casefold()
        step = -1 if search.backward else 1
        index = search.next_index
        while 0 <= index < len(self._entries) and needle not in _entry_text(self._entries[index]):
            index += step
        if not 0 <= index < len(self._entries):
            self._search = None
            self.searchFinished.emit(False)
            return
        entry = self._entries[index]
        if self._folded_reasoning_matches(entry, search.text):
            entry.reasoning_open = True  # the match is in its folded Thinking section
        self._show_window_at(index, at_end=search.backward)
        end = QTextCursor.MoveOperation.End if search.backward else QTextCursor.MoveOperation.Start
        self.moveCursor(end)
        flags = (
            QTextDocument.FindFlag.FindBackward if search.backward else QTextDocument.FindFlag(0)
        )
        if self.find(search.text, flags):
            self._search = None
            self.searchFinished.emit(True)
        else:  # a match in the Markdown source only (e.g. "**"): go on from a later turn
            search.next_index = index + step
            self._search_timer.start()

    def _show_window_at(self, index: int, *, at_end: bool) -> None:
        """Render about a screenful of entries that ends (at_end) or starts with `index`."""
        if at_end:
            self._last_shown = index + 1
            self._first_shown = min(self._window_start(index + 1, FIRST_PAINT_CHARS), index)
        else:
            self._first_shown = index
            self._last_shown = self._window_end(index, FIRST_PAINT_CHARS)
        self._stick_to_bottom = False
        self._render_all()

    # --- the Regenerate link belongs to the last reply only ----------------------------------

    def _track_regenerate_link(self, *, block_position: int) -> None:
        block = self.document().findBlock(block_position)
        link_text = _LINK_SEPARATOR + self.tr("Regenerate")
        if not block.text().endswith(link_text):
            return
        end = block.position() + block.length() - 1
        link = QTextCursor(self.document())
        link.setPosition(end - _utf16_len(link_text))
        link.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        link.setKeepPositionOnInsert(True)  # a notice appended right after must stay outside
        self._regenerate_link = link

    def _remove_regenerate_link(self) -> None:
        if self._regenerate_link is not None:
            self._regenerate_link.removeSelectedText()
            self._regenerate_link = None

    # --- HTML of the parts --------------------------------------------------------------------

    def _entry_html(self, entry: _Entry, *, last_message: bool = False) -> str:
        item = entry.item
        if isinstance(item, _Notice):
            return self._notice_html(item.text)
        if item.role == Role.USER:
            return self._user_html(entry, item)
        if item.role == Role.ASSISTANT:
            return self._assistant_html(entry, item, last_message=last_message)
        return self._system_html(entry, item)

    def _user_html(self, entry: _Entry, message: ViewMessage) -> str:
        links = self._links(
            [("copy", entry.key, self.tr("Copy")), ("edit", entry.key, self.tr("Edit"))]
        )
        background = self._theme.user_background
        text = entry.text if entry.part is None else entry.text.rstrip("\n")
        body = (
            f'<p style="background-color:{background}; white-space:pre-wrap; margin:0px; '
            f'margin-left:{USER_INDENT + USER_PAD}px; margin-right:{USER_PAD}px;">'
            f"{html.escape(text)}</p>"
        )
        # No table for the shading (see markdown_render._render_code_block): the view paints
        # a rounded ground under it (block_shapes).
        padding = padding_line_html(
            background, bottom_margin=0, left_margin=USER_INDENT + USER_PAD, right_margin=USER_PAD
        )
        if not entry.first:  # a later part of a long message: it goes on the shading above
            return body + (padding if entry.last else "")
        header = self._header_html(
            message.header or self.tr("You"), links, color=self._theme.accent, right=True
        )
        return header + padding + body + (padding if entry.last else "")

    def _assistant_html(self, entry: _Entry, message: ViewMessage, *, last_message: bool) -> str:
        actions = [("copy", entry.key, self.tr("Copy"))]
        if last_message:
            actions.append(("regenerate", entry.key, self.tr("Regenerate")))
        if entry.part is not None and entry.part.reasoning:
            return self._reasoning_part_html(entry, entry.part, message, actions)
        rendered = self._rendered_markdown(entry)
        entry.code_blocks = rendered.code_blocks
        marker = self._status_marker(message) if entry.last else ""
        section = ""
        if message.reasoning and entry.first:
            section = reasoning_section.section_html(
                key=entry.key,
                reasoning=message.reasoning,
                seconds=message.reasoning_s,
                expanded=self._reasoning_expanded(entry),
                muted=self._theme.muted,
                scheme=ACTION_SCHEME,
            )
        if entry.part is None:
            links = self._links(actions)
            header = self._header_html(message.header or self.tr("Assistant"), links)
            return header + section + rendered.html + marker
        # A long reply in parts: its first part has the header, its last one the actions.
        header = ""
        if entry.first:
            copy = self._links(actions[:1])
            header = self._header_html(message.header or self.tr("Assistant"), copy)
        footer = self._muted_html(self._links(actions), escape=False) if entry.last else ""
        return header + section + rendered.html + marker + footer

    def _reasoning_part_html(
        self, entry: _Entry, part: _Part, message: ViewMessage, actions: list[tuple[str, int, str]]
    ) -> str:
        """A part of a long unfolded reasoning; the first one has the header and section line."""
        muted = self._theme.muted
        if not part.first:
            return reasoning_section.body_html(part.text, muted=muted, last=part.section_end)
        header = self._header_html(message.header or self.tr("Assistant"), self._links(actions[:1]))
        section = reasoning_section.section_html(
            key=entry.key,
            reasoning=part.text,
            seconds=message.reasoning_s,
            expanded=True,
            muted=muted,
            scheme=ACTION_SCHEME,
            last=part.section_end,
        )
        return header + section

    def _status_marker(self, message: ViewMessage) -> str:
        if message.status == MessageStatus.ERROR:
            return self._muted_html(self.tr("— reply failed"))
        if message.interrupted:
            return self._muted_html(self.tr("— reply interrupted"))
        if message.reasoning and not message.text.strip():
            return self._muted_html(
                self.tr(
                    "— the reply ended while the model was still thinking; raise Max reply "
                    "tokens in Chat settings for a full answer"
                )
            )
        return ""

    def _system_html(self, entry: _Entry, message: ViewMessage) -> str:
        text = entry.text if entry.part is None else entry.text.rstrip("\n")
        body = self._muted_html(html.escape(text), escape=False, pre_wrap=True)
        if not entry.first:
            return body
        return self._header_html(message.header or self.tr("System"), links="") + body

    def _header_html(self, name: str, links: str, *, color: str = "", right: bool = False) -> str:
        name_style = f"font-weight:600; color:{color};" if color else "font-weight:600;"
        links_html = f"&nbsp;&nbsp;&nbsp;{links}" if links else ""
        align = ' align="right"' if right else ""
        return (
            f'<p{align} style="margin-top:22px; margin-bottom:6px;">'
            f'<span style="{name_style}">{html.escape(name)}</span>{links_html}</p>'
        )

    def _links(self, actions: list[tuple[str, int, str]]) -> str:
        separator = f'<span style="color:{self._theme.muted};">{_LINK_SEPARATOR}</span>'
        return separator.join(
            f'<a href="{ACTION_SCHEME}:{action}?entry={key}" '
            f'style="color:{self._theme.muted}; text-decoration:none;">{html.escape(label)}</a>'
            for action, key, label in actions
        )

    def _notice_html(self, text: str) -> str:
        return (
            f'<p align="center" style="margin-top:12px; margin-bottom:12px; '
            f'color:{self._theme.muted}; font-style:italic;">{html.escape(text)}</p>'
        )

    def _muted_html(self, text: str, *, escape: bool = True, pre_wrap: bool = False) -> str:
        body = html.escape(text) if escape else text
        wrap = " white-space:pre-wrap;" if pre_wrap else ""
        return (
            f'<p style="margin-top:4px; color:{self._theme.muted}; font-style:italic;{wrap}">'
            f"{body}</p>"
        )

    # --- links --------------------------------------------------------------------------------

    def _on_anchor_clicked(self, url: QUrl) -> None:
        scheme = url.scheme()
        if scheme in _OPENABLE_SCHEMES:
            QDesktopServices.openUrl(url)
            return
        key_text = QUrlQuery(url).queryItemValue("entry")
        if not key_text.isdigit():
            return
        key = int(key_text)
        if scheme == COPY_CODE_SCHEME and url.path().isdigit():
            self._copy_code(key, int(url.path()))
        elif scheme == ACTION_SCHEME:
            self._run_action(url.path(), key)

    def _copy_code(self, key: int, index: int) -> None:
        if self._stream is not None and self._stream.key == key:
            blocks: tuple[str, ...] | list[str] = self._stream.code_blocks
        else:
            entry = self._entry(key)
            blocks = entry.code_blocks if entry else ()
        if index < len(blocks):
            QGuiApplication.clipboard().setText(blocks[index])
            self.copiedToClipboard.emit(self.tr("Code copied to the clipboard"))

    def _run_action(self, action: str, key: int) -> None:
        stream = self._stream
        if stream is not None and stream.key == key:
            if action == reasoning_section.TOGGLE_ACTION:
                self._toggle_stream_reasoning()
            elif action == reasoning_section.COPY_ACTION:
                QGuiApplication.clipboard().setText("".join(stream.reasoning_parts))
                self.copiedToClipboard.emit(self.tr("Thinking copied to the clipboard"))
            return
        entry = self._entry(key)
        if entry is None or not isinstance(entry.item, ViewMessage):
            return
        message = entry.item
        if action == "copy":
            QGuiApplication.clipboard().setText(message.text)
            self.copiedToClipboard.emit(self.tr("Message copied to the clipboard"))
        elif action == "edit" and message.role == Role.USER:
            self.editRequested.emit(message.message_id)
        elif action == "regenerate" and self._is_last_reply(entry):
            self.regenerateRequested.emit()
        elif action == reasoning_section.TOGGLE_ACTION and message.reasoning:
            self._toggle_reasoning(entry)
        elif action == reasoning_section.COPY_ACTION and message.reasoning:
            QGuiApplication.clipboard().setText(message.reasoning)
            self.copiedToClipboard.emit(self.tr("Thinking copied to the clipboard"))

    def _last_message_index(self) -> int:
        return next(
            (
                i
                for i in range(len(self._entries) - 1, -1, -1)
                if isinstance(self._entries[i].item, ViewMessage)
            ),
            -1,
        )

    def _message_index(self, message_id: int) -> int | None:
        return next(
            (
                i
                for i, e in enumerate(self._entries)
                if isinstance(e.item, ViewMessage) and e.item.message_id == message_id
            ),
            None,
        )

    @staticmethod
    def _is_reply(entry: _Entry) -> bool:
        return isinstance(entry.item, ViewMessage) and entry.item.role == Role.ASSISTANT

    def _entry(self, key: int) -> _Entry | None:
        return next((e for e in reversed(self._entries) if e.key == key), None)

    def _is_last_reply(self, entry: _Entry) -> bool:
        if self._stream is not None:
            return False
        last = next((e for e in reversed(self._entries) if isinstance(e.item, ViewMessage)), None)
        item = entry.item
        return last is entry and isinstance(item, ViewMessage) and item.role == Role.ASSISTANT

    def loadResource(self, type: int, name: QUrl | str) -> object:  # Qt override
        return None  # never load images or files named by the model's text

    # --- scrolling: follow new text only while the user is at the bottom ----------------------

    def _on_scrolled(self, value: int) -> None:
        if self._tracking_scroll:
            bar = self.verticalScrollBar()
            at_bottom = value >= bar.maximum() - _BOTTOM_SLACK_PX
            self._stick_to_bottom = at_bottom and self._last_shown == len(self._entries)
            self._schedule_fill()

    @contextlib.contextmanager
    def _scroll_position_kept(self) -> Iterator[None]:
        """Rewrite part of the document without moving the user's reading position.

        A rewrite first removes text: the document shrinks for a moment and the scroll bar
        clamps its value, which must not count as the user scrolling (to the bottom).
        """
        if not self._tracking_scroll:  # nested
            yield
            return
        bar = self.verticalScrollBar()
        stick, value = self._stick_to_bottom, bar.value()
        self._tracking_scroll = False
        try:
            yield
        finally:
            self._tracking_scroll = True
            self._stick_to_bottom = stick
            bar.setValue(bar.maximum() if stick else value)

    def _on_scroll_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._stick_to_bottom:
            self.verticalScrollBar().setValue(maximum)
        self._schedule_fill()  # e.g. a short window that does not fill the view yet

    # --- palette and width --------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        scrolled = QPointF(-self.horizontalScrollBar().value(), -self.verticalScrollBar().value())
        block_shapes.paint_shapes(
            painter,
            self.document(),
            offset=scrolled,
            visible=QRectF(event.rect()),
            shapes=self._grounds(),
        )
        painter.end()
        super().paintEvent(event)

    def _grounds(self) -> list[block_shapes.Shape]:
        """The rounded grounds: under the user's messages and under code blocks."""
        dark = self._theme.dark
        return [
            block_shapes.Shape(QColor(self._theme.user_background), pad=USER_PAD, radius=14),
            block_shapes.Shape(
                QColor(code_style_background(dark=dark)),
                pad=CODE_PAD,
                radius=10,
                strip=QColor(code_header_background(dark=dark)),
                border=None if dark else QColor(code_header_background(dark=dark)),
            ),
        ]

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Also called for the viewport's resizes: the widget's own width decides.
        margin = self.document().documentMargin()
        side = max(0, int(self.width() - MAX_TEXT_WIDTH - 2 * margin) // 2)
        if self.viewportMargins().left() != side:
            self.setViewportMargins(side, 0, side, 0)
        super().resizeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "_end"):
            with self._scroll_position_kept():
                self._render_all()

    def _theme_from_palette(self) -> _Theme:
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        return _Theme(
            dark=palette.color(QPalette.ColorRole.Window).lightness() < 128,
            muted=_blend(text, base, 0.45),
            accent=palette.color(QPalette.ColorRole.Link).name(),
            user_background=_blend(base, highlight, 0.12),
            inline_code_background=_blend(base, text, 0.08),
        )


def _blend(first: QColor, second: QColor, amount: float) -> str:
    """`second` mixed into `first` by `amount` (0..1), as #rrggbb."""
    mixed = QColor(
        round(first.red() + (second.red() - first.red()) * amount),
        round(first.green() + (second.green() - first.green()) * amount),
        round(first.blue() + (second.blue() - first.blue()) * amount),
    )
    return mixed.name()


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def _entry_text(entry: _Entry) -> str:
    """What a search looks into, casefolded.

    A notice's text, or a message's header, Thinking section (with its first part) and text.
    """
    item = entry.item
    if isinstance(item, _Notice):
        return item.text.casefold()
    reasoning = item.reasoning if entry.first else ""
    return f"{item.header}\n{reasoning}\n{entry.text}".casefold()


def _entry_cost(entry: _Entry) -> int:
    item = entry.item
    inline_reasoning = (
        isinstance(item, ViewMessage)
        and entry.first
        and (entry.part is None or not entry.part.reasoning)
        and ChatView._reasoning_expanded(entry)
    )
    reasoning = len(item.reasoning) if isinstance(item, ViewMessage) and inline_reasoning else 0
    return len(entry.text) + reasoning + _ENTRY_OVERHEAD_CHARS


def _expanded_by_default(message: ViewMessage) -> bool:
    """A reply's Thinking section is unfolded by default only when there is no answer."""
    return bool(message.reasoning) and not message.text.strip()


def _parts_of(message: ViewMessage, *, reasoning_open: bool) -> list[_Part] | None:
    """The parts of a message too large to render at once; None when it renders as a whole.

    A long reasoning unfolded (`reasoning_open`) comes first, in parts of plain text.
    """
    reasoning: list[tuple[str, bool, bool]] = []
    if message.role == Role.ASSISTANT and reasoning_open and len(message.reasoning) > WHOLE_COST:
        reasoning = [(text, True, True) for text in split_plain(message.reasoning)]
    if message.role == Role.ASSISTANT:
        segments = split_markdown(message.text)
        if len(segments) == 1 and not segments[0].plain and not reasoning:
            return None
        pieces = [*reasoning, *((segment.text, segment.plain, False) for segment in segments)]
    else:
        texts = split_plain(message.text)
        if len(texts) == 1:
            return None
        pieces = [(text, True, False) for text in texts]
    section_end = len(reasoning) - 1
    return [
        _Part(index, len(pieces), text, plain, in_reasoning, index == section_end)
        for index, (text, plain, in_reasoning) in enumerate(pieces)
    ]
