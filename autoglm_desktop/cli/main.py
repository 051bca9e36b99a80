"""The parser of every command, and the dispatch to the command's module."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Sequence

from autoglm_desktop import APP_ID, __version__
from autoglm_desktop.cli import (
    chat_command,
    models_command,
    plan_command,
    pull_command,
    rm_command,
    search_command,
    window_command,
)

# In the order ``--help`` lists them. Each module registers its parser (add_parser), which
# names the module's run(args) -> exit status as the ``run`` default.
COMMAND_MODULES = (
    chat_command,
    window_command,
    plan_command,
    search_command,
    pull_command,
    models_command,
    rm_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=APP_ID, description="Private, offline chat with GGUF models."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(run=window_command.run)  # no command: the window
    commands = parser.add_subparsers(dest="command")
    for module in COMMAND_MODULES:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the engine process of a frozen (PyInstaller) app
    arguments = list(sys.argv[1:] if argv is None else argv)
    model = window_command.model_to_open(arguments)
    if model is not None:
        return window_command.open_window(model=model)
    args = build_parser().parse_args(arguments)
    status: int = args.run(args)
    return status
