"""The chat history store, on real SQLite files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from autoglm_desktop.core.chat import store as store_module
from autoglm_desktop.core.chat.store import (
    DEFAULT_TITLE,
    SCHEMA_VERSION,
    TITLE_MAX_CHARS,
    ChatStore,
    Conversation,
    title_from_text,
)
from autoglm_desktop.core.common.errors import (
    ConversationNotFoundError,
    HistoryDamagedError,
    MessageNotFoundError,
    StoreError,
)
from autoglm_desktop.core.common.types import GenerationStats, MessageStatus, Role, SamplingSettings

STATS = GenerationStats(
    prompt_tokens=30,
    evaluated_prompt_tokens=12,
    generated_tokens=8,
    ttft_s=0.25,
    tokens_per_s=21.5,
    total_s=0.6,
    stop_reason="eos",
    context_used=38,
    context_size=4096,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[ChatStore]:
    with ChatStore(db_path) as chat_store:
        yield chat_store


@contextmanager
def _raw_db(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection in autocommit mode, to look behind the store's back."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _titles(conversations: list[Conversation]) -> list[str]:
    return [conversation.title for conversation in conversations]


# --- conversations ---------------------------------------------------------------------------


def test_new_conversation_has_defaults(store: ChatStore) -> None:
    created = store.create_conversation()

    assert created.title == DEFAULT_TITLE
    assert created.system_prompt == ""
    assert created.sampling == SamplingSettings()
    assert created.message_count == 0
    assert created.created_at == created.updated_at
    assert store.get_conversation(created.id) == created


def test_conversation_keeps_its_settings(store: ChatStore) -> None:
    sampling = SamplingSettings(temperature=0.2, top_k=10, seed=7, max_tokens=64)
    created = store.create_conversation(
        title="Trip", system_prompt="You are terse.", sampling=sampling
    )

    fetched = store.get_conversation(created.id)
    assert (fetched.title, fetched.system_prompt, fetched.sampling) == (
        "Trip",
        "You are terse.",
        sampling,
    )


def test_missing_conversation_raises_typed_errors(store: ChatStore) -> None:
    with pytest.raises(ConversationNotFoundError):
        store.get_conversation(42)
    with pytest.raises(ConversationNotFoundError):
        store.rename_conversation(42, title="x")
    with pytest.raises(ConversationNotFoundError):
        store.update_conversation_settings(42, system_prompt="x")
    with pytest.raises(ConversationNotFoundError):
        store.update_conversation_settings(42)
    with pytest.raises(ConversationNotFoundError):
        store.delete_conversation(42)
    with pytest.raises(ConversationNotFoundError):
        store.add_message(42, role=Role.USER, content="hi")
    with pytest.raises(ConversationNotFoundError):
        store.messages(42)
    with pytest.raises(ConversationNotFoundError):
        store.delete_messages_from(42, position=0)


def test_rename_conversation(store: ChatStore) -> None:
    conversation = store.create_conversation()

    store.rename_conversation(conversation.id, title="  Recipes \n for  soup ")
    assert store.get_conversation(conversation.id).title == "Recipes for soup"

    store.rename_conversation(conversation.id, title="   ")
    assert store.get_conversation(conversation.id).title == DEFAULT_TITLE


def test_update_settings_changes_only_what_is_given(store: ChatStore) -> None:
    sampling = SamplingSettings(temperature=1.3)
    conversation = store.create_conversation(system_prompt="Old prompt", sampling=sampling)

    store.update_conversation_settings(conversation.id, system_prompt="New prompt")
    after_prompt = store.get_conversation(conversation.id)
    assert (after_prompt.system_prompt, after_prompt.sampling) == ("New prompt", sampling)

    new_sampling = SamplingSettings(top_p=0.5, repeat_penalty=1.0)
    store.update_conversation_settings(conversation.id, sampling=new_sampling)
    after_sampling = store.get_conversation(conversation.id)
    assert (after_sampling.system_prompt, after_sampling.sampling) == ("New prompt", new_sampling)


def test_delete_conversation_deletes_its_messages(store: ChatStore, db_path: Path) -> None:
    doomed = store.create_conversation(title="doomed")
    kept = store.create_conversation(title="kept")
    store.add_message(doomed.id, role=Role.USER, content="bye")
    store.add_message(kept.id, role=Role.USER, content="stay")

    store.delete_conversation(doomed.id)

    assert _titles(store.list_conversations()) == ["kept"]
    with pytest.raises(ConversationNotFoundError):
        store.get_conversation(doomed.id)
    with _raw_db(db_path) as raw:
        contents = [row[0] for row in raw.execute("SELECT content FROM messages")]
    assert contents == ["stay"]


def test_list_is_most_recently_updated_first(store: ChatStore) -> None:
    first = store.create_conversation(title="first")
    store.create_conversation(title="second")
    store.create_conversation(title="third")
    assert _titles(store.list_conversations()) == ["third", "second", "first"]

    store.add_message(first.id, role=Role.USER, content="back to the first one")

    assert _titles(store.list_conversations()) == ["first", "third", "second"]
    touched = store.get_conversation(first.id)
    assert touched.updated_at > touched.created_at
    assert touched.message_count == 1


# --- search ------------------------------------------------------------------------------------


@pytest.fixture
def searchable(store: ChatStore) -> ChatStore:
    weather = store.create_conversation(title="Weather in Paris")
    store.add_message(weather.id, role=Role.USER, content="Will it rain tomorrow?")
    store.add_message(weather.id, role=Role.ASSISTANT, content="Probably not.")
    chinese = store.create_conversation(title="学习中文")
    store.add_message(chinese.id, role=Role.USER, content="请解释一下机器学习是什么")
    accents = store.create_conversation(title="Café notes")
    store.add_message(accents.id, role=Role.USER, content="ÉCOLE and Straße")
    wildcards = store.create_conversation(title="Discounts")
    store.add_message(wildcards.id, role=Role.USER, content="50% off my_file")
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("paris", ["Weather in Paris"]),  # title, other case
        ("RAIN", ["Weather in Paris"]),  # user message content
        ("probably", ["Weather in Paris"]),  # assistant message content
        ("中文", ["学习中文"]),  # Chinese title
        ("机器学习", ["学习中文"]),  # Chinese content
        ("学习", ["学习中文"]),  # matches title and content: listed once
        ("école", ["Café notes"]),  # non-ASCII case folding
        ("CAFÉ", ["Café notes"]),
        ("strasse", ["Café notes"]),  # full case folding: ß == ss
        ("%", ["Discounts"]),  # LIKE wildcards are plain characters
        ("_", ["Discounts"]),
        ("y_f", ["Discounts"]),
        ("nothing like this", []),
    ],
)
def test_search_matches_titles_and_contents(
    searchable: ChatStore, query: str, expected: list[str]
) -> None:
    assert _titles(searchable.list_conversations(query=query)) == expected


def test_blank_search_lists_everything(searchable: ChatStore) -> None:
    assert len(searchable.list_conversations(query="   ")) == 4


# --- messages ----------------------------------------------------------------------------------


def test_messages_are_appended_in_order(store: ChatStore) -> None:
    conversation = store.create_conversation()
    user = store.add_message(conversation.id, role=Role.USER, content="Hello")
    reply = store.add_message(
        conversation.id,
        role=Role.ASSISTANT,
        content="Hi! How can I help?",
        stats=STATS,
        model_name="SmolLM2-135M",
    )

    assert [user.position, reply.position] == [0, 1]
    assert store.messages(conversation.id) == [user, reply]
    assert reply.role is Role.ASSISTANT
    assert reply.status is MessageStatus.COMPLETE
    assert reply.stats == STATS
    assert reply.model_name == "SmolLM2-135M"
    assert user.stats is None
    assert user.model_name == ""
    assert store.get_conversation(conversation.id).message_count == 2


def test_messages_of_other_conversations_stay_apart(store: ChatStore) -> None:
    one = store.create_conversation()
    two = store.create_conversation()
    store.add_message(one.id, role=Role.USER, content="one")
    store.add_message(two.id, role=Role.USER, content="two")

    assert [m.content for m in store.messages(one.id)] == ["one"]
    assert [m.position for m in store.messages(two.id)] == [0]


def test_update_message_while_streaming(store: ChatStore) -> None:
    conversation = store.create_conversation()
    reply = store.add_message(
        conversation.id, role=Role.ASSISTANT, content="", status=MessageStatus.STREAMING
    )

    store.update_message(reply.id, content="Partial")
    [streaming] = store.messages(conversation.id)
    assert (streaming.content, streaming.status, streaming.stats) == (
        "Partial",
        MessageStatus.STREAMING,
        None,
    )

    store.update_message(
        reply.id, content="Partial answer.", status=MessageStatus.COMPLETE, stats=STATS
    )
    [done] = store.messages(conversation.id)
    assert (done.content, done.status, done.stats) == (
        "Partial answer.",
        MessageStatus.COMPLETE,
        STATS,
    )

    store.update_message(reply.id, status=MessageStatus.ERROR)
    [failed] = store.messages(conversation.id)
    assert (failed.content, failed.status, failed.stats) == (
        "Partial answer.",
        MessageStatus.ERROR,
        STATS,
    )


def test_update_missing_message_raises(store: ChatStore) -> None:
    with pytest.raises(MessageNotFoundError):
        store.update_message(99, content="x")
    with pytest.raises(MessageNotFoundError):
        store.update_message(99)


def test_delete_messages_from_position(store: ChatStore) -> None:
    conversation = store.create_conversation()
    for index in range(5):
        role = Role.USER if index % 2 == 0 else Role.ASSISTANT
        store.add_message(conversation.id, role=role, content=f"m{index}")

    assert store.delete_messages_from(conversation.id, position=3) == 2
    assert [m.content for m in store.messages(conversation.id)] == ["m0", "m1", "m2"]
    assert store.delete_messages_from(conversation.id, position=10) == 0

    regenerated = store.add_message(conversation.id, role=Role.ASSISTANT, content="again")
    assert regenerated.position == 3
    assert store.get_conversation(conversation.id).message_count == 4


def test_positions_continue_after_the_last_one(store: ChatStore, db_path: Path) -> None:
    conversation = store.create_conversation()
    store.add_message(conversation.id, role=Role.USER, content="a")
    middle = store.add_message(conversation.id, role=Role.ASSISTANT, content="b")
    store.add_message(conversation.id, role=Role.USER, content="c")
    with _raw_db(db_path) as raw:  # a gap, as a future "delete one message" would leave
        raw.execute("DELETE FROM messages WHERE id = ?", (middle.id,))

    appended = store.add_message(conversation.id, role=Role.ASSISTANT, content="d")

    assert appended.position == 3
    assert [m.position for m in store.messages(conversation.id)] == [0, 2, 3]


# --- persistence -------------------------------------------------------------------------------


def test_streaming_reply_becomes_interrupted_on_reopen(db_path: Path) -> None:
    with ChatStore(db_path) as first_run:
        conversation = first_run.create_conversation()
        first_run.add_message(conversation.id, role=Role.USER, content="Tell me a story")
        reply = first_run.add_message(
            conversation.id, role=Role.ASSISTANT, content="", status=MessageStatus.STREAMING
        )
        first_run.update_message(reply.id, content="Once upon a")

    with ChatStore(db_path) as second_run:
        [question, cut_reply] = second_run.messages(conversation.id)

    assert question.status is MessageStatus.COMPLETE
    assert cut_reply.status is MessageStatus.INTERRUPTED
    assert cut_reply.content == "Once upon a"


def test_second_store_sees_identical_history(store: ChatStore, db_path: Path) -> None:
    conversation = store.create_conversation(title="Shared", system_prompt="Be brief.")
    store.add_message(conversation.id, role=Role.USER, content="Hi 你好")
    store.add_message(conversation.id, role=Role.ASSISTANT, content="Hello", stats=STATS)

    with ChatStore(db_path) as other:
        assert other.list_conversations() == store.list_conversations()
        assert other.messages(conversation.id) == store.messages(conversation.id)


def test_writes_survive_a_killed_process(db_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from autoglm_desktop.core.common.types import MessageStatus, Role
        from autoglm_desktop.core.chat.store import ChatStore

        store = ChatStore(Path(sys.argv[1]))
        conversation = store.create_conversation(title="Before the crash")
        store.add_message(conversation.id, role=Role.USER, content="question")
        reply = store.add_message(
            conversation.id, role=Role.ASSISTANT, content="", status=MessageStatus.STREAMING
        )
        store.update_message(reply.id, content="half an ans")
        os._exit(9)  # no close, no cleanup: like kill -9
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(db_path)],
        cwd=Path(store_module.__file__).parents[2],  # where autoglm_desktop can be imported
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 9, result.stderr

    with ChatStore(db_path) as store:
        [conversation] = store.list_conversations()
        messages = store.messages(conversation.id)
    assert conversation.title == "Before the crash"
    assert [(m.content, m.status) for m in messages] == [
        ("question", MessageStatus.COMPLETE),
        ("half an ans", MessageStatus.INTERRUPTED),
    ]


def test_database_uses_wal_and_current_schema(store: ChatStore, db_path: Path) -> None:
    with _raw_db(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_missing_parent_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "history.sqlite3"
    with ChatStore(path) as chat_store:
        chat_store.create_conversation()
    assert path.is_file()


def test_closed_store_raises_store_error(db_path: Path) -> None:
    chat_store = ChatStore(db_path)
    chat_store.close()
    with pytest.raises(StoreError, match="Could not read the list of conversations"):
        chat_store.list_conversations()


# --- schema versions ---------------------------------------------------------------------------

# The version 1 schema exactly as it shipped; kept here (not imported) so that later edits to the
# module cannot change what this test migrates from.
V1_SCHEMA = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    system_prompt TEXT NOT NULL DEFAULT '',
    sampling_json TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    status TEXT NOT NULL,
    stats_json TEXT,
    created_at REAL NOT NULL,
    UNIQUE (conversation_id, position)
);
CREATE INDEX conversations_by_update ON conversations(updated_at);
INSERT INTO conversations VALUES (1, 'Old chat', 'Old prompt', '{"temperature": 0.3}', 10.0, 20.0);
INSERT INTO messages VALUES (1, 1, 0, 'user', 'old question', 'complete', NULL, 11.0);
INSERT INTO messages VALUES
    (2, 1, 1, 'assistant', 'old answ', 'streaming', '{"generated_tokens": 3}', 12.0);
PRAGMA user_version = 1;
"""


def test_migrates_a_version_1_database(db_path: Path) -> None:
    with _raw_db(db_path) as raw:
        raw.executescript(V1_SCHEMA)

    with ChatStore(db_path) as chat_store:
        conversation = chat_store.get_conversation(1)
        question, answer = chat_store.messages(1)
        added = chat_store.add_message(1, role=Role.USER, content="new", model_name="m")

    assert (conversation.title, conversation.system_prompt) == ("Old chat", "Old prompt")
    assert conversation.sampling == SamplingSettings(temperature=0.3)
    assert (conversation.created_at, conversation.updated_at) == (10.0, 20.0)
    assert (question.content, question.model_name) == ("old question", "")
    assert answer.status is MessageStatus.INTERRUPTED
    assert answer.stats == GenerationStats(generated_tokens=3)
    assert (added.position, added.model_name) == (2, "m")
    with _raw_db(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_migration_makes_ids_never_reused_and_keeps_a_backup(db_path: Path) -> None:
    with _raw_db(db_path) as raw:
        raw.executescript(V1_SCHEMA)
    with ChatStore(db_path) as chat_store:
        # The newest conversation and message of the old file go, then new ones come.
        chat_store.delete_messages_from(1, position=1)
        newer = chat_store.create_conversation(title="newer")
        chat_store.delete_conversation(newer.id)
        again = chat_store.create_conversation(title="again")
        message = chat_store.add_message(again.id, role=Role.USER, content="hello")
        assert [m.content for m in chat_store.messages(1)] == ["old question"]

    assert again.id == newer.id + 1  # a deleted id is never given out again
    assert message.id == 3  # message 2 was deleted
    [backup] = db_path.parent.glob(f"{db_path.name}.v1-backup*")
    with _raw_db(backup) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        assert raw.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 2
    with _raw_db(db_path) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        indexes = {
            row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    assert not any(name.endswith("_without_autoincrement") for name in tables)
    assert {"conversations_by_update", "messages_streaming"} <= indexes


def test_deleting_a_conversation_still_deletes_its_messages_after_the_migration(
    store: ChatStore, db_path: Path
) -> None:
    conversation = store.create_conversation()
    store.add_message(conversation.id, role=Role.USER, content="gone with it")
    store.delete_conversation(conversation.id)
    with _raw_db(db_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


def test_failed_migration_leaves_the_database_untouched(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _raw_db(db_path) as raw:
        raw.executescript(V1_SCHEMA)

    def broken_step(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        conn.execute("THIS IS NOT SQL")

    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, broken_step))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(store_module.MIGRATIONS))

    with pytest.raises(StoreError, match="could not be opened"):
        ChatStore(db_path)

    with _raw_db(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        statuses = [row[0] for row in raw.execute("SELECT status FROM messages ORDER BY id")]
    assert "half_done" not in tables
    assert "messages_streaming" not in tables  # version 2's index was rolled back as well
    assert statuses == ["complete", "streaming"]


def test_newer_database_is_refused(db_path: Path) -> None:
    with _raw_db(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(StoreError, match="newer version"):
        ChatStore(db_path)


# --- broken files ------------------------------------------------------------------------------


def test_corrupt_file_gives_store_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is not a database at all, just some text " * 100)

    with pytest.raises(StoreError, match="could not be opened") as caught:
        ChatStore(db_path)

    assert type(caught.value) is HistoryDamagedError
    assert str(db_path) in str(caught.value)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_folder_in_place_of_the_file_gives_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "history.sqlite3"
    folder.mkdir()

    with pytest.raises(StoreError, match="could not be opened"):
        ChatStore(folder)


# --- titles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How do I boil an egg?", "How do I boil an egg?"),
        ("\n\n  First   line  \nsecond line", "First line"),
        ("", DEFAULT_TITLE),
        ("   \n\t ", DEFAULT_TITLE),
        (
            "Please explain the difference between a list and a tuple in Python",
            "Please explain the difference between a…",
        ),
        ("a" * 60, "a" * TITLE_MAX_CHARS + "…"),
        ("请" * 60, "请" * TITLE_MAX_CHARS + "…"),
    ],
)
def test_title_from_text(text: str, expected: str) -> None:
    assert title_from_text(text) == expected


def test_a_partial_save_survives_the_app_being_killed(db_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from autoglm_desktop.core.chat.store import ChatStore
        from autoglm_desktop.core.common.types import MessageStatus, Role
        store = ChatStore({str(db_path)!r})
        conversation = store.create_conversation()
        reply = store.add_message(
            conversation.id, role=Role.ASSISTANT, content="", status=MessageStatus.STREAMING
        )
        store.update_message(reply.id, content="x" * 1_000_000 + " partial", durable=False)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], check=False)
    assert killed.returncode == -9

    with ChatStore(db_path) as reopened:
        [conversation] = reopened.list_conversations()
        [message] = reopened.messages(conversation.id)
    assert message.content.endswith(" partial") and len(message.content) == 1_000_008
    assert message.status == MessageStatus.INTERRUPTED  # found cut off at the next start


def test_the_windows_store_flushes_each_change_on_its_own_thread(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller's commit does not wait for the disk: the store's thread flushes the WAL."""
    import os
    import threading

    flushed_by: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        flushed_by.append(threading.current_thread().name)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    store = ChatStore(db_path, flush_in_background=True)
    try:
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        conversation = store.create_conversation()
        store.add_message(conversation.id, role=Role.USER, content="sent")
        reply = store.add_message(
            conversation.id, role=Role.ASSISTANT, content="", status=MessageStatus.STREAMING
        )
        store.update_message(reply.id, content="part", durable=False)
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # still NORMAL
    finally:
        store.close()  # flushes what is still asked for, then the thread ends
    assert flushed_by and set(flushed_by) == {"history-flush"}
    with ChatStore(db_path) as reopened:
        assert [m.content for m in reopened.messages(conversation.id)] == ["sent", "part"]


def test_a_sent_message_survives_the_app_being_killed_right_after(db_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from autoglm_desktop.core.chat.store import ChatStore
        from autoglm_desktop.core.common.types import Role
        store = ChatStore({str(db_path)!r}, flush_in_background=True)
        conversation = store.create_conversation()
        store.add_message(conversation.id, role=Role.USER, content="shown as sent")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], check=False)
    assert killed.returncode == -9

    with ChatStore(db_path) as reopened:
        [conversation] = reopened.list_conversations()
        assert [m.content for m in reopened.messages(conversation.id)] == ["shown as sent"]
