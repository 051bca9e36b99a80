"""Which GPU backends the installed llama.cpp has, and planning only for GPUs it can use."""

from __future__ import annotations

from pathlib import Path

from fake_hardware import snapshot

from autoglm_desktop.core.engine.build import (
    LlamaBuild,
    cached_llama_build,
    llama_build,
    restrict_to_build,
)
from autoglm_desktop.core.machine.hardware import GpuReading, HardwareSnapshot

CUDA = LlamaBuild(version="x", backends=("CUDA", "CPU"), gpu_offload=True)
VULKAN = LlamaBuild(version="x", backends=("Vulkan", "CPU"), gpu_offload=True)
CPU = LlamaBuild(version="x", backends=("CPU",), gpu_offload=False)


def gpu(vendor: str, backend: str) -> GpuReading:
    return GpuReading(
        index=0,
        name=f"{vendor} card",
        vendor=vendor,
        backend=backend,
        total_bytes=8 << 30,
        free_bytes=8 << 30,
        used_bytes=0,
        used_by_us_bytes=None,
    )


def machine(*gpus: GpuReading) -> HardwareSnapshot:
    return snapshot(ram_gib=12, gpus=gpus)


def test_the_installed_build_is_probed_and_remembered(tmp_path: Path) -> None:
    cache = tmp_path / "build.json"
    assert cached_llama_build(cache=cache) is None
    build = llama_build(cache=cache)
    assert "CPU" in build.backends and build.version == "0.3.36"
    assert cached_llama_build(cache=cache) == build


def test_a_cpu_build_plans_no_gpu_even_with_an_nvidia_card() -> None:
    hardware = machine(gpu("nvidia", "cuda"))
    assert restrict_to_build(hardware, CPU).gpus == ()
    assert restrict_to_build(hardware, CUDA).gpus == hardware.gpus


def test_vulkan_drives_cards_of_any_vendor_but_cuda_only_nvidia() -> None:
    amd, nvidia = gpu("amd", "rocm"), gpu("nvidia", "cuda")
    assert restrict_to_build(machine(amd, nvidia), VULKAN).gpus == (amd, nvidia)
    assert restrict_to_build(machine(amd, nvidia), CUDA).gpus == (nvidia,)
