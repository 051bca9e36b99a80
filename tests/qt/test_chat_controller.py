"""The chat controller keeps the open conversation in memory and changes the view in place.

No engine: the test plays the engine worker's part by emitting its signals on the GUI thread,
so the controller, the SQLite store and the view run exactly as they do for a real reply.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.chat.store import ChatStore, Message
from autoglm_desktop.core.common.types import GenerationStats, MessageStatus, Role
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.qt.chat import controller as chat_controller_module
from autoglm_desktop.qt.chat import view as chat_view_module
from autoglm_desktop.qt.chat.controller import (
    GUI_BUSY_TIMEOUT_S,
    READ_AT_ONCE_MESSAGES,
    ChatController,
)
from autoglm_desktop.qt.chat.view import ChatView
from autoglm_desktop.qt.common.markdown_render import render_markdown
from autoglm_desktop.qt.workers.engine_worker import ChatRequest, EngineWorker


class Counts:
    def __init__(self) -> None:
        self.store_reads = 0
        self.set_messages = 0
        self.rendered: list[str] = []


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Counts:
    found = Counts()
    read, set_messages = ChatStore.messages, ChatView.set_messages

    def counting_read(store: ChatStore, conversation_id: int) -> object:
        found.store_reads += 1
        return read(store, conversation_id)

    def counting_set_messages(view: ChatView, messages: list[object]) -> None:
        found.set_messages += 1
        set_messages(view, messages)  # type: ignore[arg-type]

    def counting_render(text: str, **kwargs: object) -> object:
        found.rendered.append(text)
        return render_markdown(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ChatStore, "messages", counting_read)
    monkeypatch.setattr(ChatView, "set_messages", counting_set_messages)
    monkeypatch.setattr(chat_view_module, "render_markdown", counting_render)
    return found


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    with ChatStore(tmp_path / "history.sqlite3") as history:
        yield history


@pytest.fixture
def controller(qtbot: QtBot, store: ChatStore) -> ChatController:
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    chat = ChatController(store=store, worker=EngineWorker(EngineClient()), view=view)
    chat.requestGenerate.disconnect(chat._worker.generate)  # the test is the engine
    return chat


def long_conversation(store: ChatStore, count: int) -> int:
    conversation = store.create_conversation(title="Long")
    for i in range(count):
        role = Role.USER if i % 2 == 0 else Role.ASSISTANT
        store.add_message(conversation.id, role=role, content=f"earlier-{i} *text*")
    return conversation.id


def reply(chat: ChatController, text: str) -> None:
    """What the engine worker emits for one reply."""
    for start in range(0, len(text), 4):
        chat._worker.tokens.emit(text[start : start + 4])
    chat._worker.generationFinished.emit(GenerationStats(generated_tokens=len(text) // 4))


def test_send_appends_and_the_finished_reply_replaces_only_itself(
    controller: ChatController, store: ChatStore, counts: Counts
) -> None:
    conversation = long_conversation(store, 40)
    controller.open_conversation(conversation)
    assert counts.store_reads == 1 and counts.set_messages == 1
    view = controller._view
    blocks_before = view.document().blockCount()
    counts.rendered.clear()

    for turn in range(3):
        assert controller.send(f"question-{turn}")
        reply(controller, f"answer-{turn} with **bold**\n\nand more.")

    assert counts.store_reads == 1 and counts.set_messages == 1  # no re-read, no re-render
    assert all("earlier-" not in text for text in counts.rendered)  # only the new replies
    assert view.document().blockCount() > blocks_before
    assert "answer-2 with bold" in view.toPlainText()
    assert controller.messages() == store.messages(conversation)  # memory matches the disk
    assert controller.messages()[-1].status == MessageStatus.COMPLETE


def test_regenerate_and_edit_change_memory_and_view_in_place(
    controller: ChatController, store: ChatStore, counts: Counts
) -> None:
    conversation = long_conversation(store, 20)
    controller.open_conversation(conversation)
    controller.send("question")
    reply(controller, "first answer")

    controller.regenerate()
    reply(controller, "second answer")
    text = controller._view.toPlainText()
    assert "second answer" in text and "first answer" not in text

    question = controller.messages()[-2]
    controller.edit_and_resend(question.id, "edited question")
    reply(controller, "third answer")
    text = controller._view.toPlainText()
    assert "edited question" in text and "second answer" not in text
    assert counts.store_reads == 1 and counts.set_messages == 1
    assert controller.messages() == store.messages(conversation)
    assert [m.content for m in controller.messages()[-2:]] == ["edited question", "third answer"]


def test_a_long_conversation_is_read_off_the_gui_thread(
    qtbot: QtBot, controller: ChatController, store: ChatStore, counts: Counts
) -> None:
    conversation = long_conversation(store, READ_AT_ONCE_MESSAGES + 50)
    controller.open_conversation(conversation)
    assert counts.store_reads == 0  # the GUI thread's connection was not used to read them
    qtbot.waitUntil(lambda: counts.set_messages == 2, timeout=20_000)  # cleared, then filled
    assert f"earlier-{READ_AT_ONCE_MESSAGES + 49}" in controller._view.toPlainText()
    assert controller.messages() == store.messages(conversation)


def test_sending_before_the_background_read_arrives_uses_the_whole_history(
    controller: ChatController, store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = long_conversation(store, READ_AT_ONCE_MESSAGES + 50)
    release = threading.Event()
    slow_read = chat_controller_module.read_messages

    def held_read(path: Path, conversation_id: int) -> list[Message]:
        release.wait(20)
        return slow_read(path, conversation_id)

    monkeypatch.setattr(chat_controller_module, "read_messages", held_read)
    requests: list[ChatRequest] = []
    controller.requestGenerate.connect(requests.append)
    controller.open_conversation(conversation)
    assert controller.send("a new question")  # the read is still held
    release.set()
    assert len(requests) == 1
    sent = [turn.content for turn in requests[0].turns]
    assert sent[0] == "earlier-0 *text*" and sent[-1] == "a new question"
    assert len(sent) == READ_AT_ONCE_MESSAGES + 51


# --- deleting, locking ---------------------------------------------------------------------------


def test_deleting_the_conversation_of_a_streaming_reply_drops_it_quietly(
    controller: ChatController, store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[str] = []
    stops: list[bool] = []
    controller.errorOccurred.connect(errors.append)
    monkeypatch.setattr(controller._worker, "stop", lambda: stops.append(True))
    assert controller.send("a question")
    conversation = controller.conversation_id
    assert conversation is not None
    controller._worker.tokens.emit("the start of an answer")

    controller.delete_conversation(conversation)
    controller._worker.tokens.emit(" and more")  # the engine has not stopped yet
    controller._save_timer.timeout.emit()  # a partial save comes due
    controller._worker.generationFinished.emit(GenerationStats(stop_reason="stopped"))

    assert errors == []  # no "The message N no longer exists."
    assert stops  # generation was asked to stop
    assert not controller.reply_running
    assert store.list_conversations() == []
    assert controller.send("a new chat")
    reply(controller, "its answer")
    assert [m.content for m in controller.messages()] == ["a new chat", "its answer"]


@contextmanager
def history_locked(path: Path) -> Iterator[None]:
    """Another program holds the history's write lock (a long write, a database tool...)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.close()


@pytest.fixture
def gui_controller(qtbot: QtBot, tmp_path: Path) -> Iterator[ChatController]:
    """A controller on a store opened as the window opens it (short busy timeout)."""
    with ChatStore(tmp_path / "gui.sqlite3", busy_timeout_s=GUI_BUSY_TIMEOUT_S) as history:
        view = ChatView()
        qtbot.addWidget(view)
        chat = ChatController(store=history, worker=EngineWorker(EngineClient()), view=view)
        chat.requestGenerate.disconnect(chat._worker.generate)
        yield chat


def test_a_locked_history_fails_a_send_at_once_and_keeps_nothing_half_done(
    gui_controller: ChatController,
) -> None:
    errors: list[str] = []
    gui_controller.errorOccurred.connect(errors.append)
    gui_controller.new_conversation()
    path = gui_controller._store.path

    with history_locked(path):
        assert not gui_controller.send("a question")  # the prompt box keeps the text

    assert len(errors) == 1 and "try again" in errors[0]
    assert not gui_controller.reply_running
    assert gui_controller.send("a question")  # once free, the same send works
    reply(gui_controller, "an answer")
    assert [m.content for m in gui_controller._store.messages(gui_controller.conversation_id)] == [
        "a question",
        "an answer",
    ]


def test_a_reply_that_ends_while_the_history_is_locked_is_saved_later(
    gui_controller: ChatController,
) -> None:
    errors: list[str] = []
    saved: list[str] = []
    gui_controller.errorOccurred.connect(errors.append)
    gui_controller.statusMessage.connect(saved.append)
    assert gui_controller.send("a question")
    store = gui_controller._store

    with history_locked(store.path):
        reply(gui_controller, "an answer that must not be lost")
        assert not gui_controller.reply_running
        assert len(errors) == 1 and "saved as soon as possible" in errors[0]
        gui_controller._retry_timer.timeout.emit()  # a retry while still locked: kept
        assert gui_controller._unsaved_ends

    gui_controller._retry_timer.timeout.emit()  # the next retry after the lock went

    assert not gui_controller._unsaved_ends and not gui_controller._retry_timer.isActive()
    [question, answer] = store.messages(gui_controller.conversation_id)
    assert question.content == "a question"
    assert answer.content == "an answer that must not be lost"
    assert answer.status is MessageStatus.COMPLETE
    assert gui_controller.messages()[-1].content == answer.content
    assert saved and len(errors) == 1
