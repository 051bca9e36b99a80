"""``autoglm-desktop plan MODEL.gguf``: the load plan for this machine, or for one described.

Without options it uses the live readings. ``--ram-gb``, ``--vram-gb``, ``--gpu`` and
``--cores`` describe another machine (or this one with less), ``--ctx`` fixes the context.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from autoglm_desktop.cli.output import print_error, print_plain
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.engine.build import llama_build, restrict_to_build
from autoglm_desktop.core.machine.hardware import (
    CpuReading,
    GpuReading,
    HardwareSnapshot,
    MemoryReading,
    read_hardware,
)
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.planning.speed_forecast import SpeedForecast
from autoglm_desktop.core.planning.speed_measurement import iter_measure_speed
from autoglm_desktop.core.planning.speed_profile import (
    MachineSpeed,
    load_machine_speed,
    plan_forecast,
)
from autoglm_desktop.core.planning.tuner import PlanOverrides, TunedPlan, plan_for

GIB = 1 << 30
GPU_CHOICES = ("cuda", "metal", "vulkan", "none")
_VENDOR = {"cuda": "nvidia", "metal": "apple", "vulkan": "gpu"}
_LIVE_BACKENDS = {"cuda": ("cuda",), "metal": ("metal",), "vulkan": ("cuda", "rocm", "metal")}
CPU_SAMPLE_SECONDS = 0.5


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = commands.add_parser(
        "plan", help="show the settings a model would load with, its memory and whether it fits"
    )
    plan.add_argument("model", type=Path, help="path of a .gguf model file")
    plan.add_argument("--ram-gb", type=float, help="RAM free for the model, in GB")
    plan.add_argument("--vram-gb", type=float, help="free memory of the GPU, in GB")
    plan.add_argument("--gpu", choices=GPU_CHOICES, help="GPU backend (none: CPU only)")
    plan.add_argument("--cores", type=int, help="idle CPU cores to use")
    plan.add_argument(
        "--ctx", type=int, help="context size in tokens (default: the most that fits)"
    )
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.add_argument(
        "--measure-speed",
        action="store_true",
        help="measure this PC's llama.cpp speed again for the speed forecast (under a minute)",
    )
    plan.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        _check_args(args)
        info = read_gguf_info(args.model)
        live = read_hardware(cpu_interval=CPU_SAMPLE_SECONDS)
        if args.gpu is None and args.vram_gb is None:
            # Live readings: only the GPUs the installed llama.cpp can really use.
            live = restrict_to_build(live, llama_build())
        hardware = described_hardware(
            live,
            ram_gb=args.ram_gb,
            vram_gb=args.vram_gb,
            gpu=args.gpu,
            cores=args.cores,
        )
        tuned = plan_for(info=info, hardware=hardware, overrides=PlanOverrides(n_ctx=args.ctx))
        speed = _machine_speed(live, measure=args.measure_speed or sys.stdout.isatty())
    except (AutoGLMError, ValueError) as exc:
        return print_error(_one_line(str(exc)), command="plan")
    forecast = plan_forecast(info=info, plan=tuned.plan, speed=speed)
    if args.json:
        print(json.dumps(plan_json(tuned, forecast=forecast)))
    else:
        print_plain(plan_text(tuned, forecast=forecast, measured=speed is not None))
    return 0


def _machine_speed(live: HardwareSnapshot, *, measure: bool) -> MachineSpeed | None:
    """The kept speed profile; measured first when asked (or at a terminal, the first time)."""
    kept = load_machine_speed(hardware=live)
    if kept is not None and not measure:
        return kept
    if not measure:
        return None
    print("Measuring this PC's speed for the forecast (kept for next time)...", file=sys.stderr)
    speed = None
    for item in iter_measure_speed(hardware=live):
        if isinstance(item, MachineSpeed):
            speed = item
        else:
            print(f"\r  {item.done} of {item.total}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return speed


def _check_args(args: argparse.Namespace) -> None:
    for name in ("ram_gb", "vram_gb"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be more than 0.")
    if args.cores is not None and args.cores < 1:
        raise ValueError("--cores must be at least 1.")
    if args.ctx is not None and args.ctx < 1:
        raise ValueError("--ctx must be at least 1.")
    if args.vram_gb is not None and args.gpu == "none":
        raise ValueError("--vram-gb needs a GPU; it cannot go with --gpu none.")


def described_hardware(
    live: HardwareSnapshot,
    *,
    ram_gb: float | None = None,
    vram_gb: float | None = None,
    gpu: str | None = None,
    cores: int | None = None,
) -> HardwareSnapshot:
    """The live snapshot with the parts the options describe replaced."""
    memory = live.memory
    if ram_gb is not None:
        ram = int(ram_gb * GIB)
        memory = MemoryReading(
            total_bytes=ram,
            available_bytes=ram,
            swap_total_bytes=0,
            swap_used_bytes=0,
            self_rss_bytes=None,
            engine_rss_bytes=None,
            cgroup=None,
        )
    cpu = live.cpu
    if cores is not None:
        cpu = CpuReading(
            logical_cores=cores,
            physical_cores=cores,
            usable_core_ids=tuple(range(cores)),
            quota_cores=None,
            features=live.cpu.features,
            per_core_load=(0.0,) * cores,
            last_level_cache_bytes=live.cpu.last_level_cache_bytes,
        )
    return dataclasses.replace(
        live, memory=memory, cpu=cpu, gpus=_described_gpus(live.gpus, vram_gb, gpu)
    )


def _described_gpus(
    live: tuple[GpuReading, ...], vram_gb: float | None, backend: str | None
) -> tuple[GpuReading, ...]:
    if backend == "none":
        return ()
    if vram_gb is None:
        if backend is None:
            return live
        chosen = tuple(g for g in live if g.backend in _LIVE_BACKENDS[backend])
        if not chosen:
            raise ValueError(f"No {backend} GPU was found on this computer; give --vram-gb.")
        return chosen
    backend = backend or (live[0].backend if live else "cuda")
    vram = int(vram_gb * GIB)
    return (
        GpuReading(
            index=0,
            name=f"{backend} GPU ({vram_gb:g} GB)",
            vendor=_VENDOR.get(backend, "gpu"),
            backend=backend,
            total_bytes=vram,
            free_bytes=vram,
            used_bytes=0,
            used_by_us_bytes=None,
            unified_memory=backend == "metal",
        ),
    )


def plan_json(tuned: TunedPlan, *, forecast: SpeedForecast | None = None) -> dict[str, Any]:
    plan, estimate = tuned.plan, tuned.estimate
    return {
        "model": str(plan.model_path),
        "n_threads": plan.n_threads,
        "n_threads_batch": plan.n_threads_batch,
        "n_gpu_layers": plan.n_gpu_layers,
        "n_ctx": plan.n_ctx,
        "n_batch": plan.n_batch,
        "n_ubatch": plan.n_ubatch,
        "type_k": plan.type_k,
        "type_v": plan.type_v,
        "flash_attn": plan.flash_attn,
        "use_mmap": plan.use_mmap,
        "use_mlock": plan.use_mlock,
        "use_gpu": plan.use_gpu,
        "ram_bytes": estimate.ram_bytes,
        "ram_required_bytes": estimate.ram_required_bytes,
        # One entry per GPU; a CPU-only plan (GPU hidden because it is full) uses none of them.
        "vram_bytes": list(estimate.vram_bytes) or [0] * len(tuned.budget.gpus),
        "fits": tuned.fits,
        "decode_tokens_per_s": _rounded(forecast.decode_tokens_per_s if forecast else None),
        "prompt_tokens_per_s": _rounded(forecast.prompt_tokens_per_s if forecast else None),
        "explanation": tuned.explanation,
        "reasons": dict(tuned.reasons),
        "budget": {
            "ram_bytes": tuned.budget.ram_bytes,
            "ram_margin_bytes": tuned.budget.ram_margin_bytes,
            "vram_bytes": list(tuned.budget.gpu_bytes),
        },
    }


def plan_text(
    tuned: TunedPlan, *, forecast: SpeedForecast | None = None, measured: bool = False
) -> str:
    plan, estimate = tuned.plan, tuned.estimate
    lines = [
        f"Model:        {plan.model_path.name}",
        f"Fits:         {'yes' if tuned.fits else 'NO'}",
        f"Speed:        {_speed_text(forecast, measured=measured)}",
        f"Threads:      {plan.n_threads} (prompt: {plan.n_threads_batch})",
        f"GPU layers:   {plan.n_gpu_layers} (of {estimate.n_layer + 1}, output layer included)",
        f"Context:      {plan.n_ctx:,} tokens",
        f"Batch:        {plan.n_batch} / micro-batch {plan.n_ubatch}",
        f"KV cache:     K {plan.type_k}, V {plan.type_v}, flash attention "
        f"{'on' if plan.flash_attn else 'off'}",
        f"mmap / mlock: {'on' if plan.use_mmap else 'off'} / {'on' if plan.use_mlock else 'off'}",
        f"RAM:          {_gb(estimate.ram_bytes)} GB resident, {_gb(estimate.ram_required_bytes)}"
        f" GB needed, {_gb(tuned.budget.ram_bytes)} GB usable",
    ]
    for index, (vram, room) in enumerate(
        zip(estimate.vram_bytes, tuned.budget.gpu_bytes, strict=False)
    ):
        lines.append(f"VRAM GPU {index}:   {_gb(vram)} GB, {_gb(room)} GB usable")
    lines += ["", tuned.explanation]
    return "\n".join(lines)


def _speed_text(forecast: SpeedForecast | None, *, measured: bool) -> str:
    if forecast is not None:
        return (
            f"about {forecast.decode_tokens_per_s:.0f} tokens/s writing, "
            f"{forecast.prompt_tokens_per_s:.0f} tokens/s reading the prompt (forecast)"
        )
    if measured:
        return "no forecast for GPU plans yet"
    return "not measured yet (run with --measure-speed)"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _gb(value: int) -> str:
    return f"{value / GIB:.1f}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
