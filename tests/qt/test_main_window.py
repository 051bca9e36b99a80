"""The main window end to end: real engine process, real model, real SQLite, offscreen Qt."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QTimer, Slot
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.chat.store import ChatStore, Message
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.types import MessageStatus, Role, SamplingSettings
from autoglm_desktop.core.planning.overrides import save_overrides
from autoglm_desktop.core.planning.tuner import PlanOverrides
from autoglm_desktop.qt.main_window import MainWindow

LOAD_TIMEOUT_MS = 60_000
REPLY_TIMEOUT_MS = 120_000
LONG_REPLY = SamplingSettings(temperature=0.9, seed=11, max_tokens=1500, repeat_penalty=1.0)
SHORT_REPLY = SamplingSettings(temperature=0.0, seed=1, max_tokens=40)


def open_window(qtbot: QtBot, model: Path) -> MainWindow:
    window = MainWindow(autoload=False)
    qtbot.addWidget(window)
    window.show()
    # Wait on GUI-thread state: pytest-qt's waitSignal would run its slot in the worker thread.
    window.load_model(model)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=LOAD_TIMEOUT_MS)
    return window


@pytest.fixture
def window(qtbot: QtBot, installed_model: Path) -> Iterator[MainWindow]:
    win = open_window(qtbot, installed_model)
    yield win
    win.close()


def send(qtbot: QtBot, window: MainWindow, text: str, *, sampling: SamplingSettings) -> None:
    """Type into the prompt box and press Enter, with the conversation's sampling set first."""
    if window.controller.conversation_id is None:
        window.controller.new_conversation()
    window.store.update_conversation_settings(window.controller.conversation_id, sampling=sampling)
    window.prompt.setPlainText(text)
    qtbot.keyClick(window.prompt, Qt.Key.Key_Return)


def wait_reply(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.controller.reply_running, timeout=REPLY_TIMEOUT_MS)


class TokenCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @Slot(str)
    def on_tokens(self, _text: str) -> None:
        self.count += 1


class ViewLengths(QObject):
    """The chat view's text length after each token, as the window had just shown it.

    Connected after the window, so its slot runs after the window's for the same token.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window = window
        self.lengths: list[int] = []
        window.worker.tokens.connect(self.on_tokens)

    @Slot(str)
    def on_tokens(self, _text: str) -> None:
        self.lengths.append(len(self.window.chat_view.toPlainText()))


def test_reply_streams_into_the_view_and_is_saved(qtbot: QtBot, window: MainWindow) -> None:
    view = ViewLengths(window)
    send(qtbot, window, "Write a short poem about rivers.", sampling=SHORT_REPLY)
    assert window.prompt.toPlainText() == ""
    assert window.send_button.text() == "Stop"
    wait_reply(qtbot, window)
    growth_steps = len(set(view.lengths))
    assert growth_steps >= 4, "the reply should appear progressively, not all at once"
    assert view.lengths == sorted(view.lengths)
    messages = window.controller.messages()
    assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT]
    reply = messages[1]
    assert reply.status == MessageStatus.COMPLETE and reply.content.strip()
    assert reply.stats is not None and reply.stats.generated_tokens > 0
    assert reply.content.strip()[:20] in window.chat_view.toPlainText()
    assert "tokens/s" in window.speed_label.text()
    assert window.send_button.text() == "Send"


def test_gui_event_loop_keeps_ticking_during_a_reply(qtbot: QtBot, window: MainWindow) -> None:
    ticks_while_running = 0

    def tick() -> None:
        nonlocal ticks_while_running
        if window.controller.reply_running:
            ticks_while_running += 1

    timer = QTimer(interval=20)
    timer.timeout.connect(tick)
    timer.start()
    counter = TokenCounter()
    window.worker.tokens.connect(counter.on_tokens)
    send(qtbot, window, "Tell me about the history of tea.", sampling=LONG_REPLY)
    # Tokens and timer ticks both go on while the reply runs (the reply stops only when told).
    qtbot.waitUntil(
        lambda: (
            (counter.count >= 60 and ticks_while_running >= 5)
            or not window.controller.reply_running
        ),
        timeout=REPLY_TIMEOUT_MS,
    )
    assert window.controller.reply_running, "the reply ended before the check"
    window.controller.stop()
    wait_reply(qtbot, window)
    timer.stop()
    assert counter.count >= 60 and ticks_while_running >= 5


def test_stop_keeps_the_partial_reply(qtbot: QtBot, window: MainWindow) -> None:
    counter = TokenCounter()
    window.worker.tokens.connect(counter.on_tokens)
    send(qtbot, window, "Tell me a long story about a dragon.", sampling=LONG_REPLY)
    qtbot.waitUntil(lambda: counter.count >= 10, timeout=REPLY_TIMEOUT_MS)
    qtbot.keyClick(window.prompt, Qt.Key.Key_Escape)
    wait_reply(qtbot, window)
    reply = window.controller.messages()[-1]
    assert reply.status == MessageStatus.INTERRUPTED
    assert reply.content.strip()
    assert reply.stats is not None and reply.stats.stop_reason == "stopped"
    assert "interrupted" in window.chat_view.toPlainText().lower()


def test_partial_reply_is_on_disk_while_streaming(
    qtbot: QtBot, window: MainWindow, app_home: Path
) -> None:
    send(qtbot, window, "Write a long essay about mountains.", sampling=LONG_REPLY)
    conversation_id = window.controller.conversation_id
    saved: list[Message] = []
    with ChatStore(paths.history_db_path(), recover_interrupted=False) as other_connection:

        def partial_saved() -> bool:
            """Whether another connection sees the reply saved with some text, or it ended."""
            saved[:] = other_connection.messages(conversation_id)[-1:]
            partial = saved[0].role == Role.ASSISTANT and bool(saved[0].content)
            return partial or not window.controller.reply_running

        qtbot.waitUntil(partial_saved, timeout=REPLY_TIMEOUT_MS)
        running = window.controller.reply_running
    window.controller.stop()
    wait_reply(qtbot, window)
    assert running, "the reply ended before a partial save"
    assert saved[0].role == Role.ASSISTANT and saved[0].status == MessageStatus.STREAMING
    assert len(saved[0].content) > 0


def test_killed_engine_keeps_window_and_partial_reply(qtbot: QtBot, window: MainWindow) -> None:
    counter = TokenCounter()
    window.worker.tokens.connect(counter.on_tokens)
    send(qtbot, window, "Tell me a long story about a cat.", sampling=LONG_REPLY)
    qtbot.waitUntil(lambda: counter.count >= 10, timeout=REPLY_TIMEOUT_MS)
    pid = window.worker.engine_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_reply(qtbot, window)
    assert window.isVisible()
    assert window.error_banner.isVisible()
    assert "killed" in window.error_banner.label.text()
    interrupted = window.controller.messages()[-1]
    assert interrupted.status == MessageStatus.INTERRUPTED and interrupted.content.strip()
    # The next message starts a fresh engine and gets a complete reply.
    send(qtbot, window, "Say hello.", sampling=SHORT_REPLY)
    wait_reply(qtbot, window)
    messages = window.controller.messages()
    assert messages[-1].status == MessageStatus.COMPLETE and messages[-1].content.strip()
    assert messages[-3].id == interrupted.id and messages[-3].content == interrupted.content
    assert window.worker.engine_pid not in (None, pid)


def test_regenerate_replaces_the_last_reply(qtbot: QtBot, window: MainWindow) -> None:
    send(qtbot, window, "Name a fruit.", sampling=SHORT_REPLY)
    wait_reply(qtbot, window)
    first = window.controller.messages()
    window.store.update_conversation_settings(
        window.controller.conversation_id, sampling=SamplingSettings(seed=5, max_tokens=40)
    )
    window.regenerate_button.click()
    wait_reply(qtbot, window)
    second = window.controller.messages()
    assert len(second) == 2 and second[0].id == first[0].id
    assert second[1].created_at > first[1].created_at
    assert second[1].status == MessageStatus.COMPLETE


def test_edit_replaces_the_message_and_later_turns(qtbot: QtBot, window: MainWindow) -> None:
    send(qtbot, window, "Name a colour.", sampling=SHORT_REPLY)
    wait_reply(qtbot, window)
    send(qtbot, window, "Name an animal.", sampling=SHORT_REPLY)
    wait_reply(qtbot, window)
    first_user = window.controller.messages()[0]
    window.controller.edit_and_resend(first_user.id, "Name a city.")
    wait_reply(qtbot, window)
    messages = window.controller.messages()
    assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT]
    assert messages[0].content == "Name a city."
    assert messages[1].status == MessageStatus.COMPLETE


def test_fresh_window_shows_identical_history(
    qtbot: QtBot, window: MainWindow, installed_model: Path
) -> None:
    send(qtbot, window, "What is 2 + 2?", sampling=SHORT_REPLY)
    wait_reply(qtbot, window)
    text_before = window.chat_view.toPlainText()
    messages_before = window.controller.messages()
    window.close()
    reopened = open_window(qtbot, installed_model)
    try:
        assert reopened.controller.conversation_id == messages_before[0].conversation_id
        assert reopened.controller.messages() == messages_before
        assert reopened.chat_view.toPlainText() == text_before
        assert reopened.sidebar.model.rowCount() == 1
    finally:
        reopened.close()


def test_conversation_far_longer_than_context_keeps_working(
    qtbot: QtBot, app_home: Path, installed_model: Path
) -> None:
    save_overrides(installed_model, PlanOverrides(n_ctx=512))
    window = open_window(qtbot, installed_model)
    try:
        conversation = window.controller.new_conversation()
        for i in range(30):
            window.store.add_message(
                conversation, role=Role.USER, content=f"Remember item {i}: " + "apple " * 10
            )
            window.store.add_message(conversation, role=Role.ASSISTANT, content=f"Item {i} noted.")
        window.controller.conversation_id = None
        window.controller.open_conversation(conversation)
        for question in ("What was the last item?", "And the one before?"):
            send(qtbot, window, question, sampling=SHORT_REPLY)
            wait_reply(qtbot, window)
            reply = window.controller.messages()[-1]
            assert reply.status == MessageStatus.COMPLETE and reply.content.strip()
            assert reply.stats is not None and reply.stats.trimmed_messages > 0
        assert "left out" in window.chat_view.toPlainText()
        assert not window.error_banner.isVisible()
    finally:
        window.close()


def test_bad_model_file_shows_a_message(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    bogus = tmp_path / "broken.gguf"
    bogus.write_text("not a model")
    window.load_model(bogus)
    qtbot.waitUntil(window.error_banner.isVisible, timeout=LOAD_TIMEOUT_MS)
    assert "not a GGUF model file" in window.error_banner.label.text()


def test_history_write_failure_is_shown_and_the_prompt_kept(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autoglm_desktop.core.common.errors import StoreError

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise StoreError("The chat history could not be saved: database or disk is full.")

    window.controller.new_conversation()
    monkeypatch.setattr(window.store, "add_message", disk_full)
    window.prompt.setPlainText("Will this be lost?")
    qtbot.keyClick(window.prompt, Qt.Key.Key_Return)
    assert window.error_banner.isVisible()
    assert "disk is full" in window.error_banner.label.text()
    assert window.prompt.toPlainText() == "Will this be lost?"
    assert not window.controller.reply_running
