"""Synthetic hardware snapshots: chosen free RAM, GPUs and CPU load, for planning tests."""

from __future__ import annotations

import time

from autoglm_desktop.core.machine.hardware import (
    CpuReading,
    GpuReading,
    HardwareSnapshot,
    MemoryReading,
)

GIB = 1 << 30


def snapshot(
    *,
    ram_gib: float,
    vram_gib: tuple[float, ...] = (),
    cores: int = 4,
    busy: tuple[float, ...] | None = None,
    unified: bool = False,
    gpus: tuple[GpuReading, ...] | None = None,
) -> HardwareSnapshot:
    """A Linux x86-64 machine with ``ram_gib`` free; one idle GPU per ``vram_gib`` entry.

    ``gpus`` replaces the GPUs built from ``vram_gib`` where a test needs particular cards.
    """
    ram = int(ram_gib * GIB)
    memory = MemoryReading(
        total_bytes=max(ram, 8 * GIB),
        available_bytes=ram,
        swap_total_bytes=0,
        swap_used_bytes=0,
        self_rss_bytes=None,
        engine_rss_bytes=None,
        cgroup=None,
    )
    cpu = CpuReading(
        logical_cores=cores,
        physical_cores=cores,
        usable_core_ids=tuple(range(cores)),
        quota_cores=None,
        features=frozenset({"avx", "avx2", "fma"}),
        per_core_load=busy if busy is not None else (0.0,) * cores,
    )
    if gpus is None:
        gpus = tuple(
            GpuReading(
                index=i,
                name=f"GPU {i}",
                vendor="apple" if unified else "nvidia",
                backend="metal" if unified else "cuda",
                total_bytes=int(size * GIB),
                free_bytes=int(size * GIB),
                used_bytes=0,
                used_by_us_bytes=None,
                unified_memory=unified,
            )
            for i, size in enumerate(vram_gib)
        )
    return HardwareSnapshot(
        taken_at=time.time(),
        system="Linux",
        machine="x86_64",
        memory=memory,
        cpu=cpu,
        gpus=gpus,
        gpus_probed=True,
    )
