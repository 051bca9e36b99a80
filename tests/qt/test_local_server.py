"""The window's *Local server* switch, end to end: real engine, real HTTP, the openai client.

Each test opens the window on the starter model (offscreen), turns the switch on at a free
port and talks to it as another program would, on threads of their own, while the GUI thread
keeps running its event loop.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot
from remote.remote_helpers import MemoryKeyring
from test_main_window import LONG_REPLY, SHORT_REPLY, TokenCounter, send, wait_reply

from autoglm_desktop.core.common.app_settings import (
    AppSettings,
    load_settings,
    save_settings,
    settings_path,
)
from autoglm_desktop.core.common.types import MessageStatus
from autoglm_desktop.core.engine.request_queue import SOURCE_API, SOURCE_WINDOW, QueueSnapshot
from autoglm_desktop.core.engine.shared_engine import Unavailable
from autoglm_desktop.core.remote.keys import LOCAL_SERVER_SERVICE, ApiKeyStore
from autoglm_desktop.core.server.config import DEFAULT_PORT
from autoglm_desktop.qt.main_window import MainWindow
from autoglm_desktop.qt.workers.engine_worker import SERVER_PARALLEL
from autoglm_desktop.qt.workers.local_server import ServerState

SERVE_TIMEOUT_MS = 60_000
CALL_TIMEOUT_MS = 240_000
CLIENTS = 20
HELLO = [{"role": "user", "content": "Say hello."}]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Calls:
    """Calls to the server made on threads of their own (the GUI thread never waits on one)."""

    def __init__(self) -> None:
        self.results: list[Any] = []
        self.failures: list[BaseException] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, call: Callable[[], Any]) -> None:
        def run() -> None:
            try:
                result = call()
            except BaseException as exc:
                with self._lock:
                    self.failures.append(exc)
            else:
                with self._lock:
                    self.results.append(result)

        thread = threading.Thread(target=run, daemon=True)
        self._threads.append(thread)
        thread.start()

    @property
    def done(self) -> bool:
        return not any(thread.is_alive() for thread in self._threads)


def serve(qtbot: QtBot, window: MainWindow, port: int) -> openai.OpenAI:
    """Turn the switch on at ``port``; the client, once the engine is shared."""
    window.server_page.port.setValue(port)
    window.server_page.switch.click()
    qtbot.waitUntil(lambda: window.local_server.state is ServerState.ON, timeout=SERVE_TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: not isinstance(window.worker.shared.current(), Unavailable),
        timeout=SERVE_TIMEOUT_MS,
    )
    return openai.OpenAI(
        base_url=window.local_server.base_url, api_key="unused", max_retries=0, timeout=180.0
    )


def written_whole(reply: Any, *, max_tokens: int) -> bool:
    """Whether a completion ended on its own or at its limit (not cut short by a stop)."""
    return bool(
        reply.choices[0].finish_reason == "stop" or reply.usage.completion_tokens == max_tokens
    )


def open_window(qtbot: QtBot, model: Path, keyring: MemoryKeyring | None = None) -> MainWindow:
    """The window on ``model``; the local server's key in a keyring of the test's own."""
    keys = ApiKeyStore(backend=keyring or MemoryKeyring(), service=LOCAL_SERVER_SERVICE)
    window = MainWindow(autoload=False, server_keys=keys)
    qtbot.addWidget(window)
    window.show()
    window.load_model(model)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=SERVE_TIMEOUT_MS)
    return window


@pytest.fixture
def window(qtbot: QtBot, installed_model: Path) -> Iterator[MainWindow]:
    win = open_window(qtbot, installed_model)
    yield win
    win.close()


@pytest.fixture
def port() -> int:
    return free_port()


def test_the_switch_serves_the_loaded_model_to_an_openai_client(
    qtbot: QtBot, window: MainWindow, installed_model: Path, port: int
) -> None:
    window.show_server_page()
    client = serve(qtbot, window, port)
    assert window.local_server.base_url == f"http://127.0.0.1:{port}/v1"
    assert window.worker._client.parallel == SERVER_PARALLEL  # reloaded to answer together
    assert window.model_info is not None  # the window shows the model loaded again
    calls = Calls()
    model = installed_model.stem
    calls.start(lambda: [m.id for m in client.models.list().data])
    calls.start(
        lambda: client.chat.completions.create(model=model, messages=HELLO, max_tokens=12)  # type: ignore[arg-type]
    )
    qtbot.waitUntil(lambda: calls.done, timeout=CALL_TIMEOUT_MS)
    assert calls.failures == []
    listed = next(r for r in calls.results if isinstance(r, list))
    reply = next(r for r in calls.results if not isinstance(r, list))
    assert listed == [model]
    assert reply.choices[0].message.content
    log = window.server_page.log
    qtbot.waitUntil(lambda: log.rowCount() >= 2, timeout=SERVE_TIMEOUT_MS)
    rows = log.rows_shown()
    chat = next(row for row in rows if row[2] == "/v1/chat/completions")
    assert chat[1:4] == ("POST", "/v1/chat/completions", "200")
    assert chat[4].endswith(f"→ {reply.usage.completion_tokens}")  # tokens in → out
    assert any(row[1:4] == ("GET", "/v1/models", "200") for row in rows)
    assert str(port) in window.server_button.text()  # the status bar says where
    assert f"127.0.0.1:{port}/v1/chat/completions" in window.server_page.example.toPlainText()
    assert model in window.server_page.example.toPlainText()
    settings = load_settings()
    assert settings.local_server_on and settings.local_server_port == port
    client.close()


def test_twenty_clients_and_the_window_share_the_engine(
    qtbot: QtBot, window: MainWindow, installed_model: Path, port: int
) -> None:
    client = serve(qtbot, window, port)
    model = installed_model.stem
    ticks = 0
    calls = Calls()

    def heartbeat() -> None:
        nonlocal ticks
        if not calls.done:
            ticks += 1

    def ask(index: int) -> str:
        messages = [{"role": "user", "content": f"Name {index} colours."}]
        if index % 2:
            reply = client.chat.completions.create(model=model, messages=messages, max_tokens=8)  # type: ignore[arg-type]
            return reply.choices[0].message.content or ""
        stream = client.chat.completions.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=8,
            stream=True,
        )
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    timer = QTimer(interval=50)
    timer.timeout.connect(heartbeat)
    timer.start()
    for index in range(CLIENTS):
        calls.start(lambda index=index: ask(index))
    # The window's own message, sent while the clients' requests are queued or running.
    send(qtbot, window, "Write one sentence about rain.", sampling=SHORT_REPLY)
    wait_reply(qtbot, window)
    qtbot.waitUntil(lambda: calls.done, timeout=CALL_TIMEOUT_MS)
    timer.stop()
    assert calls.failures == []
    assert len(calls.results) == CLIENTS and all(calls.results)
    reply = window.controller.messages()[-1]
    assert reply.status == MessageStatus.COMPLETE and reply.content.strip()
    assert ticks >= 3  # the GUI thread went on with its events while the server was busy
    log = window.server_page.log
    qtbot.waitUntil(lambda: log.rowCount() >= CLIENTS, timeout=SERVE_TIMEOUT_MS)
    statuses = [row[3] for row in log.rows_shown() if row[2] == "/v1/chat/completions"]
    assert statuses == ["200"] * CLIENTS
    client.close()


def test_stop_in_the_window_stops_its_own_reply_and_not_the_servers(
    qtbot: QtBot, window: MainWindow, installed_model: Path, port: int
) -> None:
    client = serve(qtbot, window, port)
    counter = TokenCounter()
    window.worker.tokens.connect(counter.on_tokens)
    send(qtbot, window, "Tell me a long story about a dragon.", sampling=LONG_REPLY)
    qtbot.waitUntil(lambda: counter.count >= 5, timeout=CALL_TIMEOUT_MS)
    calls = Calls()  # waits behind the window's reply, which runs alone
    calls.start(
        lambda: client.completions.create(
            model=installed_model.stem, prompt="1, 2, 3,", max_tokens=16, temperature=0
        )
    )
    qtbot.waitUntil(
        lambda: SOURCE_API in (window.worker.shared.snapshot() or QueueSnapshot()).waiting,
        timeout=CALL_TIMEOUT_MS,
    )
    qtbot.keyClick(window.prompt, Qt.Key.Key_Escape)
    wait_reply(qtbot, window)
    reply = window.controller.messages()[-1]
    assert reply.status == MessageStatus.INTERRUPTED and reply.content.strip()
    assert reply.stats is not None and reply.stats.stop_reason == "stopped"
    qtbot.waitUntil(lambda: calls.done, timeout=CALL_TIMEOUT_MS)
    assert calls.failures == []
    assert written_whole(calls.results[0], max_tokens=16)  # not stopped with the window's
    client.close()


def test_a_reply_waiting_its_turn_stops_at_once(
    qtbot: QtBot, window: MainWindow, installed_model: Path, port: int
) -> None:
    client = serve(qtbot, window, port)
    calls = Calls()
    calls.start(
        lambda: client.completions.create(
            model=installed_model.stem, prompt="1, 2, 3, 4, 5, 6, 7, 8,", max_tokens=400
        )
    )
    qtbot.waitUntil(
        lambda: SOURCE_API in (window.worker.shared.snapshot() or QueueSnapshot()).running,
        timeout=CALL_TIMEOUT_MS,
    )
    send(qtbot, window, "Hello?", sampling=SHORT_REPLY)
    qtbot.waitUntil(
        lambda: SOURCE_WINDOW in (window.worker.shared.snapshot() or QueueSnapshot()).waiting,
        timeout=CALL_TIMEOUT_MS,
    )
    assert "waits its turn" in window.server_page.queue_text(window.worker.shared.snapshot())
    window.controller.stop()
    wait_reply(qtbot, window)
    reply = window.controller.messages()[-1]
    assert reply.status == MessageStatus.INTERRUPTED and not reply.content
    qtbot.waitUntil(lambda: calls.done, timeout=CALL_TIMEOUT_MS)
    assert calls.failures == []
    assert written_whole(calls.results[0], max_tokens=400)
    client.close()


def test_turning_the_switch_off_closes_the_port_and_the_window_goes_on(
    qtbot: QtBot, window: MainWindow, port: int
) -> None:
    serve(qtbot, window, port).close()
    assert port_open(port)
    window.server_page.switch.click()
    qtbot.waitUntil(lambda: window.local_server.state is ServerState.OFF, timeout=SERVE_TIMEOUT_MS)
    assert not port_open(port)
    qtbot.waitUntil(
        lambda: isinstance(window.worker.shared.current(), Unavailable), timeout=SERVE_TIMEOUT_MS
    )
    assert window.server_button.text() == "Local server"
    assert not load_settings().local_server_on
    send(qtbot, window, "Hello again.", sampling=SHORT_REPLY)
    wait_reply(qtbot, window)
    assert window.controller.messages()[-1].status == MessageStatus.COMPLETE


def test_unloading_while_serving_answers_503_until_a_model_is_back(
    qtbot: QtBot, window: MainWindow, installed_model: Path, port: int
) -> None:
    client = serve(qtbot, window, port)
    model = installed_model.stem
    window.requestUnload.emit()
    qtbot.waitUntil(lambda: window.model_info is None, timeout=SERVE_TIMEOUT_MS)
    calls = Calls()
    calls.start(lambda: client.chat.completions.create(model=model, messages=HELLO))  # type: ignore[arg-type]
    qtbot.waitUntil(lambda: calls.done, timeout=CALL_TIMEOUT_MS)
    error = calls.failures[0]
    assert isinstance(error, openai.APIStatusError) and error.status_code == 503
    assert error.code == "model_not_loaded" and "No model is loaded" in error.message
    assert "503" in window.server_page.model_note.text()
    window.load_model(installed_model)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=SERVE_TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: not isinstance(window.worker.shared.current(), Unavailable),
        timeout=SERVE_TIMEOUT_MS,
    )
    calls = Calls()
    calls.start(
        lambda: client.chat.completions.create(model=model, messages=HELLO, max_tokens=4)  # type: ignore[arg-type]
    )
    qtbot.waitUntil(lambda: calls.done, timeout=CALL_TIMEOUT_MS)
    assert calls.failures == [] and calls.results[0].choices
    client.close()


def test_a_port_in_use_is_said_plainly_and_the_switch_stays_off(
    qtbot: QtBot, window: MainWindow
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        window.server_page.port.setValue(port)
        window.server_page.switch.click()
        qtbot.waitUntil(
            lambda: (
                window.local_server.state is ServerState.OFF
                and "in use" in window.server_page.status.text()
            ),
            timeout=SERVE_TIMEOUT_MS,
        )
    assert str(port) in window.server_page.status.text()
    assert not window.server_page.switch.isChecked()
    assert isinstance(window.worker.shared.current(), Unavailable)


def test_other_devices_need_an_api_key(qtbot: QtBot, window: MainWindow, port: int) -> None:
    page = window.server_page
    page.port.setValue(port)
    page.network.setChecked(True)
    assert page.key_edit.isEnabled()
    page.switch.click()
    assert window.local_server.state is ServerState.OFF
    assert "API key" in page.status.text()
    assert "Authorization: Bearer" in page.example.toPlainText()
    settings = load_settings()
    assert settings.local_server_network and settings.local_server_port == port


def test_the_queue_is_told_in_words(window: MainWindow) -> None:
    text = window.server_page.queue_text
    assert text(None).startswith("No model is loaded")
    assert text(QueueSnapshot(running=(SOURCE_API, SOURCE_API), waiting=(SOURCE_API,))) == (
        "Answering: 2 · Waiting: 1"
    )
    assert "being written" in text(QueueSnapshot(running=(SOURCE_WINDOW,)))
    assert "waits its turn" in text(QueueSnapshot(running=(SOURCE_API,), waiting=(SOURCE_WINDOW,)))


def test_the_window_starts_without_the_servers_stack() -> None:
    code = (
        "import sys; import autoglm_desktop.qt.main_window; "
        "print(sorted(m for m in ('uvicorn', 'starlette', 'pydantic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_settings_default_port_is_the_servers() -> None:
    assert load_settings(path=Path("/nonexistent/settings.json")).local_server_port == DEFAULT_PORT


def test_other_devices_are_served_only_with_the_key_kept_in_the_keyring(
    qtbot: QtBot, installed_model: Path, port: int
) -> None:
    keyring = MemoryKeyring()
    window = open_window(qtbot, installed_model, keyring)
    page = window.server_page
    page.network.setChecked(True)
    page.generate_button.click()
    key = page.key_edit.text()
    assert len(key) >= 24
    try:
        serve(qtbot, window, port).close()
        assert window.local_server.config is not None
        assert window.local_server.config.host == "0.0.0.0"
        assert keyring.passwords == {(LOCAL_SERVER_SERVICE, "api-key"): key}
        assert page.key_edit.text() == "" and "Stored" in page.key_edit.placeholderText()
        assert key not in settings_path().read_text(encoding="utf-8")
        calls = Calls()
        url = window.local_server.base_url

        def models(api_key: str) -> Any:
            with openai.OpenAI(base_url=url, api_key=api_key, max_retries=0) as client:
                return client.models.list()

        for api_key in ("wrong", key):
            calls.start(lambda api_key=api_key: models(api_key))
        qtbot.waitUntil(lambda: calls.done, timeout=CALL_TIMEOUT_MS)
        assert [m.id for m in calls.results[0].data] == [installed_model.stem]
        assert isinstance(calls.failures[0], openai.AuthenticationError)
        assert "Authorization: Bearer" in page.example.toPlainText()
    finally:
        window.close()


def test_a_server_on_when_the_app_closed_serves_again_at_start(
    qtbot: QtBot, installed_model: Path, port: int
) -> None:
    save_settings(AppSettings(local_server_on=True, local_server_port=port))
    window = open_window(qtbot, installed_model)
    try:
        qtbot.waitUntil(
            lambda: window.local_server.state is ServerState.ON, timeout=SERVE_TIMEOUT_MS
        )
        assert window.local_server.port == port
        assert port_open(port)
    finally:
        window.close()
    assert not port_open(port)
    assert load_settings().local_server_on  # closing the app is not turning the switch off
