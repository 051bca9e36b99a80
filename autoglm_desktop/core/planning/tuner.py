"""The load plan that fits the machine as it is now, and why.

:func:`plan_for` takes a model's GGUF header and a live :class:`HardwareSnapshot` and chooses
threads, GPU layers, context, batch sizes and KV cache type, in this order of priority:

1. **GPU offload first**: the most layers whose weights, KV cache and buffers fit each GPU at
   the minimum useful context (2,048 tokens, or the trained length if shorter).
2. **Then context**, up to the trained length, the largest multiple of 256 that still fits
   (the KV cache is allocated in 256-cell steps anyway).
3. **KV cache type**: f16, or q8_0 (half the size, near-lossless) with flash attention when
   that offloads more layers or holds more of the trained context than f16 can. A quantized V
   cache needs flash attention, so no plan ever pairs them otherwise.
4. **Micro-batch**: 512 tokens, smaller only when nothing fits otherwise.

Safety margins, kept free on top of the estimate:

* RAM: 10 % of the machine's (or container's) RAM, at least 1 GiB and at most 4 GiB, off what
  is available now (as llama.cpp's ``--fit`` keeps 1 GiB per device). Memory the engine holds
  now counts as available, since it is freed when the engine reloads.
* VRAM: 5 % of each GPU, at least 256 MiB. The GPU runtime context itself (the ~0.45 GiB
  Ollama reserves for CUDA) is part of the estimate, not of the margin.

Threads follow the live CPU load, not the core count: llama.cpp's threads wait for each other
at every step, so one thread that shares its core with another program slows them all (on a
2-core machine with one core busy, 2 threads decode at a third of the speed of 1). A core that
is at least half idle counts (bench/threads.py: with 0.35 cores busy on 2 cores, 2 threads
still decode 18 % faster than 1); decoding uses at most the physical cores. The plan's count is
where the engine starts: unless the user fixed the threads (``adaptive_threads=False``), it
keeps following the load during every reply, up to ``max_threads``
(``core/engine/thread_governor.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.machine.hardware import GpuReading, HardwareSnapshot, idle_cores
from autoglm_desktop.core.models.gguf_info import GGUFInfo
from autoglm_desktop.core.planning.estimate import (
    QUANTIZED_KV_TYPES,
    MemoryEstimate,
    estimate_memory,
    max_gpu_layers,
)

GIB = 1 << 30
MIB = 1 << 20
MIN_CONTEXT = 2048
CONTEXT_STEP = 256
DEFAULT_CONTEXT = 4096  # when the file does not give its trained length
RAM_MARGIN_FRACTION = 0.10
RAM_MARGIN_MIN = 1 * GIB
RAM_MARGIN_MAX = 4 * GIB
KV_STATE_RAM_MAX_BYTES = 512 * MIB  # recent conversations' KV states (see kv_state_ram_budget)
# VRAM kept free per GPU: 5 % of it, but at least 512 MiB and at most 1 GiB (llama.cpp's
# --fit keeps 1 GiB; Ollama about 457 MiB). The estimate is within a few % of NVML's figure,
# so a margin growing with the card (4 GiB on 80 GB) only cost offload, 7.7x decode speed once.
GPU_MARGIN_FRACTION = 0.05
GPU_MARGIN_MIN = 512 * MIB
GPU_MARGIN_MAX = 1 * GIB
IDLE_CORE_THRESHOLD = 0.5  # a core at least this idle counts as free for a thread
DEFAULT_BATCH = 512
MICRO_BATCHES = (512, 256, 128)
KV_TYPES = ("f16", "q8_0")


@dataclass(frozen=True)
class PlanOverrides:
    """Settings the user fixed; ``None`` leaves the setting to the tuner."""

    n_ctx: int | None = None
    n_gpu_layers: int | None = None
    n_threads: int | None = None
    n_threads_batch: int | None = None
    kv_type: str | None = None  # "f16", "q8_0" or "q4_0", for both K and V
    flash_attn: bool | None = None
    n_batch: int | None = None
    n_ubatch: int | None = None
    use_mmap: bool | None = None
    use_mlock: bool | None = None


@dataclass(frozen=True)
class MemoryBudget:
    """What a plan may use: memory available now minus the safety margins."""

    ram_bytes: int  # for the engine process
    ram_available_bytes: int  # available now (plus what the engine holds)
    ram_total_bytes: int
    ram_margin_bytes: int
    gpus: tuple[GpuReading, ...]
    gpu_bytes: tuple[int, ...]  # per GPU, after its margin
    gpu_margin_bytes: tuple[int, ...]


@dataclass(frozen=True)
class TunedPlan:
    plan: LoadPlan
    estimate: MemoryEstimate
    fits: bool
    explanation: str  # plain language, for people
    budget: MemoryBudget
    reasons: dict[str, str] = field(default_factory=dict)  # per setting: why this value


def kv_state_ram_budget(ram_available_bytes: int) -> int:
    """RAM for the KV states of recent conversations: 10 % of what is available, at most 512 MiB."""
    return min(KV_STATE_RAM_MAX_BYTES, ram_available_bytes // 10)


def memory_budget(hardware: HardwareSnapshot) -> MemoryBudget:
    """The RAM and VRAM a new engine may use, from live readings (unknowns count as zero)."""
    memory = hardware.memory
    total = memory.effective_total_bytes or memory.total_bytes or 0
    available = (memory.effective_available_bytes or 0) + (memory.engine_rss_bytes or 0)
    ram_margin = int(min(max(total * RAM_MARGIN_FRACTION, RAM_MARGIN_MIN), RAM_MARGIN_MAX))
    gpus = tuple(g for g in hardware.gpus if (g.total_bytes or 0) > 0)
    margins, budgets = [], []
    for gpu in gpus:
        total_vram = gpu.total_bytes or 0
        margin = int(min(max(total_vram * GPU_MARGIN_FRACTION, GPU_MARGIN_MIN), GPU_MARGIN_MAX))
        free = gpu.free_bytes if gpu.free_bytes is not None else total_vram
        free += gpu.used_by_us_bytes or 0
        margins.append(margin)
        budgets.append(max(0, min(free, total_vram) - margin))
    return MemoryBudget(
        ram_bytes=max(0, available - ram_margin),
        ram_available_bytes=available,
        ram_total_bytes=total,
        ram_margin_bytes=ram_margin,
        gpus=gpus,
        gpu_bytes=tuple(budgets),
        gpu_margin_bytes=tuple(margins),
    )


def fits_budget(estimate: MemoryEstimate, budget: MemoryBudget) -> bool:
    """Whether a plan's estimate stays inside the budget on every device.

    A GPU with unified memory (Apple Silicon) takes its share from the same RAM. An estimate
    with no GPU figures is a CPU-only plan (the GPUs hidden from the engine).
    """
    if not estimate.vram_bytes:
        return estimate.ram_required_bytes <= budget.ram_bytes
    shared = sum(
        vram
        for vram, gpu in zip(estimate.vram_bytes, budget.gpus, strict=True)
        if gpu.unified_memory
    )
    if estimate.ram_required_bytes + shared > budget.ram_bytes:
        return False
    return all(v <= b for v, b in zip(estimate.vram_bytes, budget.gpu_bytes, strict=True))


def thread_ceilings(hardware: HardwareSnapshot) -> tuple[int, int]:
    """Most decode threads (physical cores) and prompt threads (usable logical cores)."""
    cpu = hardware.cpu
    usable = max(1, cpu.usable_cores or 1)
    if cpu.quota_cores is not None:
        usable = max(1, min(usable, math.floor(cpu.quota_cores)))
    return max(1, min(cpu.physical_cores or usable, usable)), usable


def choose_threads(hardware: HardwareSnapshot) -> tuple[int, int, str]:
    """Decode threads, prompt threads and the reason, from the cores idle right now."""
    cpu = hardware.cpu
    physical, usable = thread_ceilings(hardware)
    idle = idle_cores(hardware)
    free = max(1, math.floor(idle + (1 - IDLE_CORE_THRESHOLD)))
    n_threads = min(free, physical)
    n_batch = min(free, usable)
    if cpu.per_core_load is None:
        reason = f"{n_threads} of {usable} cores (CPU load unknown)"
    elif free < usable:
        busy = usable - idle
        reason = (
            f"{n_threads} {_plural(n_threads, 'thread')}: about {busy:.1f} of {usable} cores "
            "are busy with other programs"
        )
    else:
        reason = f"{n_threads} {_plural(n_threads, 'thread')}: all {usable} cores are idle"
    return n_threads, n_batch, reason


def plan_for(
    *,
    info: GGUFInfo,
    hardware: HardwareSnapshot,
    overrides: PlanOverrides | None = None,
    measured_threads: int | None = None,
    model_path: Path | None = None,
) -> TunedPlan:
    """The best plan for ``info``'s model on ``hardware`` now, with its explanation.

    Args:
        info: the model's GGUF header.
        hardware: live readings (``read_hardware``), or a synthetic snapshot.
        overrides: settings the user fixed.
        measured_threads: the best decode thread count measured for this model and load (see
            :mod:`thread_probe`); it replaces the load-based choice unless overridden.
        model_path: the path the plan names (default: ``info.path``).

    Raises:
        ModelFileError: the file does not describe a language model the estimator understands.
    """
    fixed = overrides or PlanOverrides()
    path = model_path or info.path
    tuned = _Search(info, hardware, memory_budget(hardware), fixed, path).run(measured_threads)
    if tuned.fits or fixed.n_gpu_layers or not hardware.gpus:
        return tuned
    if any(gpu.unified_memory for gpu in hardware.gpus):
        return tuned  # Apple Silicon: the GPU's memory is the RAM, hiding it frees nothing
    # Even zero offloaded layers need a compute buffer and the runtime on the GPU. When its
    # memory is too full for that, the CPU alone may still run the model: hide the GPU.
    cpu_only = replace(hardware, gpus=())
    fallback = _Search(info, cpu_only, memory_budget(cpu_only), fixed, path).run(measured_threads)
    if not fallback.fits:
        return tuned
    note = "The GPU's memory is too full right now, so the model runs on the CPU alone. "
    return replace(
        fallback,
        plan=replace(fallback.plan, use_gpu=False),
        explanation=note + fallback.explanation,
        reasons={**fallback.reasons, "n_gpu_layers": note.strip()},
    )


# ----------------------------------------------------------------------------------- search


class _Search:
    def __init__(
        self,
        info: GGUFInfo,
        hardware: HardwareSnapshot,
        budget: MemoryBudget,
        fixed: PlanOverrides,
        model_path: Path,
    ) -> None:
        self.info = info
        self.hardware = hardware
        self.budget = budget
        self.fixed = fixed
        self.model_path = model_path
        self.trained_ctx = info.n_ctx_train or DEFAULT_CONTEXT
        self.max_ctx = max(1, fixed.n_ctx or self.trained_ctx)
        # A context the user fixed is taken as it is: it fits, or the plan says it does not.
        self.min_ctx = fixed.n_ctx or min(MIN_CONTEXT, self.max_ctx)
        self.flash_attn = True if fixed.flash_attn is None else fixed.flash_attn
        self.max_layers = max_gpu_layers(info)

    # -- evaluation ---------------------------------------------------------------------

    def estimate(self, plan: LoadPlan) -> MemoryEstimate:
        return estimate_memory(
            info=self.info,
            plan=plan,
            gpus=self.budget.gpus,
            cpu_features=self.hardware.cpu.features,
        )

    def fits(self, plan: LoadPlan) -> bool:
        return fits_budget(self.estimate(plan), self.budget)

    def plan(self, *, n_ctx: int, n_gpu_layers: int, kv_type: str, n_ubatch: int) -> LoadPlan:
        n_batch = self.fixed.n_batch or max(DEFAULT_BATCH, n_ubatch)
        return LoadPlan(
            model_path=self.model_path,
            n_ctx=n_ctx,
            n_gpu_layers=n_gpu_layers,
            n_batch=n_batch,
            n_ubatch=min(n_ubatch, n_batch),
            type_k=kv_type,
            type_v=kv_type,
            flash_attn=self.flash_attn,
            use_mmap=True if self.fixed.use_mmap is None else self.fixed.use_mmap,
            use_mlock=bool(self.fixed.use_mlock),
            # Threads the user set stay as set; otherwise the engine follows the load.
            adaptive_threads=self.fixed.n_threads is None and self.fixed.n_threads_batch is None,
            max_threads=thread_ceilings(self.hardware)[0],
            kv_cache_ram_bytes=kv_state_ram_budget(self.budget.ram_available_bytes),
        )

    # -- choices ------------------------------------------------------------------------

    def kv_types(self) -> tuple[str, ...]:
        if self.fixed.kv_type is not None:
            kv = self.fixed.kv_type
            if kv in QUANTIZED_KV_TYPES and not self.flash_attn:
                return ("f16",)  # a quantized V cache needs flash attention
            return (kv,)
        return KV_TYPES if self.flash_attn else ("f16",)

    def micro_batches(self) -> tuple[int, ...]:
        if self.fixed.n_ubatch is not None:
            return (self.fixed.n_ubatch,)
        return MICRO_BATCHES

    def gpu_layer_candidates(self) -> range:
        if self.fixed.n_gpu_layers is not None:
            value = max(0, min(self.fixed.n_gpu_layers, self.max_layers))
            return range(value, value - 1, -1)
        if not self.budget.gpus:
            return range(0, -1, -1)
        return range(self.max_layers, -1, -1)

    def most_layers(self, kv_type: str, n_ubatch: int) -> int | None:
        """The most GPU layers that fit at the minimum context (None: not even on the CPU)."""
        for layers in self.gpu_layer_candidates():
            plan = self.plan(
                n_ctx=self.min_ctx, n_gpu_layers=layers, kv_type=kv_type, n_ubatch=n_ubatch
            )
            if self.fits(plan):
                return layers
        return None

    def most_layers_in_vram(self, kv_type: str, n_ubatch: int) -> int:
        """The most GPU layers whose VRAM fits at the minimum context, RAM aside (else the least).

        For a plan that does not fit: all layers on a GPU that is nearly full would run out of
        VRAM on loading, and none on the GPU would need more RAM than the plan that fits best.
        """
        candidates = list(self.gpu_layer_candidates())
        for layers in candidates:
            plan = self.plan(
                n_ctx=self.min_ctx, n_gpu_layers=layers, kv_type=kv_type, n_ubatch=n_ubatch
            )
            vram = self.estimate(plan).vram_bytes
            if all(v <= b for v, b in zip(vram, self.budget.gpu_bytes, strict=True)):
                return layers
        return candidates[-1]

    def longest_context(self, layers: int, kv_type: str, n_ubatch: int) -> int | None:
        """The largest context in 256-token steps (or the maximum itself) that fits."""

        def fits(n_ctx: int) -> bool:
            plan = self.plan(n_ctx=n_ctx, n_gpu_layers=layers, kv_type=kv_type, n_ubatch=n_ubatch)
            return self.fits(plan)

        if fits(self.max_ctx):
            return self.max_ctx
        if not fits(self.min_ctx):
            return None
        return _largest(self.min_ctx, self.max_ctx, fits)

    def run(self, measured_threads: int | None) -> TunedPlan:
        n_threads, n_threads_batch, thread_reason = self.threads(measured_threads)
        found = [
            chosen
            for n_ubatch in self.micro_batches()
            if (chosen := self.best_for_batch(n_ubatch)) is not None
        ]
        if not found:
            return self.not_fitting(n_threads, n_threads_batch, thread_reason)
        # Most layers first, then most context, then the larger micro-batch: every plan that
        # fits a machine fits one with more memory, so more memory never gives less of either.
        (layers, n_ctx, kv_type, n_ubatch), kv_note = max(
            found, key=lambda chosen: (chosen[0][0], chosen[0][1], chosen[0][3])
        )
        plan = replace(
            self.plan(n_ctx=n_ctx, n_gpu_layers=layers, kv_type=kv_type, n_ubatch=n_ubatch),
            n_threads=n_threads,
            n_threads_batch=n_threads_batch,
        )
        estimate = self.estimate(plan)
        reasons = {
            "n_threads": thread_reason,
            "n_gpu_layers": self.layers_reason(estimate),
            "n_ctx": self.context_reason(n_ctx),
            "kv_cache": kv_note or f"{kv_type} KV cache",
        }
        return TunedPlan(
            plan=plan,
            estimate=estimate,
            fits=True,
            explanation=self.explain(plan, estimate, reasons, fits=True),
            budget=self.budget,
            reasons=reasons,
        )

    def best_for_batch(self, n_ubatch: int) -> tuple[tuple[int, int, str, int], str] | None:
        found: dict[str, tuple[int, int]] = {}
        for kv_type in self.kv_types():
            layers = self.most_layers(kv_type, n_ubatch)
            if layers is None:
                continue
            n_ctx = self.longest_context(layers, kv_type, n_ubatch)
            if n_ctx is not None:
                found[kv_type] = (layers, n_ctx)
        if not found:
            return None
        kv_type, note = self.pick_kv_type(found)
        layers, n_ctx = found[kv_type]
        return (layers, n_ctx, kv_type, n_ubatch), note

    def pick_kv_type(self, found: dict[str, tuple[int, int]]) -> tuple[str, str]:
        """f16 unless q8_0 offloads more layers or holds more of the context f16 cannot.

        The rule only ever moves to q8_0 when memory is short, so more memory never yields
        less context through it.
        """
        if "f16" not in found or "q8_0" not in found:
            kv_type = next(iter(found))
            return kv_type, f"{kv_type} KV cache"
        f16_layers, f16_ctx = found["f16"]
        q8_layers, q8_ctx = found["q8_0"]
        if q8_layers > f16_layers:
            return "q8_0", "q8_0 KV cache with flash attention: it lets more layers on the GPU"
        if f16_ctx < self.max_ctx and q8_ctx > f16_ctx:
            return "q8_0", (
                f"q8_0 KV cache with flash attention: {q8_ctx:,} tokens of context instead of "
                f"{f16_ctx:,} with f16"
            )
        return "f16", "f16 KV cache: the context fits without quantizing it"

    def not_fitting(self, n_threads: int, n_threads_batch: int, thread_reason: str) -> TunedPlan:
        """The smallest plan, marked as not fitting, with what it would need."""
        kv_type = self.kv_types()[-1]
        n_ubatch = self.micro_batches()[-1]
        layers = self.most_layers_in_vram(kv_type, n_ubatch)
        plan = replace(
            self.plan(n_ctx=self.min_ctx, n_gpu_layers=layers, kv_type=kv_type, n_ubatch=n_ubatch),
            n_threads=n_threads,
            n_threads_batch=n_threads_batch,
        )
        estimate = self.estimate(plan)
        reasons = {
            "n_threads": thread_reason,
            "n_gpu_layers": self.layers_reason(estimate),
            "n_ctx": f"{self.min_ctx:,} tokens, the smallest useful context, does not fit",
            "kv_cache": f"{kv_type} KV cache",
        }
        return TunedPlan(
            plan=plan,
            estimate=estimate,
            fits=False,
            explanation=self.explain(plan, estimate, reasons, fits=False),
            budget=self.budget,
            reasons=reasons,
        )

    def threads(self, measured: int | None) -> tuple[int, int, str]:
        n_threads, n_threads_batch, reason = choose_threads(self.hardware)
        if measured is not None and measured > 0:
            n_threads = measured
            reason = f"{measured} {_plural(measured, 'thread')}: fastest when measured"
        if self.fixed.n_threads is not None:
            n_threads = self.fixed.n_threads
            reason = f"{n_threads} {_plural(n_threads, 'thread')} (set by you)"
        if self.fixed.n_threads_batch is not None:
            n_threads_batch = self.fixed.n_threads_batch
        return n_threads, max(n_threads_batch, 1), reason

    # -- words --------------------------------------------------------------------------

    def layers_reason(self, estimate: MemoryEstimate) -> str:
        n_layer = estimate.n_layer
        if not self.budget.gpus:
            return f"all {n_layer} layers on the CPU (no GPU)"
        if estimate.fully_offloaded:
            return f"all {n_layer} layers on the GPU"
        if estimate.gpu_layers == 0 and not estimate.output_on_gpu:
            return f"all {n_layer} layers on the CPU (none fit on the GPU)"
        return (
            f"{estimate.gpu_layers} of {n_layer} layers on the GPU, the rest on the CPU "
            "(more do not fit)"
        )

    def context_reason(self, n_ctx: int) -> str:
        if self.fixed.n_ctx is not None and n_ctx == self.max_ctx:
            return f"{n_ctx:,}-token context (set by you)"
        if n_ctx >= self.trained_ctx:
            return f"{n_ctx:,}-token context, the most the model was trained for"
        if n_ctx >= self.max_ctx:
            return f"{n_ctx:,}-token context"
        return f"{n_ctx:,}-token context (a longer one does not fit in memory)"

    def explain(
        self, plan: LoadPlan, estimate: MemoryEstimate, reasons: dict[str, str], *, fits: bool
    ) -> str:
        budget = self.budget
        memory = []
        for index, (vram, gpu) in enumerate(zip(estimate.vram_bytes, budget.gpus, strict=True)):
            label = "VRAM" if len(budget.gpus) == 1 else f"VRAM on GPU {index}"
            memory.append(f"{_gb(vram)} of {_gb(gpu.total_bytes or 0)} GB {label}")
        ram = f"{_gb(estimate.ram_bytes)} GB RAM"
        cache = estimate.ram_bytes - estimate.ram_required_bytes
        if cache > estimate.ram_bytes // 20:
            ram += f" ({_gb(cache)} GB of it file cache the system can reclaim)"
        memory.append(ram)
        kv = reasons["kv_cache"].split(":")[0]
        text = (
            f"{_capital(reasons['n_gpu_layers'])}, {reasons['n_ctx']}, {kv}, "
            f"{reasons['n_threads']}. Uses {', '.join(memory)}."
        )
        if fits:
            return text
        need = estimate.ram_required_bytes
        shortfalls = []
        if need > budget.ram_bytes:
            shortfalls.append(
                f"it needs {_gb(need)} GB of RAM but {_gb(budget.ram_available_bytes)} GB is "
                f"available and {_gb(budget.ram_margin_bytes)} GB is kept free"
            )
        for vram, room, gpu in zip(estimate.vram_bytes, budget.gpu_bytes, budget.gpus, strict=True):
            if vram > room:
                shortfalls.append(f"{gpu.name} has room for {_gb(room)} GB, not {_gb(vram)} GB")
        why = "; ".join(shortfalls) or "it does not fit the memory available"
        return (
            f"Does not fit: even a {plan.n_ctx:,}-token context is too much ({why}). "
            f"Close other programs or choose a smaller model. Smallest plan: {text}"
        )


def _largest(low: int, high: int, fits: Callable[[int], bool]) -> int:
    """The largest multiple of CONTEXT_STEP in [low, high) that fits, given ``fits(low)``."""
    lo = low
    hi = high  # known not to fit
    while True:
        candidate = (lo + hi) // 2 // CONTEXT_STEP * CONTEXT_STEP
        if candidate <= lo:
            return lo
        if fits(candidate):
            lo = candidate
        else:
            hi = candidate


def _gb(value: int) -> str:
    return f"{value / GIB:.1f}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
