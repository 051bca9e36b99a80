"""What to do with a chat history that cannot be opened: keep it aside, start afresh, recover.

Nothing here deletes a user's file. :func:`set_aside` renames the history (with its ``-wal``
and ``-shm`` companions) to ``<name>.damaged-<date>-<time>`` (``.set-aside-`` for one that is
not damaged), so the next open starts an empty one. :func:`recover_history` first builds a new
history from what a copy of the damaged file still yields, row by row, skipping the parts
SQLite cannot read; only when that has worked is the damaged file set aside and the new one put
in its place, so a failed recovery changes nothing.

Hand-written because Python's ``sqlite3`` has no binding to SQLite's recovery extension (the
shell's ``.recover``), and ``iterdump`` stops at the first unreadable page.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from autoglm_desktop.core.chat.store import ChatStore, classify_error
from autoglm_desktop.core.common.settings_file import move_aside
from autoglm_desktop.core.common.types import MessageStatus, Role

DAMAGED_MARK = ".damaged-"
SET_ASIDE_MARK = ".set-aside-"  # a file that opens but is not wanted (a newer format...)
RECOVERED_TITLE = "Recovered messages"
COMPANIONS = ("-wal", "-shm")  # SQLite's files beside the database, named after it
_TABLES = ("conversations", "messages")  # parents first
_MAX_PROBES = 10_000  # row ids tried one by one past a damaged part before giving up


@dataclass(frozen=True)
class RecoveryReport:
    """What :func:`recover_history` saved."""

    kept_as: Path  # the damaged file, renamed
    conversations: int
    messages: int
    skipped_parts: int  # damaged stretches of rows that could not be read


def set_aside(*, path: Path, mark: str = DAMAGED_MARK) -> Path:
    """Rename the history at ``path`` (and its companions) so a fresh one can start there.

    The new name is ``<name><mark><date>-<time>`` (never an existing file's).

    Returns:
        The damaged file's new name.

    Raises:
        StoreError: it could not be renamed (read-only folder...); nothing was changed.
    """
    try:
        kept_as = move_aside(path, mark=mark)
    except OSError as error:
        raise classify_error(
            error,
            f"The chat history file {path} could not be moved aside: {error.strerror or error}.",
            path=path,
        ) from error
    for suffix in COMPANIONS:
        companion = path.with_name(path.name + suffix)
        target = kept_as.with_name(kept_as.name + suffix)
        if companion.exists() and not target.exists():
            with contextlib.suppress(OSError):  # the main file is safe; SQLite remakes these
                os.rename(companion, target)
    return kept_as


def recover_history(*, path: Path) -> RecoveryReport:
    """Rebuild the history at ``path`` from what it still holds; keep the damaged file aside.

    Raises:
        StoreError: the new history could not be written (full disk, read-only folder); the
            damaged file is then left where it was.
    """
    building = path.with_name(path.name + ".recovering")
    try:
        _remove_database(building)  # left by an earlier attempt that failed
        with tempfile.TemporaryDirectory(prefix="autoglm-recover-") as scratch:
            source = _working_copy(path, Path(scratch))
            counts = _rebuild(source, building)
        kept_as = set_aside(path=path)
        os.replace(building, path)
    except OSError as error:
        _discard_database(building)
        raise classify_error(
            error,
            f"The chat history file {path} could not be recovered: {error.strerror or error}.",
            path=path,
        ) from error
    except BaseException:
        _discard_database(building)
        raise
    conversations, messages, skipped = counts
    return RecoveryReport(
        kept_as=kept_as, conversations=conversations, messages=messages, skipped_parts=skipped
    )


def _working_copy(path: Path, folder: Path) -> Path:
    """A copy of the damaged file (and its log) that may be opened read-write."""
    copy = folder / "damaged.sqlite3"
    shutil.copyfile(path, copy)
    wal = path.with_name(path.name + "-wal")
    if wal.is_file():
        shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
    return copy


def _rebuild(source_path: Path, target_path: Path) -> tuple[int, int, int]:
    """Copy every readable row of ``source_path`` into a new history at ``target_path``."""
    ChatStore(target_path, recover_interrupted=False).close()  # the current schema, empty
    target = sqlite3.connect(target_path, isolation_level=None)
    try:
        target.execute("PRAGMA foreign_keys = ON")
        source = _open_source(source_path)
        try:
            target.execute("BEGIN IMMEDIATE")
            conversations, skipped = _copy_table(source, target, "conversations")
            messages, more_skipped = _copy_messages(source, target)
            garbled = _drop_garbled_rows(target)
            target.execute("COMMIT")
        finally:
            if source is not None:
                source.close()
    except sqlite3.Error as error:
        raise classify_error(
            error, f"The recovered chat history could not be written: {error}.", path=target_path
        ) from error
    finally:
        target.close()
    return conversations, messages - garbled, skipped + more_skipped + garbled


def _drop_garbled_rows(target: sqlite3.Connection) -> int:
    """Remove messages a damaged page turned to nonsense; repair what can be; return how many.

    A page cut short reads as zero bytes, which SQLite may still decode as rows.
    """
    roles = tuple(role.value for role in Role)
    statuses = tuple(status.value for status in MessageStatus)
    dropped = target.execute(
        f"DELETE FROM messages WHERE role NOT IN ({', '.join('?' for _ in roles)})"
        " OR typeof(content) != 'text' OR instr(content, char(0)) > 0"
        " OR typeof(position) != 'integer'",
        roles,
    ).rowcount
    target.execute(
        f"UPDATE messages SET status = ? WHERE status NOT IN ({', '.join('?' for _ in statuses)})"
        " OR status = ?",
        (MessageStatus.INTERRUPTED.value, *statuses, MessageStatus.STREAMING.value),
    )
    target.execute(
        "UPDATE conversations SET title = ? WHERE typeof(title) != 'text' OR title = ''"
        " OR instr(title, char(0)) > 0",
        (RECOVERED_TITLE,),
    )
    return dropped


def _open_source(path: Path) -> sqlite3.Connection | None:
    """The damaged copy, or None when SQLite cannot open it at all (not a database)."""
    try:
        source = sqlite3.connect(path, isolation_level=None)
        # Read the schema even where it names pages past a truncated end (SQLite's own
        # recovery does the same). Only this scratch copy is opened so, and nothing is written.
        source.execute("PRAGMA writable_schema = ON")
    except sqlite3.Error:
        return None
    return source


def _copy_table(
    source: sqlite3.Connection | None, target: sqlite3.Connection, table: str
) -> tuple[int, int]:
    """Insert the readable rows of ``table``; (rows copied, damaged parts skipped)."""
    columns = _shared_columns(source, target, table)
    if source is None or not columns:
        return 0, 0
    insert = (
        f"INSERT OR IGNORE INTO {table} ({', '.join(columns)})"
        f" VALUES ({', '.join('?' for _ in columns)})"
    )
    copied = 0
    reader = _RowReader(source, table, columns)
    for row in reader:
        try:
            copied += target.execute(insert, row).rowcount
        except sqlite3.IntegrityError:  # a damaged value (a NULL where text must be...)
            reader.skipped += 1
    return copied, reader.skipped


def _copy_messages(
    source: sqlite3.Connection | None, target: sqlite3.Connection
) -> tuple[int, int]:
    """Messages whose conversation was lost go to a "Recovered messages" conversation of the id."""
    if source is None:
        return 0, 0
    with contextlib.suppress(sqlite3.Error):
        known = {row[0] for row in target.execute("SELECT id FROM conversations")}
        reader = _RowReader(source, "messages", ["conversation_id"])
        orphans = {row[0] for row in reader if isinstance(row[0], int)} - known
        for conversation_id in sorted(orphans):
            target.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, 0, 0)",
                (conversation_id, RECOVERED_TITLE),
            )
    return _copy_table(source, target, "messages")


def _shared_columns(
    source: sqlite3.Connection | None, target: sqlite3.Connection, table: str
) -> list[str]:
    """The columns of ``table`` that both databases have (a damaged schema has none)."""
    if source is None:
        return []
    try:
        theirs = {row[1] for row in source.execute(f"PRAGMA table_info({table})")}
    except sqlite3.Error:
        return []
    return [row[1] for row in target.execute(f"PRAGMA table_info({table})") if row[1] in theirs]


class _RowReader:
    """The readable rows of a table in row-id order; a damaged stretch is stepped over.

    After an unreadable page, row ids are tried one at a time (a lookup descends the tree from
    its root, so it reaches pages a scan could not), and the scan resumes at the first that
    reads. ``skipped`` counts the stretches stepped over.
    """

    def __init__(self, source: sqlite3.Connection, table: str, columns: list[str]) -> None:
        self._source = source
        self._table = table
        self._select = f"SELECT rowid, {', '.join(columns)} FROM {table}"
        self.skipped = 0

    def __iter__(self) -> Iterator[tuple[object, ...]]:
        last = 0
        while True:
            try:
                for row in self._source.execute(
                    self._select + " WHERE rowid > ? ORDER BY rowid", (last,)
                ):
                    last = row[0]
                    yield tuple(row[1:])
                return
            except sqlite3.Error:
                self.skipped += 1
                found = self._next_readable(after=last)
                if found is None:
                    return
                last, values = found
                yield values

    def _next_readable(self, *, after: int) -> tuple[int, tuple[object, ...]] | None:
        end = after + _MAX_PROBES
        with contextlib.suppress(sqlite3.Error):
            highest = self._source.execute(f"SELECT MAX(rowid) FROM {self._table}").fetchone()[0]
            if isinstance(highest, int):
                end = min(end, highest)
        for rowid in range(after + 1, end + 1):
            with contextlib.suppress(sqlite3.Error):
                row = self._source.execute(self._select + " WHERE rowid = ?", (rowid,)).fetchone()
                if row is not None:
                    return int(row[0]), tuple(row[1:])
        return None


def _remove_database(path: Path) -> None:
    """Delete a half-built recovery (ours, never the user's history)."""
    for name in (path.name, *(path.name + suffix for suffix in COMPANIONS)):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(name).unlink()


def _discard_database(path: Path) -> None:
    """:func:`_remove_database` after a failure: what cannot be removed stays."""
    with contextlib.suppress(OSError):
        _remove_database(path)
