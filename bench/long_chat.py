"""A conversation that outgrows the context, a switch away and back, an engine restart.

Drives :class:`EngineClient` (the engine process, as the app and the CLI do) with the real
model, greedy sampling and a fixed seed, and prints per turn: the prompt's tokens, how many of
them the engine evaluated (the rest came from the KV cache), and the time to the first token.
The summary compares medians measured in this one run, so the ratios hold on a busy machine.

    python bench/long_chat.py [--model PATH] [--ctx 1024] [--turns 24] [--max-tokens 48]
                              [--no-shift]

All app folders (so the KV state cache too) live in a temporary folder for the run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import platformdirs
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.engine.events import collect_reply
from autoglm_desktop.core.models.starter_model import ensure_starter_model

SYSTEM = "You are a helpful assistant. Answer briefly."
WORDS = [
    "river",
    "mountain",
    "cloud",
    "garden",
    "engine",
    "window",
    "harbour",
    "lantern",
    "meadow",
    "forest",
    "castle",
    "bridge",
    "market",
    "winter",
    "summer",
    "autumn",
    "spring",
    "morning",
    "evening",
    "silver",
    "copper",
    "marble",
    "canvas",
    "violin",
    "orchard",
    "village",
    "station",
    "library",
    "kitchen",
    "compass",
    "journey",
    "letter",
    "island",
    "desert",
    "valley",
]


@dataclass
class Turn:
    label: str
    prompt_tokens: int
    evaluated: int
    new_tokens: int  # what this turn adds to the conversation: last reply + new message
    ttft_s: float
    trimmed: int
    threads: int  # decode threads at the end of the reply (the engine follows the CPU load)


def user_message(rng: random.Random, index: int) -> str:
    """About 60-100 tokens of plain words."""
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(45, 75)))
    return f"Message {index}. Please remember these words: {words}. What is the first word?"


class Counter:
    """Counts what a conversation's rendered prompt adds per turn (the model's own template)."""

    def __init__(self, model: Path) -> None:
        self.llm = llama_cpp.Llama(model_path=str(model), vocab_only=True, verbose=False)
        template = self.llm.metadata["tokenizer.chat_template"]
        eos = self.llm._model.token_get_text(self.llm.token_eos())
        bos = self.llm._model.token_get_text(self.llm.token_bos())
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def count(self, turns: list[ChatTurn]) -> int:
        messages = [{"role": "system", "content": SYSTEM}]
        for turn in turns:
            messages.append({"role": turn.role.value, "content": turn.content})
        result = self.formatter(messages=messages)  # type: ignore[arg-type]
        return len(self.llm.tokenize(result.prompt.encode(), add_bos=False, special=True))


class LongChat:
    """Runs turns through one engine at a time and records a row per turn."""

    def __init__(self, *, plan: LoadPlan, sampling: SamplingSettings, counter: Counter) -> None:
        self.plan, self.sampling, self.counter = plan, sampling, counter
        self.rows: list[Turn] = []
        self.client = self.start()

    def start(self) -> EngineClient:
        client = EngineClient()
        for _ in client.load(self.plan):
            pass
        return client

    def restart(self) -> None:
        self.client.shutdown()
        self.client = self.start()

    def turn(self, label: str, turns: list[ChatTurn]) -> None:
        before = self.counter.count(turns[:-2]) if len(turns) > 2 else self.counter.count([])
        new_tokens = self.counter.count(turns) - before
        reply = collect_reply(
            self.client.generate(turns=turns, system_prompt=SYSTEM, sampling=self.sampling)
        )
        stats, trimmed = reply.stats, reply.dropped_messages
        turns.append(ChatTurn(Role.ASSISTANT, reply.text.strip()))
        row = Turn(
            label,
            stats.prompt_tokens,
            stats.evaluated_prompt_tokens,
            new_tokens,
            stats.ttft_s,
            trimmed,
            stats.n_threads,
        )
        self.rows.append(row)
        print(
            f"{row.label:<10}{row.prompt_tokens:>9}{row.evaluated:>9}{row.new_tokens:>9}"
            f"{row.ttft_s:>9.3f}{row.trimmed:>9}{row.threads:>9}",
            flush=True,
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--ctx", type=int, default=1024)
    parser.add_argument("--turns", type=int, default=24)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--switches", type=int, default=3)
    parser.add_argument(
        "--no-shift",
        action="store_true",
        help="leave history out in steps of half the context instead of shifting the KV cache",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    home = Path(tempfile.mkdtemp(prefix="autoglm-long-chat-"))
    os.environ["AUTOGLM_HOME"] = str(home)  # the engine's state cache goes there too
    if args.model is None:
        models = platformdirs.user_cache_path("autoglm-desktop-tests", appauthor=False) / "models"
        args.model = ensure_starter_model(models_dir=models).path
    sampling = SamplingSettings(
        temperature=0.0, seed=args.seed, max_tokens=args.max_tokens, repeat_penalty=1.1
    )
    plan = LoadPlan(model_path=args.model, n_ctx=args.ctx, context_shift=not args.no_shift)
    rng = random.Random(args.seed)
    policy = "step" if args.no_shift else "shift"
    print(f"model: {args.model.name}  n_ctx={args.ctx}  max_tokens={args.max_tokens}  {policy}")
    header = ("turn", "prompt", "evaluated", "new", "TTFT s", "trimmed", "threads")
    print("".join(f"{name:<10}" if i == 0 else f"{name:>9}" for i, name in enumerate(header)))
    chat = LongChat(plan=plan, sampling=sampling, counter=Counter(args.model))
    a: list[ChatTurn] = []
    for i in range(1, args.turns + 1):
        a.append(ChatTurn(Role.USER, user_message(rng, i)))
        chat.turn(f"A{i}", a)
    for switch in range(1, args.switches + 1):  # another conversation, then back to A
        other = [ChatTurn(Role.USER, user_message(rng, 100 + switch))]
        chat.turn(f"fresh {switch}", other)
        a.append(ChatTurn(Role.USER, user_message(rng, len(a) // 2 + 1)))
        chat.turn(f"A back {switch}", a)
    chat.restart()
    a.append(ChatTurn(Role.USER, user_message(rng, args.turns + 2)))
    chat.turn("A restart", a)
    chat.client.shutdown()
    print_summary(chat.rows)


def print_summary(rows: list[Turn]) -> None:
    """Medians before and after the window is full, switching back, and after a restart."""
    conversation = [r for r in rows if r.label.startswith("A") and r.label[1:].isdigit()]
    before = [r for r in conversation[1:] if not r.trimmed]  # turn 1 has nothing cached yet
    after = [r for r in conversation if r.trimmed]
    by_label = {r.label: r for r in rows}
    base = statistics.median(r.ttft_s for r in before)
    print()
    print(f"median TTFT before the window is full ({len(before)} turns): {base:.3f} s")
    if after:
        ttft_after = statistics.median(r.ttft_s for r in after)
        per_new = [r.evaluated / r.new_tokens for r in after]
        print(
            f"median TTFT after ({len(after)} turns): {ttft_after:.3f} s  "
            f"ratio {ttft_after / base:.2f} (target <= 1.5)"
        )
        print(
            f"evaluated / new tokens after: median {statistics.median(per_new):.2f}, "
            f"max {max(per_new):.2f} (target <= 2)"
        )
        print(
            "evaluated / prompt after: median "
            f"{statistics.median(r.evaluated / r.prompt_tokens for r in after):.0%}"
        )
    backs = [r for r in rows if r.label.startswith("A back")]
    fresh = [r for r in rows if r.label.startswith("fresh")]
    back_ttft = statistics.median(r.ttft_s for r in backs)
    fresh_ttft = statistics.median(r.ttft_s for r in fresh)
    print(
        f"switch back (median of {len(backs)}): TTFT {back_ttft:.3f} s, evaluated "
        f"{statistics.median(r.evaluated for r in backs):.0f}/"
        f"{statistics.median(r.prompt_tokens for r in backs):.0f}; fresh short prompt "
        f"{fresh_ttft:.3f} s; ratio {back_ttft / fresh_ttft:.2f} (target <= 1.5)"
    )
    again = by_label["A restart"]
    print(
        f"after restart: TTFT {again.ttft_s:.3f} s, evaluated {again.evaluated}/"
        f"{again.prompt_tokens}; ratio to the median before {again.ttft_s / base:.2f}"
        " (target <= 2)"
    )


if __name__ == "__main__":
    main()
