"""Engine failures reach the error banner once, through their one owner.

The main window owns load failures, the chat controller owns reply failures. Real engine
process, real model, real SQLite, offscreen Qt; the banner's messages are recorded by wrapping
its ``show_message`` before the window connects to it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QColor, QPalette
from pytestqt.qtbot import QtBot
from test_main_window import (
    LOAD_TIMEOUT_MS,
    LONG_REPLY,
    REPLY_TIMEOUT_MS,
    SHORT_REPLY,
    TokenCounter,
    open_window,
    send,
    wait_reply,
)

from autoglm_desktop.core.common.errors import StoreError
from autoglm_desktop.core.common.types import MessageStatus, Role
from autoglm_desktop.core.planning.overrides import save_overrides
from autoglm_desktop.core.planning.tuner import PlanOverrides
from autoglm_desktop.qt.main_window import ErrorBanner, MainWindow


@pytest.fixture
def banner_messages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the error banner is asked to show, in order (for windows opened later)."""
    shown: list[str] = []
    show_message = ErrorBanner.show_message

    def recording_show_message(banner: ErrorBanner, text: str) -> None:
        shown.append(text)
        show_message(banner, text)

    monkeypatch.setattr(ErrorBanner, "show_message", recording_show_message)
    return shown


class IdleProbe(QObject):
    """Counts the engine worker's requests that ended, as seen on the GUI thread.

    The worker signals a failure before it says it is idle again, and queued signals arrive in
    the order they were sent: once the probe has seen a request end, every failure slot has run.
    Only requests that begin after the probe exists count (an earlier one may end just after).
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.ended = 0
        self._started = False
        window.worker.busyChanged.connect(self.on_busy_changed)

    @Slot(bool)
    def on_busy_changed(self, busy: bool) -> None:
        if busy:
            self._started = True
        elif self._started:
            self.ended += 1


@pytest.fixture
def damaged_model(tmp_path: Path, model_file: Path) -> Path:
    """A GGUF file whose structure reads well but whose architecture llama.cpp does not know."""
    data = model_file.read_bytes()
    assert b"llama" in data
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(data.replace(b"llama", b"llamx"))
    return damaged


@pytest.fixture
def window(qtbot: QtBot, installed_model: Path, banner_messages: list[str]) -> Iterator[MainWindow]:
    win = open_window(qtbot, installed_model)
    yield win
    win.close()


def test_killed_engine_mid_reply_is_reported_once_and_keeps_the_partial_reply(
    qtbot: QtBot, window: MainWindow, banner_messages: list[str]
) -> None:
    counter = TokenCounter()
    window.worker.tokens.connect(counter.on_tokens)
    probe = IdleProbe(window)
    send(qtbot, window, "Tell me a long story about a lighthouse.", sampling=LONG_REPLY)
    qtbot.waitUntil(lambda: counter.count >= 10, timeout=REPLY_TIMEOUT_MS)
    pid = window.worker.engine_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: probe.ended == 1, timeout=REPLY_TIMEOUT_MS)
    assert not window.controller.reply_running
    assert len(banner_messages) == 1, banner_messages
    assert "killed" in banner_messages[0]
    assert window.error_banner.isVisible()
    assert window.error_banner.label.text() == banner_messages[0]
    reply = window.controller.messages()[-1]
    assert reply.role == Role.ASSISTANT
    assert reply.status == MessageStatus.INTERRUPTED and reply.content.strip()
    assert "interrupted" in window.chat_view.toPlainText().lower()


def test_prompt_too_long_is_reported_once_and_marks_the_reply_failed(
    qtbot: QtBot, app_home: Path, installed_model: Path, banner_messages: list[str]
) -> None:
    save_overrides(installed_model, PlanOverrides(n_ctx=512))
    window = open_window(qtbot, installed_model)
    try:
        probe = IdleProbe(window)
        send(qtbot, window, "word " * 2000, sampling=SHORT_REPLY)
        qtbot.waitUntil(lambda: probe.ended == 1, timeout=REPLY_TIMEOUT_MS)
        assert not window.controller.reply_running
        assert len(banner_messages) == 1, banner_messages
        assert "too long for this model's context window" in banner_messages[0]
        reply = window.controller.messages()[-1]
        assert reply.role == Role.ASSISTANT
        assert reply.status == MessageStatus.ERROR and reply.content == ""
        assert "reply failed" in window.chat_view.toPlainText()
        # The model stays loaded: a shorter message gets a reply, and the banner no new text.
        send(qtbot, window, "Say hello.", sampling=SHORT_REPLY)
        wait_reply(qtbot, window)
        assert window.controller.messages()[-1].status == MessageStatus.COMPLETE
        assert len(banner_messages) == 1, banner_messages
    finally:
        window.close()


def test_damaged_model_file_is_a_load_failure_reported_once(
    qtbot: QtBot, window: MainWindow, banner_messages: list[str], damaged_model: Path
) -> None:
    send(qtbot, window, "Name a fruit.", sampling=SHORT_REPLY)
    wait_reply(qtbot, window)
    messages_before = window.controller.messages()
    probe = IdleProbe(window)
    window.load_model(damaged_model, confirm=False)
    qtbot.waitUntil(lambda: probe.ended == 1, timeout=LOAD_TIMEOUT_MS)
    assert len(banner_messages) == 1, banner_messages
    assert "could not load damaged.gguf" in banner_messages[0]
    assert window.error_banner.isVisible()
    assert window.error_banner.label.text() == banner_messages[0]
    # Not a reply failure: the conversation is as it was.
    assert not window.controller.reply_running
    assert window.controller.messages() == messages_before
    # The engine let the previous model go before trying this one: nothing is loaded now.
    assert window.model_info is None
    assert window.model_label.text() == "No model loaded"
    assert not window.model_bar.progress.isVisible()
    assert window.model_bar.state_label.text() == ""


def test_history_failure_on_the_first_message_is_reported_once(
    qtbot: QtBot,
    app_home: Path,
    installed_model: Path,
    banner_messages: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = MainWindow(autoload=False)
    qtbot.addWidget(window)
    try:
        assert window.controller.conversation_id is None and banner_messages == []

        def disk_full(*_args: object, **_kwargs: object) -> None:
            raise StoreError("The chat history could not be saved: database or disk is full.")

        monkeypatch.setattr(window.store, "create_conversation", disk_full)
        window.prompt.setPlainText("Where does this go?")
        window.send_button.click()
        assert banner_messages == ["The chat history could not be saved: database or disk is full."]
        assert window.prompt.toPlainText() == "Where does this go?"
        assert window.controller.conversation_id is None
        assert not window.controller.reply_running
    finally:
        window.close()


def test_the_error_banner_follows_the_colour_scheme(qtbot: QtBot) -> None:
    banner = ErrorBanner()
    qtbot.addWidget(banner)
    light = banner.styleSheet()
    dark = QPalette()
    dark.setColor(QPalette.ColorRole.Window, QColor("#202020"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e0e0e0"))

    banner.setPalette(dark)

    assert banner.styleSheet() != light
    assert "#3d1f1f" in banner.styleSheet()  # a dark red ground, not a light pink one
    banner.setPalette(QPalette(QColor("#f0f0f0")))
    assert banner.styleSheet() == light
