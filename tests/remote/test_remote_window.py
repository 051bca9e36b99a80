"""The window with remote models: the picker, a chat, Stop, faults, Settings → Remote servers.

Real servers on 127.0.0.1, the real window (offscreen), real SQLite; no local model is loaded,
so every reply here comes from a server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_server import MODELS, PARTIAL_WORDS, REPLY_WORDS, RETRY_AFTER, THOUGHTS, FaultServer
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from remote_helpers import ServerUnderTest

from autoglm_desktop.core.chat.export import write_export
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.types import MessageStatus, Role, SamplingSettings
from autoglm_desktop.core.remote.client import RemoteChatClient
from autoglm_desktop.core.remote.keys import ApiKeyStore
from autoglm_desktop.core.remote.openai_api import RemoteTimeouts
from autoglm_desktop.core.remote.servers import (
    RemoteServer,
    load_remote_servers,
    new_server,
    remote_servers_path,
    save_remote_servers,
)
from autoglm_desktop.qt.main_window import MainWindow

REPLY_TIMEOUT_MS = 120_000
SHORT = SamplingSettings(max_tokens=24, seed=5)


def add_server(
    keys: ApiKeyStore, *, name: str, base_url: str, key: str | None, models: list[str]
) -> RemoteServer:
    server = new_server(name=name, base_url=base_url, has_key=key is not None)
    server = server.updated(models=tuple(models))
    save_remote_servers([*load_remote_servers(), server])
    if key is not None:
        keys.set(server.id, key)
    return server


@pytest.fixture
def open_window(
    qtbot: QtBot, app_home: Path, memory_keys: ApiKeyStore
) -> Iterator[type[MainWindow]]:
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        remote = RemoteChatClient(keys=memory_keys, timeouts=RemoteTimeouts(stall_s=60))
        window = MainWindow(autoload=False, remote=remote)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make  # type: ignore[misc]
    for window in windows:
        window.close()


def pick(window: MainWindow, model: str) -> None:
    combo = window.model_bar.combo
    for index in range(combo.count()):
        target = window.model_bar.combo.itemData(index, Qt.ItemDataRole.UserRole + 1)
        if target is not None and target.model == model:
            combo.setCurrentIndex(index)
            return
    raise AssertionError(f"{model} is not in the picker")


def send(
    qtbot: QtBot, window: MainWindow, text: str, *, sampling: SamplingSettings = SHORT
) -> None:
    if window.controller.conversation_id is None:
        window.controller.new_conversation()
    window.store.update_conversation_settings(window.controller.conversation_id, sampling=sampling)
    window.prompt.setPlainText(text)
    qtbot.keyClick(window.prompt, Qt.Key.Key_Return)
    assert window.controller.reply_running


def wait_reply(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.controller.reply_running, timeout=REPLY_TIMEOUT_MS)


def test_remote_models_are_in_the_picker_and_no_server_is_contacted(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, faults: FaultServer
) -> None:
    add_server(memory_keys, name="Faulty", base_url=faults.base_url, key="fault-key", models=MODELS)
    window = open_window()
    labels = [window.model_bar.combo.itemText(i) for i in range(window.model_bar.combo.count())]
    assert "echo — Faulty (remote)" in labels
    pick(window, "echo")
    assert window.controller.remote is not None
    assert window.model_label.text() == "echo — Faulty (remote)"
    assert not window.model_bar.action_button.isVisible()
    qtbot.wait(300)
    assert faults.hits == 0, "a server was contacted before the user sent anything"


def test_a_remote_chat_streams_is_saved_and_shows_its_figures(
    qtbot: QtBot,
    open_window: type[MainWindow],
    memory_keys: ApiKeyStore,
    openai_server: ServerUnderTest,
    tmp_path: Path,
) -> None:
    add_server(
        memory_keys,
        name="Server",
        base_url=openai_server.base_url,
        key=openai_server.api_key,
        models=[openai_server.model],
    )
    window = open_window()
    pick(window, openai_server.model)
    chunks: list[str] = []
    window.worker.tokens.connect(chunks.append, Qt.ConnectionType.DirectConnection)
    send(qtbot, window, "Write one sentence about rivers.")
    wait_reply(qtbot, window)
    messages = window.controller.messages()
    assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT]
    reply = messages[1]
    assert reply.status == MessageStatus.COMPLETE, window.error_banner.label.text()
    assert reply.content == "".join(chunks) and reply.content.strip()
    assert len(chunks) >= 2, "the reply should stream, not come at once"
    assert reply.model_name == f"{openai_server.model} — Server"
    assert reply.stats is not None and reply.stats.generated_tokens > 0
    assert reply.stats.ttft_s > 0
    assert "tokens/s" in window.speed_label.text() and "first token" in window.speed_label.text()
    assert window.context_label.text() == ""  # the server's context is not known
    assert f"{openai_server.model} — Server" in window.chat_view.toPlainText()
    assert reply.content.strip()[:15] in window.chat_view.toPlainText()
    exported = tmp_path / "chat.md"
    write_export(window.store, window.controller.conversation_id or -1, path=exported)
    assert reply.content.strip()[:15] in exported.read_text(encoding="utf-8")


def test_stop_keeps_the_partial_remote_reply_and_closes_the_stream(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, faults: FaultServer
) -> None:
    add_server(memory_keys, name="Faulty", base_url=faults.base_url, key="fault-key", models=MODELS)
    window = open_window()
    pick(window, "endless")
    chunks: list[str] = []
    window.worker.tokens.connect(chunks.append, Qt.ConnectionType.DirectConnection)
    send(qtbot, window, "Go on forever.")
    qtbot.waitUntil(lambda: len(chunks) >= 5, timeout=REPLY_TIMEOUT_MS)
    qtbot.keyClick(window.prompt, Qt.Key.Key_Escape)
    wait_reply(qtbot, window)
    reply = window.controller.messages()[-1]
    assert reply.status == MessageStatus.INTERRUPTED
    assert reply.content.startswith(" word")
    assert reply.stats is not None and reply.stats.stop_reason == "stopped"
    assert "interrupted" in window.chat_view.toPlainText().lower()
    assert faults.gone.wait(10), "Stop left the stream open"


def test_regenerate_and_edit_with_a_remote_model(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, faults: FaultServer
) -> None:
    add_server(memory_keys, name="Faulty", base_url=faults.base_url, key="fault-key", models=MODELS)
    window = open_window()
    pick(window, "echo")
    send(qtbot, window, "Hello?")
    wait_reply(qtbot, window)
    first = window.controller.messages()
    window.regenerate_button.click()
    wait_reply(qtbot, window)
    second = window.controller.messages()
    assert len(second) == 2 and second[0].id == first[0].id
    assert second[1].created_at > first[1].created_at
    assert len(faults.requests) == 2
    assert second[1].content == "".join(REPLY_WORDS)
    window.controller.edit_and_resend(second[0].id, "Hello again?")
    wait_reply(qtbot, window)
    third = window.controller.messages()
    assert [m.content for m in third] == ["Hello again?", "".join(REPLY_WORDS)]
    assert third[1].status == MessageStatus.COMPLETE
    assert faults.requests[-1]["messages"] == [{"role": "user", "content": "Hello again?"}]
    assert len(faults.requests) == 3


def test_a_remote_thinking_models_reasoning_is_kept_apart(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, faults: FaultServer
) -> None:
    add_server(memory_keys, name="Faulty", base_url=faults.base_url, key="fault-key", models=MODELS)
    window = open_window()
    pick(window, "think")
    send(qtbot, window, "Hello?")
    wait_reply(qtbot, window)
    reply = window.controller.messages()[-1]
    assert reply.status == MessageStatus.COMPLETE
    assert reply.content == "".join(REPLY_WORDS)
    assert reply.reasoning == "".join(THOUGHTS)
    # The next request sends the answer alone, as the OpenAI API wants it.
    send(qtbot, window, "And?")
    wait_reply(qtbot, window)
    sent = faults.requests[-1]["messages"]
    assert sent[1] == {"role": "assistant", "content": "".join(REPLY_WORDS)}


def test_a_stream_that_breaks_keeps_its_part_marked_interrupted(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, faults: FaultServer
) -> None:
    add_server(memory_keys, name="Faulty", base_url=faults.base_url, key="fault-key", models=MODELS)
    window = open_window()
    pick(window, "drop")
    send(qtbot, window, "Hello?")
    wait_reply(qtbot, window)
    reply = window.controller.messages()[-1]
    assert reply.status == MessageStatus.INTERRUPTED
    assert reply.content == "".join(PARTIAL_WORDS)
    assert window.error_banner.isVisible()
    assert "broke off in the middle of the reply" in window.error_banner.label.text()
    stored = window.store.messages(window.controller.conversation_id or -1)[-1]
    assert stored.content == reply.content and stored.status == MessageStatus.INTERRUPTED


def test_a_refused_request_is_explained(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, faults: FaultServer
) -> None:
    add_server(memory_keys, name="Faulty", base_url=faults.base_url, key="fault-key", models=MODELS)
    window = open_window()
    pick(window, "rate-limit")
    send(qtbot, window, "Hello?")
    wait_reply(qtbot, window)
    assert window.controller.messages()[-1].status == MessageStatus.ERROR
    assert f"Try again in {RETRY_AFTER} seconds." in window.error_banner.label.text()
    assert window.send_button.text() == "Send"
    # The start-up library scan, finishing after the reply on a busy PC, finds no local
    # model: with a remote one picked, that is no error, and the reply's stays shown.
    window.refresh_models([])
    assert f"Try again in {RETRY_AFTER} seconds." in window.error_banner.label.text()


def test_switching_between_local_and_remote_models(
    open_window: type[MainWindow], memory_keys: ApiKeyStore, starter_model: Path
) -> None:
    os.symlink(starter_model, paths.models_dir() / starter_model.name)
    add_server(memory_keys, name="Box", base_url="http://127.0.0.1:9/v1", key=None, models=["m1"])
    window = open_window()
    window.refresh_models()
    assert window.model_bar.selected_path() is not None  # the local model comes first
    assert window.controller.remote is None
    pick(window, "m1")
    assert window.controller.remote is not None and window.model_bar.selected_path() is None
    assert window.controller.reply_model_name == "m1 — Box"
    window.refresh_models()  # a library change keeps the remote choice
    assert window.controller.remote is not None
    window.model_bar.combo.setCurrentIndex(0)
    assert window.controller.remote is None
    assert window.model_label.text() == "No model loaded"
    assert window.model_bar.action_button.isVisible()


def test_the_remote_model_used_last_is_picked_again_and_no_local_model_loads(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, starter_model: Path
) -> None:
    os.symlink(starter_model, paths.models_dir() / starter_model.name)
    add_server(memory_keys, name="Box", base_url="http://127.0.0.1:9/v1", key=None, models=["m1"])
    window = open_window()
    window.refresh_models()
    pick(window, "m1")
    window.close()
    again = open_window()
    assert again.controller.remote is not None and again.controller.remote.model == "m1"
    again._find_models_at_start(autoload=True)  # as after the first paint
    qtbot.waitUntil(lambda: not again._startup_call.busy, timeout=60_000)
    assert again.model_bar.selected_path() is None and again.controller.remote is not None
    assert again.model_bar.combo.count() == 3  # the local model, a separator, the remote one
    assert not again.model_bar.progress.isVisible() and again.model_info is None
    assert again.model_label.text() == "m1 — Box (remote)"


# --------------------------------------------------------------------------- settings section


def test_settings_add_test_and_remove_a_server(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, faults: FaultServer
) -> None:
    window = open_window()
    window.pane_button.click()
    section = window.settings_pane.remote_servers
    qtbot.waitUntil(section.isVisible)
    assert "system keyring" in section.key_note.text()
    assert section.key_edit.echoMode() == section.key_edit.EchoMode.Password
    section.add_button.click()
    section.name_edit.setText("Faulty")
    section.url_edit.setText(f"127.0.0.1:{faults.port}")
    section.key_edit.setText("wrong-key")
    section.test_button.click()
    qtbot.waitUntil(section.test_button.isEnabled, timeout=30_000)
    assert "refused the API key" in section.status.text()
    section.key_edit.setText("fault-key")
    section.test_button.click()
    qtbot.waitUntil(section.test_button.isEnabled, timeout=30_000)
    assert "Connected in" in section.status.text() and "echo" in section.status.text()
    server = section.save()
    assert server is not None and server.base_url == faults.base_url
    assert server.models == tuple(sorted(MODELS))
    assert memory_keys.get(server.id) == "fault-key"
    assert "fault-key" not in remote_servers_path().read_text(encoding="utf-8")
    assert load_remote_servers() == [server]
    labels = [window.model_bar.combo.itemText(i) for i in range(window.model_bar.combo.count())]
    assert "echo — Faulty (remote)" in labels
    assert section.server_list.count() == 1
    assert section.server_list.item(0).text() == f"Faulty — models: {len(MODELS)}"
    assert section.key_edit.text() == ""  # the key is not shown again
    assert "Stored" in section.key_edit.placeholderText()
    # Picking the server's model and chatting works with the key from the keyring.
    pick(window, "echo")
    send(qtbot, window, "Hi")
    wait_reply(qtbot, window)
    assert window.controller.messages()[-1].content == "".join(REPLY_WORDS)
    # Removing it forgets the key and takes its models out of the picker.
    section.server_list.setCurrentRow(0)
    section.remove_selected(confirm=False)
    assert load_remote_servers() == []
    assert memory_keys.get(server.id) is None
    assert window.controller.remote is None
    labels = [window.model_bar.combo.itemText(i) for i in range(window.model_bar.combo.count())]
    assert not any("(remote)" in label for label in labels)


def test_settings_show_a_servers_names_as_plain_text(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, faults: FaultServer
) -> None:
    faults.extra_models = ["<img src=x>"]
    add_server(
        memory_keys, name="<b>Faulty</b>", base_url=faults.base_url, key="fault-key", models=[]
    )
    window = open_window()
    section = window.settings_pane.remote_servers
    section.server_list.setCurrentRow(0)
    section.test_button.click()
    qtbot.waitUntil(section.test_button.isEnabled, timeout=30_000)
    assert "<img src=x>" in section.status.text()
    assert section.status.textFormat() == Qt.TextFormat.PlainText
    labels = [window.model_bar.combo.itemText(i) for i in range(window.model_bar.combo.count())]
    assert "<img src=x> — <b>Faulty</b> (remote)" in labels
    pick(window, "<img src=x>")
    assert window.model_label.textFormat() == Qt.TextFormat.PlainText
    assert window.model_label.text() == "<img src=x> — <b>Faulty</b> (remote)"


def test_settings_refuse_bad_input_clearly(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore
) -> None:
    window = open_window()
    section = window.settings_pane.remote_servers
    section.add_button.click()
    section.name_edit.setText("")
    section.url_edit.setText("http://box:8000")
    assert section.save() is None
    assert "Give the server a name" in section.status.text()
    section.name_edit.setText("Box")
    section.url_edit.setText("ftp://box")
    assert section.save() is None
    assert "is not a server address" in section.status.text()
    section.test_button.click()  # the same check, before any connection
    assert "is not a server address" in section.status.text()
    assert load_remote_servers() == []


def test_settings_say_when_keys_last_the_session_only(
    qtbot: QtBot, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autoglm_desktop.qt.settings.remote_servers import RemoteServersSection

    monkeypatch.setattr("autoglm_desktop.core.remote.keys._system_backend", lambda: None)
    keys = ApiKeyStore()
    section = RemoteServersSection(keys=keys)
    qtbot.addWidget(section)
    section.show()
    assert "no system keyring" in section.key_note.text()
    section.name_edit.setText("Box")
    section.url_edit.setText("http://box:8000/v1")
    section.key_edit.setText("k")
    server = section.save()
    assert server is not None and server.has_key
    assert "asked for them again next time" in section.status.text()
    assert keys.get(server.id) == "k"


def test_the_window_starts_without_the_openai_client_or_the_keyring(
    app_home: Path, faults: FaultServer
) -> None:
    """Both cost start-up time (about 0.7 s and 0.1 s of imports): loaded only when used."""
    save_remote_servers([new_server(name="Box", base_url=faults.base_url).updated(models=("m",))])
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from autoglm_desktop.qt.main_window import MainWindow\n"
        "app = QApplication([])\n"
        "window = MainWindow(autoload=False)\n"
        "window.show(); app.processEvents()\n"
        "assert window.model_bar.selected_remote() is not None\n"
        "print(sorted(m for m in ('openai', 'keyring', 'pydantic') if m in sys.modules))\n"
        "window.close()\n"
    )
    env = {**os.environ, "AUTOGLM_HOME": str(app_home), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert faults.hits == 0


def test_settings_edit_a_server_and_test_it_with_the_stored_key(
    qtbot: QtBot, open_window: type[MainWindow], memory_keys: ApiKeyStore, faults: FaultServer
) -> None:
    server = add_server(
        memory_keys, name="Faulty", base_url=faults.base_url, key="fault-key", models=["echo"]
    )
    window = open_window()
    section = window.settings_pane.remote_servers
    section.server_list.setCurrentRow(0)
    assert section.name_edit.text() == "Faulty" and section.url_edit.text() == faults.base_url
    assert section.key_edit.text() == ""  # never shown
    section.test_button.click()  # with the key from the keyring
    qtbot.waitUntil(section.test_button.isEnabled, timeout=30_000)
    assert "Connected in" in section.status.text(), section.status.text()
    assert load_remote_servers()[0].models == tuple(sorted(MODELS))  # saved at once
    section.name_edit.setText("Renamed")
    edited = section.save()
    assert edited is not None and edited.id == server.id and edited.has_key
    assert edited.models == tuple(sorted(MODELS))
    assert memory_keys.get(server.id) == "fault-key"
    labels = [window.model_bar.combo.itemText(i) for i in range(window.model_bar.combo.count())]
    assert "echo — Renamed (remote)" in labels
    section.url_edit.setText("http://127.0.0.1:9/v1")  # another server: its models are unknown
    moved = section.save()
    assert moved is not None and moved.models == ()
    assert "Press Test connection" in section.status.text()
    assert not any("(remote)" in window.model_bar.combo.itemText(i) for i in range(3))
