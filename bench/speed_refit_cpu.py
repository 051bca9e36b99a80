"""Refit a kept CPU speed profile with the current code, and compare with a bench run's rounds.

A measurement keeps the timings it fitted (``speed_calibration.json``, beside the profile), and
``bench/speed_forecast.py --save rounds.json`` keeps every round's figures. This refits the
CPU's costs from those timings with the current :func:`_fit_cpu` and prints each bench row's
error with the refitted profile and, given ``--kept``, with the profile as it was saved (both
forecast by the current code), with no llama.cpp run: what a change in the cost model does to
a table measured before it shows at once, on real timings.

    python bench/speed_refit_cpu.py --calibration speed_calibration.json --rounds rounds.json
                                    [--kept speed_profile.json]

The calibration models' workloads come from their kept shapes (no file is written); the bench
models' from their files, which must still be where the rounds were measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
from math import prod
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from autoglm_desktop.core.engine.llama_timing import LlamaTiming, TimingJob
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel
from autoglm_desktop.core.planning import speed_measurement
from autoglm_desktop.core.planning.speed_forecast import (
    SpeedCoefficients,
    Workload,
    forecast_speed,
    workload_of,
)
from autoglm_desktop.core.planning.speed_profile import read_machine_speed

EACH_TARGET = 0.25
MEDIAN_TARGET = 0.10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", type=Path, required=True)
    parser.add_argument("--rounds", type=Path, required=True)
    parser.add_argument("--kept", type=Path, help="the profile the measurement saved")
    args = parser.parse_args()
    refit = refit_cpu(json.loads(args.calibration.read_text()))
    profiles = {"refitted": refit}
    if args.kept:
        kept = read_machine_speed(args.kept, any_version=True)
        assert kept is not None, f"{args.kept} holds no profile"
        profiles = {"kept": list(kept.coefficients), **profiles}
    rows = [r for r in json.loads(args.rounds.read_text()) if r["gpu_layers"] is None]
    header = " | ".join(f"{name}: decode | prompt" for name in profiles)
    print(f"| model | threads | measured decode | prompt | {header} |")
    print("| --- " * (4 + 2 * len(profiles)) + "|")
    errors: dict[str, list[float]] = {name: [] for name in profiles}
    for row in rows:
        if row["model"] == speed_measurement.CACHE_MODEL or row["prompt_tokens"] != 256:
            continue
        if row["path"].endswith(f"{REFERENCE}.gguf"):
            continue  # the drift reference, not a bench row
        work = workload_of(read_gguf_info(Path(row["path"])))
        decode = statistics.median(row["decode_tokens_per_s"])
        prompt = statistics.median(row["prompt_tokens_per_s"])
        cells = []
        for name, profile in profiles.items():
            forecast = forecast_speed(workload=work, profile=profile, threads=row["threads"])
            assert forecast is not None
            found = [
                forecast.decode_tokens_per_s / decode - 1,
                forecast.prompt_tokens_per_s / prompt - 1,
            ]
            errors[name] += found
            cells.append(f"{found[0]:+.0%} | {found[1]:+.0%}")
        measured = f"{decode:.1f} | {prompt:.1f}"
        print(f"| {row['model']} | {row['threads']} | {measured} | {' | '.join(cells)} |")
    for name, found in errors.items():
        worst, median = max(map(abs, found)), statistics.median(map(abs, found))
        verdict = "PASS" if worst <= EACH_TARGET and median <= MEDIAN_TARGET else "FAIL"
        print(f"{name}: worst error {worst:.0%}, median |error| {median:.0%}: {verdict}")


REFERENCE = "stream-q4_k"


def refit_cpu(calibration: dict[str, Any]) -> list[SpeedCoefficients]:
    """The CPU's coefficients at each measured thread count, fitted on the kept timings."""
    shapes = {name: _shape(fields) for name, fields in calibration["shapes"].items()}
    works: dict[str, Workload] = {}
    samples = []
    for t in calibration["timings"]:
        if t["gpu"]:
            continue
        name = t["model"]
        if name not in works:
            works[name] = workload_of_shape(shapes[name])
        decode_tokens = t.get("decode_tokens") or _decode_tokens(name, t["prompt_tokens"])
        job = TimingJob(
            model_path=Path(f"{name}.gguf"),
            threads=t["threads"],
            prompt_tokens=t["prompt_tokens"],
            decode_tokens=decode_tokens,
        )
        timing = LlamaTiming(
            job=job,
            prompt_seconds=t["prompt_seconds"],
            decode_seconds=t["seconds_per_written_token"] * decode_tokens,
            decoded=decode_tokens,
        )
        samples.append(speed_measurement._Sample(name, works[name], timing))
    cache_bytes = calibration.get("cache_bytes", 0)
    if "cache_bytes" not in calibration and speed_measurement.CACHE_MODEL in shapes:
        cache_bytes = 32 << 20  # older files: this development machine's L3
    threads = sorted({s.timing.job.threads for s in samples})
    return [speed_measurement._fit_cpu(n, samples, cache_bytes=cache_bytes) for n in threads]


def _decode_tokens(name: str, prompt_tokens: int) -> int:
    """Older calibration files do not keep it: the measurement's own rule (see ``_jobs``)."""
    if prompt_tokens == speed_measurement.STREAM_PROMPT_TOKENS:
        return speed_measurement.STREAM_DECODE_TOKENS
    if speed_measurement._is_big(name):
        return speed_measurement.PROMPT_ONLY_DECODE_TOKENS
    return speed_measurement.DECODE_TOKENS


def workload_of_shape(model: SyntheticModel) -> Workload:
    """The forecast's view of a synthetic model, from its shape (no file written)."""
    info = SimpleNamespace(
        tensors=tuple(
            SimpleNamespace(
                name=spec.name,
                type_name=spec.qtype.name.lower(),
                shape=tuple(spec.shape),
                n_elements=int(prod(spec.shape)),
                n_bytes=spec.n_bytes,
            )
            for spec in model.tensor_specs()
        ),
        n_layer=model.n_layer,
        vocab_size=model.vocab_size,
        n_expert=None,
        n_expert_used=None,
        n_embd=model.n_embd,
        key_length=model.key_length,
        value_length=model.key_length,
        n_head_per_layer=(model.n_head,) * model.n_layer,
        n_head_kv_per_layer=tuple(model.head_count_kv(i) for i in range(model.n_layer)),
    )
    return workload_of(info)  # type: ignore[arg-type]


def _shape(fields: dict[str, Any]) -> SyntheticModel:
    return SyntheticModel(**{key: _tuples(value) for key, value in fields.items()})


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


if __name__ == "__main__":
    main()
