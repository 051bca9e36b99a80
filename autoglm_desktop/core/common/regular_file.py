"""Open a file for reading only if it is an ordinary file: never a pipe, a device or a folder.

A named pipe called ``model.gguf`` blocks a plain ``open()`` until some other program writes
to it (forever, usually), and a device such as ``/dev/zero`` never ends. The file is opened
without blocking and checked through its open descriptor, so nothing can swap it in between.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from autoglm_desktop.core.common.errors import NotRegularFileError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a disk device"),
    (stat.S_ISSOCK, "a socket"),
)
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # opening a pipe must not wait for a writer
    | getattr(os, "O_NOCTTY", 0)  # a terminal device must not become ours
    | getattr(os, "O_BINARY", 0)  # Windows
)


def open_regular_file(path: Path) -> BinaryIO:
    """``path`` opened for binary reading, after checking it is an ordinary file.

    Raises:
        NotRegularFileError: it is a folder, a named pipe, a device or a socket.
        OSError: it cannot be opened (missing, permission denied...).
    """
    fd = os.open(path, _FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(
                f"{Path(path).name} is not a model file: it is {_kind(mode)}, not an ordinary file."
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "a special file")
