"""Outside text made safe to show: bounded in length, free of control and escape sequences.

Error messages can carry text that a model file controls (a chat template's own error, a
metadata value, a file name). Shown as is, such text can be 100 MB long, move a terminal's
cursor, set its title or clear its screen (ANSI/ECMA-48 escape sequences), or reorder what a
reader sees (Unicode bidirectional overrides). :func:`plain_message` is the one place that makes
it safe; every message that crosses to a user goes through it. It cuts the text *before* any
other processing, so a 100 MB message costs no more than a short one.

Hand-written: the standard library has no function that strips terminal escape sequences.
"""

from __future__ import annotations

import re

DEFAULT_LIMIT = 800  # characters of a message shown to a user
ELLIPSIS = " […]"

# ECMA-48 sequences: CSI (ESC [ or the C1 byte 0x9B) with parameters and a final byte; OSC,
# DCS, SOS, PM and APC strings up to their terminator (BEL or ST) or the end of the text; and
# the two-byte escapes (ESC and one byte in 0x40-0x5F, or nF/Fp/Fs forms ESC 0x20-0x7E).
_ESCAPE_SEQUENCE = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]?              # CSI ... final byte
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])           # OSC, DCS, SOS, PM, APC ...
      [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?            # ... up to BEL or ST
    | \x1b [ -/]* [0-~]?                                # other escapes
    """,
    re.VERBOSE,
)
# C0 controls but tab and newline, DEL, C1 controls, and the invisible characters that reorder
# or hide text (bidirectional overrides and isolates, zero-width marks).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# How much raw text is looked at, per character kept: escapes and controls make up the rest.
_RAW_FACTOR = 4


def plain_message(text: object, *, limit: int = DEFAULT_LIMIT, one_line: bool = False) -> str:
    """``text`` as plain, printable text of at most ``limit`` characters (plus a marker).

    Args:
        text: any object; its ``str()`` is used (an exception gives its message).
        limit: the most characters kept; longer text ends with `` […]``.
        one_line: also fold newlines and runs of blanks into single spaces.

    Returns:
        The text without terminal escape sequences, control characters (tab and newline
        excepted) or invisible reordering characters; CR LF line ends become LF.
    """
    raw = text if isinstance(text, str) else str(text)
    window = raw[: limit * _RAW_FACTOR + 1]  # before anything else: a huge text costs nothing
    clean = _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", window.replace("\r\n", "\n")))
    if one_line:
        clean = " ".join(clean.split())
    cut = len(clean) > limit or len(raw) > len(window)
    if cut:
        clean = clean[:limit].rstrip() + ELLIPSIS
    return clean


def plain_text_stream(text: str) -> str:
    """A chunk of streamed text (a model's reply) without control characters.

    Chunks may split an escape sequence, so only the control characters themselves go (with
    ESC gone, the rest of a sequence is inert text); tab and newline stay.
    """
    return _CONTROL.sub("", text.replace("\r\n", "\n"))
