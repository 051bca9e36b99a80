"""What every command prints the same way: tables, sizes and errors."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from autoglm_desktop import APP_ID
from autoglm_desktop.core.hub.downloads import format_bytes

ERROR_EXIT = 2  # the exit status of a command that failed with an error it explains


def format_size(n_bytes: int) -> str:
    return format_bytes(n_bytes)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int]) -> None:
    """Columns padded to their widest cell; the columns in ``right`` aligned right."""
    lines = [header, *rows]
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    for row in lines:
        cells = [
            str(cell).rjust(width) if i in right else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def print_error(message: object, *, command: str | None = None) -> int:
    """``autoglm-desktop[ COMMAND]: error: MESSAGE`` on stderr; returns :data:`ERROR_EXIT`."""
    prefix = f"{APP_ID} {command}" if command else APP_ID
    print(f"{prefix}: error: {message}", file=sys.stderr)
    return ERROR_EXIT
