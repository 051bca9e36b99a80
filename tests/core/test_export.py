"""Exporting a conversation to Markdown and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoglm_desktop.core.chat.export import export_json, export_markdown, write_export
from autoglm_desktop.core.chat.store import ChatStore, Conversation
from autoglm_desktop.core.common.errors import ConversationNotFoundError, ExportError
from autoglm_desktop.core.common.types import GenerationStats, MessageStatus, Role, SamplingSettings

STATS = GenerationStats(generated_tokens=12, tokens_per_s=30.5, ttft_s=0.2, stop_reason="eos")
SAMPLING = SamplingSettings(temperature=0.4, seed=3)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    with ChatStore(tmp_path / "history.sqlite3") as chat_store:
        yield chat_store


@pytest.fixture
def conversation(store: ChatStore) -> Conversation:
    created = store.create_conversation(
        title="Haiku 俳句", system_prompt="Answer in verse.", sampling=SAMPLING
    )
    store.add_message(created.id, role=Role.USER, content="Write a haiku about rain.")
    store.add_message(
        created.id,
        role=Role.ASSISTANT,
        content="Soft rain on the roof\n*drip, drip*",
        stats=STATS,
        model_name="SmolLM2-135M",
    )
    store.add_message(created.id, role=Role.USER, content="Now one about 雪.")
    store.add_message(
        created.id,
        role=Role.ASSISTANT,
        content="White silence falls",
        status=MessageStatus.INTERRUPTED,
        model_name="SmolLM2-135M",
    )
    return store.get_conversation(created.id)


def test_json_export_round_trips(store: ChatStore, conversation: Conversation) -> None:
    document = json.loads(export_json(store, conversation.id))

    assert document["format"] == "autoglm-desktop-conversation"
    assert document["format_version"] == 1
    assert document["title"] == "Haiku 俳句"
    assert document["system_prompt"] == "Answer in verse."
    assert SamplingSettings.from_dict(document["sampling"]) == SAMPLING
    assert document["created_at"] == conversation.created_at
    assert document["updated_at"] == conversation.updated_at
    assert [(m["role"], m["content"], m["status"]) for m in document["messages"]] == [
        ("user", "Write a haiku about rain.", "complete"),
        ("assistant", "Soft rain on the roof\n*drip, drip*", "complete"),
        ("user", "Now one about 雪.", "complete"),
        ("assistant", "White silence falls", "interrupted"),
    ]
    first_reply = document["messages"][1]
    assert GenerationStats.from_dict(first_reply["stats"]) == STATS
    assert first_reply["model_name"] == "SmolLM2-135M"
    assert first_reply["position"] == 1
    assert document["messages"][0]["stats"] is None


def test_json_export_keeps_non_ascii_readable(store: ChatStore, conversation: Conversation) -> None:
    assert "俳句" in export_json(store, conversation.id)


def test_markdown_export_contains_the_conversation(
    store: ChatStore, conversation: Conversation
) -> None:
    markdown = export_markdown(store, conversation.id)

    assert markdown.startswith("# Haiku 俳句\n")
    assert "## System prompt\n\nAnswer in verse." in markdown
    assert "temperature 0.4" in markdown
    for message in store.messages(conversation.id):
        assert message.content in markdown
    assert markdown.index("Write a haiku") < markdown.index("Soft rain") < markdown.index("雪")
    assert "## Assistant (SmolLM2-135M)" in markdown
    assert "12 tokens, 30.5 tokens/s" in markdown


def test_markdown_marks_interrupted_replies(store: ChatStore, conversation: Conversation) -> None:
    markdown = export_markdown(store, conversation.id)

    interrupted = "White silence falls\n\n*[Interrupted: this reply is incomplete.]*"
    assert interrupted in markdown
    assert markdown.count("Interrupted") == 1


def test_markdown_of_an_empty_conversation(store: ChatStore) -> None:
    empty = store.create_conversation(title="Nothing yet")

    markdown = export_markdown(store, empty.id)

    assert markdown.startswith("# Nothing yet\n")
    assert "## User" not in markdown
    assert "System prompt" not in markdown


@pytest.mark.parametrize("name", ["chat.md", "chat.MD", "chat.markdown"])
def test_write_markdown_file(
    store: ChatStore, conversation: Conversation, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name

    write_export(store, conversation.id, path=path)

    assert path.read_text(encoding="utf-8") == export_markdown(store, conversation.id)


def test_write_json_file(store: ChatStore, conversation: Conversation, tmp_path: Path) -> None:
    path = tmp_path / "chat.json"

    write_export(store, conversation.id, path=path)

    document = json.loads(path.read_text(encoding="utf-8"))
    assert len(document["messages"]) == 4


@pytest.mark.parametrize("name", ["chat.txt", "chat", "chat.json.bak"])
def test_unsupported_suffix_is_refused(
    store: ChatStore, conversation: Conversation, tmp_path: Path, name: str
) -> None:
    with pytest.raises(ExportError, match=r"\.md .* or \.json"):
        write_export(store, conversation.id, path=tmp_path / name)
    assert not (tmp_path / name).exists()


def test_unwritable_target_gives_export_error(
    store: ChatStore, conversation: Conversation, tmp_path: Path
) -> None:
    target = tmp_path / "folder.md"
    target.mkdir()

    with pytest.raises(ExportError, match="Could not write the export"):
        write_export(store, conversation.id, path=target)


def test_missing_conversation_cannot_be_exported(store: ChatStore, tmp_path: Path) -> None:
    with pytest.raises(ConversationNotFoundError):
        export_json(store, 7)
    with pytest.raises(ConversationNotFoundError):
        export_markdown(store, 7)
    with pytest.raises(ConversationNotFoundError):
        write_export(store, 7, path=tmp_path / "x.json")
