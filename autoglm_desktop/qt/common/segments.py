"""Cuts a message into segments that each cost a bounded time to render and lay out.

QTextDocument lays out a block (a paragraph, a table cell) as a whole, and its cost grows faster
than the block's length: a 100k-character line without spaces takes seconds, a 1 MB Markdown
table minutes. The chat view therefore never gives it a whole large message: a message is cut
into segments of a few thousand characters, each rendered and laid out on its own (the view's
lazy layout then treats them as it treats messages, one per event-loop turn), so the cost of
any step is bounded however large or hostile the message.

A message of normal size (WHOLE_COST) stays one segment and renders as before. A larger one is
cut only between Markdown blocks (after a blank line outside a code fence, before a line that
is not indented).
A block too large to render at once is cut anyway: a large table into smaller tables with the
header repeated, anything else into pieces shown as plain text. No text is ever left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

WHOLE_COST = 8_000  # a message costing less is one segment, rendered as a whole as before
SEGMENT_COST = 4_000  # the blocks of a larger one are packed into segments of about this cost
MAX_BLOCK_COST = 6_000  # a block costing more is cut: into small tables, or plain pieces
PLAIN_PIECE_CHARS = 4_000  # the size of a piece of plain text
CELL_COST = 20  # a table cell costs QTextDocument about as much as this many characters
_DELIMITER_ROW_MAX = 1_000  # longer second lines are not looked at as a table's delimiter row

_FENCE_LINE = re.compile(r"^[ \t>]*+(`{3,}+|~{3,}+)(.*)$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n(?:[ \t\r]*+\n)++")  # possessive: linear on any input
_DELIMITER_ROW = re.compile(r"^ {0,3}\|? *:?-+:? *(\| *:?-+:? *)*\|? *$")


@dataclass(frozen=True)
class Segment:
    text: str
    plain: bool = False  # show as plain text, not as Markdown


def display_cost(text: str) -> int:
    """About what rendering `text` costs, in characters; table cells count extra."""
    return len(text) + CELL_COST * text.count("|")


def split_markdown(text: str) -> tuple[Segment, ...]:
    """Cut Markdown into segments that each render in bounded time; none leaves text out."""
    if display_cost(text) <= WHOLE_COST:
        return (Segment(text),)
    segments: list[Segment] = []
    pending: list[str] = []
    pending_cost = 0
    for block in _blocks(text):
        cost = display_cost(block)
        if cost > MAX_BLOCK_COST:
            segments.extend(_flush(pending))
            pending, pending_cost = [], 0
            segments.extend(_cut_block(block))
            continue
        if pending and pending_cost + cost > SEGMENT_COST:
            segments.extend(_flush(pending))
            pending, pending_cost = [], 0
        pending.append(block)
        pending_cost += cost
    segments.extend(_flush(pending))
    return tuple(segments)


def split_plain(text: str) -> tuple[str, ...]:
    """Cut plain text into pieces of at most PLAIN_PIECE_CHARS, at line ends or spaces.

    Text of no more than WHOLE_COST characters stays whole.
    """
    if len(text) <= WHOLE_COST:
        return (text,)
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + PLAIN_PIECE_CHARS, len(text))
        if not text[end:].strip():  # a piece of blank lines alone would show as nothing
            end = len(text)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            if cut <= start:
                cut = text.rfind(" ", start, end)
            if cut > start:
                end = cut + 1
        pieces.append(text[start:end])
        start = end
    return tuple(pieces)


def _flush(pending: list[str]) -> list[Segment]:
    return [Segment("".join(pending))] if pending else []


def _blocks(text: str) -> Iterator[str]:
    """The Markdown blocks of `text`, each with the blank lines after it.

    A block ends at blank lines outside a code fence that a line not indented follows (an
    indented one may still belong to a list item). Regular expressions find the candidates,
    so the work in Python grows with the number of blocks, not of lines.
    """
    fenced = _fenced_ranges(text)
    fence_index = 0
    start = 0
    for blank in _BLANK_LINES.finditer(text):
        cut = blank.end()
        if cut >= len(text) or text[cut] in " \t":
            continue
        while fence_index < len(fenced) and fenced[fence_index][1] <= blank.start():
            fence_index += 1
        if fence_index < len(fenced) and fenced[fence_index][0] <= blank.start():
            continue  # inside a code fence
        yield text[start:cut]
        start = cut
    if start < len(text):
        yield text[start:]


def _fenced_ranges(text: str) -> list[tuple[int, int]]:
    """Where code fences are open: (start of the opening line, end of the closing one)."""
    ranges: list[tuple[int, int]] = []
    open_fence: str | None = None
    opened = 0
    for line in _FENCE_LINE.finditer(text):
        after = _fence_after(line.group(0), open_fence)
        if open_fence is None and after is not None:
            opened = line.start()
        elif open_fence is not None and after is None:
            ranges.append((opened, line.end()))
        open_fence = after
    if open_fence is not None:
        ranges.append((opened, len(text)))
    return ranges


def _fence_after(line: str, open_fence: str | None) -> str | None:
    """The code fence open after `line`, given the one open before it."""
    fence = _FENCE_LINE.match(line)
    marker, info = (fence.group(1), fence.group(2).strip()) if fence else ("", "")
    if open_fence is not None:
        closes = marker[:1] == open_fence[0] and len(marker) >= len(open_fence) and not info
        return None if closes else open_fence
    if marker and not (marker[0] == "`" and "`" in info):
        return marker
    return None


def _cut_block(block: str) -> list[Segment]:
    """A block too large to render at once: smaller tables if it is a table, else plain."""
    tables = _cut_table(block)
    if tables is not None:
        return [Segment(table) for table in tables]
    return [Segment(piece, plain=True) for piece in split_plain(block)]


def _cut_table(block: str) -> list[str] | None:
    """The table's rows in tables of about SEGMENT_COST, each with the header; None: no table."""
    lines = block.splitlines(keepends=True)
    if len(lines) < 3 or "|" not in lines[0] or len(lines[1]) > _DELIMITER_ROW_MAX:
        return None
    if not _DELIMITER_ROW.match(lines[1].rstrip("\r\n")):
        return None
    head = lines[0] + lines[1]
    head_cost = display_cost(head)
    if not head.endswith("\n") or head_cost > SEGMENT_COST // 4:
        return None
    rows = lines[2:]
    row_cost = max(len(row) + CELL_COST * row.count("|") for row in rows)
    if row_cost > SEGMENT_COST:
        return None  # an absurd row: plain text
    per_table = max(1, (SEGMENT_COST - head_cost) // row_cost)
    return [head + "".join(rows[i : i + per_table]) for i in range(0, len(rows), per_table)]
