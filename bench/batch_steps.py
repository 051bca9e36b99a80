"""Where a step of the engine's batch decoder spends its time (no server, no pipe, no HTTP).

The engine's :class:`BatchDecoder` runs in this process on a model loaded as ``serve
--parallel 8`` loads it; for 1, 2, 4 and 8 clients it decodes the same greedy chat replies as
``bench/api_concurrency.py`` to the end, and times each step's parts: ``llama_decode``, each
reply's sampling (the native sampler chain on its row), and the rest (the batch, text, stop
strings, events: Python). Client counts are interleaved round by round. Printed per count:
tokens/s of the engine alone, its gain over one client, and the median milliseconds per step.

    python bench/batch_steps.py [--model PATH] [--threads 1] [--max-tokens 128] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import llama_cpp.llama_cpp as llama_lib
from api_concurrency import QUESTIONS
from batch_ceiling import load

from autoglm_desktop.core.engine.batch import BatchDecoder
from autoglm_desktop.core.engine.events import GenerationFinished
from autoglm_desktop.core.server.schemas import ChatCompletionRequest
from autoglm_desktop.core.server.translate import chat_request

COUNTS = (1, 2, 4, 8)


@dataclass
class Run:
    tokens: int = 0
    wall_s: float = 0.0
    step_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)  # the step's CPU time (this process)
    decode_s: list[float] = field(default_factory=list)
    sample_s: list[float] = field(default_factory=list)


class Clock:
    """Adds up the time spent in wrapped calls."""

    def __init__(self) -> None:
        self.total = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - started

        return timed


def run_once(decoder: BatchDecoder, *, clients: int, max_tokens: int, into: Run) -> None:
    decode, sample = Clock(), Clock()
    llama = llama_lib  # the module batch.py calls llama_decode through
    original_decode, original_sample = getattr(llama, "llama_decode"), BatchDecoder._sample  # noqa: B009
    setattr(llama, "llama_decode", decode.wrap(original_decode))  # noqa: B010
    setattr(BatchDecoder, "_sample", sample.wrap(original_sample))  # noqa: B010
    try:
        for index in range(clients):
            body = ChatCompletionRequest.model_validate(
                {
                    "model": "m",
                    "messages": [{"role": "user", "content": QUESTIONS[index]}],
                    "max_tokens": max_tokens,
                    "temperature": 0.0,
                }
            )
            decoder.add(chat_request(body, request_id=str(index), max_tokens_limit=max_tokens))
        started = time.perf_counter()
        while decoder.busy:
            step_started, cpu_started = time.perf_counter(), time.process_time()
            decode.total = sample.total = 0.0
            decoder.step()
            into.step_s.append(time.perf_counter() - step_started)
            into.cpu_s.append(time.process_time() - cpu_started)
            into.decode_s.append(decode.total)
            into.sample_s.append(sample.total)
        into.wall_s += time.perf_counter() - started
    finally:
        setattr(llama, "llama_decode", original_decode)  # noqa: B010
        setattr(BatchDecoder, "_sample", original_sample)  # noqa: B010


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ctx", type=int, default=4096)
    args = parser.parse_args()
    from autoglm_desktop.core.common import paths
    from autoglm_desktop.core.models.starter_model import ensure_starter_model

    model = args.model or ensure_starter_model(models_dir=paths.models_dir()).path
    runtime = load(model, ctx=args.ctx, threads=args.threads)
    runs = {clients: Run() for clients in COUNTS}

    def emit(_request_id: str, event: object) -> None:
        if isinstance(event, GenerationFinished):
            current.tokens += event.stats.generated_tokens

    decoder = BatchDecoder(runtime, emit=emit, fail=lambda _id, error: print(error))
    for _ in range(args.rounds):
        for clients in COUNTS:
            current = runs[clients]
            run_once(decoder, clients=clients, max_tokens=args.max_tokens, into=current)
    decoder.close()
    runtime.close()

    print(f"model: {model.name}  threads={args.threads}  max_tokens={args.max_tokens}")
    print(
        f"{'clients':>7}{'tok/s':>8}{'x one':>7}{'step ms':>9}{'decode':>8}{'sample':>8}"
        f"{'python':>8}{'step cpu ms':>13}{'cpu ms/token':>14}"
    )
    one = 0.0
    for clients, run in runs.items():
        speed = run.tokens / run.wall_s
        one = one or speed
        step = statistics.median(run.step_s)
        decode = statistics.median(run.decode_s)
        sample = statistics.median(run.sample_s)
        cpu = statistics.median(run.cpu_s)
        print(
            f"{clients:>7}{speed:>8.1f}{speed / one:>7.2f}{step * 1e3:>9.2f}{decode * 1e3:>8.2f}"
            f"{sample * 1e3:>8.2f}{(step - decode - sample) * 1e3:>8.2f}{cpu * 1e3:>13.2f}"
            f"{sum(run.cpu_s) * 1e3 / run.tokens:>14.2f}"
        )


if __name__ == "__main__":
    main()
