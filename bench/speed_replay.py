"""Replay a speed probe's raw timings through the speed forecast's fit, with no llama.cpp run.

``bench/speed_probe.py`` (``bench/speed_probe_gpu.sh`` on the GPU machine) records every prompt
time and token gap of ~40 synthetic models; this fits the profile from the calibration models'
timings exactly as :mod:`speed_measurement` does, and prints the forecast errors of the bench
and held-out models, per thread count and on the GPU. Two checks that need several thread
counts or offload levels follow:

* **between thread counts**: the profile fitted at two counts (say 2 and 16), interpolated to
  a third the probe also measured (8), against that count's own timings;
* **partial offload**: what each run with some or no layers on the GPU took beyond the same
  model with every layer there, against the CPU layers it left and their bytes.

    python bench/speed_replay.py [--probe bench/results/speed_probe_h200.jsonl.gz]
                                 [--models bench/results/speed_probe_h200_models.json.gz]
                                 [--between 2,8,16]

The stored probe (H200 host, 16 Xeon cores, one session) used 8-layer 232-438 MB models
(``big-*``) where the measurement now uses its 256 MB stream models, and had no shared-KV model.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
from dataclasses import replace
from math import prod
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from autoglm_desktop.core.engine.llama_timing import LlamaTiming, TimingJob
from autoglm_desktop.core.planning.speed_forecast import (
    MEASURED_TYPES,
    SpeedCoefficients,
    Workload,
    coefficients_at,
    forecast_speed,
    repeating_layers_on_gpu,
    workload_of,
)
from autoglm_desktop.core.planning.speed_measurement import fit_coefficients, fit_gpu

RESULTS = Path(__file__).parent / "results"
SMALL = ("tiny", "deep", "deep-shared-kv", "wide-vocabulary")
STREAM = {f"{kind}-{t}" for kind in ("big", "stream") for t in MEASURED_TYPES}
TYPES = {f"type-{t}" for t in MEASURED_TYPES}
BENCH = ["bench-smollm2-shape", "bench-gemma-shape", "bench-0.5b", "bench-1b", "bench-3b"]
HELD = ["held-gemma-mix", "held-tinyllama-q4_0", "held-qwen1.5b-mix"]


def read_text(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()


def workloads(models: dict[str, Any]) -> dict[str, Workload]:
    """The forecast's view of each probed model, from the tensors the probe listed."""
    result = {}
    for name, m in models.items():
        n_layer = m["n_layer"]
        info = SimpleNamespace(
            tensors=tuple(
                SimpleNamespace(name=t[0], type_name=t[1], shape=tuple(t[2]),
                                n_elements=prod(t[2]), n_bytes=t[3])
                for t in m["tensors"]
            ),
            n_layer=n_layer, vocab_size=m["vocab"], n_expert=None, n_expert_used=None,
            n_embd=m["n_embd"], key_length=m["key_length"], value_length=m["key_length"],
            n_head_per_layer=(m["n_head"],) * n_layer,
            n_head_kv_per_layer=(m["n_head_kv"],) * n_layer,
        )  # fmt: skip
        result[name] = workload_of(info)  # type: ignore[arg-type]
    return result


def timing(record: dict[str, Any]) -> LlamaTiming:
    """The record as llama_timing would have reported it: quickest prompt, median gap."""
    job = TimingJob(
        model_path=Path(record["model"]), threads=record["threads"],
        n_gpu_layers=record["gpu_layers"], gpu=record["gpu"],
        prompt_tokens=record["prompt_tokens"], decode_tokens=record["decode_tokens"],
    )  # fmt: skip
    gaps = sorted(gap for run in record["gaps"] for gap in run)
    decoded = len(record["gaps"][-1])
    return LlamaTiming(
        job=job,
        prompt_seconds=min(record["prompt_s"]),
        decode_seconds=gaps[len(gaps) // 2] * decoded,
        decoded=decoded,
    )


class Probe:
    def __init__(self, probe: Path, models: Path) -> None:
        self.work = workloads(json.loads(read_text(models)))
        self.records = [json.loads(line) for line in read_text(probe).splitlines() if line]

    def section(self, name: str, models: set[str] | list[str]) -> list[dict[str, Any]]:
        return [r for r in self.records if r["section"] == name and r["model"] in models]

    def cpu_profile(self, section: str) -> SpeedCoefficients:
        threads = self.section(section, TYPES)[0]["threads"]
        writing = [
            (self.work[r["model"]], timing(r)) for r in self.section(section, STREAM | set(SMALL))
        ]
        reading = [
            (self.work[r["model"]], timing(r)) for r in self.section(section, TYPES | set(SMALL))
        ]
        return fit_coefficients(threads=threads, writing=writing, reading=reading)

    def errors(
        self, section: str, profile: list[SpeedCoefficients], gpu: Any = None
    ) -> list[float]:
        found = []
        for r in self.section(section, BENCH + HELD):
            f = forecast_speed(
                workload=self.work[r["model"]], profile=profile, threads=r["threads"],
                prompt_tokens=r["prompt_tokens"], gpu=gpu if r["gpu"] else None,
                gpu_layers=r["gpu_layers"],
            )  # fmt: skip
            assert f is not None
            t = timing(r)
            decode = f.decode_tokens_per_s / t.decode_tokens_per_s - 1
            prompt = f.prompt_tokens_per_s / t.prompt_tokens_per_s - 1
            found += [decode, prompt]
            layers = "CPU" if not r["gpu"] else r["gpu_layers"]
            print(f"  {r['model']:22s} {r['threads']:2d} threads, GPU layers {layers!s:4s} "
                  f"decode {decode:+5.0%}  prompt {prompt:+5.0%}")  # fmt: skip
        return found


COSTS = (
    "decode_fixed", "decode_per_layer", "decode_per_vocab", "decode_per_byte", "prompt_fixed",
    "prompt_per_layer", "prompt_per_weight", "decode_per_shared_kv_layer",
    "prompt_per_shared_kv_layer", "prompt_per_row",
)  # fmt: skip


def _mix(low: Any, high: Any, share: float) -> Any:
    if isinstance(low, dict):
        return {k: low.get(k, 0.0) + (high.get(k, 0.0) - low.get(k, 0.0)) * share for k in low}
    return low + (high - low) * share


def summary(label: str, errors: list[float]) -> None:
    median = statistics.median(abs(e) for e in errors)
    worst, mean = max(abs(e) for e in errors), statistics.mean(errors)
    print(f"{label}: median |error| {median:.0%}, worst {worst:.0%}, mean {mean:+.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", type=Path, default=RESULTS / "speed_probe_h200.jsonl.gz")
    parser.add_argument("--models", type=Path, default=RESULTS / "speed_probe_h200_models.json.gz")
    parser.add_argument("--between", default="2,8,16", help="low,middle,high thread counts")
    args = parser.parse_args()
    probe = Probe(args.probe, args.models)
    sections = {
        r["threads"]: r["section"] for r in probe.records if r["model"] in TYPES and not r["gpu"]
    }
    profiles = {}
    for threads in sorted(sections):
        section = sections[threads]
        if not probe.section(section, BENCH):
            continue
        profiles[threads] = probe.cpu_profile(section)
        print(f"\n{threads} threads, fitted on that count's calibration timings:")
        summary(f"{threads} threads", probe.errors(section, [profiles[threads]]))
    low, middle, high = (int(n) for n in args.between.split(","))
    if {low, middle, high} <= profiles.keys():
        print(f"\n{middle} threads from the profile at {low} and {high} (Amdahl's interpolation):")
        interpolated = coefficients_at([profiles[low], profiles[high]], middle)
        summary(f"{middle} threads, interpolated", probe.errors(sections[middle], [interpolated]))
        share = (middle - low) / (high - low)  # linear in threads, as the forecast did before
        linear = replace(
            interpolated,
            **{
                name: _mix(getattr(profiles[low], name), getattr(profiles[high], name), share)
                for name in COSTS
            },
        )
        print(f"\n{middle} threads, interpolated linearly in threads instead:")
        summary(f"{middle} threads, linear", probe.errors(sections[middle], [linear]))
    gpu_runs = [r for r in probe.records if r["gpu"]]
    if gpu_runs:
        replay_gpu(probe, profiles[max(profiles)], gpu_runs)


def replay_gpu(probe: Probe, cpu: SpeedCoefficients, runs: list[dict[str, Any]]) -> None:
    calibration = {*SMALL, "type-q4_k", "gpu-memory"}
    full = [
        (probe.work[r["model"]], timing(r))
        for r in runs
        if r["gpu_layers"] >= 999 and r["model"] in calibration
    ]
    # With no layer on the GPU: the big memory model, and (the probe timed no "deep" model
    # so) the SmolLM2 shape for the cost per CPU layer.
    none = [
        (probe.work[r["model"]], timing(r))
        for r in runs
        if r["gpu_layers"] == 0 and r["model"] in ("gpu-memory", "bench-smollm2-shape")
    ]
    gpu = fit_gpu(name="GPU", cpu=cpu, full=full, split=none)
    print(
        f"\nGPU (offload {gpu.offload_per_layer * 1e3:.2f} ms per CPU layer and "
        f"{gpu.upload_per_byte * 1e12:.0f} ps per byte sent, from gpu-memory and the SmolLM2 "
        "shape with no layer there):"
    )
    summary("GPU", probe.errors("gpu", [cpu], gpu=gpu))
    print("\nPartial offload: a prompt's time beyond the same model with every layer on the GPU")
    every = {r["model"]: min(r["prompt_s"]) for r in runs if r["gpu_layers"] >= 999}
    rows, extra, names = [], [], []
    for r in runs:
        if r["gpu_layers"] >= 999 or r["model"] not in every:
            continue
        work = probe.work[r["model"]]
        on_cpu = work.n_layer - repeating_layers_on_gpu(work, r["gpu_layers"])
        sent = on_cpu * sum(work.layer_bytes.values()) / work.n_layer
        rows.append([on_cpu, sent])
        extra.append(min(r["prompt_s"]) - every[r["model"]])
        names.append(f"{r['model']} ({r['gpu_layers']} GPU layers)")
    a, y = np.asarray(rows), np.asarray(extra)
    others = np.array([not n.startswith("gpu-memory") for n in names])
    solved, *_ = np.linalg.lstsq(a[others] / y[others, None], np.ones(others.sum()), rcond=None)
    print(f"  fitted on all runs but gpu-memory's: {solved[0] * 1e3:.2f} ms per CPU layer "
          f"+ {solved[1] * 1e12:.0f} ps per byte sent")  # fmt: skip
    for name, row, took in zip(names, rows, extra, strict=True):
        line = row[0] * solved[0] + row[1] * solved[1]
        print(f"  {name:38s} {row[0]:2.0f} CPU layers {row[1] / 1e6:7.1f} MB: "
              f"{took * 1e3:6.1f} ms, that line {line / took - 1:+5.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
