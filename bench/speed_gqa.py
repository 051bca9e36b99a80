"""Does the speed forecast price grouped-query attention right? Variants of one 0.5B shape.

Seven synthetic models around the bench's 0.5B (24 layers, 1280 wide, Q4_K): as it is (20
query heads on 4 KV heads), with a KV head per query head, with a 512-entry vocabulary, with
heads 128 long, both, and two 1024-wide ones (the calibration models' own shape, 24 layers
deep, and the same with four query heads per KV head). Each is timed through llama.cpp as the
bench times models (in ``--turns`` interleaved turns, medians) at each thread count, next to
the forecast of the kept profile (``bench/speed_forecast.py --remeasure`` measures one).
Read the errors against one another: the machine's drift since the profile moves them all,
a mispriced attention moves the shapes that share KV heads apart from those that do not.

    python bench/speed_gqa.py [--threads 1,2] [--turns 3]
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace

from speed_forecast import CACHE

from autoglm_desktop.core.engine.llama_timing import LlamaTiming, TimingJob, iter_timings
from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel, write_synthetic_gguf
from autoglm_desktop.core.planning.speed_forecast import forecast_speed, workload_of
from autoglm_desktop.core.planning.speed_profile import load_machine_speed

BASE = SyntheticModel(
    n_layer=24, n_embd=1280, n_head=20, n_head_kv=4, n_ff=3584, vocab_size=49152,
    weight_type="q4_k", name="gqa-base",
)  # fmt: skip
VARIANTS = {
    "0.5b (20 q / 4 kv)": BASE,
    "no sharing (20 / 20)": replace(BASE, n_head_kv=20),
    "vocabulary 512": replace(BASE, vocab_size=512),
    "heads 128 long (10 / 2)": replace(BASE, n_head=10, n_head_kv=2),
    "heads 128, no sharing, vocab 512": replace(BASE, n_head=10, n_head_kv=10, vocab_size=512),
    "1024 wide, as calibration (8 / 8)": SyntheticModel(
        n_layer=24, n_embd=1024, n_head=8, n_head_kv=8, n_ff=2816, vocab_size=512,
        weight_type="q4_k",
    ),
    "1024 wide, 16 / 4": SyntheticModel(
        n_layer=24, n_embd=1024, n_head=16, n_head_kv=4, n_ff=2816, vocab_size=512,
        weight_type="q4_k",
    ),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    speed = load_machine_speed(hardware=read_hardware(include_gpus=False))
    if speed is None:
        raise SystemExit("no speed profile: run bench/speed_forecast.py --remeasure first")
    folder = CACHE / "gqa"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for index, (label, model) in enumerate(VARIANTS.items()):
        path = folder / f"variant-{index}.gguf"
        if not path.is_file():
            write_synthetic_gguf(path, model)
        paths[label] = path
    threads = [int(t) for t in args.threads.split(",")]
    jobs = [
        TimingJob(model_path=path, threads=count)
        for _ in range(args.turns)
        for count in threads
        for path in paths.values()
    ]
    turns: dict[TimingJob, list[LlamaTiming]] = {}
    for timing in iter_timings(jobs=jobs, timeout_s=3600):
        turns.setdefault(timing.job, []).append(timing)
    labels = {path: label for label, path in paths.items()}
    columns = ("decode forecast", "measured", "error", "prompt forecast", "measured", "error")
    print(f"| model | threads | {' | '.join(columns)} |")
    print("| --- " * 8 + "|")
    for job, runs in turns.items():
        work = workload_of(read_gguf_info(job.model_path))
        forecast = forecast_speed(workload=work, profile=speed.coefficients, threads=job.threads)
        assert forecast is not None
        decode = statistics.median(t.decode_tokens_per_s for t in runs)
        prompt = statistics.median(t.prompt_tokens_per_s for t in runs)
        print(
            f"| {labels[job.model_path]} | {job.threads} | {forecast.decode_tokens_per_s:.1f} "
            f"| {decode:.1f} | {forecast.decode_tokens_per_s / decode - 1:+.0%} "
            f"| {forecast.prompt_tokens_per_s:.1f} | {prompt:.1f} "
            f"| {forecast.prompt_tokens_per_s / prompt - 1:+.0%} |"
        )


if __name__ == "__main__":
    main()
