"""What every command prints the same way: tables, sizes, errors and streamed replies."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from autoglm_desktop import APP_ID
from autoglm_desktop.core.common.untrusted_text import plain_message, plain_text_stream
from autoglm_desktop.core.hub.downloads import format_bytes

ERROR_EXIT = 2  # the exit status of a command that failed with an error it explains
CELL_LIMIT = 1000  # characters of one table cell (a long path still shows whole)
PLAIN_LIMIT = 20_000  # characters of a report (the plan's text)


def format_size(n_bytes: int) -> str:
    return format_bytes(n_bytes)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int]) -> None:
    """Columns padded to their widest cell; the columns in ``right`` aligned right.

    Cells hold names from files and the hub: each is cleaned like an error message.
    """
    lines = [[_cell(cell) for cell in row] for row in (header, *rows)]
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    for row in lines:
        cells = [
            str(cell).rjust(width) if i in right else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def _cell(value: object) -> str:
    return plain_message(value, limit=CELL_LIMIT).replace("\n", " ").replace("\t", " ")


def print_error(message: object, *, command: str | None = None) -> int:
    """``autoglm-desktop[ COMMAND]: error: MESSAGE`` on stderr; returns :data:`ERROR_EXIT`.

    The message may carry a model's or a file's text: it is cut short and stripped of the
    escape sequences and control characters a terminal would obey.
    """
    prefix = f"{APP_ID} {command}" if command else APP_ID
    print(f"{prefix}: error: {plain_message(message)}", file=sys.stderr)
    return ERROR_EXIT


def print_plain(text: str, *, file: TextIO | None = None) -> None:
    """Print text that names outside things (files, repositories, models), cleaned.

    Newlines stay; terminal escape sequences and control characters go.
    """
    print(plain_message(text, limit=PLAIN_LIMIT), file=file or sys.stdout)


def write_stream(text: str, *, stream: TextIO | None = None) -> None:
    """Write a piece of a model's reply as it comes (to stdout), without control characters."""
    out = stream or sys.stdout
    out.write(plain_text_stream(text))
    out.flush()
