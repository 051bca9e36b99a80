"""Take a screenshot of the real app window, for looking at the UI (run under Xvfb).

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot.py OUT.png \
        [--prompt "..."] [--dark] [--model PATH] [--thinking] [--settings] [--find TEXT] \
        [--remote-model NAME] [--remote-servers [--remote-test]] [--new-chat] [--demo-chat] \
        [--no-model] [--local-server [--network | --server-off]]

It uses whatever AUTOGLM_HOME points at (seed it with conversations first if you like), loads
the default model (or ``--model``), optionally sends a prompt and waits for the reply, then
grabs the screen. ``--thinking`` adds a conversation with a thinking model's replies: one
folded, one unfolded, and one still thinking. ``--remote-model NAME`` picks a remote server's
model (before ``--prompt``). ``--remote-servers`` opens the Settings pane scrolled to Remote
servers, with the first saved server selected; ``--remote-test`` also presses its Test
connection and waits for the answer. ``--new-chat`` opens a new conversation (the empty
state), ``--demo-chat`` a stored one with code and a table (no model needed for it), and
``--no-model`` waits for the library scan instead of a loaded model (a home with no model).
``--local-server`` opens the Local server page, turns the server on (at a free port) and has
a few programs call it, so the log and the queue have something to show; with ``--network``
other devices are allowed (a key is generated first); with ``--server-off`` the page is shown
as it opens, switched off. The
window fills the screen: for a 2x HiDPI picture run with ``QT_SCALE_FACTOR=2`` on a 3840x2160
screen. Set ``AUTOGLM_LANGUAGE=zh_CN`` for the Chinese UI.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
import time
from pathlib import Path

import openai
from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QCursor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QScrollArea

from autoglm_desktop.core.common.types import MessageStatus, Role
from autoglm_desktop.qt.app import create_application
from autoglm_desktop.qt.chat import reasoning_section
from autoglm_desktop.qt.chat.view import ACTION_SCHEME, ViewMessage
from autoglm_desktop.qt.main_window import MainWindow

THOUGHTS = (
    "The user asks why the sky is blue. The key idea is Rayleigh scattering: air molecules "
    "scatter short wavelengths much more strongly (about 1/λ⁴), so blue light is scattered "
    "across the sky. Violet is scattered even more, but the sun emits less of it and our eyes "
    "are less sensitive to it.\nI should keep the answer short and mention sunsets."
)
ANSWER = (
    "The sky looks blue because of **Rayleigh scattering**: the molecules of the air scatter "
    "short (blue) wavelengths far more than long (red) ones.\n\n"
    "- At noon, scattered blue light reaches you from every direction.\n"
    "- At sunset, light crosses more air, the blue is scattered away and reds remain."
)


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = QPalette.ColorRole
    for role, color in (
        (roles.Window, QColor(45, 45, 48)),
        (roles.WindowText, QColor(230, 230, 230)),
        (roles.Base, QColor(30, 30, 32)),
        (roles.AlternateBase, QColor(45, 45, 48)),
        (roles.Text, QColor(230, 230, 230)),
        (roles.Button, QColor(55, 55, 58)),
        (roles.ButtonText, QColor(230, 230, 230)),
        (roles.Highlight, QColor(42, 130, 218)),
        (roles.Link, QColor(110, 170, 255)),
        (roles.HighlightedText, QColor(255, 255, 255)),
        (roles.PlaceholderText, QColor(140, 140, 140)),
    ):
        palette.setColor(role, color)
    return palette


def wait(app: QApplication, done: object, timeout_s: float = 120.0) -> None:
    assert callable(done)
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def show_thinking(app: QApplication, window: MainWindow) -> None:
    """A stored chat with a thinking model: a folded reply, an unfolded one, one thinking."""
    store = window.store
    chat = store.create_conversation(title="Why is the sky blue?")
    model = window.model_info.name if window.model_info else "Qwen3-4B"
    store.add_message(chat.id, role=Role.USER, content="Why is the sky blue?")
    store.add_message(
        chat.id,
        role=Role.ASSISTANT,
        content=ANSWER,
        reasoning=THOUGHTS,
        reasoning_s=12.4,
        model_name=model,
    )
    store.add_message(chat.id, role=Role.USER, content="And why are sunsets red?")
    store.add_message(
        chat.id,
        role=Role.ASSISTANT,
        content="Near sunset, sunlight crosses much more air: the blue is scattered out on the "
        "way, so mostly **orange and red** light reaches your eyes.",
        reasoning="Same physics as before: longer path through the atmosphere, so more "
        "scattering of blue. Answer in one or two sentences.",
        reasoning_s=3.0,
        model_name=model,
        status=MessageStatus.COMPLETE,
    )
    window.sidebar.refresh(keep=chat.id)
    window.controller.open_conversation(chat.id)
    view = window.chat_view
    for _ in range(10):
        app.processEvents()
    key = view._entries[1].key  # the first reply: unfold its Thinking section
    view.anchorClicked.emit(QUrl(f"{ACTION_SCHEME}:{reasoning_section.TOGGLE_ACTION}?entry={key}"))
    # A third question whose reply is still thinking (the view alone: no engine runs).
    view.append_message(ViewMessage(message_id=-1, role=Role.USER, text="What about Mars?"))
    view.begin_assistant_message(header=model)
    view.append_stream_reasoning(
        "Mars has a thin CO₂ atmosphere full of fine red dust. The dust particles are large "
        "compared with the wavelength of light, so they scatter"
    )
    view.scroll_to_bottom()


def show_remote_servers(app: QApplication, window: MainWindow, *, test: bool) -> None:
    section = window.settings_pane.remote_servers
    if not window.settings_dock.isVisible():
        window.pane_button.click()
    if section.server_list.count():
        section.server_list.setCurrentRow(0)
    if test and section.server_list.count():
        section.test_button.click()
        wait(app, section.test_button.isEnabled, timeout_s=30)
    scroll = window.settings_dock.widget()
    assert isinstance(scroll, QScrollArea)
    for _ in range(20):  # the status line's new text is laid out first
        app.processEvents()
        time.sleep(0.01)
        scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call_the_server(base_url: str, model: str, api_key: str) -> None:
    """What other programs ask: the models, two replies (one streamed), a wrong model name."""
    with openai.OpenAI(base_url=base_url, api_key=api_key or "unused", max_retries=0) as client:
        client.models.list()
        hello = [{"role": "user", "content": "Say hello in French."}]
        client.chat.completions.create(model=model, messages=hello, max_tokens=16)  # type: ignore[arg-type]
        for _chunk in client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Name three colours."}],  # type: ignore[arg-type]
            max_tokens=24,
            stream=True,
        ):
            pass
        with contextlib.suppress(openai.APIStatusError):
            client.chat.completions.create(model="gpt-4o", messages=hello, max_tokens=4)  # type: ignore[arg-type]


def show_local_server(app: QApplication, window: MainWindow, *, network: bool, on: bool) -> None:
    page = window.server_page
    window.show_server_page()
    if not on:
        return
    page.port.setValue(free_port())
    if network:
        page.network.setChecked(True)
        page.generate_button.click()
    page.switch.click()
    wait(app, lambda: window.local_server.base_url != "", timeout_s=60)
    if not window.local_server.base_url:
        raise SystemExit(f"the server did not start: {page.status.text()}")
    wait(app, lambda: window.worker.shared.snapshot() is not None, timeout_s=60)
    config = window.local_server.config
    key = config.api_key if config is not None and config.api_key else ""
    model = window.model_info.path.stem if window.model_info else ""
    caller = threading.Thread(
        target=call_the_server, args=(window.local_server.base_url, model, key), daemon=True
    )
    caller.start()
    wait(app, lambda: not caller.is_alive(), timeout_s=120)
    wait(app, lambda: page.log.rowCount() >= 4, timeout_s=10)


def remote_picked(window: MainWindow) -> bool:
    return window.controller.remote is not None and not window.model_bar.remote_is_automatic


def pick_remote_model(app: QApplication, window: MainWindow, model: str) -> None:
    combo = window.model_bar.combo
    for index in range(combo.count()):
        combo.setCurrentIndex(index)
        remote = window.model_bar.selected_remote()
        if remote is not None and remote.model == model:
            app.processEvents()
            return
    raise SystemExit(f"no remote model {model!r} in the picker")


DEMO_QUESTION = "Show me a Python function that counts words, and compare three languages."
DEMO_ANSWER = """Here is a small function that counts the words in a text:

```python
def count_words(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return counts
```

And a quick comparison:

| Language | Typing | Good for |
| --- | --- | --- |
| Python | dynamic | scripts, data, AI |
| Rust | static | fast, safe systems |
| Go | static | servers and tools |

Call `count_words("a b a")` to get `{'a': 2, 'b': 1}`."""


def show_demo_chat(app: QApplication, window: MainWindow) -> None:
    """A stored chat with a code block and a table."""
    store = window.store
    chat = store.create_conversation(title="Count words")
    model = window.model_info.name if window.model_info else "Qwen3-4B-Instruct"
    store.add_message(chat.id, role=Role.USER, content=DEMO_QUESTION)
    store.add_message(chat.id, role=Role.ASSISTANT, content=DEMO_ANSWER, model_name=model)
    window.sidebar.refresh(keep=chat.id)
    window.controller.open_conversation(chat.id)
    for _ in range(10):
        app.processEvents()


def wait_for_model(
    app: QApplication, window: MainWindow, model: Path | None, *, no_model: bool
) -> None:
    """Wait for the model used last (or ``model``); ``no_model``: for the library scan only."""
    if no_model:
        wait(app, lambda: window.model_bar.combo.count() > 0, timeout_s=30)
        return
    # The model used last loads (a remote one picked last needs no loading).
    wait(app, lambda: window.model_info is not None or remote_picked(window))
    current = window.model_info.path if window.model_info else None
    if model is not None and current != model:
        window.load_model(model)
        wait(app, lambda: window.model_info is not None and window.model_info.path == model)


def show_conversation(app: QApplication, window: MainWindow, args: argparse.Namespace) -> None:
    """The conversation the picture shows: a thinking model's, the demo, or a new one."""
    if args.thinking:
        show_thinking(app, window)
    if args.demo_chat:
        show_demo_chat(app, window)
    if args.new_chat:
        window.controller.new_conversation()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--dark", action="store_true", help="force the dark colour scheme")
    parser.add_argument("--settings", action="store_true", help="open the Model settings pane")
    parser.add_argument("--find", default="", help="open the find bar and search for this")
    parser.add_argument("--model", type=Path, help="load this model instead of the default")
    parser.add_argument("--thinking", action="store_true", help="show a thinking model's chat")
    parser.add_argument("--remote-model", default="", help="pick this remote model first")
    parser.add_argument(
        "--remote-servers", action="store_true", help="open Settings at Remote servers"
    )
    parser.add_argument(
        "--remote-test", action="store_true", help="and test the first server's connection"
    )
    parser.add_argument("--new-chat", action="store_true", help="open a new chat (empty state)")
    parser.add_argument("--demo-chat", action="store_true", help="a chat with code and a table")
    parser.add_argument("--no-model", action="store_true", help="do not wait for a model")
    parser.add_argument("--local-server", action="store_true", help="open the Local server page")
    parser.add_argument("--network", action="store_true", help="and allow other devices")
    parser.add_argument("--server-off", action="store_true", help="and leave it switched off")
    args = parser.parse_args()
    app = create_application()
    if args.dark:  # what a desktop in dark mode hands Qt; Xvfb has no platform theme
        app.setPalette(dark_palette())
    window = MainWindow()
    window.setGeometry(QGuiApplication.primaryScreen().availableGeometry())
    window.show()
    wait_for_model(app, window, args.model, no_model=args.no_model)
    show_conversation(app, window, args)
    if args.remote_model:
        pick_remote_model(app, window, args.remote_model)
    if args.prompt:
        window.prompt.setPlainText(args.prompt)
        window.send_button.click()
        wait(app, lambda: window.controller.reply_running)
        wait(app, lambda: not window.controller.reply_running)
    if args.settings:
        window.pane_button.click()
        wait(app, lambda: "GB" in window.settings_pane.meters.ram.format(), timeout_s=10)
    if args.remote_servers:
        show_remote_servers(app, window, test=args.remote_test)
    if args.local_server:
        show_local_server(app, window, network=args.network, on=not args.server_off)
    if args.find:
        window.find_bar.open_bar()
        window.find_bar.edit.setText(args.find)
        window.find_bar.edit.returnPressed.emit()
    QCursor.setPos(0, QGuiApplication.primaryScreen().geometry().height() - 1)  # no hover
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    screen = QGuiApplication.primaryScreen()
    ok = screen.grabWindow(0).save(str(args.out))
    print(
        f"saved {args.out}: {ok}; palette window lightness "
        f"{window.palette().color(QPalette.ColorRole.Window).lightness()}"
    )
    window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
