"""Will a model file run on this PC? A verdict per file from its size and the live memory readings.

Files on the hub are judged by :func:`estimate_fit` from their size alone (weights ≈ file size;
the KV cache and compute buffers from a parameter count guessed from size and quantization),
since their GGUF header is not at hand before the download. Files on disk are judged by
:func:`estimate_local_fit`, which asks the auto-tuner's memory estimator. Both give a
:class:`FitEstimate`, so callers show either the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from autoglm_desktop.core.hardware import HardwareSnapshot, read_hardware
from autoglm_desktop.core.quant import quant_bits

_MIB = 1 << 20
_GIB = 1 << 30
DEFAULT_MAX_CONTEXT = 8192
MIN_CONTEXT = 2048
_CONTEXT_STEPS = (131072, 65536, 32768, 16384, 8192, 4096, 2048)
_FALLBACK_BITS = 4.9  # a file without a recognizable label: about Q4_K_M
# Headroom left to the rest of the system and to allocation slack.
_RAM_USABLE_FRACTION = 0.85
_VRAM_USABLE_FRACTION = 0.92
_VRAM_RESERVE = 300 * _MIB  # CUDA/ROCm context and driver buffers
_UNIFIED_GPU_FRACTION = 0.70  # macOS lets Metal wire about this much of unified memory
_MIN_USEFUL_VRAM = 1 * _GIB  # below this, offloading a few layers is not worth it


class FitVerdict(str, enum.Enum):
    GPU = "gpu"
    PARTIAL = "partial"
    CPU = "cpu"
    TOO_BIG = "too_big"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def rank(self) -> int:
        """0 for the best verdict (all on the GPU), 3 for too big."""
        return list(FitVerdict).index(self)


_LABELS = {
    FitVerdict.GPU: "Fits on GPU",
    FitVerdict.PARTIAL: "Fits with partial GPU offload",
    FitVerdict.CPU: "Fits in RAM (CPU only)",
    FitVerdict.TOO_BIG: "Too big for this PC",
}


@dataclass(frozen=True)
class MemoryBudget:
    """What a model may use on this PC right now."""

    ram_available_bytes: int
    vram_free_bytes: int  # on the GPU with the most free memory; 0 without a usable GPU
    gpu_name: str | None = None
    unified_memory: bool = False  # the GPU shares system RAM (Apple Silicon)

    @classmethod
    def from_snapshot(cls, snapshot: HardwareSnapshot, *, gpu_offload: bool = True) -> MemoryBudget:
        """The budget from live readings; ``gpu_offload=False`` for a CPU-only llama.cpp build."""
        memory = snapshot.memory
        ram = memory.effective_available_bytes
        if ram is None:
            ram = (memory.effective_total_bytes or 0) // 2
        gpus = [g for g in snapshot.gpus if g.free_bytes] if gpu_offload else []
        if not gpus:
            return cls(ram_available_bytes=ram, vram_free_bytes=0)
        best = max(gpus, key=lambda g: g.free_bytes or 0)
        return cls(
            ram_available_bytes=ram,
            vram_free_bytes=best.free_bytes or 0,
            gpu_name=best.name,
            unified_memory=best.unified_memory,
        )


def current_budget(*, gpu_offload: bool = True) -> MemoryBudget:
    """The budget from a fresh hardware reading (a few milliseconds)."""
    return MemoryBudget.from_snapshot(read_hardware(), gpu_offload=gpu_offload)


@dataclass(frozen=True)
class FitEstimate:
    verdict: FitVerdict
    context_tokens: int  # the context the estimate is for: the largest that keeps the verdict
    total_bytes: int  # weights + KV cache + buffers at that context
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    gpu_fraction: float  # share of the model on the GPU: 1.0 on GPU, 0.0 on CPU
    method: str = "file-size heuristic"

    @property
    def label(self) -> str:
        return self.verdict.label


def estimate_fit(
    *,
    file_bytes: int,
    quant: str | None,
    budget: MemoryBudget,
    max_context: int | None = None,
) -> FitEstimate:
    """The fit verdict of a model file of ``file_bytes`` for ``budget``.

    The context tried is the largest step up to ``max_context`` (default 8192) that keeps the
    best verdict reachable at the minimum context of 2048 tokens.
    """
    max_context = max(MIN_CONTEXT, max_context or DEFAULT_MAX_CONTEXT)
    shape = _ModelShape.guess(file_bytes, quant)
    steps = [c for c in _CONTEXT_STEPS if c <= max_context] or [MIN_CONTEXT]
    if max_context not in steps:
        steps.insert(0, max_context)
    ram = int(budget.ram_available_bytes * _RAM_USABLE_FRACTION)
    vram = _usable_vram(budget)
    floor = _verdict(shape.total(MIN_CONTEXT), ram=ram, vram=vram)
    context = MIN_CONTEXT
    if floor is not FitVerdict.TOO_BIG:
        context = next(
            (c for c in steps if _verdict(shape.total(c), ram=ram, vram=vram).rank <= floor.rank),
            MIN_CONTEXT,
        )
    total = shape.total(context)
    gpu_fraction = {FitVerdict.GPU: 1.0, FitVerdict.PARTIAL: min(1.0, vram / total)}
    return FitEstimate(
        verdict=floor,
        context_tokens=context,
        total_bytes=total,
        weights_bytes=file_bytes,
        kv_cache_bytes=shape.kv_bytes(context),
        overhead_bytes=shape.overhead,
        gpu_fraction=gpu_fraction.get(floor, 0.0),
    )


def _usable_vram(budget: MemoryBudget) -> int:
    if budget.vram_free_bytes <= 0:
        return 0
    if budget.unified_memory:
        return int(min(budget.vram_free_bytes, budget.ram_available_bytes) * _UNIFIED_GPU_FRACTION)
    return max(0, int(budget.vram_free_bytes * _VRAM_USABLE_FRACTION) - _VRAM_RESERVE)


def _verdict(total: int, *, ram: int, vram: int) -> FitVerdict:
    if vram > 0 and total <= vram:
        return FitVerdict.GPU
    if vram >= _MIN_USEFUL_VRAM and total <= vram + ram:
        return FitVerdict.PARTIAL
    if total <= ram:
        return FitVerdict.CPU
    return FitVerdict.TOO_BIG


@dataclass(frozen=True)
class _ModelShape:
    """What a file size says about a model: its weights and a guess of its KV width."""

    weights: int
    kv_bytes_per_token: int
    overhead: int

    @classmethod
    def guess(cls, file_bytes: int, quant: str | None) -> _ModelShape:
        bits = quant_bits(quant) or _FALLBACK_BITS
        params_billions = file_bytes * 8 / bits / 1e9
        # f16 K+V bytes per token of common GQA models grow sublinearly with size:
        # Qwen2.5-0.5B 12 KiB, Llama-3.2-1B 32 KiB, 3B 112 KiB, 8B 128 KiB, 70B 320 KiB.
        # 48 KiB * P^0.6 sits at or above those for small models, where it matters most.
        kv_per_token = max(8 * 1024, int(48 * 1024 * params_billions**0.6))
        # Compute buffers and logits: about 200 MiB plus a few percent of the weights.
        overhead = 200 * _MIB + file_bytes // 20
        return cls(weights=file_bytes, kv_bytes_per_token=kv_per_token, overhead=overhead)

    def kv_bytes(self, context: int) -> int:
        return self.kv_bytes_per_token * context

    def total(self, context: int) -> int:
        return self.weights + self.kv_bytes(context) + self.overhead


def estimate_local_fit(path: Path, *, hardware: HardwareSnapshot | None = None) -> FitEstimate:
    """The fit verdict of a GGUF file on disk, from its header and the memory estimator.

    This is the auto-tuner's own answer (:func:`tuner.plan_for`): the plan it would load the
    model with now, and whether that plan fits.

    Raises:
        ModelFileError: the file is missing, unreadable or not a model the estimator understands.
    """
    from autoglm_desktop.core.gguf_info import read_gguf_info
    from autoglm_desktop.core.tuner import plan_for

    tuned = plan_for(info=read_gguf_info(path), hardware=hardware or read_hardware())
    estimate = tuned.estimate
    if not tuned.fits:
        verdict = FitVerdict.TOO_BIG
    elif estimate.fully_offloaded:
        verdict = FitVerdict.GPU
    elif estimate.gpu_layers > 0:
        verdict = FitVerdict.PARTIAL
    else:
        verdict = FitVerdict.CPU
    total = estimate.ram_bytes + sum(estimate.vram_bytes)
    weights = estimate.ram.weights + sum(g.weights for g in estimate.gpus)
    return FitEstimate(
        verdict=verdict,
        context_tokens=tuned.plan.n_ctx,
        total_bytes=total,
        weights_bytes=weights,
        kv_cache_bytes=estimate.kv_cache_bytes,
        overhead_bytes=max(0, total - estimate.kv_cache_bytes - weights),
        gpu_fraction=estimate.gpu_layers / estimate.n_layer if estimate.n_layer else 0.0,
        method="memory estimator",
    )
