"""Guards the PySide6 pin: 6.12.0 drops a reference to None on every void method call.

On Python < 3.12 that aborts the interpreter ("Fatal Python error: none_dealloc") after a few
thousand Qt calls, i.e. minutes into a chat. pyproject.toml pins PySide6 below 6.12; this test
fails if a version with the leak comes back.
"""

from __future__ import annotations

import sys

from PySide6.QtGui import QTextCursor, QTextDocument


def test_void_qt_calls_keep_none_references() -> None:
    document = QTextDocument()
    cursor = QTextCursor(document)
    before = sys.getrefcount(None)
    for _ in range(2000):
        cursor.insertText("x")  # returns None (a void C++ method)
    assert sys.getrefcount(None) >= before - 100
