"""What llama.cpp itself gains from decoding several sequences in one step, on this PC.

The ceiling for ``serve``'s continuous batching: the model is loaded as ``serve --parallel 8``
loads it (the engine's runtime and plan), each of ``N`` sequences gets a short prompt, then
steps of one new token per sequence are timed: ``llama_decode`` of a batch of 1 token from 1
sequence against ``N`` tokens from ``N`` sequences (every row with logits, as the server needs),
plus the native sampler chain on each row (``llama_sampler_sample``, no logits copied). Sizes
and thread counts are interleaved round by round, so a busy machine hurts them alike.

Printed per model and thread count: the median milliseconds of a step's decode and of its
sampling, the tokens/s of the step, and that against one sequence's (the most continuous
batching can give over one client, before any Python or HTTP work).

    python bench/batch_ceiling.py [--models starter,gemma,0.5b,1b] [--threads 1,2]
                                  [--sizes 1,2,4,8] [--steps 24] [--rounds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import llama_cpp.llama_cpp as llama_lib
from llama_cpp._internals import LlamaSampler
from speed_forecast import model_paths

from autoglm_desktop.core.engine.build import llama_build
from autoglm_desktop.core.engine.runtime import LlamaRuntime
from autoglm_desktop.core.planning.machine_plan import tuned_plan

PROMPT = "The history of the bicycle begins in the early nineteenth century, when inventors"
PARALLEL = 8  # as bench/api_concurrency.py's serve


@dataclass
class Timings:
    decode_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)  # the process's CPU time in decode
    sample_s: list[float] = field(default_factory=list)


def load(path: Path, *, ctx: int, threads: int | None = None) -> LlamaRuntime:
    """The model as ``serve --parallel 8 [--threads N]`` loads it."""
    plan = tuned_plan(path, hardware=None, build=llama_build(), n_ctx=ctx).plan
    plan = dataclasses.replace(plan, kv_cache_disk_bytes=0, kv_cache_ram_bytes=0)
    if threads:
        plan = dataclasses.replace(
            plan, n_threads=threads, n_threads_batch=threads, adaptive_threads=False
        )
    runtime = LlamaRuntime(stop_requested=lambda: False, emit=lambda _event: None)
    runtime.load(plan, parallel=PARALLEL)
    return runtime


class Stepper:
    """Steps of one token for each of ``size`` sequences (1..size), from a fixed start."""

    def __init__(self, runtime: LlamaRuntime, *, max_size: int) -> None:
        self._llm = runtime.llama
        self._ctx = self._llm.ctx
        self._memory = llama_lib.llama_get_memory(self._ctx)
        self._batch = llama_lib.llama_batch_init(max(64, max_size), 0, 1)
        self._prompt = self._llm.tokenize(PROMPT.encode(), add_bos=True, special=False)
        self._samplers = [self._sampler() for _ in range(max_size)]
        for seq in range(1, max_size + 1):
            self._decode([(seq, pos, token) for pos, token in enumerate(self._prompt)])

    def _sampler(self) -> LlamaSampler:
        sampler = LlamaSampler()  # type: ignore[no-untyped-call]
        sampler.add_penalties(
            n_vocab=self._llm.n_vocab(),
            penalty_last_n=64,
            penalty_repeat=1.0,
            penalty_freq=0.0,
            penalty_present=0.0,
        )
        sampler.add_greedy()  # type: ignore[no-untyped-call]
        return sampler

    def _decode(
        self, rows: list[tuple[int, int, int]], *, logits: bool = False
    ) -> tuple[float, float]:
        """Decode ``rows`` (sequence, position, token); the wall and CPU seconds it took."""
        batch = self._batch
        for index, (seq, pos, token) in enumerate(rows):
            batch.token[index] = token
            batch.pos[index] = pos
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = seq
            batch.logits[index] = logits or index == len(rows) - 1
        batch.n_tokens = len(rows)
        started, cpu = time.perf_counter(), time.process_time()
        if llama_lib.llama_decode(self._ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        return time.perf_counter() - started, time.process_time() - cpu

    def run(self, *, size: int, threads: int, steps: int, into: Timings) -> None:
        llama_lib.llama_set_n_threads(self._ctx, threads, threads)
        start = len(self._prompt)
        tokens = [self._prompt[-1]] * size
        for step in range(steps):
            rows = [(seq, start + step, tokens[seq - 1]) for seq in range(1, size + 1)]
            wall, cpu = self._decode(rows, logits=True)
            into.decode_s.append(wall)
            into.cpu_s.append(cpu)
            started = time.perf_counter()
            for index in range(size):
                tokens[index] = self._samplers[index].sample(self._llm._ctx, index)
            into.sample_s.append(time.perf_counter() - started)
        for seq in range(1, size + 1):  # back to the prompt alone, for the next round
            llama_lib.llama_memory_seq_rm(self._memory, seq, start, -1)

    def close(self) -> None:
        for sampler in self._samplers:
            sampler.close()  # type: ignore[no-untyped-call]
        llama_lib.llama_batch_free(self._batch)


def measure(path: Path, args: argparse.Namespace) -> None:
    runtime = load(path, ctx=args.ctx)
    stepper = Stepper(runtime, max_size=max(args.sizes))
    table = {(t, n): Timings() for t in args.threads for n in args.sizes}
    for _ in range(args.rounds):
        for threads in args.threads:
            for size in args.sizes:
                stepper.run(size=size, threads=threads, steps=args.steps, into=table[threads, size])
    stepper.close()
    runtime.close()
    print(f"\n{path.name}")
    print(
        f"{'threads':>7}{'seqs':>6}{'decode ms':>11}{'(cpu ms)':>10}{'sample ms':>11}"
        f"{'tok/s':>9}{'x one':>8}{'cpu: x one':>12}"
    )
    for threads in args.threads:
        one = one_cpu = 0.0
        for size in args.sizes:
            timings = table[threads, size]
            decode = statistics.median(timings.decode_s)
            cpu = statistics.median(timings.cpu_s)
            sample = statistics.median(timings.sample_s)
            speed = size / (decode + sample)
            speed_cpu = size / (cpu + sample)  # as if no other program took this CPU
            one, one_cpu = one or speed, one_cpu or speed_cpu
            print(
                f"{threads:>7}{size:>6}{decode * 1e3:>11.2f}{cpu * 1e3:>10.2f}"
                f"{sample * 1e3:>11.2f}{speed:>9.1f}{speed / one:>8.2f}{speed_cpu / one_cpu:>12.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="starter,gemma")
    parser.add_argument("--gemma", type=Path, default=None)
    parser.add_argument("--model", type=Path, action="append", default=[], help="a .gguf file")
    parser.add_argument("--threads", type=lambda s: [int(t) for t in s.split(",")], default=[1, 2])
    parser.add_argument("--sizes", type=lambda s: [int(t) for t in s.split(",")], default=[1, 4])
    parser.add_argument("--steps", type=int, default=24, help="steps per size, per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ctx", type=int, default=4096)
    args = parser.parse_args()
    gemma = (
        args.gemma or Path.home() / ".cache/autoglm-desktop-tests/models/gemma-3-270m-q4_k_m.gguf"
    )
    wanted = [name for name in args.models.split(",") if name]
    paths = [*model_paths(wanted, gemma=gemma).values(), *args.model]
    for path in paths:
        measure(path, args)


if __name__ == "__main__":
    main()
