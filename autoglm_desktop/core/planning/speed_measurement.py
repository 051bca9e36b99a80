"""Measure this PC's llama.cpp speed once, for the speed forecast.

The measurement writes small synthetic models (zeros in llama.cpp's real layouts: the kernels
do not look at values), one per weight type, three that vary only the layer count and the
vocabulary, and one too big for the CPU caches; it times each through llama.cpp at a few thread
counts in a child process (and, with a GPU, with every layer there and with none), and solves
:mod:`speed_forecast`'s cost model for this machine by least squares. It takes well under a
minute on a 2-core laptop; :mod:`speed_profile` keeps the result.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.engine.llama_timing import LlamaTiming, TimingJob, iter_timings
from autoglm_desktop.core.machine.hardware import HardwareSnapshot
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel, write_synthetic_gguf
from autoglm_desktop.core.planning.speed_forecast import (
    MEASURED_TYPES,
    GpuSpeed,
    SpeedCoefficients,
    Workload,
    forecast_speed,
    workload_of,
)
from autoglm_desktop.core.planning.speed_profile import (
    MachineSpeed,
    machine_key,
    save_machine_speed,
)

PROMPT_TOKENS = 256
MEMORY_MODEL = "memory"
GPU_MEMORY_MODEL = "gpu-memory"
_WIDE = SyntheticModel(n_embd=2048, n_head=16, n_head_kv=16, n_ff=5632, weight_type="q8_0")
ALL_LAYERS = 999  # n_gpu_layers for "every layer and the output on the GPU"


@dataclass(frozen=True)
class SpeedMeasurementProgress:
    done: int
    total: int


def calibration_models() -> dict[str, SyntheticModel]:
    """The synthetic models the measurement times, by name."""
    models = {
        f"type-{kind}": SyntheticModel(
            n_layer=4, n_embd=1024, n_head=8, n_head_kv=8, n_ff=2816, weight_type=kind
        )
        for kind in MEASURED_TYPES
    }
    small = {"n_embd": 256, "n_head": 4, "n_head_kv": 4, "n_ff": 512, "weight_type": "q8_0"}
    models["tiny"] = SyntheticModel(n_layer=1, **small)  # type: ignore[arg-type]
    models["deep"] = SyntheticModel(n_layer=24, **small)  # type: ignore[arg-type]
    models["wide-vocabulary"] = SyntheticModel(
        n_layer=1, n_embd=64, n_head=2, n_head_kv=2, n_ff=128, vocab_size=262144
    )
    # Too big for any CPU cache (440 MB): how fast the memory feeds the kernels.
    models[MEMORY_MODEL] = replace(_WIDE, n_layer=8)
    return models


def gpu_calibration_models() -> dict[str, SyntheticModel]:
    """The models timed on the GPU: its fixed costs, and a big one (1.5 GB) for its memory."""
    cpu = calibration_models()
    models = {name: cpu[name] for name in ("tiny", "deep", "wide-vocabulary", "type-q4_k")}
    models[GPU_MEMORY_MODEL] = replace(_WIDE, n_layer=28)
    return models


def thread_counts_to_measure(hardware: HardwareSnapshot) -> list[int]:
    """1, half the usable cores and all of them (at most three counts)."""
    usable = max(1, hardware.cpu.usable_cores or 1)
    return sorted({1, max(1, usable // 2), usable})


def iter_measure_speed(
    *, hardware: HardwareSnapshot, threads: Sequence[int] | None = None
) -> Generator[SpeedMeasurementProgress | MachineSpeed, None, None]:
    """Measure, yielding progress, then the profile (also saved). Stop iterating to cancel.

    Raises:
        SpeedMeasurementError: llama.cpp failed on a calibration model.
    """
    counts = list(threads or thread_counts_to_measure(hardware))
    models = calibration_models()
    gpu_name = hardware.gpus[0].name if hardware.gpus else None
    gpu_models = gpu_calibration_models() if gpu_name else {}
    work_dir = Path(tempfile.mkdtemp(prefix="speed-", dir=paths.cache_dir()))
    try:
        files = {
            name: write_synthetic_gguf(work_dir / f"{name}.gguf", model)
            for name, model in {**models, **gpu_models}.items()
        }
        jobs = [_job(files, name, threads=count) for count in counts for name in models]
        # Everything on the GPU; then no layer there (prompt batches still go there).
        jobs += [
            _job(files, name, threads=counts[-1], gpu_layers=ALL_LAYERS) for name in gpu_models
        ]
        if gpu_name:
            jobs.append(_job(files, GPU_MEMORY_MODEL, threads=counts[-1], gpu_layers=0))
        yield SpeedMeasurementProgress(done=0, total=len(jobs))
        timings: list[LlamaTiming] = []
        for timing in iter_timings(jobs=jobs):
            timings.append(timing)
            yield SpeedMeasurementProgress(done=len(timings), total=len(jobs))
        names = {path: name for name, path in files.items()}
        samples = [
            _Sample(names[t.job.model_path], workload_of(read_gguf_info(t.job.model_path)), t)
            for t in timings
        ]
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    speed = MachineSpeed(
        machine=machine_key(hardware),
        measured_at=time.time(),
        coefficients=tuple(_fit_cpu(count, samples) for count in counts),
        gpu=_fit_gpu_samples(gpu_name, samples, threads=counts[-1]) if gpu_name else None,
    )
    save_machine_speed(speed)
    yield speed


@dataclass(frozen=True)
class _Sample:
    name: str
    workload: Workload
    timing: LlamaTiming


def _job(
    files: dict[str, Path], name: str, *, threads: int, gpu_layers: int | None = None
) -> TimingJob:
    memory = name in (MEMORY_MODEL, GPU_MEMORY_MODEL)
    return TimingJob(
        model_path=files[name],
        threads=threads,
        n_gpu_layers=gpu_layers or 0,
        gpu=gpu_layers is not None,
        # The CPU's memory model is there for writing only: a short prompt.
        prompt_tokens=16 if name == MEMORY_MODEL else PROMPT_TOKENS,
        decode_tokens=16 if memory else 32,
    )


def _fit_cpu(threads: int, samples: Sequence[_Sample]) -> SpeedCoefficients:
    mine = [s for s in samples if not s.timing.job.gpu and s.timing.job.threads == threads]
    fitted = fit_coefficients(
        threads=threads,
        samples=[(s.workload, s.timing) for s in mine if s.name != MEMORY_MODEL],
    )
    memory = next((s for s in mine if s.name == MEMORY_MODEL), None)
    if memory is None:
        return fitted
    return replace(
        fitted,
        decode_memory_per_byte=memory_cost_per_byte(
            coefficients=fitted, workload=memory.workload, timing=memory.timing
        ),
    )


def _fit_gpu_samples(name: str, samples: Sequence[_Sample], *, threads: int) -> GpuSpeed:
    on_gpu = [s for s in samples if s.timing.job.gpu]
    full = [(s.workload, s.timing) for s in on_gpu if s.timing.job.n_gpu_layers]
    none = next(s for s in on_gpu if not s.timing.job.n_gpu_layers)
    cpu = _fit_cpu(threads, samples)
    return fit_gpu(name=name, cpu=cpu, full=full, without_layers=(none.workload, none.timing))


def memory_cost_per_byte(
    *, coefficients: SpeedCoefficients, workload: Workload, timing: LlamaTiming
) -> float:
    """Seconds per byte of weights streamed from RAM: a model too big for the caches."""
    overhead = (
        coefficients.decode_fixed
        + coefficients.decode_per_layer * workload.n_layer
        + coefficients.decode_per_vocab * workload.n_vocab
    )
    per_token = timing.decode_seconds / timing.decoded
    return max(0.0, per_token - overhead) / max(1, sum(workload.bytes_per_token.values()))


def fit_coefficients(
    *, threads: int, samples: Sequence[tuple[Workload, LlamaTiming]], one_type: bool = False
) -> SpeedCoefficients:
    """Least-squares costs (none negative) explaining the timings of the calibration models.

    ``one_type``: one cost per byte and per weight for all weight types (a GPU, whose memory
    is fast enough that the kernels of small models cannot tell the types apart).
    """
    kinds = list(MEASURED_TYPES)
    decode_rows, decode_times, prompt_rows, prompt_times = [], [], [], []
    for workload, timing in (_as_one_type(s) if one_type else s for s in samples):
        decode_rows.append(
            [1.0, workload.n_layer, workload.n_vocab]
            + [float(workload.bytes_per_token.get(k, 0)) for k in kinds]
        )
        decode_times.append(timing.decode_seconds / timing.decoded)
        per_prompt = timing.job.prompt_tokens
        prompt_rows.append(
            [1.0, workload.n_layer]
            + [
                workload.weights_per_token.get(k, 0)
                + workload.output_weights.get(k, 0) / per_prompt
                for k in kinds
            ]
        )
        prompt_times.append(timing.prompt_seconds / per_prompt)
    if one_type:  # the one type's column is the only one with values: drop the others
        decode_rows = [row[:4] for row in decode_rows]
        prompt_rows = [row[:3] for row in prompt_rows]
    decode = _nonnegative_least_squares(decode_rows, decode_times)
    prompt = _nonnegative_least_squares(prompt_rows, prompt_times)
    if one_type:
        decode = decode[:3] + [decode[3]] * len(kinds)
        prompt = prompt[:2] + [prompt[2]] * len(kinds)
    return SpeedCoefficients(
        threads=threads,
        decode_fixed=decode[0],
        decode_per_layer=decode[1],
        decode_per_vocab=decode[2],
        decode_per_byte=dict(zip(kinds, decode[3:], strict=True)),
        prompt_fixed=prompt[0],
        prompt_per_layer=prompt[1],
        prompt_per_weight=dict(zip(kinds, prompt[2:], strict=True)),
    )


def _as_one_type(sample: tuple[Workload, LlamaTiming]) -> tuple[Workload, LlamaTiming]:
    workload, timing = sample
    first = MEASURED_TYPES[0]

    def total(amounts: Mapping[str, int]) -> dict[str, int]:
        return {first: sum(amounts.values())}

    return replace(
        workload,
        bytes_per_token=total(workload.bytes_per_token),
        weights_per_token=total(workload.weights_per_token),
        output_weights=total(workload.output_weights),
        output_bytes=total(workload.output_bytes),
    ), timing


def fit_gpu(
    *,
    name: str,
    cpu: SpeedCoefficients,
    full: Sequence[tuple[Workload, LlamaTiming]],
    without_layers: tuple[Workload, LlamaTiming],
) -> GpuSpeed:
    """The GPU's costs: runs with every layer there, and a big model with none there."""
    coefficients = fit_coefficients(threads=cpu.threads, samples=full, one_type=True)
    coefficients = replace(
        coefficients, decode_memory_per_byte=coefficients.decode_per_byte[MEASURED_TYPES[0]]
    )
    # With no layer there, what a prompt costs beyond the rest is sending the weights over.
    workload, timing = without_layers
    tokens = timing.job.prompt_tokens
    forecast = forecast_speed(
        workload=workload,
        profile=[cpu],
        threads=cpu.threads,
        prompt_tokens=tokens,
        gpu=GpuSpeed(name=name, coefficients=coefficients, upload_per_byte=0.0),
        gpu_layers=0,
    )
    assert forecast is not None
    extra = timing.prompt_seconds / tokens - 1 / forecast.prompt_tokens_per_s
    sent = sum(workload.bytes_per_token.values()) / tokens
    return GpuSpeed(name=name, coefficients=coefficients, upload_per_byte=max(0.0, extra / sent))


def _nonnegative_least_squares(rows: list[list[float]], times: list[float]) -> list[float]:
    """Least squares with every coefficient ≥ 0: drop negative ones and solve again.

    Rows are scaled to relative error first, so a 2 ms model counts as much as a 200 ms one.
    """
    matrix = np.asarray(rows, dtype=float)
    target = np.asarray(times, dtype=float)
    weight = 1.0 / np.maximum(target, 1e-9)
    matrix, target = matrix * weight[:, None], target * weight
    scale = np.maximum(np.abs(matrix).max(axis=0), 1e-30)  # columns of bytes vs counts
    active = np.ones(matrix.shape[1], dtype=bool)
    solution = np.zeros(matrix.shape[1])
    for _ in range(matrix.shape[1]):
        solved, *_ = np.linalg.lstsq(matrix[:, active] / scale[active], target, rcond=None)
        solution[:] = 0.0
        solution[active] = solved / scale[active]
        if (solution >= 0).all():
            break
        active &= solution > 0
    return [float(max(0.0, value)) for value in solution]
