"""The chat history: conversations and their messages in one SQLite file.

The store is used from one thread (the GUI thread). Every write is committed at once, so a
crash or ``kill -9`` loses nothing that a method had returned from. The GUI opens it with a short
busy timeout, so a history locked by another program fails fast (:class:`HistoryLockedError`,
worth retrying) instead of freezing the window.

Failures are typed (``core.common.errors``): a damaged file, a newer format, a read-only file or
folder, a lock held elsewhere, a full disk. A newer or read-only history can be opened
``read_only``; :meth:`ChatStore.unsaved` keeps a history in memory only (chat without saving);
``core.chat.history_repair`` moves a damaged file aside and recovers what it still holds.

The schema is versioned with ``PRAGMA user_version``: ``MIGRATIONS[i]`` brings a database from
version ``i`` to ``i + 1``. To change the schema, append a function to ``MIGRATIONS``; never edit
one that has shipped.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from autoglm_desktop.core.chat.wal_flusher import WalFlusher
from autoglm_desktop.core.common.errors import (
    ConversationNotFoundError,
    HistoryDamagedError,
    HistoryDiskFullError,
    HistoryLockedError,
    HistoryReadOnlyError,
    HistoryTooNewError,
    MessageNotFoundError,
    StoreError,
)
from autoglm_desktop.core.common.types import (
    GenerationStats,
    MessageStatus,
    Role,
    SamplingSettings,
    Thinking,
)

DEFAULT_TITLE = "New chat"
TITLE_MAX_CHARS = 40
BUSY_TIMEOUT_S = 5.0  # how long a call waits for a lock held elsewhere (off the GUI thread)
MEMORY = Path(":memory:")  # the path of an unsaved history

# --- schema ------------------------------------------------------------------------------------


def _v1_create_tables(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            system_prompt TEXT NOT NULL DEFAULT '',
            sampling_json TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL
                REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            status TEXT NOT NULL,
            stats_json TEXT,
            created_at REAL NOT NULL,
            UNIQUE (conversation_id, position)
        )
        """
    )
    conn.execute("CREATE INDEX conversations_by_update ON conversations(updated_at)")


def _v2_add_model_name(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE messages ADD COLUMN model_name TEXT NOT NULL DEFAULT ''")
    # Found on every open (crash recovery); a partial index keeps that instant on big histories.
    conn.execute("CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming'")


_THOUGHT_REPLY = re.compile(r"\s*<think>(.*?)</think>\s*(.*)", re.DOTALL)


def _add_reasoning(conn: sqlite3.Connection) -> None:
    """A reply's reasoning (thinking models) apart from its answer; a conversation's Think.

    Replies written before, which begin with a whole ``<think>...</think>`` block, have it moved
    out of their text into their reasoning.
    """
    conn.execute("ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE messages ADD COLUMN reasoning_s REAL")  # NULL: not timed
    conn.execute("ALTER TABLE conversations ADD COLUMN thinking TEXT NOT NULL DEFAULT ''")
    rows = conn.execute(
        "SELECT id, content FROM messages WHERE role = 'assistant'"
        " AND instr(content, '</think>') > 0"
    ).fetchall()
    for message_id, content in rows:
        match = _THOUGHT_REPLY.fullmatch(content)
        if match is not None:
            conn.execute(
                "UPDATE messages SET reasoning = ?, content = ? WHERE id = ?",
                (match.group(1).strip(), match.group(2), message_id),
            )


def _ids_never_reused(conn: sqlite3.Connection) -> None:
    """Make ``conversations.id`` and ``messages.id`` AUTOINCREMENT: a deleted id never returns.

    SQLite cannot add AUTOINCREMENT to a table, so both are rebuilt from their own schema text
    (whatever columns earlier steps added), their rows copied, their indexes re-created. The old
    tables are renamed first, which also points ``messages``' foreign key at the renamed one, so
    dropping them cascades into nothing.
    """
    tables = ("conversations", "messages")
    schema = {
        name: conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()[0]
        for name in tables
    }
    indexes = [
        row[0]
        for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN (?, ?)",
            tables,
        )
    ]
    for name in tables:
        conn.execute(f"ALTER TABLE {name} RENAME TO {name}_without_autoincrement")
    for name in tables:
        create, found = re.subn(
            r"\bid\s+INTEGER\s+PRIMARY\s+KEY\b(?!\s+AUTOINCREMENT)",
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            schema[name],
            count=1,
            flags=re.IGNORECASE,
        )
        if not found:
            raise sqlite3.DatabaseError(f"unexpected schema of the {name} table")
        conn.execute(create)
        conn.execute(f"INSERT INTO {name} SELECT * FROM {name}_without_autoincrement")
    for name in reversed(tables):  # messages first: nothing refers to them
        conn.execute(f"DROP TABLE {name}_without_autoincrement")
    for create in indexes:
        conn.execute(create)


Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: tuple[Migration, ...] = (
    _v1_create_tables,
    _v2_add_model_name,
    _add_reasoning,
    _ids_never_reused,
)
SCHEMA_VERSION = len(MIGRATIONS)


# --- data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    system_prompt: str
    sampling: SamplingSettings
    created_at: float
    updated_at: float  # last time a message was added
    message_count: int
    thinking: Thinking = Thinking.DEFAULT  # the Think switch; DEFAULT: as the model recommends


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    position: int  # 0-based, dense unless messages were deleted from the middle
    role: Role
    content: str
    status: MessageStatus
    stats: GenerationStats | None
    model_name: str
    created_at: float
    reasoning: str = ""  # what a thinking model wrote before its answer (content)
    reasoning_s: float | None = None  # how long it thought, in seconds (None: unknown)


def title_from_text(text: str) -> str:
    """A conversation title from its first user message: the first line, shortened."""
    line = next((line for line in text.splitlines() if line.strip()), "")
    line = " ".join(line.split())
    if not line:
        return DEFAULT_TITLE
    if len(line) <= TITLE_MAX_CHARS:
        return line
    cut = line[:TITLE_MAX_CHARS]
    last_space = cut.rfind(" ")
    if last_space >= TITLE_MAX_CHARS // 2:  # cut between words when it costs little
        cut = cut[:last_space]
    return cut.rstrip() + "…"


def _fold(text: str | None) -> str:
    # SQLite's LIKE/lower() only fold ASCII; Python's casefold handles every script.
    return (text or "").casefold()


def _load_json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _dump_json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


_CONVERSATION_SELECT = """
    SELECT c.id, c.title, c.system_prompt, c.sampling_json, c.created_at, c.updated_at,
           c.thinking,
           (SELECT COUNT(*) FROM messages AS m WHERE m.conversation_id = c.id) AS message_count
    FROM conversations AS c
"""

_MESSAGE_SELECT = """
    SELECT id, conversation_id, position, role, content, status, stats_json, model_name,
           created_at, reasoning, reasoning_s
    FROM messages
"""


def _conversation_from_row(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        title=row["title"],
        system_prompt=row["system_prompt"],
        sampling=SamplingSettings.from_dict(_load_json_object(row["sampling_json"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        message_count=row["message_count"],
        thinking=_thinking(row["thinking"]),
    )


def _thinking(value: str) -> Thinking:
    try:
        return Thinking(value)
    except ValueError:  # written by a later version: as the model recommends
        return Thinking.DEFAULT


def _message_from_row(row: sqlite3.Row) -> Message:
    stats = _load_json_object(row["stats_json"])
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        position=row["position"],
        role=Role(row["role"]),
        content=row["content"],
        status=MessageStatus(row["status"]),
        stats=GenerationStats.from_dict(stats) if stats is not None else None,
        model_name=row["model_name"],
        created_at=row["created_at"],
        reasoning=row["reasoning"],
        reasoning_s=row["reasoning_s"],
    )


def read_messages(path: Path, conversation_id: int) -> list[Message]:
    """A conversation's messages through a connection of their own (any thread may call it).

    Raises:
        StoreError: the history cannot be read.
    """
    connection = _open_read_only(path, busy_timeout_s=BUSY_TIMEOUT_S)
    try:
        rows = connection.execute(
            _MESSAGE_SELECT + " WHERE conversation_id = ? ORDER BY position", (conversation_id,)
        ).fetchall()
    except sqlite3.Error as error:
        message = f"Could not read the messages (file {path}): {error}."
        raise classify_error(error, message, path=path) from error
    finally:
        connection.close()
    return [_message_from_row(row) for row in rows]


# --- store -------------------------------------------------------------------------------------


class ChatStore:
    """Conversations and messages, persisted in the SQLite file at ``path``."""

    def __init__(
        self,
        path: Path,
        *,
        recover_interrupted: bool = True,
        read_only: bool = False,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        flush_in_background: bool = False,
    ) -> None:
        """Open (creating or migrating) the history at ``path``.

        Args:
            path: The SQLite file (:data:`MEMORY`: a history kept in memory only).
            recover_interrupted: Mark replies left "streaming" as interrupted. Only the app's
                own store does this at start; a second, read-only look must not.
            read_only: Only read (a history of a newer format, or on a read-only disk): it is
                neither created nor migrated, and every change raises HistoryReadOnlyError.
            busy_timeout_s: How long a call waits for a lock held by another connection
                before it raises HistoryLockedError.
            flush_in_background: A change returns once it is in the write-ahead log, handed
                to the OS (it survives the app being killed); a thread of the store flushes it
                to the disk a moment later (see :mod:`wal_flusher`). For the window, whose
                thread must never wait for a disk. Otherwise each change waits for the disk.

        Raises:
            StoreError: the history cannot be opened; a subclass says why (damaged, newer
                format, read-only, locked, disk full).
        """
        self.path = Path(path)
        self.read_only = read_only
        self.in_memory = self.path == MEMORY
        self._flusher: WalFlusher | None = None
        self._synchronous = "FULL"
        if read_only:
            self._conn = _open_read_only(self.path, busy_timeout_s=busy_timeout_s)
        else:
            self._conn = self._open(
                self.path, recover_interrupted=recover_interrupted, busy_timeout_s=busy_timeout_s
            )
            if flush_in_background and not self.in_memory:
                self._synchronous = "NORMAL"
                self._conn.execute("PRAGMA synchronous = NORMAL")
                self._flusher = WalFlusher(self.path)

    @classmethod
    def unsaved(cls) -> ChatStore:
        """An empty history in memory: chatting works, nothing reaches the disk."""
        return cls(MEMORY)

    # lifecycle

    def __enter__(self) -> ChatStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._flusher is not None:
            self._flusher.close()  # what was committed reaches the disk before the store goes
            self._flusher = None
        with self._errors("close the chat history"):
            self._conn.close()

    @staticmethod
    def _open(
        path: Path, *, recover_interrupted: bool, busy_timeout_s: float
    ) -> sqlite3.Connection:
        try:
            if path != MEMORY:
                path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise _open_error(path, error) from error
        try:
            conn.row_factory = sqlite3.Row
            conn.create_function("autoglm_fold", 1, _fold, deterministic=True)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            _migrate(conn, path)
            if recover_interrupted:
                # A reply still marked as streaming was cut off when the app last died.
                conn.execute(
                    "UPDATE messages SET status = ? WHERE status = ?",
                    (MessageStatus.INTERRUPTED.value, MessageStatus.STREAMING.value),
                )
        except StoreError:
            conn.close()
            raise
        except (OSError, sqlite3.Error) as error:
            conn.close()
            raise _open_error(path, error) from error
        return conn

    @contextmanager
    def _errors(self, doing: str, *, flush: bool = True) -> Iterator[None]:
        """Report SQLite's errors as StoreErrors; a change made inside is flushed (see init)."""
        flusher = self._flusher if flush else None
        changes = self._conn.total_changes if flusher is not None else 0
        try:
            yield
            if flusher is not None and self._conn.total_changes != changes:
                flusher.request()
        except sqlite3.Error as error:
            if self.read_only and _error_code(error) in _READ_ONLY_CODES:
                raise HistoryReadOnlyError(
                    f"Could not {doing}: the chat history is open read-only, so nothing can be"
                    " changed or saved."
                ) from error
            raise classify_error(
                error,
                f"Could not {doing} (file {self.path}): {error}."
                if str(error)
                else f"Could not {doing} (file {self.path}).",
                path=self.path,
            ) from error

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._errors(doing):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    # conversations

    def create_conversation(
        self,
        *,
        title: str = DEFAULT_TITLE,
        system_prompt: str = "",
        sampling: SamplingSettings | None = None,
    ) -> Conversation:
        sampling = sampling or SamplingSettings()
        with self._transaction("create a conversation") as conn:
            now = self._next_update_time()
            cursor = conn.execute(
                "INSERT INTO conversations"
                " (title, system_prompt, sampling_json, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (_clean_title(title), system_prompt, _dump_json(sampling.to_dict()), now, now),
            )
            conversation_id = cursor.lastrowid
        assert conversation_id is not None
        return self.get_conversation(conversation_id)

    def list_conversations(self, *, query: str = "") -> list[Conversation]:
        """Most recently updated first; ``query`` matches titles and message texts."""
        needle = _fold(query.strip())
        order = " ORDER BY c.updated_at DESC, c.id DESC"
        with self._errors("read the list of conversations"):
            if not needle:
                rows = self._conn.execute(_CONVERSATION_SELECT + order).fetchall()
            else:
                rows = self._conn.execute(
                    _CONVERSATION_SELECT + " WHERE instr(autoglm_fold(c.title), :needle) > 0"
                    " OR EXISTS (SELECT 1 FROM messages AS m WHERE m.conversation_id = c.id"
                    " AND instr(autoglm_fold(m.content), :needle) > 0)" + order,
                    {"needle": needle},
                ).fetchall()
        return [_conversation_from_row(row) for row in rows]

    def get_conversation(self, conversation_id: int) -> Conversation:
        with self._errors("read a conversation"):
            row = self._conn.execute(
                _CONVERSATION_SELECT + " WHERE c.id = ?", (conversation_id,)
            ).fetchone()
        if row is None:
            raise _conversation_not_found(conversation_id)
        return _conversation_from_row(row)

    def rename_conversation(self, conversation_id: int, *, title: str) -> None:
        with self._errors("rename the conversation"):
            cursor = self._conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ?",
                (_clean_title(title), conversation_id),
            )
        if cursor.rowcount == 0:
            raise _conversation_not_found(conversation_id)

    def update_conversation_settings(
        self,
        conversation_id: int,
        *,
        system_prompt: str | None = None,
        sampling: SamplingSettings | None = None,
        thinking: Thinking | None = None,
    ) -> None:
        """Change the given settings; ``None`` leaves a setting as it is."""
        assignments: list[str] = []
        values: list[Any] = []
        if system_prompt is not None:
            assignments.append("system_prompt = ?")
            values.append(system_prompt)
        if sampling is not None:
            assignments.append("sampling_json = ?")
            values.append(_dump_json(sampling.to_dict()))
        if thinking is not None:
            assignments.append("thinking = ?")
            values.append(Thinking(thinking).value)
        if not assignments:
            self.get_conversation(conversation_id)  # still report a wrong id
            return
        with self._errors("save the conversation settings"):
            cursor = self._conn.execute(
                f"UPDATE conversations SET {', '.join(assignments)} WHERE id = ?",
                (*values, conversation_id),
            )
        if cursor.rowcount == 0:
            raise _conversation_not_found(conversation_id)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete the conversation and all its messages."""
        with self._errors("delete the conversation"):
            cursor = self._conn.execute(
                "DELETE FROM conversations WHERE id = ?", (conversation_id,)
            )
        if cursor.rowcount == 0:
            raise _conversation_not_found(conversation_id)

    # messages

    def add_message(
        self,
        conversation_id: int,
        *,
        role: Role,
        content: str,
        status: MessageStatus = MessageStatus.COMPLETE,
        stats: GenerationStats | None = None,
        model_name: str = "",
        reasoning: str = "",
        reasoning_s: float | None = None,
    ) -> Message:
        """Append a message at the end of the conversation."""
        with self._transaction("save the message") as conn:
            self._require_conversation(conversation_id)
            now = time.time()
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, position, role, content, status,"
                " stats_json, model_name, created_at, reasoning, reasoning_s)"
                " VALUES (?, (SELECT COALESCE(MAX(position), -1) + 1 FROM messages"
                " WHERE conversation_id = ?), ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    conversation_id,
                    Role(role).value,
                    content,
                    MessageStatus(status).value,
                    _dump_json(stats.to_dict()) if stats is not None else None,
                    model_name,
                    now,
                    reasoning,
                    reasoning_s,
                ),
            )
            message_id = cursor.lastrowid
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?",
                (self._next_update_time(), conversation_id),
            )
            row = conn.execute(_MESSAGE_SELECT + " WHERE id = ?", (message_id,)).fetchone()
        return _message_from_row(row)

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        status: MessageStatus | None = None,
        stats: GenerationStats | None = None,
        reasoning: str | None = None,
        reasoning_s: float | None = None,
        durable: bool = True,
    ) -> None:
        """Change the given fields with one UPDATE; ``None`` leaves a field as it is.

        ``durable=False`` is for the frequent saves of a reply still being written: the change
        survives the app being killed (it is in the WAL, handed to the OS) but is not flushed to
        the disk, so a slow disk never holds the caller up for a text of megabytes; the next
        durable write flushes it with its own.
        """
        assignments: list[str] = []
        values: list[Any] = []
        if content is not None:
            assignments.append("content = ?")
            values.append(content)
        if status is not None:
            assignments.append("status = ?")
            values.append(MessageStatus(status).value)
        if stats is not None:
            assignments.append("stats_json = ?")
            values.append(_dump_json(stats.to_dict()))
        if reasoning is not None:
            assignments.append("reasoning = ?")
            values.append(reasoning)
        if reasoning_s is not None:
            assignments.append("reasoning_s = ?")
            values.append(reasoning_s)
        with self._errors("save the message", flush=durable):
            if assignments:
                if not durable:
                    self._conn.execute("PRAGMA synchronous = NORMAL")
                try:
                    cursor = self._conn.execute(
                        f"UPDATE messages SET {', '.join(assignments)} WHERE id = ?",
                        (*values, message_id),
                    )
                finally:
                    if not durable:
                        self._conn.execute(f"PRAGMA synchronous = {self._synchronous}")
                found = cursor.rowcount > 0
            else:
                found = (
                    self._conn.execute(
                        "SELECT 1 FROM messages WHERE id = ?", (message_id,)
                    ).fetchone()
                    is not None
                )
        if not found:
            raise MessageNotFoundError(f"The message {message_id} no longer exists.")

    def messages(self, conversation_id: int) -> list[Message]:
        """All messages of the conversation, in order."""
        with self._errors("read the messages"):
            self._require_conversation(conversation_id)
            rows = self._conn.execute(
                _MESSAGE_SELECT + " WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        return [_message_from_row(row) for row in rows]

    def get_message(self, message_id: int) -> Message:
        """One message, by id."""
        with self._errors("read a message"):
            row = self._conn.execute(_MESSAGE_SELECT + " WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise MessageNotFoundError(f"The message {message_id} no longer exists.")
        return _message_from_row(row)

    def delete_messages_from(self, conversation_id: int, *, position: int) -> int:
        """Delete the message at ``position`` and every later one; return how many went."""
        with self._transaction("delete the messages") as conn:
            self._require_conversation(conversation_id)
            cursor = conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                (conversation_id, position),
            )
        return cursor.rowcount

    # helpers

    def _require_conversation(self, conversation_id: int) -> None:
        row = self._conn.execute(
            "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise _conversation_not_found(conversation_id)

    def _next_update_time(self) -> float:
        # Strictly later than any conversation's, so "most recent first" holds even when
        # two updates fall within the clock's resolution.
        latest = self._conn.execute("SELECT MAX(updated_at) FROM conversations").fetchone()[0]
        now = time.time()
        if latest is None or now > latest:
            return now
        return float(latest) + 1e-6


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the database to ``SCHEMA_VERSION``, all steps in one transaction.

    A history that has data is first copied whole beside itself (``<name>.v<N>-backup``).
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if 0 < version < SCHEMA_VERSION and path != MEMORY:
        _back_up(conn, path, version=version)  # outside a transaction: SQLite's backup needs it
    conn.execute("BEGIN IMMEDIATE")  # read the version under the write lock: no double upgrade
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise _too_new_error(path, version)
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            migration(conn)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _back_up(conn: sqlite3.Connection, path: Path, *, version: int) -> Path:
    """Copy the database beside itself before a migration; never over an earlier copy."""
    base = path.with_name(f"{path.name}.v{version}-backup")
    backup = base
    attempt = 0
    while backup.exists():
        attempt += 1
        backup = base.with_name(f"{base.name}-{attempt}")
    target = sqlite3.connect(backup)
    try:
        conn.backup(target)
    except BaseException:
        target.close()
        backup.unlink(missing_ok=True)  # a partial copy (full disk...) is no backup
        raise
    target.close()
    return backup


def _too_new_error(path: Path, version: int) -> HistoryTooNewError:
    return HistoryTooNewError(
        f"The chat history file {path} was written by a newer version of AutoGLM"
        f" Desktop (format {version}; this version reads up to {SCHEMA_VERSION})."
        " Update the app to open it, or open it read-only.",
        version=version,
    )


def _open_read_only(path: Path, *, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection that only reads ``path``; the file is never created or changed."""
    if not path.is_file():
        raise StoreError(f"The chat history file {path} could not be opened: it does not exist.")
    uri = path.absolute().as_uri()
    conn: sqlite3.Connection | None = None
    try:
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=busy_timeout_s)
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as error:
            if _error_code(error) in _BUSY_CODES:
                raise
            # A WAL history in a read-only folder: no shared-memory file can be made there. The
            # file alone holds everything once the app that wrote it closed it.
            if conn is not None:
                conn.close()
            conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=busy_timeout_s)
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        conn.row_factory = sqlite3.Row
        conn.create_function("autoglm_fold", 1, _fold, deterministic=True)
    except sqlite3.Error as error:
        if conn is not None:
            conn.close()
        raise _open_error(path, error) from error
    return conn


# SQLite's primary result codes (the low byte of an extended code; sqlite.org/rescode.html),
# spelled out because typeshed lacks the constants the sqlite3 module has since Python 3.11.
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 11, 13, 14
_SQLITE_NOTADB = 26
_BUSY_CODES = {_SQLITE_BUSY, _SQLITE_LOCKED}
_DAMAGED_CODES = {_SQLITE_CORRUPT, _SQLITE_NOTADB}
_READ_ONLY_CODES = {_SQLITE_READONLY, _SQLITE_PERM}
_FULL_CODES = {_SQLITE_FULL}
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_BELOW_BYTES = 1 << 20  # an I/O error with less free space than this: the disk is full
_READ_ONLY_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


def _error_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def classify_error(error: Exception, message: str, *, path: Path) -> StoreError:
    """``message`` as the StoreError subclass that says what ``error`` (from ``path``) means."""
    if isinstance(error, OSError):
        if error.errno in _FULL_ERRNOS:
            return HistoryDiskFullError(f"{message} The disk is full: free some space.")
        if error.errno in _READ_ONLY_ERRNOS:
            return HistoryReadOnlyError(message)
        return StoreError(message)
    code = _error_code(error) if isinstance(error, sqlite3.Error) else None
    if code in _BUSY_CODES:
        return HistoryLockedError(
            f"{message} Another program (or another AutoGLM Desktop window) is using the chat"
            " history; try again in a moment."
        )
    if code in _DAMAGED_CODES:
        return HistoryDamagedError(message)
    if code in _READ_ONLY_CODES or (code == _SQLITE_CANTOPEN and _not_writable(path)):
        return HistoryReadOnlyError(f"{message} The file or its folder is read-only.")
    if code in _FULL_CODES or (code == _SQLITE_IOERR and _disk_full(path)):
        return HistoryDiskFullError(f"{message} The disk is full: free some space.")
    return StoreError(message)


def _not_writable(path: Path) -> bool:
    folder = path.parent
    if path.exists():
        return not os.access(path, os.W_OK) or not os.access(folder, os.W_OK)
    return folder.is_dir() and not os.access(folder, os.W_OK)


def _disk_full(path: Path) -> bool:
    """Whether the disk holding ``path`` has (next to) no free space: the cause of a write error."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free < _FULL_BELOW_BYTES
    except OSError:
        return False


def _open_error(path: Path, error: Exception) -> StoreError:
    detail = getattr(error, "strerror", None) or error
    message = f"The chat history file {path} could not be opened: {detail}."
    if isinstance(error, sqlite3.Error) and _error_code(error) in _DAMAGED_CODES:
        message += " The file is damaged."
    return classify_error(error, message, path=path)


def _conversation_not_found(conversation_id: int) -> ConversationNotFoundError:
    return ConversationNotFoundError(f"The conversation {conversation_id} no longer exists.")


def _clean_title(title: str) -> str:
    return " ".join(title.split()) or DEFAULT_TITLE
