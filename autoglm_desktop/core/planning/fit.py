"""Will a model file run on this PC? A verdict per file from its size and the live memory readings.

Files on disk are judged by :func:`estimate_local_fit`, which asks the auto-tuner's memory
estimator. Files on the hub are judged the same way from their GGUF header, read over HTTP Range
requests before any download (:func:`estimate_remote_fit`, :func:`estimate_repo_fits`, and
:mod:`remote_gguf`). When a header cannot be read (offline, no network, gated, damaged, an
architecture the estimator does not know), :func:`estimate_fit` judges from the file size alone
(weights ≈ file size; KV cache and buffers from a parameter count guessed from size and
quantization), and the estimate says so (``method``, ``fallback_reason``). All give a
:class:`FitEstimate`, so callers show any of them the same way.

Cost on the network: a header is 2-8 MiB to fetch (nearly all of it the tokenizer, the same in
every quantization of a model), so :func:`estimate_repo_fits` fetches one whole header per model
family of a repository and only the tensor table of the other quantizations (about 150 KB
each). For the nine quantizations of Gemma 3 270M that is 9.5 MB instead of 75, for SmolLM2 135M
3.3 MB instead of 19, and the verdicts, contexts and memory figures are those of the files'
own headers; a second opening of the repository transfers nothing (the headers are cached).
The size heuristic agreed with the estimator's verdict in only 43-60 % of the machines and files
measured, hence the trouble.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autoglm_desktop.core.common.errors import HubError, HubNotFoundError, ModelFileError
from autoglm_desktop.core.engine.build import usable_hardware
from autoglm_desktop.core.hub.client import RemoteModel, RepoDetail
from autoglm_desktop.core.hub.remote_gguf import (
    TransferStats,
    cached_model_info,
    fetch_model_info,
    fetch_sibling_info,
    scale_to_sibling,
)
from autoglm_desktop.core.hub.source_client import SourceClient
from autoglm_desktop.core.machine.hardware import HardwareSnapshot
from autoglm_desktop.core.models.gguf_info import GGUFInfo, read_gguf_info
from autoglm_desktop.core.models.quant import PREFERRED_QUANT, quant_bits
from autoglm_desktop.core.planning.speed_forecast import SpeedForecast
from autoglm_desktop.core.planning.speed_profile import kept_machine_speed, plan_forecast
from autoglm_desktop.core.planning.tuner import plan_for

log = logging.getLogger(__name__)

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

# How a FitEstimate was made (shown to people: "Estimated from %1.").
METHOD_ESTIMATOR = "memory estimator"
METHOD_SCALED = "memory estimator, with layer sizes scaled from another quantization's header"
METHOD_SIZE = "file-size heuristic"
# Header fetches per model family when a file's own header is bad (damaged, missing).
_FETCHES_PER_FAMILY = 2


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
    return MemoryBudget.from_snapshot(usable_hardware(), gpu_offload=gpu_offload)


@dataclass(frozen=True)
class FitEstimate:
    verdict: FitVerdict
    context_tokens: int  # the context the estimate is for: the largest that keeps the verdict
    total_bytes: int  # weights + KV cache + buffers at that context
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    gpu_fraction: float  # share of the model on the GPU: 1.0 on GPU, 0.0 on CPU
    method: str = METHOD_SIZE  # METHOD_ESTIMATOR, METHOD_SCALED or METHOD_SIZE
    fallback_reason: str | None = None  # why the header was not used, for the size heuristic
    speed: SpeedForecast | None = None  # on this PC; None: not measured yet, or a GPU plan

    @property
    def label(self) -> str:
        return self.verdict.label

    @property
    def from_estimator(self) -> bool:
        """Whether the memory estimator made it (from a GGUF header), not the size heuristic."""
        return self.method != METHOD_SIZE


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
    return estimate_info_fit(read_gguf_info(path), hardware=hardware or usable_hardware())


def estimate_info_fit(
    info: GGUFInfo, *, hardware: HardwareSnapshot, method: str = METHOD_ESTIMATOR
) -> FitEstimate:
    """The tuner's verdict for a model given by its GGUF header (from disk or from the hub).

    Raises:
        ModelFileError: not a model the estimator understands (a projector, no layers...).
    """
    tuned = plan_for(info=info, hardware=hardware)
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
        method=method,
        speed=plan_forecast(
            info=info, plan=tuned.plan, speed=kept_machine_speed(hardware=hardware)
        ),
    )


# --------------------------------------------------------------------------- hub files


def estimate_remote_fit(
    client: SourceClient,
    repo_id: str,
    model: RemoteModel,
    *,
    revision: str | None = None,
    hardware: HardwareSnapshot | None = None,
    stats: TransferStats | None = None,
) -> FitEstimate:
    """The fit verdict of a model on the hub, before downloading it.

    From its GGUF header (read over Range requests, or from the header cache) and the memory
    estimator, as :func:`estimate_local_fit` judges the same file on disk. Never fails: when the
    header cannot be had or used, the size heuristic answers, with ``method == METHOD_SIZE`` and
    the reason in ``fallback_reason``. For all the files of a repository, prefer
    :func:`estimate_repo_fits`, which reads far less.
    """
    hardware = hardware or usable_hardware()
    try:
        info = fetch_model_info(client, repo_id, model, revision=revision, stats=stats)
    except (HubError, ModelFileError) as error:
        return _size_fit(model, hardware, reason=str(error))
    return _info_fit_or_size(info, model, hardware, METHOD_ESTIMATOR)


def estimate_repo_fits(
    client: SourceClient,
    detail: RepoDetail,
    *,
    hardware: HardwareSnapshot | None = None,
    preferred: RemoteModel | None = None,
    stats: TransferStats | None = None,
) -> dict[str, FitEstimate]:
    """The verdict of every chat model of a repository, keyed by its ``primary_path``.

    Per model family (the files that differ only in their quantization label) one whole header
    is read: ``preferred``'s when it belongs to the family, else the Q4_K_M file's, else the
    first's; when that file's header is bad, the next file's. The other quantizations get
    their own tensor table with that header's metadata (:func:`remote_gguf.fetch_sibling_info`,
    about 150 KB each), or, when even that cannot be read, a header scaled from the file size
    (``METHOD_SCALED``). Cached headers cost nothing. When the hub or the network fails before
    any header of a family is read, the family gets the size heuristic. Never fails.
    """
    hardware = hardware or usable_hardware()
    fits: dict[str, FitEstimate] = {}
    for family in _families(detail.models, preferred):
        infos = {m.primary_path: i for m in family if (i := cached_model_info(m)) is not None}
        known = next(iter(infos.values()), None)
        reasons: dict[str, str] = {}
        for model in family[:_FETCHES_PER_FAMILY] if known is None else ():
            try:
                known = fetch_model_info(
                    client, detail.repo_id, model, revision=detail.revision, stats=stats
                )
            except (ModelFileError, HubNotFoundError) as error:  # this file; a sibling may do
                reasons[model.primary_path] = str(error)
                continue
            except HubError as error:  # the network or the hub: asking again will not help
                reasons = {m.primary_path: reasons.get(m.primary_path, str(error)) for m in family}
                break
            infos[model.primary_path] = known
            break
        for model in family:
            path = model.primary_path
            if path in infos:
                fits[path] = _info_fit_or_size(infos[path], model, hardware, METHOD_ESTIMATOR)
            elif known is None or path in reasons:
                reason = reasons.get(path, "no header of this model could be read")
                fits[path] = _size_fit(model, hardware, reason=reason)
            else:
                fits[path] = _sibling_fit(client, detail, model, known, hardware, stats)
    return fits


def _sibling_fit(
    client: SourceClient,
    detail: RepoDetail,
    model: RemoteModel,
    known: GGUFInfo,
    hardware: HardwareSnapshot,
    stats: TransferStats | None,
) -> FitEstimate:
    """Its own tensor table with ``known``'s metadata; else ``known`` scaled to its size."""
    try:
        info = fetch_sibling_info(
            client, detail.repo_id, model, known=known, revision=detail.revision, stats=stats
        )
        method = METHOD_ESTIMATOR
    except (HubError, ModelFileError) as error:
        log.info("Sizes of %s scaled from %s: %s", model.primary_path, known.path, error)
        try:
            info = scale_to_sibling(
                known, name=model.primary_path, file_size=model.size, quant=model.quant
            )
        except ModelFileError as scale_error:
            return _size_fit(model, hardware, reason=str(scale_error))
        method = METHOD_SCALED
    return _info_fit_or_size(info, model, hardware, method)


def _info_fit_or_size(
    info: GGUFInfo, model: RemoteModel, hardware: HardwareSnapshot, method: str
) -> FitEstimate:
    try:
        return estimate_info_fit(info, hardware=hardware, method=method)
    except ModelFileError as error:  # an architecture or layout the estimator does not know
        return _size_fit(model, hardware, reason=str(error))


def _size_fit(model: RemoteModel, hardware: HardwareSnapshot, *, reason: str) -> FitEstimate:
    log.info("Fit of %s from its size: %s", model.primary_path, reason)
    fit = estimate_fit(
        file_bytes=model.size, quant=model.quant, budget=MemoryBudget.from_snapshot(hardware)
    )
    return dataclasses.replace(fit, fallback_reason=reason)


def _families(
    models: Sequence[RemoteModel], preferred: RemoteModel | None
) -> list[list[RemoteModel]]:
    """Models grouped by name without the quantization label; the header to fetch first."""
    families: dict[str, list[RemoteModel]] = {}
    for model in models:
        families.setdefault(_family_key(model), []).append(model)

    def fetch_order(model: RemoteModel) -> int:
        if model == preferred:
            return 0
        return 1 if (model.quant or "").upper() == PREFERRED_QUANT else 2

    return [sorted(members, key=fetch_order) for members in families.values()]


def _family_key(model: RemoteModel) -> str:
    name = model.name
    if model.quant:
        label = re.escape(model.quant.removeprefix("UD-"))
        label = {"F16": "FP?16", "F32": "FP?32"}.get(label, label)  # parse_quant reads FP16 as F16
        matches = list(re.finditer(rf"(?:UD[-_])?{label}", name, flags=re.IGNORECASE))
        if matches:
            last = matches[-1]
            name = name[: last.start()] + name[last.end() :]
    return re.sub(r"[-_.\s]+", "-", name).strip("-").lower()
