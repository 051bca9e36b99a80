"""``autoglm-desktop chat PROMPT --model MODEL.gguf``: stream a one-shot reply to stdout.

A thinking model's reasoning goes to stderr as it streams, so stdout holds the answer alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoglm_desktop.cli.output import print_error
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.common.types import (
    ChatTurn,
    LoadPlan,
    Role,
    SamplingSettings,
    Thinking,
)
from autoglm_desktop.core.engine import (
    EngineClient,
    GenerationFinished,
    ReasoningChunk,
    TokenChunk,
)

INTERRUPTED_EXIT = 130


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chat = commands.add_parser("chat", help="stream a one-shot reply to stdout")
    chat.add_argument("prompt", help="what to ask")
    chat.add_argument("--model", required=True, type=Path, help="path of a .gguf model file")
    chat.add_argument("--system", default="", help="system prompt")
    chat.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    chat.add_argument("--max-tokens", type=int, default=512)
    chat.add_argument("--temperature", type=float, default=SamplingSettings.temperature)
    chat.add_argument("--seed", type=int, default=-1)
    chat.add_argument("--stats", action="store_true", help="print speed figures to stderr")
    chat.add_argument(
        "--think",
        choices=[t.value for t in Thinking if t is not Thinking.DEFAULT],
        default=Thinking.DEFAULT.value,
        help="thinking on or off, or a reasoning effort (where the model's template has a "
        "switch; default: as the template recommends)",
    )
    chat.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    client = EngineClient()
    try:
        for _event in client.load(LoadPlan(model_path=args.model, n_ctx=args.ctx)):
            pass
        sampling = SamplingSettings(
            temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed
        )
        turns = [ChatTurn(role=Role.USER, content=args.prompt)]
        thinking = Thinking(args.think)
        for event in client.generate(
            turns=turns, system_prompt=args.system, sampling=sampling, thinking=thinking
        ):
            if isinstance(event, TokenChunk):
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, ReasoningChunk):
                sys.stderr.write(event.text)
                sys.stderr.flush()
            elif isinstance(event, GenerationFinished) and args.stats:
                stats = event.stats
                print(
                    f"\n[{stats.generated_tokens} tokens, first after {stats.ttft_s:.2f} s, "
                    f"{stats.tokens_per_s:.1f} tokens/s]",
                    file=sys.stderr,
                )
        sys.stdout.write("\n")
    except AutoGLMError as exc:
        return print_error(exc)
    except KeyboardInterrupt:
        client.request_stop()
        return INTERRUPTED_EXIT
    finally:
        client.shutdown()
    return 0
