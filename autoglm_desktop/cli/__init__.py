"""Command line: ``autoglm-desktop [chat|self-test]``. Without a command, the window opens.

``autoglm-desktop MODEL.gguf`` opens the window on that model: this is how the desktop entry,
the Windows file association and macOS's "Open With" hand a double-clicked model to the app.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections.abc import Sequence
from pathlib import Path

from autoglm_desktop import APP_ID, __version__
from autoglm_desktop.cli import models_command, plan_command
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=APP_ID, description="Private, offline chat with GGUF models."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")

    chat = commands.add_parser("chat", help="stream a one-shot reply to stdout")
    chat.add_argument("prompt", help="what to ask")
    chat.add_argument("--model", required=True, type=Path, help="path of a .gguf model file")
    chat.add_argument("--system", default="", help="system prompt")
    chat.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    chat.add_argument("--max-tokens", type=int, default=512)
    chat.add_argument("--temperature", type=float, default=SamplingSettings.temperature)
    chat.add_argument("--seed", type=int, default=-1)
    chat.add_argument("--stats", action="store_true", help="print speed figures to stderr")

    self_test = commands.add_parser(
        "self-test", help="open the window, chat once, check, report JSON"
    )
    self_test.add_argument("--model", type=Path, default=None)
    self_test.add_argument("--prompt", default=None)
    self_test.add_argument("--timeout", type=float, default=180.0)
    self_test.add_argument("--screenshot", type=Path, default=None, help="save the window as PNG")
    plan_command.add_plan_parser(commands)
    models_command.add_commands(commands)
    return parser


def run_chat(args: argparse.Namespace) -> int:
    from autoglm_desktop.core.engine import EngineClient, GenerationFinished, TokenChunk

    client = EngineClient()
    try:
        for _event in client.load(LoadPlan(model_path=args.model, n_ctx=args.ctx)):
            pass
        sampling = SamplingSettings(
            temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed
        )
        turns = [ChatTurn(role=Role.USER, content=args.prompt)]
        for event in client.generate(turns=turns, system_prompt=args.system, sampling=sampling):
            if isinstance(event, TokenChunk):
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, GenerationFinished) and args.stats:
                stats = event.stats
                print(
                    f"\n[{stats.generated_tokens} tokens, first after {stats.ttft_s:.2f} s, "
                    f"{stats.tokens_per_s:.1f} tokens/s]",
                    file=sys.stderr,
                )
        sys.stdout.write("\n")
    except AutoGLMError as exc:
        print(f"{APP_ID}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        client.request_stop()
        return 130
    finally:
        client.shutdown()
    return 0


def run_self_test_command(args: argparse.Namespace) -> int:
    from autoglm_desktop.qt.self_test import DEFAULT_PROMPT, run_self_test

    result = run_self_test(
        prompt=args.prompt or DEFAULT_PROMPT,
        model=args.model,
        timeout_s=args.timeout,
        screenshot=args.screenshot,
    )
    print(json.dumps(result))
    return 0 if result.get("ok") else 1


def model_to_open(argv: Sequence[str]) -> Path | None:
    """The model file when the only argument is a ``.gguf`` path, else ``None``."""
    if len(argv) == 1 and argv[0].lower().endswith(".gguf") and not argv[0].startswith("-"):
        return Path(argv[0])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the engine process of a frozen (PyInstaller) app
    arguments = list(sys.argv[1:] if argv is None else argv)
    model = model_to_open(arguments)
    if model is not None:
        from autoglm_desktop.qt.app import run_gui

        return run_gui(model=model)
    args = build_parser().parse_args(arguments)
    if args.command == "chat":
        return run_chat(args)
    if args.command == "self-test":
        return run_self_test_command(args)
    if args.command == "plan":
        return plan_command.run_plan(args)
    if args.command in models_command.COMMANDS:
        return models_command.run(args)
    from autoglm_desktop.qt.app import run_gui

    return run_gui()
