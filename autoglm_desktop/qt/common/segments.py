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

import bisect
import itertools
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
_FENCE_MARK = re.compile(r"```|~~~")
MAX_FENCE_LINES = 10_000  # lines with a fence's mark looked at (each costs a step in Python)
# A block boundary: a line break, a blank line, a line break, and a line that starts flush;
# _BOUNDARY ends there, _BOUNDARY_REVERSED finds it in reversed text (its start is that line's).
_BOUNDARY = re.compile(r"\n[ \t\r]*+\n(?=[^ \t\r\n])")
_BOUNDARY_REVERSED = re.compile(r"[^ \t\r\n]\n[ \t\r]*+\n")
_DELIMITER_ROW = re.compile(r"^ {0,3}\|? *:?-+:? *(\| *:?-+:? *)*\|? *$")


@dataclass(frozen=True)
class Segment:
    text: str
    plain: bool = False  # show as plain text, not as Markdown


def display_cost(text: str) -> int:
    """About what rendering `text` costs, in characters; table cells count extra."""
    return len(text) + CELL_COST * text.count("|")


def split_markdown(text: str) -> tuple[Segment, ...]:
    """Cut Markdown into segments that each render in bounded time; none leaves text out.

    The work in Python grows with the number of segments (and of code fences, up to
    MAX_FENCE_LINES), not with the number of Markdown blocks: each segment's end is found by a
    regular expression run backwards over the text that segment may hold.
    """
    if display_cost(text) <= WHOLE_COST:
        return (Segment(text),)
    fences = _Fences(text)
    segments: list[Segment] = []
    start = 0
    while start < len(text):
        reach = _reach(text, start, SEGMENT_COST)
        if reach == len(text):
            segments.append(Segment(text[start:]))
            break
        cut = _last_cut(text, start, reach, fences)
        if cut is not None:  # as many whole blocks as fit
            segments.append(Segment(text[start:cut]))
            start = cut
            continue
        end = _next_cut(text, start, reach, fences)  # one block larger than a segment
        block = text[start:end]
        if display_cost(block) > MAX_BLOCK_COST:
            segments.extend(_cut_block(block))
        else:
            segments.append(Segment(block))
        start = end
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


def _reach(text: str, start: int, budget: int) -> int:
    """The farthest end of a segment from `start` that costs at most `budget`."""
    end = min(len(text), start + budget)
    if _cost_between(text, start, end) <= budget:
        return end
    low, high = start, end  # cost(low) <= budget < cost(high)
    while high - low > 1:
        middle = (low + high) // 2
        if _cost_between(text, start, middle) <= budget:
            low = middle
        else:
            high = middle
    return low


def _cost_between(text: str, start: int, end: int) -> int:
    """display_cost(text[start:end]), without the copy."""
    return end - start + CELL_COST * text.count("|", start, end)


def _last_cut(text: str, start: int, reach: int, fences: _Fences) -> int | None:
    """The last block boundary in (start, reach], outside code fences; None: there is none.

    A block ends at blank lines that a line not indented follows (an indented one may still
    belong to a list item). The text is searched backwards: reversed, a boundary is that line's
    first character, a line break, a blank line and a line break.
    """
    end = reach + 1  # a boundary is the position of the next block's first character
    while end > start:
        found = _BOUNDARY_REVERSED.search(text[start:end][::-1])
        if found is None:
            return None
        cut = end - 1 - found.start()
        fence = fences.around(cut)
        if fence is None:
            return cut
        end = fence[0] + 1  # the boundary before the fence, if any
    return None


def _next_cut(text: str, start: int, after: int, fences: _Fences) -> int:
    """The first block boundary past `after` (searched from `start`), outside code fences.

    The text's end if there is none.
    """
    position = start
    while True:
        found = _BOUNDARY.search(text, position)
        if found is None:
            return len(text)
        cut = found.end()
        fence = fences.around(cut)
        if fence is not None:
            position = fence[1]
        elif cut > after:
            return cut
        else:
            position = cut


class _Fences:
    """Where code fences are open: (start of the opening line, end of the closing one).

    Past MAX_FENCE_LINES lines with a fence's mark (hostile text) no more are looked at: a
    fence open then runs to the end, later ones are not seen (a segment may cut such a code
    block, whose rest then shows as text; no text is lost).
    """

    def __init__(self, text: str) -> None:
        self._ranges: list[tuple[int, int]] = []
        open_fence: str | None = None
        opened = 0
        for start, end, line in _fence_lines(text):
            after = _fence_after(line, open_fence)
            if open_fence is None and after is not None:
                opened = start
            elif open_fence is not None and after is None:
                self._ranges.append((opened, end))
            open_fence = after
        if open_fence is not None:
            self._ranges.append((opened, len(text)))
        self._starts = [start for start, _ in self._ranges]

    def around(self, position: int) -> tuple[int, int] | None:
        """The fence that a cut at `position` would split; None: it splits none."""
        index = bisect.bisect_left(self._starts, position) - 1
        if index >= 0 and position <= self._ranges[index][1]:
            return self._ranges[index]
        return None


def _fence_lines(text: str) -> Iterator[tuple[int, int, str]]:
    """The lines that open or close code fences: (start, end, line), up to MAX_FENCE_LINES.

    Only lines with three backticks or tildes are looked at, found by a search in C: the
    steps in Python grow with those lines, not with all the lines of the text.
    """
    position = 0
    for _ in range(MAX_FENCE_LINES):
        mark = _FENCE_MARK.search(text, position)
        if mark is None:
            return
        start = text.rfind("\n", 0, mark.start()) + 1
        end = text.find("\n", mark.end())
        end = len(text) if end < 0 else end
        line = text[start:end]
        if _FENCE_LINE.match(line):
            yield start, end, line
        position = end + 1


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
    # At most the longest row and the most cells of a row (no step in Python per row).
    row_cost = max(map(len, rows)) + CELL_COST * max(map(str.count, rows, itertools.repeat("|")))
    if row_cost > SEGMENT_COST:
        return None  # an absurd row: plain text
    per_table = max(1, (SEGMENT_COST - head_cost) // row_cost)
    return [head + "".join(rows[i : i + per_table]) for i in range(0, len(rows), per_table)]
