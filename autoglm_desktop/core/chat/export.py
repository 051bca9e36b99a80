"""Export one conversation as Markdown (to read) or JSON (to keep or process).

A thinking model's reasoning stays apart from its answer: a folded ``<details>`` block above
the answer in Markdown, a field of its own in JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from autoglm_desktop.core.chat.store import ChatStore, Conversation, Message
from autoglm_desktop.core.common.errors import ExportError
from autoglm_desktop.core.common.types import MessageStatus, Role

JSON_FORMAT_NAME = "autoglm-desktop-conversation"
JSON_FORMAT_VERSION = 1

_ROLE_HEADINGS = {Role.SYSTEM: "System", Role.USER: "User", Role.ASSISTANT: "Assistant"}

_STATUS_NOTES = {
    MessageStatus.INTERRUPTED: "*[Interrupted: this reply is incomplete.]*",
    MessageStatus.STREAMING: "*[Still being written when exported: this reply is incomplete.]*",
    MessageStatus.ERROR: "*[Error: this reply failed.]*",
}


def export_markdown(store: ChatStore, conversation_id: int) -> str:
    """The conversation as a Markdown document."""
    conversation = store.get_conversation(conversation_id)
    parts = [f"# {conversation.title}", _markdown_details(conversation)]
    if conversation.system_prompt:
        parts += ["## System prompt", conversation.system_prompt]
    parts += [_markdown_message(message) for message in store.messages(conversation_id)]
    return "\n\n".join(parts) + "\n"


def export_json(store: ChatStore, conversation_id: int) -> str:
    """The conversation, its settings and its messages as a JSON document."""
    conversation = store.get_conversation(conversation_id)
    document: dict[str, Any] = {
        "format": JSON_FORMAT_NAME,
        "format_version": JSON_FORMAT_VERSION,
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "system_prompt": conversation.system_prompt,
        "sampling": conversation.sampling.to_dict(),
        "messages": [_json_message(message) for message in store.messages(conversation_id)],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


_EXPORTERS: dict[str, Callable[[ChatStore, int], str]] = {
    ".md": export_markdown,
    ".markdown": export_markdown,
    ".json": export_json,
}


def write_export(store: ChatStore, conversation_id: int, *, path: Path) -> None:
    """Write the conversation to ``path``, in the format its suffix names (.md or .json)."""
    exporter = _EXPORTERS.get(path.suffix.lower())
    if exporter is None:
        raise ExportError(
            f"Cannot export to {path.name}: choose a file name ending in .md (Markdown)"
            " or .json (JSON)."
        )
    text = exporter(store, conversation_id)
    try:
        path.write_text(text, encoding="utf-8", newline="\n")
    except OSError as error:
        raise ExportError(
            f"Could not write the export to {path}: {error.strerror or error}."
        ) from error


def _markdown_details(conversation: Conversation) -> str:
    sampling = ", ".join(
        f"{name} {value}" for name, value in conversation.sampling.to_dict().items()
    )
    return "\n".join(
        [
            f"- Created: {_local_time(conversation.created_at)}",
            f"- Last updated: {_local_time(conversation.updated_at)}",
            f"- Sampling: {sampling}",
        ]
    )


def _markdown_message(message: Message) -> str:
    heading = f"## {_ROLE_HEADINGS[message.role]}"
    if message.model_name:
        heading += f" ({message.model_name})"
    parts = [heading]
    if message.reasoning:
        parts.append(_markdown_reasoning(message))
    if message.content:
        parts.append(message.content)
    note = _STATUS_NOTES.get(message.status)
    if note:
        parts.append(note)
    if message.stats is not None and message.role is Role.ASSISTANT:
        stats = message.stats
        parts.append(
            f"*{stats.generated_tokens} tokens, {stats.tokens_per_s:.1f} tokens/s,"
            f" first token after {stats.ttft_s:.2f} s, stop: {stats.stop_reason}*"
        )
    return "\n\n".join(parts)


def _markdown_reasoning(message: Message) -> str:
    """The reasoning as a folded block (GitHub, VS Code... show it closed, with its summary)."""
    seconds = message.reasoning_s
    summary = f"Thought for {seconds:.0f} s" if seconds is not None else "Thoughts"
    body = message.reasoning.replace("</details", "&lt;/details")
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def _json_message(message: Message) -> dict[str, Any]:
    return {
        "position": message.position,
        "role": message.role.value,
        "content": message.content,
        "reasoning": message.reasoning,  # what a thinking model wrote before the answer
        "reasoning_s": message.reasoning_s,
        "status": message.status.value,
        "model_name": message.model_name,
        "created_at": message.created_at,
        "stats": message.stats.to_dict() if message.stats is not None else None,
    }


def _local_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
