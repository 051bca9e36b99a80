"""``autoglm-desktop history [--recover | --fresh]``: the chat history, checked or repaired.

Without an option it lists the conversations (or says in one line why the history does not
open, and what to run). ``--recover`` rebuilds a damaged history from what can still be read;
``--fresh`` starts an empty one. Either way the old file is kept beside it under a new name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from autoglm_desktop.cli.output import print_error, print_table
from autoglm_desktop.core.chat.history_repair import SET_ASIDE_MARK, recover_history, set_aside
from autoglm_desktop.core.chat.store import ChatStore
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import HistoryDamagedError, StoreError

COMMAND = "history"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = commands.add_parser(COMMAND, help="list the chat history, or repair it")
    repair = history.add_mutually_exclusive_group()
    repair.add_argument(
        "--recover", action="store_true", help="rebuild a damaged history from what still reads"
    )
    repair.add_argument(
        "--fresh", action="store_true", help="start an empty history (the old file is kept)"
    )
    history.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = paths.history_db_path()
    try:
        if args.recover:
            report = recover_history(path=path)
            print(
                f"Recovered {report.conversations} conversation(s) and {report.messages}"
                f" message(s). The damaged file is kept as {report.kept_as}."
            )
        elif args.fresh:
            kept = set_aside(path=path, mark=SET_ASIDE_MARK)  # damaged or not: the user's call
            print(f"A fresh chat history was started. The old file is kept as {kept}.")
        else:
            _list(path)
    except StoreError as error:
        hint = (
            f" Run `autoglm-desktop {COMMAND} --recover` to recover what can be read."
            if isinstance(error, HistoryDamagedError)
            else ""
        )
        return print_error(f"{error}{hint}", command=COMMAND)
    return 0


def _list(path: Path) -> None:
    # Not the window's crash recovery: a reply the open window is writing stays "streaming".
    with ChatStore(path, recover_interrupted=False) as store:
        conversations = store.list_conversations()
    if not conversations:
        print("No conversations yet.")
        return
    rows = [(str(c.id), str(c.message_count), c.title) for c in conversations]
    print_table(("ID", "MESSAGES", "TITLE"), rows, right={0, 1})
