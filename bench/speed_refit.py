"""Refit a kept speed profile's GPU part with the current code, and compare with a bench table.

A measurement keeps the timings it fitted (``speed_calibration.json``, beside the profile;
``bench/speed_forecast_gpu.sh`` brings both back from the GPU machine). This refits the GPU's
costs from its runs (every layer there, and split) with the current :func:`fit_gpu` (the CPU's
costs as kept), forecasts the bench models' GPU rows, and prints the errors against the bench
table measured in the same session, next to the kept profile's (forecast by the current code),
with no llama.cpp run: what changed in the model or the fit since shows at once on real timings.

    python bench/speed_refit.py [--dir bench/results/h200_ffdc04f]

The folder holds ``speed_calibration_gpu.json``, ``speed_profile_gpu.json`` and
``speed_forecast_gpu.txt``; the bench's synthetic models are written to its cache if missing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from speed_forecast import CACHE, SYNTHETIC

from autoglm_desktop.core.engine.llama_timing import LlamaTiming, TimingJob
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel, write_synthetic_gguf
from autoglm_desktop.core.planning.speed_forecast import (
    GpuSpeed,
    SpeedCoefficients,
    Workload,
    coefficients_at,
    forecast_speed,
    workload_of,
)
from autoglm_desktop.core.planning.speed_measurement import (
    ALL_LAYERS,
    calibration_models,
    fit_gpu,
    gpu_calibration_models,
)
from autoglm_desktop.core.planning.speed_profile import read_machine_speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("bench/results/h200_ffdc04f"))
    folder = parser.parse_args().dir
    kept = read_machine_speed(folder / "speed_profile_gpu.json", any_version=True)
    assert kept is not None and kept.gpu is not None, "no profile with a GPU and today's fields"
    measured = _gpu_rows(folder / "speed_forecast_gpu.txt")
    calibration = json.loads((folder / "speed_calibration_gpu.json").read_text())
    shapes = {
        name: _shape(fields)
        for name, fields in calibration.get("shapes", {}).items()  # older files: none
    } or (calibration_models() | gpu_calibration_models())
    threads = kept.gpu.coefficients.threads
    cpu = coefficients_at(kept.coefficients, threads)
    with tempfile.TemporaryDirectory() as scratch:
        full: list[tuple[Workload, LlamaTiming]] = []
        split: list[tuple[Workload, LlamaTiming]] = []
        for t in calibration["timings"]:
            if not t["gpu"]:
                continue
            path = Path(scratch) / f"{t['model']}.gguf"
            if not path.exists():
                write_synthetic_gguf(path, shapes[t["model"]])
            job = TimingJob(
                model_path=path,
                threads=t["threads"],
                n_gpu_layers=t["gpu_layers"],
                gpu=True,
                prompt_tokens=t["prompt_tokens"],
            )
            decoded = 32  # the per-token time is what counts; any count gives it back
            timing = LlamaTiming(
                job=job,
                prompt_seconds=t["prompt_seconds"],
                decode_seconds=t["seconds_per_written_token"] * decoded,
                decoded=decoded,
            )
            sample = (workload_of(read_gguf_info(path)), timing)
            (full if t["gpu_layers"] >= ALL_LAYERS else split).append(sample)
        refit = fit_gpu(name=kept.gpu.name, cpu=cpu, full=full, split=split)
    print(f"refitted on {len(full)} runs with every layer on the GPU, {len(split)} split")
    print(
        "| model | GPU layers | decode: kept profile | refitted | prompt: kept profile | refitted |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, layers, decode, prompt in measured:
        path = CACHE / f"{SYNTHETIC[name].name}-{SYNTHETIC[name].weight_type}.gguf"
        if not path.is_file():
            write_synthetic_gguf(path, SYNTHETIC[name])
        work = workload_of(read_gguf_info(path))
        cells = [
            _errors(work, kept.coefficients, gpu, layers, decode, prompt)
            for gpu in (kept.gpu, refit)
        ]
        print(
            f"| {name} | {'all' if layers >= ALL_LAYERS else layers} "
            f"| {cells[0][0]:+.0%} | {cells[1][0]:+.0%} "
            f"| {cells[0][1]:+.0%} | {cells[1][1]:+.0%} |"
        )


def _shape(fields: dict[str, Any]) -> SyntheticModel:
    """A model's shape as the calibration file keeps it (JSON has lists for tuples)."""
    return SyntheticModel(**{key: _tuples(value) for key, value in fields.items()})


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _errors(
    work: Workload,
    cpu: Sequence[SpeedCoefficients],
    gpu: GpuSpeed,
    gpu_layers: int,
    decode: float,
    prompt: float,
) -> tuple[float, float]:
    forecast = forecast_speed(
        workload=work, profile=cpu, threads=gpu.coefficients.threads, gpu=gpu, gpu_layers=gpu_layers
    )
    assert forecast is not None
    return forecast.decode_tokens_per_s / decode - 1, forecast.prompt_tokens_per_s / prompt - 1


def _gpu_rows(table: Path) -> list[tuple[str, int, float, float]]:
    """Model, GPU layers, measured decode and prompt tokens/s (medians) of the GPU rows."""
    rows = []
    for line in table.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 10 or cells[3] in ("CPU only", "GPU layers", "---"):
            continue
        layers = ALL_LAYERS if cells[3] == "all" else int(cells[3])
        rows.append((cells[0], layers, float(cells[5].split()[0]), float(cells[8].split()[0])))
    return rows


if __name__ == "__main__":
    main()
