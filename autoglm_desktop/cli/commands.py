"""The parser of every command, and the dispatch to the command's module."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from autoglm_desktop import APP_ID, __version__
from autoglm_desktop.cli import (
    chat_command,
    history_command,
    models_command,
    plan_command,
    pull_command,
    rm_command,
    search_command,
    window_command,
)
from autoglm_desktop.cli.output import print_error
from autoglm_desktop.core.common.errors import AutoGLMError

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
    history_command,
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


def run_command(arguments: Sequence[str]) -> int:
    """Parse ``arguments`` and run the command they name (without one: the window)."""
    args = build_parser().parse_args(list(arguments))
    try:
        status: int = args.run(args)
    except AutoGLMError as error:  # each command explains its failures; none ends in a traceback
        return print_error(error, command=args.command)
    return status
