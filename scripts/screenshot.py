"""Take a screenshot of the real app window, for looking at the UI (run under Xvfb).

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot.py OUT.png \
        [--prompt "..."] [--dark] [--settings] [--remote-servers [--remote-test]] [--find TEXT]

It uses whatever AUTOGLM_HOME points at (seed it with conversations first if you like), loads
the default model, optionally sends a prompt and waits for the reply, then grabs the screen.
``--remote-model NAME`` picks a remote server's model (before ``--prompt``).
``--remote-servers`` opens the Settings pane scrolled to Remote servers, with the first saved
server selected; ``--remote-test`` also presses its Test connection and waits for the answer.
Set ``AUTOGLM_LANGUAGE=zh_CN`` for the Chinese UI.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QScrollArea

from autoglm_desktop.qt.app import create_application
from autoglm_desktop.qt.main_window import MainWindow


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


def pick_remote_model(app: QApplication, window: MainWindow, model: str) -> None:
    combo = window.model_bar.combo
    for index in range(combo.count()):
        combo.setCurrentIndex(index)
        remote = window.model_bar.selected_remote()
        if remote is not None and remote.model == model:
            app.processEvents()
            return
    raise SystemExit(f"no remote model {model!r} in the picker")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--dark", action="store_true", help="force the dark colour scheme")
    parser.add_argument("--settings", action="store_true", help="open the Model settings pane")
    parser.add_argument("--find", default="", help="open the find bar and search for this")
    parser.add_argument(
        "--remote-servers", action="store_true", help="open Settings at Remote servers"
    )
    parser.add_argument(
        "--remote-test", action="store_true", help="and test the first server's connection"
    )
    parser.add_argument("--remote-model", default="", help="pick this remote model first")
    args = parser.parse_args()
    app = create_application()
    if args.dark:  # what a desktop in dark mode hands Qt; Xvfb has no platform theme
        app.setPalette(dark_palette())
    window = MainWindow()
    window.show()
    wait(app, lambda: window.model_info is not None)
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
    if args.find:
        window.find_bar.open_bar()
        window.find_bar.edit.setText(args.find)
        window.find_bar.edit.returnPressed.emit()
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
