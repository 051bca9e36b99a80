"""Qt-specific test setup."""

from __future__ import annotations

import ctypes
import sys

import PySide6


def _keep_none_alive() -> None:
    """Work around PySide6 6.12.0 dropping a reference to None on each void method call.

    From Python 3.12 None is immortal and this does not matter; on 3.10/3.11 the interpreter
    aborts ("Fatal Python error: none_dealloc") after a few thousand Qt calls, which a test
    session makes easily. Give None references to spare before any Qt call.
    """
    if sys.version_info < (3, 12) and PySide6.__version__.startswith("6.12."):
        ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40


_keep_none_alive()
