"""``autoglm-desktop rm MODEL [--yes]``: delete a model from this PC, after asking."""

from __future__ import annotations

import argparse
import sys

from autoglm_desktop.cli.output import format_size, print_error, print_plain
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.common.untrusted_text import plain_message
from autoglm_desktop.core.models.library import delete_model, find_model, scan_library

NOT_DELETED_EXIT = 1


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rm = commands.add_parser("rm", help="delete a model from this PC")
    rm.add_argument("model", help="the model's name (as `models` shows it) or path")
    rm.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        model = find_model(args.model, scan_library())
        if not args.yes:
            if not sys.stdin.isatty():
                return print_error(f"add --yes to delete {model.path}")
            size = format_size(model.size_bytes)
            answer = input(plain_message(f"Delete {model.name} ({size}) at {model.path}? [y/N] "))
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing deleted.")
                return NOT_DELETED_EXIT
        delete_model(model)
    except AutoGLMError as error:
        return print_error(error)
    print_plain(f"Deleted {model.name} ({format_size(model.size_bytes)}).")
    return 0
