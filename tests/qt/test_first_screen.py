"""The first screen: the empty state of a conversation with no message, and the composer.

Real parts throughout: the main window with its engine process on the real starter model,
real SQLite history, the real Models window (offline: no network is touched).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.types import SamplingSettings
from autoglm_desktop.core.hub.settings import HubSettings, save_hub_settings
from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.planning.speed_forecast import SpeedCoefficients
from autoglm_desktop.core.planning.speed_profile import (
    MachineSpeed,
    machine_key,
    plan_forecast,
    save_machine_speed,
)
from autoglm_desktop.core.remote.servers import new_server, save_remote_servers
from autoglm_desktop.qt.chat.composer import Composer
from autoglm_desktop.qt.chat.empty_state import ModelState, suggestions
from autoglm_desktop.qt.chat.prompt_edit import PromptEdit
from autoglm_desktop.qt.chat.think_switch import ThinkSwitch
from autoglm_desktop.qt.main_window import MainWindow

LOAD_TIMEOUT_MS = 60_000
REPLY_TIMEOUT_MS = 120_000
SHORT_REPLY = SamplingSettings(temperature=0.0, seed=1, max_tokens=8)
STARTER_NOTE = "The starter model is small and fast"


@pytest.fixture
def offline_hub(isolated_hub_state: None) -> None:
    """The Models window may open: it must not reach for the network."""
    save_hub_settings(HubSettings(offline=True))


def open_window(qtbot: QtBot, model: Path | None = None) -> MainWindow:
    window = MainWindow(autoload=False)
    qtbot.addWidget(window)
    window.show()
    if model is not None:
        window.load_model(model)
        qtbot.waitUntil(lambda: window.model_info is not None, timeout=LOAD_TIMEOUT_MS)
    return window


@pytest.fixture
def window(qtbot: QtBot, installed_model: Path) -> Iterator[MainWindow]:
    win = open_window(qtbot, installed_model)
    yield win
    win.close()


def empty_state_text(window: MainWindow) -> str:
    state = window.first_screen.empty_state
    return "\n".join(
        label.text() for label in (state.title, state.facts, state.note_label) if label.isVisible()
    )


def test_the_empty_state_shows_until_the_first_message_is_sent(
    qtbot: QtBot, window: MainWindow
) -> None:
    screen = window.first_screen
    assert screen.showing_empty_state and not window.chat_view.isVisible()
    assert not window.regenerate_button.isVisible()  # nothing to regenerate yet

    window.controller.new_conversation()
    window.store.update_conversation_settings(
        window.controller.conversation_id, sampling=SHORT_REPLY
    )
    assert screen.showing_empty_state  # a new chat has no message yet
    window.prompt.setPlainText("Hello")
    qtbot.keyClick(window.prompt, Qt.Key.Key_Return)

    assert not screen.showing_empty_state and window.chat_view.isVisible()
    assert "Hello" in window.chat_view.toPlainText()
    qtbot.waitUntil(lambda: not window.controller.reply_running, timeout=REPLY_TIMEOUT_MS)
    assert not screen.showing_empty_state
    assert window.regenerate_button.isVisible()

    window.controller.new_conversation()
    assert screen.showing_empty_state
    # The reply's measured speed is what the empty state says now.
    assert "tokens/s on this PC (measured)" in empty_state_text(window)


def test_a_suggestion_fills_the_message_box(qtbot: QtBot, app_home: Path) -> None:
    window = open_window(qtbot)
    cards = window.first_screen.empty_state.cards
    assert [card.suggestion for card in cards] == suggestions()
    assert len(cards) == 4 and len({card.suggestion.prompt for card in cards}) == 4

    qtbot.mouseClick(cards[1], Qt.MouseButton.LeftButton)

    assert window.prompt.toPlainText() == cards[1].suggestion.prompt
    assert window.prompt.hasFocus() or not window.isActiveWindow()
    assert window.prompt.textCursor().atEnd()  # ready to type more (e.g. the text to summarise)
    cards[3].setFocus()
    qtbot.keyClick(cards[3], Qt.Key.Key_Space)
    assert window.prompt.toPlainText() == cards[3].suggestion.prompt
    window.close()


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen cannot raise windows
def test_the_starter_model_points_to_better_models_in_discover(
    qtbot: QtBot, window: MainWindow, offline_hub: None
) -> None:
    state = window.first_screen.empty_state
    assert state.shown.state is ModelState.READY and state.shown.starter
    text = empty_state_text(window)
    assert window.model_info is not None and window.model_info.name in text
    assert f"{window.model_info.n_ctx:,}-token context" in text
    assert STARTER_NOTE in text

    state.models_button.click()

    models = window.models_window
    assert models.isVisible() and models.current_page() == "discover"
    models.shutdown()


def test_another_model_gets_no_starter_note(
    qtbot: QtBot, app_home: Path, starter_model: Path
) -> None:
    other = paths.models_dir() / "my-own-model.gguf"
    os.symlink(starter_model, other)
    window = open_window(qtbot, other)
    state = window.first_screen.empty_state

    assert state.shown.state is ModelState.READY and not state.shown.starter
    assert "my-own-model" in state.title.text()
    assert not state.note.isVisible()
    # This PC's speed was never measured: the empty state offers to measure it.
    assert state.shown.tokens_per_s == 0 and state.speed_button.isVisible()
    state.speed_button.click()
    assert window.settings_dock.isVisible()
    window.close()


def test_a_measured_pc_shows_the_forecast_speed(
    qtbot: QtBot, app_home: Path, installed_model: Path
) -> None:
    hardware = read_hardware()
    speed = MachineSpeed(
        machine=machine_key(hardware),
        measured_at=time.time(),
        coefficients=(
            SpeedCoefficients(
                threads=1, decode_fixed=0.004, decode_per_layer=0.0002, decode_per_vocab=1e-8
            ),
        ),
    )
    save_machine_speed(speed)
    window = open_window(qtbot, installed_model)
    state = window.first_screen.empty_state
    qtbot.waitUntil(lambda: state.shown.tokens_per_s > 0, timeout=LOAD_TIMEOUT_MS)

    plan = window.first_screen._plan
    assert plan is not None
    expected = plan_forecast(info=read_gguf_info(installed_model), plan=plan, speed=speed)
    assert expected is not None
    assert state.shown.tokens_per_s == pytest.approx(expected.decode_tokens_per_s)
    assert not state.shown.measured
    assert "tokens/s on this PC (forecast)" in state.facts.text()
    assert not state.speed_button.isVisible()
    window.close()


@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_with_no_model_the_empty_state_offers_the_models_window(
    qtbot: QtBot, app_home: Path, offline_hub: None
) -> None:
    window = MainWindow(autoload=True)
    qtbot.addWidget(window)
    window.show()
    state = window.first_screen.empty_state
    qtbot.waitUntil(lambda: state.shown.state is ModelState.NONE, timeout=LOAD_TIMEOUT_MS)

    assert not state.shown.has_models
    assert state.title.text() == "No model on this PC yet"
    assert not state.suggestion_grid.isVisible()  # nothing could answer them
    assert not window.error_banner.isVisible()  # the empty state says it all
    assert state.note.isVisible() and state.models_button.text() == "Find a model…"
    state.models_button.click()
    assert window.models_window.current_page() == "discover"
    window.models_window.shutdown()
    window.close()


def test_a_loading_model_is_announced(qtbot: QtBot, app_home: Path, installed_model: Path) -> None:
    window = open_window(qtbot)
    state = window.first_screen.empty_state
    window.load_model(installed_model)

    assert state.shown.state is ModelState.LOADING
    assert state.progress.isVisible() and "Loading the model" in state.facts.text()
    qtbot.waitUntil(lambda: state.shown.state is ModelState.READY, timeout=LOAD_TIMEOUT_MS)
    assert not state.progress.isVisible()
    window.close()


def test_the_send_button_turns_into_a_stop_button(qtbot: QtBot) -> None:
    composer = Composer(PromptEdit(), ThinkSwitch())
    qtbot.addWidget(composer)
    button = composer.send_button
    send_icon = button.icon().cacheKey()
    assert button.text() == "Send" and "Enter" in button.toolTip()
    assert composer.regenerate_button.isEnabled()

    composer.set_running(True)
    assert button.text() == "Stop" and "Esc" in button.toolTip()
    assert button.icon().cacheKey() != send_icon
    assert not composer.regenerate_button.isEnabled()

    composer.set_running(False)
    assert button.text() == "Send" and button.icon().cacheKey() == send_icon


def test_the_message_box_grows_with_its_text(qtbot: QtBot) -> None:
    composer = Composer(PromptEdit(), ThinkSwitch())
    qtbot.addWidget(composer)
    composer.resize(600, 200)
    composer.show()
    one_line = composer.prompt.height()

    composer.prompt.setPlainText("\n".join(["line"] * 4))
    four_lines = composer.prompt.height()
    composer.prompt.setPlainText("\n".join(["line"] * 40))

    assert one_line < four_lines < composer.prompt.height()
    assert composer.prompt.height() < 40 * composer.prompt.fontMetrics().lineSpacing()


def test_a_remote_model_is_named_with_its_server(qtbot: QtBot, app_home: Path) -> None:
    server = new_server(name="Box", base_url="http://127.0.0.1:9/v1", has_key=False)
    save_remote_servers([server.updated(models=("qwen-remote",))])
    window = open_window(qtbot)
    combo = window.model_bar.combo
    index = next(
        i
        for i in range(combo.count())
        if getattr(combo.itemData(i, Qt.ItemDataRole.UserRole + 1), "model", "") == "qwen-remote"
    )
    combo.setCurrentIndex(index)
    state = window.first_screen.empty_state

    assert state.title.text() == "qwen-remote — Box"
    assert "remote server" in state.facts.text()
    assert state.suggestion_grid.isVisible() and not state.note.isVisible()
    assert not state.speed_button.isVisible()
    window.close()


def test_the_empty_chat_list_says_what_it_will_hold(qtbot: QtBot, app_home: Path) -> None:
    window = open_window(qtbot)
    chats = window.sidebar.list
    assert chats.model().rowCount() == 0 and chats.hint == "Your chats will appear here."
    window.sidebar.search.setText("rainbow")
    assert chats.hint == "No chat matches your search."
    window.sidebar.search.clear()
    assert chats.hint == "Your chats will appear here."
    # The list's search runs after a pause: let it run before the history closes.
    qtbot.waitUntil(lambda: not window.sidebar._search_timer.isActive())
    window.close()
