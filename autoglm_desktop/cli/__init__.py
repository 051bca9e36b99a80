"""The command line, one module per command. Without a command, the window opens.

    autoglm-desktop [MODEL.gguf]          the window (on that model)       window_command
    autoglm-desktop self-test             the window, one checked chat     window_command
    autoglm-desktop chat PROMPT --model   a one-shot reply on stdout       chat_command
    autoglm-desktop plan MODEL.gguf       the load plan for this PC        plan_command
    autoglm-desktop search QUERY          GGUF models on the hub           search_command
    autoglm-desktop pull REPO [--list]    download the file that fits      pull_command
    autoglm-desktop models                the models on this PC            models_command
    autoglm-desktop rm MODEL              delete a model                   rm_command
    autoglm-desktop history [--recover]   list or repair the chat history  history_command

:mod:`~autoglm_desktop.cli.commands` builds the parser and dispatches; every command module
has ``add_parser(subparsers)`` and ``run(args) -> int``; :mod:`~autoglm_desktop.cli.output`
prints tables, sizes and errors for all of them. The window starts without loading the other
commands (the hub client alone takes a third of a second to import). Before anything, the
start checks that Jinja2's sandbox, which runs models' chat templates, has no known escapes.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence

from autoglm_desktop.cli import window_command
from autoglm_desktop.core.common.dependencies import check_jinja2
from autoglm_desktop.core.common.errors import DependencyError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the engine process of a frozen (PyInstaller) app
    arguments = list(sys.argv[1:] if argv is None else argv)
    model = window_command.model_to_open(arguments)
    opens_window = model is not None or not arguments
    try:
        check_jinja2()  # models' chat templates must run in a sandbox without known escapes
    except DependencyError as error:
        from autoglm_desktop.cli.output import print_error

        if opens_window:
            window_command.show_startup_error(str(error))
        return print_error(error)
    if opens_window:
        return window_command.open_window(model=model)
    from autoglm_desktop.cli.commands import run_command

    return run_command(arguments)
