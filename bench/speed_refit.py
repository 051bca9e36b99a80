"""Refit a kept speed profile's GPU part with the current code, and compare with a bench table.

A measurement keeps the timings it fitted (``speed_calibration.json``, beside the profile;
``bench/speed_forecast_gpu.sh`` brings both back from the GPU machine). This refits the GPU's
costs from the runs with every layer there with the current :func:`fit_gpu` (the CPU's costs
as kept), forecasts the bench models with every layer on the GPU, and prints the errors against
the bench table measured in the same session, next to the kept profile's, with no llama.cpp
run. What changed in the fit since shows at once on real timings; the partial-offload costs
need runs the old profile may not have made, so those are left as kept.

    python bench/speed_refit.py [--dir bench/results/h200_profile7]

The folder holds ``speed_calibration_gpu.json``, ``speed_profile_gpu.json`` and
``speed_forecast_gpu.txt``; the bench's synthetic models are written to its cache if missing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from speed_forecast import CACHE, SYNTHETIC

from autoglm_desktop.core.engine.llama_timing import LlamaTiming, TimingJob
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.synthetic_gguf import write_synthetic_gguf
from autoglm_desktop.core.planning.speed_forecast import (
    GpuSpeed,
    SpeedCoefficients,
    Workload,
    forecast_speed,
    workload_of,
)
from autoglm_desktop.core.planning.speed_measurement import (
    ALL_LAYERS,
    calibration_models,
    fit_coefficients,
    gpu_calibration_models,
)
from autoglm_desktop.core.planning.speed_profile import read_machine_speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("bench/results/h200_profile7"))
    folder = parser.parse_args().dir
    kept = read_machine_speed(folder / "speed_profile_gpu.json")
    assert kept is not None and kept.gpu is not None, "no profile of this version with a GPU"
    timings = json.loads((folder / "speed_calibration_gpu.json").read_text())["timings"]
    measured = _full_gpu_rows(folder / "speed_forecast_gpu.txt")
    shapes = calibration_models() | gpu_calibration_models()
    with tempfile.TemporaryDirectory() as scratch:
        samples = []
        for t in timings:
            if not t["gpu"] or t["gpu_layers"] < ALL_LAYERS or t["model"] not in shapes:
                continue
            path = Path(scratch) / f"{t['model']}.gguf"
            if not path.exists():
                write_synthetic_gguf(path, shapes[t["model"]])
            job = TimingJob(
                model_path=path, threads=t["threads"], n_gpu_layers=ALL_LAYERS, gpu=True
            )
            timing = LlamaTiming(
                job=job,
                prompt_seconds=t["prompt_seconds"],
                decode_seconds=t["seconds_per_written_token"] * job.decode_tokens,
                decoded=job.decode_tokens,
            )
            samples.append((t["model"], workload_of(read_gguf_info(path)), timing))
        used = [(w, t) for name, w, t in samples if name in gpu_calibration_models()]
        refit = replace(
            kept.gpu,
            coefficients=fit_coefficients(
                threads=kept.gpu.coefficients.threads, writing=used, reading=used, one_type=True
            ),
        )
    print(f"refitted on {sorted({n for n, _, _ in samples if n in gpu_calibration_models()})}")
    print("| model | decode: kept profile | refitted | prompt: kept profile | refitted |")
    print("| --- | --- | --- | --- | --- |")
    for name, (decode, prompt) in measured.items():
        path = CACHE / f"{SYNTHETIC[name].name}-{SYNTHETIC[name].weight_type}.gguf"
        if not path.is_file():
            write_synthetic_gguf(path, SYNTHETIC[name])
        work = workload_of(read_gguf_info(path))
        cells = []
        for gpu in (kept.gpu, refit):
            cells.append(_errors(work, kept.coefficients, gpu, decode, prompt))
        print(
            f"| {name} | {cells[0][0]:+.0%} | {cells[1][0]:+.0%} "
            f"| {cells[0][1]:+.0%} | {cells[1][1]:+.0%} |"
        )


def _errors(
    work: Workload,
    cpu: Sequence[SpeedCoefficients],
    gpu: GpuSpeed,
    decode: float,
    prompt: float,
) -> tuple[float, float]:
    forecast = forecast_speed(
        workload=work, profile=cpu, threads=gpu.coefficients.threads, gpu=gpu, gpu_layers=ALL_LAYERS
    )
    assert forecast is not None
    return forecast.decode_tokens_per_s / decode - 1, forecast.prompt_tokens_per_s / prompt - 1


def _full_gpu_rows(table: Path) -> dict[str, tuple[float, float]]:
    """Measured decode and prompt tokens/s (medians) of the rows with every layer on the GPU."""
    rows = {}
    for line in table.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 10 and cells[3] == "all":
            rows[cells[0]] = (float(cells[5].split()[0]), float(cells[8].split()[0]))
    return rows


if __name__ == "__main__":
    main()
