"""Settings and state files: JSON objects read forgivingly and written atomically.

A write goes to a temporary file in the same folder, which is flushed and fsynced, then replaces
the old file (``os.replace``); the folder is fsynced too where the OS allows it (not Windows).
A crash or power cut leaves the old file or the new one, never half of either. A failed write
removes its temporary file, leaves the old file as it was and raises :class:`SettingsFileError`.

A missing file reads as ``{}``, the caller's defaults. A damaged one (not UTF-8, not JSON, not
a JSON object) reads as ``{}`` too, after it is moved aside as ``<name>.corrupt-<date>-<time>``
(never over an earlier backup) and one warning names both files.

Written by hand because no maintained library in the dependency tree does this: ``atomicwrites``
is archived, ``filelock`` only locks, and huggingface_hub keeps its atomic writes private.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from autoglm_desktop.core.common.errors import SettingsFileError

log = logging.getLogger(__name__)

CORRUPT_MARK = ".corrupt-"
_MAX_BACKUPS_PER_SECOND = 100
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: newlines are translated once, by Python


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object stored in ``path``; ``{}`` (the defaults) when there is none.

    A damaged file is moved aside as a backup and logged; an unreadable one (no permission) is
    logged and left where it is.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        log.warning("Cannot read %s (%s); using the defaults.", path, error.strerror or error)
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError alike
        problem = f"not valid JSON: {error}"
    else:
        if isinstance(data, dict):
            return data
        problem = f"a JSON {type(data).__name__}, not an object"
    _keep_damaged(path, problem)
    return {}


def write_json_object(
    path: Path,
    data: Mapping[str, Any],
    *,
    indent: int | None = 2,
    sort_keys: bool = False,
    owner_only: bool = False,
) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically and durably.

    Args:
        path: The file; its folder must exist.
        data: What to store.
        indent: ``json.dumps`` indentation (``None``: one line).
        sort_keys: Whether keys are written sorted.
        owner_only: Readable and writable by this user only (for secrets).

    Raises:
        SettingsFileError: the file could not be written; the old one is unchanged.
    """
    text = json.dumps(data, indent=indent, sort_keys=sort_keys)
    write_text_atomically(path, text, owner_only=owner_only)


def write_text_atomically(path: Path, text: str, *, owner_only: bool = False) -> None:
    """Replace ``path`` with ``text`` (UTF-8), atomically and durably.

    Raises:
        SettingsFileError: the file could not be written; the old one is unchanged.
    """
    try:
        _replace_file(path, text, mode=0o600 if owner_only else 0o666)
    except OSError as error:
        raise SettingsFileError(f"Could not save {path}: {error.strerror or error}.") from error


def _replace_file(path: Path, text: str, *, mode: int) -> None:
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself survive a power cut (POSIX only: Windows cannot open folders)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as error:
        log.debug("Cannot open %s to sync it: %s", folder, error)
        return
    try:
        os.fsync(fd)
    except OSError as error:  # some file systems (network shares) refuse; the file is in place
        log.debug("Cannot sync %s: %s", folder, error)
    finally:
        os.close(fd)


def _keep_damaged(path: Path, problem: str) -> None:
    try:
        backup = move_aside(path)
    except OSError as error:
        log.warning(
            "%s is damaged (%s) and could not be kept as a backup (%s); using the defaults.",
            path,
            problem,
            error.strerror or error,
        )
        return
    log.warning("%s is damaged (%s); using the defaults. It is kept as %s.", path, problem, backup)


def move_aside(path: Path, *, mark: str = CORRUPT_MARK) -> Path:
    """Rename ``path`` to a new ``<mark><date>-<time>`` name (never over another file); return it.

    Raises:
        OSError: it could not be renamed.
    """
    base = f"{path.name}{mark}{datetime.now():%Y%m%d-%H%M%S}"
    for attempt in range(_MAX_BACKUPS_PER_SECOND):
        backup = path.with_name(base if attempt == 0 else f"{base}-{attempt}")
        try:
            _rename_without_replacing(path, backup)
        except FileExistsError:
            continue
        return backup
    raise FileExistsError(f"too many backups named {base}")


def _rename_without_replacing(source: Path, target: Path) -> None:
    """Rename, failing with :class:`FileExistsError` rather than replacing ``target``."""
    if os.name == "nt":
        os.rename(source, target)  # never replaces on Windows
        return
    try:
        os.link(source, target)  # unlike os.rename, fails when target exists
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system (FAT, some network shares)
        if target.exists():
            raise FileExistsError(target) from None
        os.rename(source, target)
        return
    os.unlink(source)
