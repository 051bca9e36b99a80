"""``autoglm-desktop chat PROMPT --model MODEL.gguf``: stream a one-shot reply to stdout.

The model loads with the plan the window would use (:func:`tuned_plan`); a model too big for
this PC is refused with one line, unless ``--force``. llama.cpp's own output goes to the engine
log, never to the terminal. A thinking model's reasoning goes to stderr as it streams, so
stdout holds the answer alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoglm_desktop.cli.output import print_error, write_stream
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import AutoGLMError, ModelFileError, ModelTooBigError
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
from autoglm_desktop.core.engine.build import llama_build
from autoglm_desktop.core.planning.machine_plan import tuned_plan

INTERRUPTED_EXIT = 130
DEFAULT_CTX = 4096


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chat = commands.add_parser("chat", help="stream a one-shot reply to stdout")
    chat.add_argument("prompt", help="what to ask")
    chat.add_argument("--model", required=True, type=Path, help="path of a .gguf model file")
    chat.add_argument("--system", default="", help="system prompt")
    chat.add_argument("--ctx", type=int, default=DEFAULT_CTX, help="context size in tokens")
    chat.add_argument("--max-tokens", type=int, default=512)
    chat.add_argument("--temperature", type=float, default=SamplingSettings.temperature)
    chat.add_argument("--seed", type=int, default=-1)
    chat.add_argument("--stats", action="store_true", help="print speed figures to stderr")
    chat.add_argument(
        "--force", action="store_true", help="load the model even if it does not fit this PC"
    )
    chat.add_argument(
        "--think",
        choices=[t.value for t in Thinking if t is not Thinking.DEFAULT],
        default=Thinking.DEFAULT.value,
        help="thinking on or off, or a reasoning effort (where the model's template has a "
        "switch; default: as the template recommends)",
    )
    chat.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        plan = load_plan(args.model, n_ctx=args.ctx, force=args.force)
    except AutoGLMError as exc:
        return print_error(exc, command="chat")
    client = EngineClient(log_path=paths.engine_log_path())
    try:
        for _event in client.load(plan):
            pass
        _stream_reply(client, args)
    except AutoGLMError as exc:
        return print_error(exc, command="chat")
    except KeyboardInterrupt:
        client.request_stop()
        return INTERRUPTED_EXIT
    finally:
        client.shutdown()
    return 0


def load_plan(model: Path, *, n_ctx: int, force: bool) -> LoadPlan:
    """The window's plan for ``model`` with ``n_ctx``; refused when it does not fit.

    Raises:
        ModelFileError: the file is missing, not a model, or damaged.
        ModelTooBigError: it does not fit and ``force`` is false.
    """
    if not model.exists():
        raise ModelFileError(f"The model file {model} does not exist.")
    tuned = tuned_plan(model, hardware=None, build=llama_build(), n_ctx=n_ctx)
    if not tuned.fits and not force:
        why = " ".join(tuned.explanation.split()).split(" Smallest plan:")[0]
        raise ModelTooBigError(
            f"{model.name} was not loaded, it is too big for this PC. {why} "
            "Use --force to load it anyway."
        )
    return tuned.plan


def _stream_reply(client: EngineClient, args: argparse.Namespace) -> None:
    sampling = SamplingSettings(
        temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed
    )
    turns = [ChatTurn(role=Role.USER, content=args.prompt)]
    thinking = Thinking(args.think)
    for event in client.generate(
        turns=turns, system_prompt=args.system, sampling=sampling, thinking=thinking
    ):
        if isinstance(event, TokenChunk):
            write_stream(event.text)
        elif isinstance(event, ReasoningChunk):
            write_stream(event.text, stream=sys.stderr)
        elif isinstance(event, GenerationFinished) and args.stats:
            stats = event.stats
            print(
                f"\n[{stats.generated_tokens} tokens, first after {stats.ttft_s:.2f} s, "
                f"{stats.tokens_per_s:.1f} tokens/s]",
                file=sys.stderr,
            )
    sys.stdout.write("\n")
