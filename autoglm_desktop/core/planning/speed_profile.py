"""This PC's measured llama.cpp speed, kept in the cache folder, and forecasts from it.

:mod:`speed_measurement` measures it (a few minutes, in a child process) and saves it here as
``speed_profile.json``, tied to the CPU, the core count and the llama.cpp build; everything
else only reads it. This module stays light (no numpy, no gguf writer): the window imports it.
"""

from __future__ import annotations

import importlib.metadata
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.settings_file import read_json_object, write_json_object
from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.machine.hardware import HardwareSnapshot
from autoglm_desktop.core.models.gguf_info import GGUFInfo
from autoglm_desktop.core.planning.speed_forecast import (
    GpuSpeed,
    SpeedCoefficients,
    SpeedForecast,
    forecast_speed,
    workload_of,
)

PROFILE_FILE = "speed_profile.json"
# 12: the last-level cache's share of a small model's reads, and a byte's cost from there;
# 11: a prompt's cost per row of each type, from narrow models of every type, and each type's
# factor 2048 wide, from the stream models' prompts; the output matrix's own cost per byte;
# every job in turns; 10: a prompt width factor for wide models above two threads; 9: the
# GPU's turns spread over the measurement, offload from three split models; 8: a GPU counts
# layers as CUDA graphs do; 7: offload cost per CPU layer; 6: prompts on big models; 5: width
# factors
PROFILE_VERSION = 12


@dataclass(frozen=True)
class MachineSpeed:
    machine: str  # what the profile is valid for (CPU, cores, llama.cpp build)
    measured_at: float  # time.time()
    coefficients: tuple[SpeedCoefficients, ...]  # one per measured thread count
    gpu: GpuSpeed | None = None  # None: measured without a GPU llama.cpp can use


def machine_key(hardware: HardwareSnapshot) -> str:
    """What a profile is valid for: another CPU, core count or llama.cpp build measures again."""
    try:
        build = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        build = "unknown"
    return "|".join(
        [
            _cpu_name(),
            hardware.machine,
            str(hardware.cpu.usable_cores),
            f"llama-cpp-python {build}",
        ]
    )


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown CPU"


def plan_forecast(
    *, info: GGUFInfo, plan: LoadPlan, speed: MachineSpeed | None
) -> SpeedForecast | None:
    """The speed ``plan`` will give on this PC; None when unmeasured or partly on a GPU."""
    if speed is None:
        return None
    gpu = speed.gpu if plan.use_gpu else None
    if plan.use_gpu and plan.n_gpu_layers > 0 and gpu is None:
        return None  # measured without the GPU this plan uses
    threads = plan.n_threads or max(c.threads for c in speed.coefficients)
    return forecast_speed(
        workload=workload_of(info),
        profile=speed.coefficients,
        threads=threads,
        threads_batch=plan.n_threads_batch or threads,
        gpu=gpu,
        gpu_layers=plan.n_gpu_layers,
    )


# ------------------------------------------------------------------------------- the cache


def load_machine_speed(*, hardware: HardwareSnapshot) -> MachineSpeed | None:
    """The kept profile when it was measured on this machine and build, else None."""
    speed = read_machine_speed(paths.cache_dir() / PROFILE_FILE)
    return speed if speed is not None and speed.machine == machine_key(hardware) else None


def read_machine_speed(path: Path, *, any_version: bool = False) -> MachineSpeed | None:
    """The profile kept in ``path`` (any machine's), or None when absent, old or damaged.

    ``any_version``: also an older version's with the same fields (to study it, not to use).
    """
    data = read_json_object(path)
    if data.get("version") != PROFILE_VERSION and not any_version:
        return None
    try:
        coefficients = tuple(_coefficients_from(entry) for entry in data["coefficients"])
        gpu = data.get("gpu")
        return MachineSpeed(
            machine=str(data["machine"]),
            measured_at=float(data["measured_at"]),
            coefficients=coefficients,
            gpu=None
            if gpu is None
            else GpuSpeed(
                name=str(gpu["name"]),
                coefficients=_coefficients_from(gpu["coefficients"]),
                upload_per_byte=float(gpu["upload_per_byte"]),
                offload_per_layer=float(gpu["offload_per_layer"]),
            ),
        )
    except (KeyError, TypeError, ValueError):
        return None


_kept: dict[tuple[str, int], MachineSpeed | None] = {}


def kept_machine_speed(*, hardware: HardwareSnapshot) -> MachineSpeed | None:
    """:func:`load_machine_speed`, read again only when the file changed (for many verdicts)."""
    path = paths.cache_dir() / PROFILE_FILE
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    key = (str(path), stamp)
    if key not in _kept:
        _kept.clear()
        _kept[key] = load_machine_speed(hardware=hardware)
    return _kept[key]


def save_machine_speed(speed: MachineSpeed) -> None:
    write_json_object(
        paths.cache_dir() / PROFILE_FILE,
        {
            "version": PROFILE_VERSION,
            "machine": speed.machine,
            "measured_at": speed.measured_at,
            "coefficients": [asdict(c) for c in speed.coefficients],
            "gpu": asdict(speed.gpu) if speed.gpu else None,
        },
    )


def _coefficients_from(entry: Any) -> SpeedCoefficients:
    return SpeedCoefficients(
        threads=int(entry["threads"]),
        decode_fixed=float(entry["decode_fixed"]),
        decode_per_layer=float(entry["decode_per_layer"]),
        decode_per_vocab=float(entry["decode_per_vocab"]),
        decode_per_byte={str(k): float(v) for k, v in entry["decode_per_byte"].items()},
        prompt_fixed=float(entry["prompt_fixed"]),
        prompt_per_layer=float(entry["prompt_per_layer"]),
        prompt_per_weight={str(k): float(v) for k, v in entry["prompt_per_weight"].items()},
        prompt_per_row={str(k): float(v) for k, v in entry.get("prompt_per_row", {}).items()},
        decode_per_shared_kv_layer=float(entry["decode_per_shared_kv_layer"]),
        decode_per_row=float(entry.get("decode_per_row", 0.0)),
        prompt_per_shared_kv_layer=float(entry["prompt_per_shared_kv_layer"]),
        decode_width_factors=_factors_from(entry.get("decode_width_factors", {})),
        prompt_width_factors=_factors_from(entry.get("prompt_width_factors", {})),
        decode_output_factor=float(entry.get("decode_output_factor", 1.0)),
        cache_bytes=int(entry.get("cache_bytes", 0)),
        decode_cached_factor=float(entry.get("decode_cached_factor", 1.0)),
        prompt_type_width_factors={
            str(kind): _factors_from(factors)
            for kind, factors in entry.get("prompt_type_width_factors", {}).items()
        },
    )


def _factors_from(entry: Any) -> dict[int, float]:
    return {int(width): float(factor) for width, factor in entry.items()}
