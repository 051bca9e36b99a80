"""Makes the chat history's commits durable from a thread of its own.

The window's store commits with ``synchronous = NORMAL`` (write-ahead log): a commit is in the
WAL file, handed to the OS, so it survives the app being killed, but the commit does not wait
for the disk. Waiting there put a disk flush on the GUI thread at every message sent — 1 ms
usually, now and then over a second on a busy disk. This thread then flushes the WAL file
(``fsync``), so each commit reaches the disk a moment later without holding up the window.

SQLite has no asynchronous flush of its own (its ``synchronous`` levels flush inside the commit
or only at checkpoints), and ``fsync`` applies to the file, whichever descriptor asks: hence a
small thread here.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


class WalFlusher:
    """Flushes ``<database>-wal`` soon after each :meth:`request`, in a daemon thread."""

    def __init__(self, database: Path) -> None:
        self._wal = database.with_name(database.name + "-wal")
        self._wanted = threading.Condition()
        self._pending = False
        self._closing = False
        self.flushes = 0  # how many flushes ran (read by tests)
        self._thread = threading.Thread(target=self._run, name="history-flush", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Ask for a flush of what was committed so far; returns at once."""
        with self._wanted:
            self._pending = True
            self._wanted.notify()

    def close(self) -> None:
        """Flush what was asked for, then stop the thread."""
        with self._wanted:
            self._closing = True
            self._wanted.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wanted:
                while not self._pending and not self._closing:
                    self._wanted.wait()
                pending, closing = self._pending, self._closing
                self._pending = False
            if pending:
                self._flush()
            if closing:
                return

    def _flush(self) -> None:
        # No WAL file: SQLite checkpointed it into the database (flushed) and removed it.
        with contextlib.suppress(OSError):
            descriptor = os.open(self._wal, os.O_RDWR | getattr(os, "O_BINARY", 0))
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        self.flushes += 1
