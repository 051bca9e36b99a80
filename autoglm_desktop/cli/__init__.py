"""The command line, one module per command. Without a command, the window opens.

    autoglm-desktop [MODEL.gguf]          the window (on that model)       window_command
    autoglm-desktop self-test             the window, one checked chat     window_command
    autoglm-desktop chat PROMPT --model   a one-shot reply on stdout       chat_command
    autoglm-desktop plan MODEL.gguf       the load plan for this PC        plan_command
    autoglm-desktop search QUERY          GGUF models on the hub           search_command
    autoglm-desktop pull REPO [--list]    download the file that fits      pull_command
    autoglm-desktop models                the models on this PC            models_command
    autoglm-desktop rm MODEL              delete a model                   rm_command

:mod:`~autoglm_desktop.cli.main` builds the parser and dispatches; every command module has
``add_parser(subparsers)`` and ``run(args) -> int``; :mod:`~autoglm_desktop.cli.output` prints
tables, sizes and errors for all of them.
"""

from autoglm_desktop.cli.main import main

__all__ = ["main"]
