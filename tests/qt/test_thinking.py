"""Thinking models in the window: reasoning streams into a section that folds, Think switch.

The first tests play the engine worker's part (its signals, on the GUI thread) to drive the
controller, the real SQLite store and the view through a reply that thinks, then answers. The
last one runs the real starter model, copied with a chat template that opens ``<think>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from core.gguf_copy import THINKING_CHATML, copy_with_chat_template
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from test_main_window import SHORT_REPLY, open_window, send, wait_reply

from autoglm_desktop.core.chat.store import ChatStore
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.types import (
    GenerationStats,
    MessageStatus,
    ReasoningFormat,
    ReasoningSupport,
    Role,
    ThinkControl,
    Thinking,
)
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.qt.chat import reasoning_section
from autoglm_desktop.qt.chat.controller import ChatController
from autoglm_desktop.qt.chat.think_switch import ThinkSwitch
from autoglm_desktop.qt.chat.view import ACTION_SCHEME, ChatView
from autoglm_desktop.qt.workers.engine_worker import ChatRequest, EngineWorker

THOUGHTS = ["The user asks ", "for 2 + 2.\n", "That is 4.  \n"]
ANSWER = "It is **4**."


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


def click(view: ChatView, action: str) -> None:
    """A click on the last reply's link for ``action`` (what QTextBrowser emits)."""
    key = view._entries[-1].key
    view.anchorClicked.emit(QUrl(f"{ACTION_SCHEME}:{action}?entry={key}"))


def think_then_answer(chat: ChatController) -> None:
    for piece in THOUGHTS:
        chat._worker.reasoning.emit(piece)


def test_reasoning_streams_under_thinking_then_folds_when_the_answer_starts(
    controller: ChatController, store: ChatStore
) -> None:
    requests: list[ChatRequest] = []
    controller.requestGenerate.connect(requests.append)
    view = controller._view
    assert controller.send("What is 2 + 2?")
    think_then_answer(controller)
    live = view.toPlainText()
    assert "Thinking…" in live and "The user asks for 2 + 2.\nThat is 4." in live

    controller._worker.tokens.emit(ANSWER)
    answering = view.toPlainText()
    assert "Thought for 1 s" in answering  # a moment counts as a second
    assert "The user asks" not in answering and ANSWER in answering
    controller._worker.generationFinished.emit(GenerationStats(generated_tokens=12))

    stored = store.messages(controller.conversation_id or -1)[-1]
    assert (stored.content, stored.status) == (ANSWER, MessageStatus.COMPLETE)
    assert stored.reasoning == "".join(THOUGHTS) and stored.reasoning_s is not None
    shown = view.toPlainText()
    assert "▸ Thought for 1 s" in shown and "It is 4." in shown
    assert "The user asks" not in shown

    click(view, "copy")
    assert QGuiApplication.clipboard().text() == ANSWER  # the answer only
    click(view, reasoning_section.TOGGLE_ACTION)
    unfolded = view.toPlainText()
    assert "▾ Thought for 1 s" in unfolded and "Copy thinking" in unfolded
    assert "The user asks for 2 + 2.\nThat is 4." in unfolded
    assert unfolded.index("The user asks") < unfolded.index("It is 4.")
    click(view, reasoning_section.COPY_ACTION)
    assert QGuiApplication.clipboard().text() == "".join(THOUGHTS)
    click(view, reasoning_section.TOGGLE_ACTION)
    assert "The user asks" not in view.toPlainText()

    # The next request carries the earlier reasoning; the engine decides what the model sees.
    assert controller.send("And 3 + 3?")
    turn = requests[-1].turns[1]
    assert turn.role is Role.ASSISTANT and (turn.content, turn.reasoning) == (
        ANSWER,
        stored.reasoning,
    )
    assert requests[-1].thinking is Thinking.DEFAULT


def test_the_reasoning_unfolds_while_the_answer_streams(controller: ChatController) -> None:
    view = controller._view
    assert controller.send("What is 2 + 2?")
    think_then_answer(controller)
    controller._worker.tokens.emit("It is ")
    assert view.is_streaming
    click_stream = view._stream.key if view._stream else -1
    view.anchorClicked.emit(
        QUrl(f"{ACTION_SCHEME}:{reasoning_section.TOGGLE_ACTION}?entry={click_stream}")
    )
    controller._worker.tokens.emit("**4**.\n\nDone here.\n\n")
    unfolded = view.toPlainText()
    assert "▾ Thought for 1 s" in unfolded and "That is 4." in unfolded
    assert unfolded.index("That is 4.") < unfolded.index("It is 4.") < unfolded.index("Done here")
    view.anchorClicked.emit(
        QUrl(f"{ACTION_SCHEME}:{reasoning_section.COPY_ACTION}?entry={click_stream}")
    )
    assert QGuiApplication.clipboard().text() == "".join(THOUGHTS)
    view._render_all()  # a theme change keeps it unfolded
    assert "That is 4." in view.toPlainText()
    controller._worker.generationFinished.emit(GenerationStats())
    final = view.toPlainText()
    assert "▾ Thought for 1 s" in final and "That is 4." in final and "Done here" in final
    click(view, reasoning_section.TOGGLE_ACTION)
    assert "That is 4." not in view.toPlainText()


def test_a_reply_cut_off_while_thinking_shows_its_reasoning(
    controller: ChatController, store: ChatStore
) -> None:
    view = controller._view
    assert controller.send("Think hard.")
    think_then_answer(controller)
    controller.stop()
    controller._worker.generationFinished.emit(GenerationStats(stop_reason="stopped"))
    stored = store.messages(controller.conversation_id or -1)[-1]
    assert stored.status is MessageStatus.INTERRUPTED and stored.content == ""
    assert stored.reasoning == "".join(THOUGHTS)
    shown = view.toPlainText()
    # No answer to show: the reasoning is unfolded by default, and can be folded.
    assert "▾ Thought for" in shown and "That is 4." in shown
    click(view, reasoning_section.TOGGLE_ACTION)
    assert "That is 4." not in view.toPlainText()


def test_a_palette_change_mid_reply_keeps_the_live_reasoning(
    controller: ChatController, qtbot: QtBot
) -> None:
    view = controller._view
    assert controller.send("Hi")
    think_then_answer(controller)
    view._render_all()  # what a theme change does while a reply streams
    assert "Thinking…" in view.toPlainText() and "That is 4." in view.toPlainText()
    controller._worker.tokens.emit(ANSWER)
    view._render_all()
    text = view.toPlainText()
    assert "Thought for" in text and "That is 4." not in text and ANSWER in text
    controller._worker.generationFinished.emit(GenerationStats())


def test_the_think_switch_shows_what_the_template_supports(qtbot: QtBot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    switch = ThinkSwitch(parent)
    parent.show()
    assert switch.isHidden()  # no model: no switch
    switch.set_support(
        ReasoningSupport(
            format=ReasoningFormat.THINK_TAGS,
            control=ThinkControl.ENABLE_THINKING,
            default=Thinking.ON,
        )
    )
    switch.show_setting(Thinking.DEFAULT)
    assert switch.checkbox.isVisible() and switch.checkbox.isChecked()
    assert not switch.effort.isVisible()
    with qtbot.waitSignal(switch.changed) as changed:
        switch.checkbox.click()
    assert changed.args == [Thinking.OFF]
    switch.set_support(
        ReasoningSupport(
            format=ReasoningFormat.HARMONY,
            control=ThinkControl.REASONING_EFFORT,
            default=Thinking.MEDIUM,
        )
    )
    switch.show_setting(Thinking.DEFAULT)
    assert switch.effort.isVisible() and not switch.checkbox.isVisible()
    assert switch.setting() is Thinking.MEDIUM
    with qtbot.waitSignal(switch.changed) as changed:
        switch.effort.setCurrentIndex(2)  # what picking "Think: high" does
        switch.effort.activated.emit(2)
    assert changed.args == [Thinking.HIGH]
    switch.set_support(ReasoningSupport(format=ReasoningFormat.THINK_TAGS))
    assert switch.isHidden()  # a model that thinks but cannot be switched


@pytest.mark.slow
def test_a_real_model_whose_template_opens_thinking(
    qtbot: QtBot, app_home: Path, starter_model: Path
) -> None:
    model = copy_with_chat_template(
        starter_model, paths.models_dir() / "SmolLM2-thinking.gguf", template=THINKING_CHATML
    )
    window = open_window(qtbot, model)
    try:
        assert window.model_info is not None
        assert window.model_info.reasoning.control is ThinkControl.ENABLE_THINKING
        assert window.think_switch.isVisible() and window.think_switch.checkbox.isChecked()

        send(qtbot, window, "Say hello.", sampling=SHORT_REPLY)
        wait_reply(qtbot, window)
        reply = window.controller.messages()[-1]
        assert reply.reasoning.strip() and reply.reasoning_s is not None
        assert "<think>" not in reply.reasoning + reply.content
        shown = window.chat_view.toPlainText()
        assert "Thought for" in shown
        assert reply.reasoning.strip().splitlines()[0][:20] in shown  # no answer: unfolded
        if not reply.content.strip():  # SmolLM2 does not know to close <think>
            assert "still thinking" in shown

        window.think_switch.checkbox.click()  # thinking off, for this conversation
        conversation_id = window.controller.conversation_id
        assert conversation_id is not None
        assert window.store.get_conversation(conversation_id).thinking is Thinking.OFF
        send(qtbot, window, "Say hello again.", sampling=SHORT_REPLY)
        wait_reply(qtbot, window)
        second = window.controller.messages()[-1]
        assert second.content.strip() and second.reasoning == ""
        assert not window.think_switch.checkbox.isChecked()
    finally:
        window.close()
