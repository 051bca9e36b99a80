"""How close is the speed forecast to the speed llama.cpp really gives on this PC?

Measures this PC's speed profile (as the app does, or uses the kept one), then for each model
and thread count prints the forecast decode and prompt tokens/s next to the measured ones
(llama.cpp through llama-cpp-python, the engine's way: a 256-token prompt, then tokens written
with the app's kind of sampling; the quickest prompt and the median settled token gap of two
runs, as the profile's measurement times its models). The models take turns over ``--rounds``
rounds and each figure is the median of the rounds, so that a spell of load from other programs
sways one round of every model rather than all rounds of one; the table shows the spread.
Models: the starter model (SmolLM2-135M, Q4_1), Gemma 3 270M (Q4_K_M, when its file is found)
and synthetic 0.5B / 1B / 3B models (Qwen/Llama-like shapes, written once to a cache folder);
``--models held`` adds four held-out synthetic models (:data:`HELD_OUT`).
Targets: every forecast within ±25 %, the median error within ±10 %.

    python bench/speed_forecast.py [--threads 1,2] [--remeasure] [--models starter,gemma,0.5b,1b,3b]
                                   [--gemma PATH] [--gpu] [--rounds 3] [--deadline UNIX_TIME]
                                   [--save rounds.json]

With ``--gpu`` (a GPU build of llama.cpp) each model also runs with every layer on the GPU and
with half of them, and the profile measures the GPU too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.engine.build import usable_hardware
from autoglm_desktop.core.engine.llama_timing import LlamaTiming, TimingJob, iter_timings
from autoglm_desktop.core.machine.hardware import HardwareSnapshot, read_hardware
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel, write_synthetic_gguf
from autoglm_desktop.core.planning.speed_forecast import SpeedForecast, forecast_speed, workload_of
from autoglm_desktop.core.planning.speed_measurement import (
    ALL_LAYERS,
    CALIBRATION_FILE,
    PROMPT_ONLY_DECODE_TOKENS,
    STREAM_DECODE_TOKENS,
    STREAM_PROMPT_TOKENS,
    calibration_models,
    iter_measure_speed,
)
from autoglm_desktop.core.planning.speed_profile import MachineSpeed, load_machine_speed

EACH_TARGET = 0.25
MEDIAN_TARGET = 0.10
CACHE = Path.home() / ".cache" / "autoglm-desktop-bench" / "speed"
TEST_MODELS = Path.home() / ".cache" / "autoglm-desktop-tests" / "models"
# Shapes of popular small models, with row lengths K-quants accept.
SYNTHETIC = {
    "smollm2-shape": SyntheticModel(  # SmolLM2-135M's shape, where its file cannot travel
        n_layer=30, n_embd=576, n_head=9, n_head_kv=3, n_ff=1536, vocab_size=49152,
        weight_type="q4_1", name="synthetic-smollm2-135m",
    ),
    "gemma-shape": SyntheticModel(  # Gemma 3 270M's shape
        arch="gemma3", n_layer=18, n_embd=640, n_head=4, n_head_kv=1, head_dim=256, n_ff=2048,
        vocab_size=262144, sliding_window=512, swa_pattern=6, weight_type="q5_0",
        name="synthetic-gemma3-270m",
    ),
    "0.5b": SyntheticModel(  # Qwen2.5-0.5B-like, Q4_K
        n_layer=24, n_embd=1280, n_head=20, n_head_kv=4, n_ff=3584, vocab_size=49152,
        weight_type="q4_k", name="synthetic-0.5b",
    ),
    "1b": SyntheticModel(  # Llama-3.2-1B-like, Q8_0
        n_layer=16, n_embd=2048, n_head=32, n_head_kv=8, n_ff=8192, vocab_size=128256,
        weight_type="q8_0", name="synthetic-1b",
    ),
    "3b": SyntheticModel(  # Llama-3.2-3B-like, Q4_K
        n_layer=28, n_embd=3072, n_head=24, n_head_kv=8, n_ff=8192, vocab_size=128256,
        weight_type="q4_k", name="synthetic-3b",
    ),
}  # fmt: skip
# Held out: shapes and weight-type mixes the profile's measurement never sees and no change to
# the forecast was tuned on (real Q4_K_M / Q5_K_M files mix in Q6_K), for `--models held`.
HELD_OUT = {
    "qwen1.5b-mix": SyntheticModel(  # Qwen2.5-1.5B-like, Q4_K with Q6_K as in Q4_K_M
        n_layer=28, n_embd=1536, n_head=12, n_head_kv=2, head_dim=128, n_ff=8960,
        vocab_size=151936, weight_type="q4_k", name="held-qwen1.5b-mix",
        tensor_types=(("token_embd", "q6_k"), ("attn_v", "q6_k"), ("ffn_down", "q6_k")),
    ),
    "tinyllama-q4_0": SyntheticModel(  # TinyLlama-1.1B-like, Q4_0, an untied Q6_K output
        n_layer=22, n_embd=2048, n_head=32, n_head_kv=4, n_ff=5632, vocab_size=32000,
        weight_type="q4_0", tied_embeddings=False, tensor_types=(("output", "q6_k"),),
        name="held-tinyllama-q4_0",
    ),
    "qwen3-0.6b-q8_0": SyntheticModel(  # Qwen3-0.6B-like: queries wider than the embedding
        n_layer=28, n_embd=1024, n_head=16, n_head_kv=8, head_dim=128, n_ff=3072,
        vocab_size=151936, weight_type="q8_0", name="held-qwen3-0.6b",
    ),
    "llama1b-q5_k": SyntheticModel(  # Llama-3.2-1B-like, Q5_K with Q6_K as in Q5_K_M
        n_layer=16, n_embd=2048, n_head=32, n_head_kv=8, n_ff=8192, vocab_size=128256,
        weight_type="q5_k", name="held-llama1b", tensor_types=(("ffn_down", "q6_k"),),
    ),
}  # fmt: skip


def forecast_job(job: TimingJob, speed: MachineSpeed) -> SpeedForecast:
    """The forecast for one timed job, from the profile `speed`."""
    forecast = forecast_speed(
        workload=workload_of(read_gguf_info(job.model_path)),
        profile=speed.coefficients,
        threads=job.threads,
        prompt_tokens=job.prompt_tokens,
        gpu=speed.gpu if job.gpu else None,
        gpu_layers=job.n_gpu_layers,
    )
    assert forecast is not None
    return forecast


def main() -> int:
    args = parse_args()
    hardware = usable_hardware() if args.gpu else read_hardware(include_gpus=False)
    threads = [int(t) for t in args.threads.split(",")]
    speed = machine_speed(hardware=hardware, threads=threads, remeasure=args.remeasure)
    models = model_paths(args.models.split(","), gemma=args.gemma)
    # (threads, n_gpu_layers or None for the CPU alone) per run of each model
    setups: list[tuple[int, int | None]] = [(count, None) for count in threads]
    if args.gpu:
        setups += [(max(threads), ALL_LAYERS), (max(threads), -1)]  # -1: half the layers
    jobs = [
        TimingJob(
            model_path=path,
            threads=count,
            n_gpu_layers=_layers(path, layers),
            gpu=layers is not None,
            decode_tokens=16 if path.stat().st_size > 1 << 30 else 32,
        )
        for count, layers in setups
        for path in models.values()
    ]
    references = reference_jobs(threads)
    rounds: dict[TimingJob, list[LlamaTiming]] = {job: [] for job in jobs + references}
    for round_index in range(args.rounds):
        if round_index and args.deadline and time.time() > args.deadline:
            print(f"(deadline: {round_index} of {args.rounds} rounds)", file=sys.stderr)
            break
        for timing in iter_timings(jobs=jobs + references, timeout_s=3600):
            rounds[timing.job].append(timing)
    if args.save:
        save_rounds(args.save, rounds, names={path: name for name, path in models.items()})
    print_drift({job: rounds.pop(job) for job in references})
    names = {path: name for name, path in models.items()}
    errors: list[float] = []
    print(
        "| model | file | threads | GPU layers | decode forecast | measured (rounds) | error "
        "| prompt forecast | measured (rounds) | error |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for job, timings in rounds.items():
        forecast = forecast_job(job, speed)
        decode = [t.decode_tokens_per_s for t in timings]
        prompt = [t.prompt_tokens_per_s for t in timings]
        decode_error = forecast.decode_tokens_per_s / statistics.median(decode) - 1
        prompt_error = forecast.prompt_tokens_per_s / statistics.median(prompt) - 1
        errors += [decode_error, prompt_error]
        print(
            f"| {names[job.model_path]} | {job.model_path.stat().st_size / 1e6:,.0f} MB "
            f"| {job.threads} | {_layers_text(job)} | {forecast.decode_tokens_per_s:.1f} "
            f"| {_spread(decode)} | {decode_error:+.0%} "
            f"| {forecast.prompt_tokens_per_s:.1f} | {_spread(prompt)} "
            f"| {prompt_error:+.0%} |",
            flush=True,
        )
    worst = max(abs(e) for e in errors)
    median = statistics.median(abs(e) for e in errors)
    ok = worst <= EACH_TARGET and median <= MEDIAN_TARGET
    print(
        f"\nworst error {worst:.0%} (target ≤ {EACH_TARGET:.0%}), median |error| {median:.0%} "
        f"(target ≤ {MEDIAN_TARGET:.0%}): {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


REFERENCE_MODEL = "stream-q4_k"  # timed in the profile's measurement and in every round


def reference_jobs(threads: list[int]) -> list[TimingJob]:
    """One calibration model's jobs, as the measurement timed them, for :func:`print_drift`."""
    path = CACHE / f"{REFERENCE_MODEL}.gguf"
    if not path.is_file():
        print(f"writing {path.name}...", file=sys.stderr)
        write_synthetic_gguf(path, calibration_models()[REFERENCE_MODEL])
    return [
        TimingJob(model_path=path, threads=count, prompt_tokens=prompt, decode_tokens=decode)
        for count in threads
        for prompt, decode in (
            (STREAM_PROMPT_TOKENS, STREAM_DECODE_TOKENS),
            (256, PROMPT_ONLY_DECODE_TOKENS),
        )
    ]


def save_rounds(
    path: Path, rounds: dict[TimingJob, list[LlamaTiming]], *, names: dict[Path, str]
) -> None:
    """Each job's measured speeds, round by round (the reference model's too)."""
    path.write_text(
        json.dumps(
            [
                {
                    "model": names.get(job.model_path, job.model_path.stem),
                    "path": str(job.model_path),
                    "threads": job.threads,
                    "gpu_layers": job.n_gpu_layers if job.gpu else None,
                    "prompt_tokens": job.prompt_tokens,
                    "decode_tokens_per_s": [t.decode_tokens_per_s for t in runs],
                    "prompt_tokens_per_s": [t.prompt_tokens_per_s for t in runs],
                }
                for job, runs in rounds.items()
            ],
            indent=1,
        )
    )


def print_drift(timings: dict[TimingJob, list[LlamaTiming]]) -> None:
    """How fast the machine ran in the rounds against in the profile's measurement.

    A forecast can be no closer than the machine is to itself: the same calibration model's
    writing and prompt speed (medians of the rounds) over what the measurement timed.
    """
    try:
        kept = json.loads((paths.cache_dir() / CALIBRATION_FILE).read_text())["timings"]
    except (OSError, ValueError, KeyError):
        return
    parts = []
    for job, runs in timings.items():
        then = [
            t for t in kept if t["model"] == REFERENCE_MODEL and not t["gpu"]
            and t["threads"] == job.threads and t["prompt_tokens"] == job.prompt_tokens
        ]  # fmt: skip
        if not then or not runs:
            continue
        if job.prompt_tokens == STREAM_PROMPT_TOKENS:
            now = statistics.median(t.decode_seconds / t.decoded for t in runs)
            parts.append(f"writing ×{then[0]['seconds_per_written_token'] / now:.2f}")
        else:
            now = statistics.median(t.prompt_seconds for t in runs)
            parts.append(f"prompts ×{then[0]['prompt_seconds'] / now:.2f} ({job.threads} thr.)")
    if parts:
        print(f"this machine's speed in the rounds over the profile's ({REFERENCE_MODEL}): "
              + ", ".join(parts))  # fmt: skip


def _spread(values: list[float]) -> str:
    """The median, and the lowest and highest round when there are several."""
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.1f}"
    return f"{median:.1f} ({min(values):.1f}–{max(values):.1f})"


def _layers(path: Path, layers: int | None) -> int:
    if layers is None:
        return 0
    if layers < 0:
        return max(1, (read_gguf_info(path).n_layer or 2) // 2)
    return layers


def _layers_text(job: TimingJob) -> str:
    if not job.gpu:
        return "CPU only"
    return "all" if job.n_gpu_layers >= ALL_LAYERS else str(job.n_gpu_layers)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--remeasure", action="store_true", help="measure the profile again")
    parser.add_argument("--models", default="starter,gemma,0.5b,1b,3b")
    parser.add_argument("--gemma", type=Path, default=TEST_MODELS / "gemma-3-270m-q4_k_m.gguf")
    parser.add_argument(
        "--gpu", action="store_true", help="also every layer on the GPU, and half of them"
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns of every model")
    parser.add_argument(
        "--deadline", type=float, default=0.0, help="start no round after this UNIX time"
    )
    parser.add_argument(
        "--save", type=Path, help="also write every round's figures there (JSON), to refit later"
    )
    return parser.parse_args()


def print_width_factors(speed: MachineSpeed) -> None:
    """The profile's width factors per thread count (cost per weight relative to the types')."""
    for c in speed.coefficients:
        decode = ", ".join(f"{w}: {f:.2f}" for w, f in sorted(c.decode_width_factors.items()))
        prompt = ", ".join(f"{w}: {f:.2f}" for w, f in sorted(c.prompt_width_factors.items()))
        print(f"width factors, {c.threads} threads: decode {{{decode}}}, prompt {{{prompt}}}")
        by_type = ", ".join(
            f"{kind} {factors.get(max(factors), 1.0):.2f}"
            for kind, factors in sorted(c.prompt_type_width_factors.items())
        )
        print(f"  each type's prompt factor at its widest: {by_type}")
        if c.cache_bytes:
            print(
                f"  last-level cache {c.cache_bytes / 2**20:.0f} MiB: a byte read from it costs "
                f"{c.decode_cached_factor:.2f} of one from memory"
            )
    if speed.gpu is not None:
        print(
            f"GPU offload per prompt batch: {speed.gpu.offload_per_layer * 1e3:.2f} ms per CPU "
            f"layer, {speed.gpu.upload_per_byte * 1e12:.0f} ps per byte sent"
        )


def machine_speed(
    *, hardware: HardwareSnapshot, threads: list[int], remeasure: bool
) -> MachineSpeed:
    kept = None if remeasure else load_machine_speed(hardware=hardware)
    gpu_ok = kept is not None and (kept.gpu is not None or not hardware.gpus)
    if kept is not None and gpu_ok and {c.threads for c in kept.coefficients} >= set(threads):
        print(f"speed profile: kept from {time.ctime(kept.measured_at)}")
        return kept
    started = time.perf_counter()
    for item in iter_measure_speed(hardware=hardware, threads=threads):
        if isinstance(item, MachineSpeed):
            print(f"speed profile: measured in {time.perf_counter() - started:.0f} s")
            print_width_factors(item)
            return item
    raise SystemExit("the measurement gave no profile")


def model_paths(wanted: list[str], *, gemma: Path) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    if "held" in wanted:
        at = wanted.index("held")
        wanted = [*wanted[:at], *HELD_OUT, *wanted[at + 1 :]]
    shapes = {**SYNTHETIC, **HELD_OUT}
    for name in wanted:
        if name == "starter":
            paths[name] = TEST_MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
        elif name == "gemma":
            if gemma.is_file():
                paths[name] = gemma
            else:
                print(f"(no Gemma 3 270M at {gemma}: skipped)", file=sys.stderr)
        else:
            path = CACHE / f"{shapes[name].name}-{shapes[name].weight_type}.gguf"
            if not path.is_file():
                print(f"writing {path.name}...", file=sys.stderr)
                write_synthetic_gguf(path, shapes[name])
            paths[name] = path
    return paths


if __name__ == "__main__":
    sys.exit(main())
