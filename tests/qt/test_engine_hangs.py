"""The window survives an engine that dies while idle and closes over one that hangs.

Real engine processes, offscreen Qt. The hanging engine runs a chat template that computes a
power for hours in one call into C: neither Stop nor the template's time limit can end it, so
only the kill on closing does. pytest-timeout is the bound on closing; the test asserts that
the window closed and the engine is gone.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from core.synthetic_gguf import SyntheticModel, hostile_chat_template, write_synthetic_gguf
from pytestqt.qtbot import QtBot
from test_main_window import LOAD_TIMEOUT_MS, SHORT_REPLY, open_window, send

from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.engine.client import EngineDeadlines
from autoglm_desktop.qt.main_window import ErrorBanner, MainWindow

pytestmark = pytest.mark.timeout(60)

CHECKS_TO_WAIT_MS = 3500  # a few of the worker's one-second checks


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


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_engine_killed_while_idle_is_reported_once_and_reloads_with_the_next_message(
    qtbot: QtBot, installed_model: Path, banner_messages: list[str]
) -> None:
    window = open_window(qtbot, installed_model)
    try:
        pid = window.worker.engine_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        qtbot.waitUntil(lambda: len(banner_messages) == 1, timeout=LOAD_TIMEOUT_MS)
        assert "killed" in banner_messages[0]
        assert window.model_info is None
        assert "reloads with your next message" in window.model_label.text()
        qtbot.wait(CHECKS_TO_WAIT_MS)
        assert len(banner_messages) == 1, banner_messages
        send(qtbot, window, "Say hi.", sampling=SHORT_REPLY)
        qtbot.waitUntil(lambda: window.model_info is not None, timeout=LOAD_TIMEOUT_MS)
        assert window.worker.engine_pid not in (None, pid)
        assert len(banner_messages) == 1, banner_messages
    finally:
        window.close()


def test_closing_the_window_ends_an_engine_that_hangs(
    qtbot: QtBot, app_home: Path, tmp_path: Path
) -> None:
    model = write_synthetic_gguf(
        tmp_path / "hostile.gguf", SyntheticModel(chat_template=hostile_chat_template())
    )
    # Neither the engine nor the client gives up on its own: only closing ends the hang.
    never = EngineDeadlines(template_limit_s=3600, template_s=3600, stop_grace_s=3600)
    window = MainWindow(autoload=False, client=EngineClient(deadlines=never))
    qtbot.addWidget(window)
    window.show()
    window.load_model(model, confirm=False)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=LOAD_TIMEOUT_MS)
    pid = window.worker.engine_pid
    assert pid is not None
    send(qtbot, window, "forever", sampling=SHORT_REPLY)
    assert window.controller.reply_running
    assert window.close()
    assert not window.isVisible()
    assert not window.engine.thread.isRunning()
    assert not is_alive(pid)
