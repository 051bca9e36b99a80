"""The history keeps a reply's reasoning apart from its answer, and each chat's Think switch."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from autoglm_desktop.core.chat.export import export_json, export_markdown
from autoglm_desktop.core.chat.store import SCHEMA_VERSION, ChatStore, read_messages
from autoglm_desktop.core.common.types import MessageStatus, Role, Thinking

# A history as version 2 wrote it (kept literal: later edits of the module cannot change it).
V2_HISTORY = """
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
    model_name TEXT NOT NULL DEFAULT '',
    UNIQUE (conversation_id, position)
);
CREATE INDEX conversations_by_update ON conversations(updated_at);
CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';
INSERT INTO conversations VALUES (1, 'Old chat', '', '{}', 10.0, 20.0);
INSERT INTO messages VALUES (1, 1, 0, 'user', 'question', 'complete', NULL, 11.0, '');
INSERT INTO messages VALUES (2, 1, 1, 'assistant', 'answer', 'complete', NULL, 12.0, 'm');
INSERT INTO messages VALUES (3, 1, 2, 'user', '<think>mine</think> stays', 'complete', NULL,
    13.0, '');
INSERT INTO messages VALUES (4, 1, 3, 'assistant', '
<think>
Old thoughts.
</think>

Old **answer** quoting </think>.', 'complete', NULL, 14.0, 'm');
INSERT INTO messages VALUES (5, 1, 4, 'assistant', 'About the <think> tag: </think> ends it.',
    'complete', NULL, 15.0, 'm');
PRAGMA user_version = 2;
"""


def test_a_version_2_history_gains_reasoning_and_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.executescript(V2_HISTORY)
    raw.close()
    with ChatStore(path) as store:
        conversation = store.get_conversation(1)
        question, answer, mine, thought, about = store.messages(1)
    assert conversation.thinking is Thinking.DEFAULT
    assert (question.content, answer.content, answer.model_name) == ("question", "answer", "m")
    assert (answer.reasoning, answer.reasoning_s) == ("", None)
    # Replies that began with a thinking block, written before reasoning had a place of its
    # own, have it moved there; nothing else changes.
    assert (thought.reasoning, thought.content) == (
        "Old thoughts.",
        "Old **answer** quoting </think>.",
    )
    assert (mine.reasoning, mine.content) == ("", "<think>mine</think> stays")
    assert (about.reasoning, about.content) == ("", "About the <think> tag: </think> ends it.")
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        raw.close()


def test_reasoning_is_stored_apart_from_the_answer(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with ChatStore(path) as store:
        chat = store.create_conversation()
        store.add_message(chat.id, role=Role.USER, content="2+2?")
        reply = store.add_message(
            chat.id, role=Role.ASSISTANT, content="", status=MessageStatus.STREAMING
        )
        store.update_message(reply.id, reasoning="Adding two and two.")
        store.update_message(reply.id, content="4", status=MessageStatus.COMPLETE, reasoning_s=2.5)
        stored = store.get_message(reply.id)
        assert (stored.content, stored.reasoning, stored.reasoning_s) == (
            "4",
            "Adding two and two.",
            2.5,
        )
        # A search looks into answers, not into what the model thought on its way.
        assert store.list_conversations(query="two and two") == []
    # Another connection (the background read of long chats) sees the same.
    assert read_messages(path, chat.id)[-1].reasoning == "Adding two and two."


def test_each_conversation_keeps_its_think_setting(tmp_path: Path) -> None:
    with ChatStore(tmp_path / "history.sqlite3") as store:
        first = store.create_conversation()
        second = store.create_conversation()
        store.update_conversation_settings(first.id, thinking=Thinking.OFF)
        store.update_conversation_settings(second.id, thinking=Thinking.HIGH)
        store.update_conversation_settings(first.id, system_prompt="Be brief.")
        assert store.get_conversation(first.id).thinking is Thinking.OFF
        assert store.get_conversation(second.id).thinking is Thinking.HIGH
        assert [c.thinking for c in store.list_conversations()] == [Thinking.HIGH, Thinking.OFF]


def test_a_think_setting_this_version_does_not_know_reads_as_the_default(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    with ChatStore(path) as store:
        chat = store.create_conversation()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("UPDATE conversations SET thinking = 'extreme'")
    raw.close()
    with ChatStore(path) as store:
        assert store.get_conversation(chat.id).thinking is Thinking.DEFAULT


def test_exports_keep_the_reasoning_apart_from_the_answer(tmp_path: Path) -> None:
    with ChatStore(tmp_path / "history.sqlite3") as store:
        chat = store.create_conversation(title="Sums")
        store.add_message(chat.id, role=Role.USER, content="2+2?")
        store.add_message(
            chat.id,
            role=Role.ASSISTANT,
            content="**4**",
            reasoning="Two and two make four. </details> is just text here.",
            reasoning_s=12.4,
        )
        markdown = export_markdown(store, chat.id)
        document = json.loads(export_json(store, chat.id))
    reply = document["messages"][1]
    assert (reply["content"], reply["reasoning_s"]) == ("**4**", 12.4)
    assert reply["reasoning"].startswith("Two and two make four.")
    assert document["messages"][0]["reasoning"] == ""
    folded = markdown.index("<details>\n<summary>Thought for 12 s</summary>")
    closed = markdown.index("\n</details>")
    assert folded < markdown.index("Two and two make four.") < closed < markdown.index("**4**")
    assert markdown.count("</details>") == 1  # the quoted closing tag cannot end the block
