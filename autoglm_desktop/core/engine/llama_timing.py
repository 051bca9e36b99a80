"""Time llama.cpp reading a prompt and writing tokens, in a child process.

The speed forecast measures this PC with synthetic models and checks itself against real ones
through here, so both go the way the engine goes: ``Llama.create_completion`` streaming with
the app's kind of sampling. The child is ``spawn``-ed, as the engine is, so a native crash
never takes the caller with it; closing the generator ends the child at once.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoglm_desktop.core.common.errors import AutoGLMError, OperationCancelledError
from autoglm_desktop.core.engine.process import prepare_native_process

if TYPE_CHECKING:
    import llama_cpp

# A prompt this long is read in one batch, as a typical chat message with its history is.
DEFAULT_PROMPT_TOKENS = 256
DEFAULT_DECODE_TOKENS = 32
# Token ids of the timing prompts come from the first ids of the vocabulary (bytes, in most).
_PROMPT_ID_RANGE = 200
_RUNS = 2  # timed completions per job, after one to warm up
# The first gaps after a prompt run slower than the rest (caches, and the GPU's first graphs:
# up to 3x): a written token's cost is the median gap after these.
SETTLING_GAPS = 4


class SpeedMeasurementError(AutoGLMError):
    """llama.cpp could not be timed on a model (it failed to load or to run)."""


@dataclass(frozen=True)
class TimingJob:
    model_path: Path
    threads: int
    n_gpu_layers: int = 0
    gpu: bool = False  # False: llama.cpp sees no GPU (prompt batches stay on the CPU too)
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    decode_tokens: int = DEFAULT_DECODE_TOKENS


@dataclass(frozen=True)
class LlamaTiming:
    job: TimingJob
    prompt_seconds: float  # from the request to the first generated token (the quickest run)
    decode_seconds: float  # ``decoded`` times the median settled gap between two tokens
    decoded: int  # the settled gaps counted per run

    @property
    def prompt_tokens_per_s(self) -> float:
        return self.job.prompt_tokens / self.prompt_seconds

    @property
    def decode_tokens_per_s(self) -> float:
        return self.decoded / self.decode_seconds


def iter_timings(*, jobs: Sequence[TimingJob], timeout_s: float = 600.0) -> Iterator[LlamaTiming]:
    """Run each job in one child process and yield its timing as it comes.

    Raises:
        SpeedMeasurementError: a model failed to load or run, or the child died.
        OperationCancelledError: the child took longer than ``timeout_s`` in all.
    """
    deadline = time.monotonic() + timeout_s
    # A GPU is seen or hidden for a process's whole life: one child per run of alike jobs.
    for _gpu, group in itertools.groupby(jobs, key=lambda job: job.gpu):
        yield from _run_in_child(list(group), deadline)


def _run_in_child(jobs: list[TimingJob], deadline: float) -> Iterator[LlamaTiming]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(sender, jobs), daemon=True)
    child.start()
    sender.close()
    try:
        for _ in jobs:
            yield _receive(receiver, child, deadline)
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(timeout=5)


def _receive(receiver: Connection, child: Any, deadline: float) -> LlamaTiming:
    while not receiver.poll(0.2):
        if not child.is_alive() and not receiver.poll(0):
            raise SpeedMeasurementError(
                f"The speed measurement stopped unexpectedly (exit code {child.exitcode})."
            )
        if time.monotonic() > deadline:
            raise OperationCancelledError("The speed measurement took too long and was stopped.")
    try:
        message = receiver.recv()
    except EOFError:
        child.join(timeout=5)
        raise SpeedMeasurementError(
            f"The speed measurement stopped unexpectedly (exit code {child.exitcode})."
        ) from None
    if isinstance(message, str):
        raise SpeedMeasurementError(message)
    assert isinstance(message, LlamaTiming)
    return message


def _child_main(sender: Connection, jobs: list[TimingJob]) -> None:
    with open(os.devnull, "w") as devnull:  # llama.cpp's own log lines go nowhere
        os.dup2(devnull.fileno(), 2)
    prepare_native_process(hide_gpus=not jobs[0].gpu)
    for job in jobs:
        try:
            sender.send(_time_job(job))
        except Exception as exc:
            sender.send(f"Could not time llama.cpp on {job.model_path.name}: {exc}"[:500])
            return


def open_for_timing(job: TimingJob) -> llama_cpp.Llama:
    """The job's model loaded as timing needs it: one batch holds the whole prompt."""
    import llama_cpp

    return llama_cpp.Llama(
        model_path=str(job.model_path),
        n_ctx=job.prompt_tokens + job.decode_tokens + 64,
        n_threads=job.threads,
        n_threads_batch=job.threads,
        n_gpu_layers=job.n_gpu_layers,
        n_batch=job.prompt_tokens,
        n_ubatch=job.prompt_tokens,
        swa_full=False,
        verbose=False,
    )


def _time_job(job: TimingJob) -> LlamaTiming:
    llm = open_for_timing(job)
    try:
        _generate(llm, job, first_token=1, warm_up=True)  # first use sets up buffers, kernels
        runs = [_generate(llm, job, first_token=2 + run, warm_up=False) for run in range(_RUNS)]
    finally:
        llm.close()
    # Another program can only make a run slower: the quickest prompt and the median settled
    # token interval are what this model costs on this PC.
    settled = [settled_gaps(gaps, decode_tokens=job.decode_tokens) for _, gaps in runs]
    intervals = sorted(gap for gaps in settled for gap in gaps)
    return LlamaTiming(
        job=job,
        prompt_seconds=min(prompt for prompt, _ in runs),
        decode_seconds=intervals[len(intervals) // 2] * len(settled[-1]),
        decoded=len(settled[-1]),
    )


def settled_gaps(gaps: Sequence[float], *, decode_tokens: int) -> list[float]:
    """The gaps between written tokens that count: the first few and any extra call dropped.

    llama-cpp-python may ask the stopping criteria once more after the last token (a gap of
    almost nothing); of the ``decode_tokens`` - 1 real gaps, the first :data:`SETTLING_GAPS`
    (at most half of them) are the settling after the prompt.
    """
    real = list(gaps[: max(1, decode_tokens - 1)])
    return real[min(SETTLING_GAPS, len(real) // 2) :]


def _generate(
    llm: Any, job: TimingJob, *, first_token: int, warm_up: bool
) -> tuple[float, list[float]]:
    """One completion: the seconds to the first token, and the gaps between the next ones."""
    import llama_cpp
    import numpy as np

    n_ids = min(_PROMPT_ID_RANGE, llm.n_vocab())
    # A different first token each run: nothing of the last prompt is reused.
    prompt = [first_token] + [(7 * i + 3) % n_ids for i in range(job.prompt_tokens - 1)]
    if warm_up:
        prompt = prompt[:16]
    eos = llm.token_eos()
    stamps: list[float] = []

    def keep_going(_ids: Any, logits: Any) -> Any:
        if 0 <= eos < len(logits):
            logits[eos] = -np.inf
        return logits

    def stamp(_ids: Any, _logits: Any) -> bool:
        stamps.append(time.perf_counter())
        return False

    started = time.perf_counter()
    stream = llm.create_completion(
        prompt=prompt,
        max_tokens=4 if warm_up else job.decode_tokens,
        temperature=0.8,
        top_p=0.95,
        top_k=40,
        seed=1,
        logits_processor=llama_cpp.LogitsProcessorList([keep_going]),
        stopping_criteria=llama_cpp.StoppingCriteriaList([stamp]),
        stream=True,
    )
    with contextlib.closing(stream):
        for _chunk in stream:
            pass
    if len(stamps) < 2:
        raise SpeedMeasurementError("the model stopped before writing two tokens")
    return stamps[0] - started, [b - a for a, b in itertools.pairwise(stamps)]
