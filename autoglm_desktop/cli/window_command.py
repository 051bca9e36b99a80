"""The window: ``autoglm-desktop [MODEL.gguf]`` and ``autoglm-desktop self-test``.

Without a command the window opens; on a model when that is the only argument, which is how the
desktop entry, the Windows file association and macOS's "Open With" hand a double-clicked model
to the app. ``self-test`` opens it, chats once, checks the saved history and reports JSON. Qt is
imported only when the window opens: the other commands never load it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

SELF_TEST = "self-test"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    self_test = commands.add_parser(
        SELF_TEST, help="open the window, chat once, check, report JSON"
    )
    self_test.add_argument("--model", type=Path, default=None)
    self_test.add_argument("--prompt", default=None)
    self_test.add_argument("--timeout", type=float, default=180.0)
    self_test.add_argument("--screenshot", type=Path, default=None, help="save the window as PNG")
    self_test.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """``self-test``; without a command, the window."""
    if args.command == SELF_TEST:
        return _self_test(args)
    return open_window()


def model_to_open(argv: Sequence[str]) -> Path | None:
    """The model file when the only argument is a ``.gguf`` path, else ``None``."""
    if len(argv) == 1 and argv[0].lower().endswith(".gguf") and not argv[0].startswith("-"):
        return Path(argv[0])
    return None


def open_window(*, model: Path | None = None) -> int:
    """Run the main window (on ``model`` when given) until it closes; its exit status."""
    from autoglm_desktop.qt.app import run_gui

    return run_gui(model=model)


def show_startup_error(message: str) -> None:
    """Tell a user who started the window (maybe with a double-click) why it cannot open."""
    from autoglm_desktop.qt.fatal_error import show_fatal_error

    show_fatal_error(message)


def _self_test(args: argparse.Namespace) -> int:
    from autoglm_desktop.qt.self_test import DEFAULT_PROMPT, run_self_test

    result = run_self_test(
        prompt=args.prompt or DEFAULT_PROMPT,
        model=args.model,
        timeout_s=args.timeout,
        screenshot=args.screenshot,
    )
    print(json.dumps(result))
    return 0 if result.get("ok") else 1
