"""How fast a model will read prompts and write tokens on this PC, from its GGUF header alone.

The cost of one token on the CPU is modelled as llama.cpp spends it:

    decode  = fixed + per_layer * layers + per_vocab * vocabulary
              + sum over weight types of (bytes of that type read per token) * seconds_per_byte
    prompt  = fixed + per_layer * layers                          (per prompt token)
              + sum over weight types of (weights of that type) * seconds_per_weight
              + the output matrix once per prompt

Writing a token reads every weight once (a matrix-vector product per tensor, bound by memory
and by the dequantising kernels of each type); reading a prompt multiplies whole batches (bound
by arithmetic), and computes the vocabulary's logits for the last token only. The coefficients
are this PC's own, measured by :mod:`speed_profile` on synthetic models of each weight type at
a few thread counts; a thread count between two measured ones gets interpolated coefficients.
Attention over a long context is left out: the forecast is for a conversation's early turns.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from autoglm_desktop.core.models.gguf_info import GGUFInfo, TensorInfo

# The weight types the profile measures; every other type is timed as its nearest relative.
MEASURED_TYPES = (
    "q4_0",
    "q4_1",
    "q5_0",
    "q8_0",
    "q2_k",
    "q3_k",
    "q4_k",
    "q5_k",
    "q6_k",
    "iq4_xs",
    "f16",
    "bf16",
)
_RELATIVES = {
    "f32": "f16",  # per byte, a float matrix costs about what a half-float one does
    "q5_1": "q5_0",
    "q8_1": "q8_0",
    "iq4_nl": "q4_0",
    "mxfp4": "q4_0",
    "nvfp4": "q4_0",
    "q1_0": "q2_k",
    "tq1_0": "q2_k",
    "tq2_0": "q2_k",
    "iq1_s": "q2_k",
    "iq1_m": "q2_k",
    "iq2_xxs": "q2_k",
    "iq2_xs": "q2_k",
    "iq2_s": "q2_k",
    "iq3_xxs": "q3_k",
    "iq3_s": "q3_k",
}


def measured_type(type_name: str) -> str | None:
    """The measured type whose speed stands for ``type_name``; None for integer tensors."""
    name = type_name.lower()
    if name in MEASURED_TYPES:
        return name
    return _RELATIVES.get(name)


@dataclass(frozen=True)
class Workload:
    """What one token costs a model, by weight type: the forecast's view of a GGUF file."""

    n_layer: int
    n_vocab: int
    bytes_per_token: Mapping[str, int]  # weights read to write one token, by measured type
    weights_per_token: Mapping[str, int]  # weights multiplied per prompt token, by type
    output_weights: Mapping[str, int]  # the output matrix, multiplied once per prompt
    output_bytes: Mapping[str, int] = field(default_factory=dict)  # its part of bytes_per_token

    @property
    def layer_bytes(self) -> dict[str, int]:
        """Bytes of the repeating layers read per token (all of them), by type."""
        return {
            kind: amount - self.output_bytes.get(kind, 0)
            for kind, amount in self.bytes_per_token.items()
        }


def workload_of(info: GGUFInfo) -> Workload:
    """The per-token work of the model in ``info`` (experts counted as many as are used)."""
    names = {tensor.name for tensor in info.tensors}
    tied = "output.weight" not in names
    per_token_bytes: dict[str, int] = {}
    per_token_weights: dict[str, int] = {}
    output: dict[str, int] = {}
    output_bytes: dict[str, int] = {}
    expert_share = _expert_share(info)
    for tensor in info.tensors:
        kind = measured_type(tensor.type_name)
        if kind is None or len(tensor.shape) < 2:
            continue  # norms and biases: a few kilobytes
        if _is_output(tensor, tied=tied):
            output[kind] = output.get(kind, 0) + tensor.n_elements
            output_bytes[kind] = output_bytes.get(kind, 0) + tensor.n_bytes
            per_token_bytes[kind] = per_token_bytes.get(kind, 0) + tensor.n_bytes
        elif tensor.name.startswith("blk."):
            share = expert_share if "_exps" in tensor.name else 1.0
            per_token_bytes[kind] = per_token_bytes.get(kind, 0) + int(tensor.n_bytes * share)
            weights = int(tensor.n_elements * share)
            per_token_weights[kind] = per_token_weights.get(kind, 0) + weights
    return Workload(
        n_layer=info.n_layer or 0,
        n_vocab=info.vocab_size or 0,
        bytes_per_token=per_token_bytes,
        weights_per_token=per_token_weights,
        output_weights=output,
        output_bytes=output_bytes,
    )


def _is_output(tensor: TensorInfo, *, tied: bool) -> bool:
    return tensor.name == "output.weight" or (tied and tensor.name == "token_embd.weight")


def _expert_share(info: GGUFInfo) -> float:
    if info.n_expert and info.n_expert_used:
        return min(1.0, info.n_expert_used / info.n_expert)
    return 1.0


@dataclass(frozen=True)
class SpeedCoefficients:
    """This PC's cost of each part of a token at one thread count (seconds)."""

    threads: int
    decode_fixed: float
    decode_per_layer: float
    decode_per_vocab: float
    decode_per_byte: Mapping[str, float] = field(default_factory=dict)
    prompt_fixed: float = 0.0
    prompt_per_layer: float = 0.0
    prompt_per_weight: Mapping[str, float] = field(default_factory=dict)
    # Streaming weights from memory: no type is read faster than this (a roofline), however
    # quick its kernel was on the small models the caches held.
    decode_memory_per_byte: float = 0.0

    def decode_byte_costs(self) -> dict[str, float]:
        return {
            kind: max(cost, self.decode_memory_per_byte)
            for kind, cost in self.decode_per_byte.items()
        }


@dataclass(frozen=True)
class SpeedForecast:
    decode_tokens_per_s: float
    prompt_tokens_per_s: float
    threads: int


@dataclass(frozen=True)
class GpuSpeed:
    """This PC's GPU: its costs with every layer there, and what sending weights to it costs."""

    name: str
    coefficients: SpeedCoefficients  # the whole model on the GPU (the host's share included)
    upload_per_byte: float  # prompt batches of layers left on the CPU: their weights go over


def forecast_speed(
    *,
    workload: Workload,
    profile: Sequence[SpeedCoefficients],
    threads: int,
    threads_batch: int | None = None,
    prompt_tokens: int = 256,
    gpu: GpuSpeed | None = None,
    gpu_layers: int = 0,
) -> SpeedForecast | None:
    """Tokens per second to expect; None when the profile measured nothing.

    With ``gpu``, ``gpu_layers`` of the repeating layers run there (more than the model has:
    the output layer too, as llama.cpp counts), and prompt batches of the other layers are
    multiplied there too, their weights sent over first (llama.cpp's offload of big batches).
    """
    if not profile:
        return None
    decode = coefficients_at(profile, threads)
    prompt = coefficients_at(profile, threads_batch or threads)
    if gpu is None:
        decode_s = _decode_seconds(workload, cpu=decode, gpu=None, gpu_layers=0)
        prompt_s = _cpu_prompt_seconds(workload, prompt, prompt_tokens)
    else:
        decode_s = _decode_seconds(
            workload, cpu=decode, gpu=gpu.coefficients, gpu_layers=gpu_layers
        )
        prompt_s = _gpu_prompt_seconds(workload, prompt, gpu, gpu_layers, prompt_tokens)
    return SpeedForecast(
        decode_tokens_per_s=1.0 / max(decode_s, 1e-6),
        prompt_tokens_per_s=1.0 / max(prompt_s, 1e-7),
        threads=threads,
    )


def _decode_seconds(
    work: Workload, *, cpu: SpeedCoefficients, gpu: SpeedCoefficients | None, gpu_layers: int
) -> float:
    on_gpu = min(gpu_layers, work.n_layer) if gpu is not None else 0
    share = on_gpu / work.n_layer if work.n_layer else 0.0
    host = gpu if gpu is not None and on_gpu > 0 else cpu
    output = gpu if gpu is not None and gpu_layers > work.n_layer else cpu
    seconds = host.decode_fixed + host.decode_per_vocab * work.n_vocab
    seconds += (work.n_layer - on_gpu) * cpu.decode_per_layer
    seconds += (1 - share) * _weighted(work.layer_bytes, cpu.decode_byte_costs())
    if gpu is not None:
        seconds += on_gpu * gpu.decode_per_layer
        seconds += share * _weighted(work.layer_bytes, gpu.decode_byte_costs())
    return seconds + _weighted(work.output_bytes, output.decode_byte_costs())


def _cpu_prompt_seconds(work: Workload, cpu: SpeedCoefficients, prompt_tokens: int) -> float:
    return (
        cpu.prompt_fixed
        + cpu.prompt_per_layer * work.n_layer
        + _weighted(work.weights_per_token, cpu.prompt_per_weight)
        + _weighted(work.output_weights, cpu.prompt_per_weight) / max(1, prompt_tokens)
    )


def _gpu_prompt_seconds(
    work: Workload, cpu: SpeedCoefficients, gpu: GpuSpeed, gpu_layers: int, prompt_tokens: int
) -> float:
    """Per prompt token: every matrix multiplied on the GPU, CPU layers' weights sent first."""
    on_gpu = min(gpu_layers, work.n_layer)
    on_cpu_share = 1 - (on_gpu / work.n_layer if work.n_layer else 0.0)
    coefficients = gpu.coefficients
    batches = max(1, prompt_tokens)
    sent = on_cpu_share * sum(work.layer_bytes.values())
    if gpu_layers <= work.n_layer:
        sent += sum(work.output_bytes.values())
    return (
        coefficients.prompt_fixed
        + on_gpu * coefficients.prompt_per_layer
        + (work.n_layer - on_gpu) * cpu.prompt_per_layer
        + _weighted(work.weights_per_token, coefficients.prompt_per_weight)
        + _weighted(work.output_weights, coefficients.prompt_per_weight) / batches
        + sent * gpu.upload_per_byte / batches
    )


def _weighted(amounts: Mapping[str, int], costs: Mapping[str, float]) -> float:
    fallback = max(costs.values(), default=0.0)
    return sum(amount * costs.get(kind, fallback) for kind, amount in amounts.items())


def coefficients_at(profile: Sequence[SpeedCoefficients], threads: int) -> SpeedCoefficients:
    """The profile's coefficients at ``threads``: measured, interpolated or the nearest."""
    ordered = sorted(profile, key=lambda c: c.threads)
    if threads <= ordered[0].threads:
        return ordered[0]
    for low, high in itertools.pairwise(ordered):
        if threads == high.threads:
            return high
        if low.threads < threads < high.threads:
            return _between(low, high, (threads - low.threads) / (high.threads - low.threads))
    return ordered[-1]


def _between(low: SpeedCoefficients, high: SpeedCoefficients, t: float) -> SpeedCoefficients:
    def mix(a: float, b: float) -> float:
        return a + (b - a) * t

    def mix_map(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
        return {key: mix(a.get(key, 0.0), b.get(key, 0.0)) for key in a.keys() | b.keys()}

    return SpeedCoefficients(
        threads=round(mix(low.threads, high.threads)),
        decode_fixed=mix(low.decode_fixed, high.decode_fixed),
        decode_per_layer=mix(low.decode_per_layer, high.decode_per_layer),
        decode_per_vocab=mix(low.decode_per_vocab, high.decode_per_vocab),
        decode_per_byte=mix_map(low.decode_per_byte, high.decode_per_byte),
        decode_memory_per_byte=mix(low.decode_memory_per_byte, high.decode_memory_per_byte),
        prompt_fixed=mix(low.prompt_fixed, high.prompt_fixed),
        prompt_per_layer=mix(low.prompt_per_layer, high.prompt_per_layer),
        prompt_per_weight=mix_map(low.prompt_per_weight, high.prompt_per_weight),
    )
