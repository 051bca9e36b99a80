"""How fast a model will read prompts and write tokens on this PC, from its GGUF header alone.

The cost of one token is modelled as llama.cpp spends it:

    decode = fixed + per_layer * layers + per_shared_kv_layer * layers whose heads share KV
             + per_vocab * vocabulary
             + sum over weight types of (bytes of that type read per token) * seconds_per_byte
    prompt = fixed + per_layer * layers + per_shared_kv_layer * ...       (per prompt token)
             + sum over weight types of (weights of that type) * seconds_per_weight
                                        + (rows of that type) * seconds_per_row
             + (the output matrix read once, and one token sampled) / prompt tokens

Writing a token streams every weight once from memory (a matrix-vector product per tensor): its
cost per byte is measured per weight type on models too big for the CPU's caches, since the
memory and the kernel that unpacks each type work together, neither alone sets the pace.
Reading a prompt multiplies whole batches (bound by arithmetic, per type, but each matrix still
comes from memory once per batch: its costs, too, are measured on models too big for the
caches): per weight and, apart, per row (each row's dot product with a token has a cost of its
own, so narrow rows cost more per weight, and by how much depends on the type's kernel); the
vocabulary's logits are computed for its last token only. Attention is a product
with the KV cache (16-bit floats), counted as such: per written token, the K and V of each KV
head's cells, read from memory once, and read again from the CPU's caches by each further query
head sharing that KV head (grouped-query attention saves memory reads, not products), and
query × cell products per prompt token.
The fixed costs per token and per layer (graph, thread barriers, sampling) and the cost per
vocabulary entry are this PC's too; a layer whose query heads share KV heads costs extra (on
the CPU; a GPU counts layers as :func:`as_on_gpu` has them). The repeating layers' weights of
a model narrower or wider than the calibration models cost a measured width factor more or
less (many small operations split among the threads). A model small enough to stay in the
CPU's last-level cache between tokens reads its bytes from there, at a measured share of the
cost (see :func:`resident_share`). The coefficients are measured by
:mod:`speed_measurement` at the thread counts the app uses; a count between two measured ones
gets coefficients interpolated as Amdahl's law has them (see :func:`coefficients_at`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

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
KV_CACHE_TYPE = "f16"  # llama.cpp's default KV cache type
# Graph operations of a layer besides one per weight: rope ×2, KV cache copies ×2, QK, softmax,
# weighted V, its copy, two residual additions and the FFN's gate (llama.cpp's graphs).
ATTENTION_AND_GLUE_OPS = 11
LLAMA_LAYER_OPS = 22  # a Llama layer: the above, 7 matrices, 2 norms of 2 operations each
KV_CELL_BLOCK = 256  # llama.cpp attends to the cells in use rounded up to this many
PROMPT_BATCH_TOKENS = 512  # llama.cpp's n_ubatch: a prompt is computed this many tokens at a time
DEFAULT_PROMPT_TOKENS = 256
# A token reads the weights in the same order each time, so a cache that cannot hold them all
# keeps little of them: it serves every read of a set a quarter of its size or smaller (the
# rest of it holds the KV cache, activations and other programs' data), none of one as big as
# itself, and between, a share linear in log size (over these two doublings).
RESIDENT_DOUBLINGS = 2


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
    # Rows of the layers' matrices per prompt token, by type: each row is one dot product
    # per token, with a cost of its own besides its weights' (see SpeedCoefficients).
    rows_per_token: Mapping[str, int] = field(default_factory=dict)
    query_width: int = 0  # query heads × key length, summed over the layers
    query_kv_width: int = 0  # query heads × (key + value length), summed over the layers
    kv_width: int = 0  # KV heads × (key + value length), summed over the layers; 0: as above
    shared_kv_layers: int = 0  # layers whose query heads share KV heads
    layer_ops: int = 0  # graph operations of all layers; 0: Llama's per layer
    width: int = 0  # the embedding length: the rows of most matrices are this long
    routes_experts: bool = False  # a mixture of experts (its layers pick experts per token)

    @property
    def layer_units(self) -> float:
        """The layers, in Llama layers' worth of graph operations.

        Each operation costs a thread barrier on the CPU, a kernel on the GPU: a Gemma 3
        layer, with four more norms, counts 1.4.
        """
        if not self.layer_ops:
            return float(self.n_layer)
        return self.layer_ops / LLAMA_LAYER_OPS

    @property
    def layer_bytes(self) -> dict[str, int]:
        """Bytes of the repeating layers read per token (all of them), by type."""
        return {
            kind: amount - self.output_bytes.get(kind, 0)
            for kind, amount in self.bytes_per_token.items()
        }

    def read_bytes(self, context_tokens: int) -> int:
        """Everything one written token reads from memory: the weights and the KV cache."""
        return sum(self.bytes_per_token.values()) + self.kv_bytes_per_token(context_tokens)

    def kv_bytes_per_token(self, context_tokens: int) -> int:
        """The KV cache one written token reads after ``context_tokens`` (16-bit floats).

        Without flash attention llama.cpp multiplies each query head with K and V of all the
        cells it attends to; this is the K and V of each KV head, read once.
        """
        return 2 * (self.kv_width or self.query_kv_width) * attended_cells(context_tokens + 1)

    def kv_reread_bytes(self, context_tokens: int) -> int:
        """The KV bytes each further query head of a group reads again (grouped-query attention).

        They come from the CPU's caches, where the group's first head left them: a 0.5B model
        with five query heads to a KV head wrote 44 % faster than the same model with a KV head
        for each, which counting every head's products as bytes from memory gave it 11 %.
        """
        if not self.kv_width:
            return 0
        return 2 * (self.query_kv_width - self.kv_width) * attended_cells(context_tokens + 1)

    def attention_weights(self, prompt_tokens: int) -> int:
        """Query × cell products per prompt token, for QK and for the weighted V."""
        return 2 * self.query_width * attended_cells(prompt_tokens)


def attended_cells(context_tokens: int) -> int:
    """The KV cells llama.cpp attends to with ``context_tokens`` in use (masked ones too)."""
    blocks = max(1, -(-context_tokens // KV_CELL_BLOCK))
    return blocks * KV_CELL_BLOCK


def workload_of(info: GGUFInfo) -> Workload:
    """The per-token work of the model in ``info`` (experts counted as many as are used)."""
    names = {tensor.name for tensor in info.tensors}
    tied = "output.weight" not in names
    per_token_bytes: dict[str, int] = {}
    per_token_weights: dict[str, int] = {}
    per_token_rows: dict[str, int] = {}
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
            rows = weights // max(1, tensor.shape[0])  # ggml's ne[0]: the row length
            per_token_rows[kind] = per_token_rows.get(kind, 0) + rows
    query, query_kv, kv, shared = _attention_shape(info)
    ops = sum(_layer_ops(tensor) for tensor in info.tensors if tensor.name.startswith("blk."))
    return Workload(
        n_layer=info.n_layer or 0,
        n_vocab=info.vocab_size or 0,
        bytes_per_token=per_token_bytes,
        weights_per_token=per_token_weights,
        output_weights=output,
        output_bytes=output_bytes,
        rows_per_token=per_token_rows,
        query_width=query,
        query_kv_width=query_kv,
        kv_width=kv,
        shared_kv_layers=shared,
        layer_ops=ops + ATTENTION_AND_GLUE_OPS * (info.n_layer or 0),
        width=info.n_embd or 0,
        routes_experts=any("_exps" in name for name in names),
    )


def _layer_ops(tensor: TensorInfo) -> int:
    """Graph operations a layer's tensor brings: a norm two (normalise, scale), others one."""
    return 2 if len(tensor.shape) == 1 and tensor.name.endswith("norm.weight") else 1


def _attention_shape(info: GGUFInfo) -> tuple[int, int, int, int]:
    """Query width; query and KV heads × (key + value); shared-KV layers (over all layers)."""
    n_layer = info.n_layer or 0
    heads = info.n_head_per_layer or (0,) * n_layer
    kv_heads = info.n_head_kv_per_layer or heads
    n_embd = info.n_embd or 0
    query = query_kv = kv = shared = 0
    for n_head, n_head_kv in zip(heads, kv_heads, strict=False):
        if n_head <= 0:
            continue  # a layer without attention (recurrent)
        key = info.key_length or n_embd // n_head
        value = info.value_length or key
        query += n_head * key
        query_kv += n_head * (key + value)
        kv += (n_head_kv if 0 < n_head_kv <= n_head else n_head) * (key + value)
        shared += 0 < n_head_kv < n_head
    return query, query_kv, kv, shared


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
    decode_per_byte: Mapping[str, float] = field(default_factory=dict)  # streamed from memory
    prompt_fixed: float = 0.0
    prompt_per_layer: float = 0.0
    prompt_per_weight: Mapping[str, float] = field(default_factory=dict)
    decode_per_shared_kv_layer: float = 0.0  # grouped-query attention's extra, per layer
    # Each row of the layers' matrices a written token multiplies (a dot product, split among
    # the threads by rows) costs this besides its bytes: so short rows cost more per byte,
    # and a model's feed-forward and KV widths count, not only its embedding width.
    decode_per_row: float = 0.0
    prompt_per_shared_kv_layer: float = 0.0
    # A prompt's dot products each cost this besides their weights (per type, per row and
    # token): unpacking a row's scales and summing up. So a weight costs a + c / row length:
    # a 512-wide Q5_K model's prompt took 1.47 times the cost per weight of a 1024-wide one
    # here, a 2048-wide one 0.79; Q8_0 1.11 and 0.93 (2 threads).
    prompt_per_row: Mapping[str, float] = field(default_factory=dict)
    # The cost of a weight in a model this wide (embedding length) relative to the measured
    # types' models (decode: 2048 wide), for the repeating layers' matrices: many small
    # operations, each split among the threads (the output matrix, one operation of
    # vocabulary-many rows, is not slowed so). Narrow rows cost more per byte, and small
    # matrices share less well among many threads. Prompts (their weights and rows, relative
    # to the 1024-wide type models): only above two threads, where wide matrices share out
    # better than the cost per row says. Measured widths; none: 1 everywhere.
    decode_width_factors: Mapping[int, float] = field(default_factory=dict)
    prompt_width_factors: Mapping[int, float] = field(default_factory=dict)
    # Wider than the type models, each type's prompt costs (per weight and per row) times its
    # own measured factor, by width (1 at 1024 and below): the cost per row says too little
    # for some kernels (Q4_K 2048 wide: 10 % more than a + c / row length), too much for others.
    prompt_type_width_factors: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    # The output matrix's bytes cost this times its type's cost per byte: one product of
    # vocabulary-many rows streams from memory faster than the layers' many small ones (a
    # 128k-entry 2048-wide Q8_0 output took 0.6-0.7 times the layers' cost per byte here).
    decode_output_factor: float = 1.0
    # The CPU's last-level cache (bytes; 0: unknown), and what a byte read from it costs
    # relative to one from memory: a model whose reads it holds is written that much faster
    # (the H200 host's 300 MiB L3 wrote an 86 MB model 2.2 times as fast as its memory does).
    cache_bytes: int = 0
    decode_cached_factor: float = 1.0


def resident_share(read_bytes: float, cache_bytes: int) -> float:
    """The share of a token's ``read_bytes`` the last-level cache serves (0 to 1)."""
    if cache_bytes <= 0 or read_bytes <= 0:
        return 0.0
    return min(1.0, max(0.0, math.log2(cache_bytes / read_bytes) / RESIDENT_DOUBLINGS))


def memory_factor(costs: SpeedCoefficients, read_bytes: float) -> float:
    """What a byte costs in a token that reads ``read_bytes``, relative to one from memory."""
    share = resident_share(read_bytes, costs.cache_bytes)
    return 1.0 - share * (1.0 - costs.decode_cached_factor)


def prompt_type_factors(costs: SpeedCoefficients, width: int) -> dict[str, float]:
    """Each type's prompt width factor at ``width`` (types without one: 1)."""
    return {
        kind: width_factor(factors, width)
        for kind, factors in costs.prompt_type_width_factors.items()
    }


def width_factor(factors: Mapping[int, float], width: int) -> float:
    """The factor at ``width``: linear in log2(width) between measured widths, flat beyond."""
    if not factors or width <= 0:
        return 1.0
    knots = sorted(factors.items())
    if width <= knots[0][0]:
        return knots[0][1]
    for (low, low_factor), (high, high_factor) in itertools.pairwise(knots):
        if width <= high:
            t = (math.log2(width) - math.log2(low)) / (math.log2(high) - math.log2(low))
            return low_factor + (high_factor - low_factor) * t
    return knots[-1][1]


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
    # Each layer left on the CPU, per prompt batch: its products go to the GPU one by one
    # (llama.cpp's offload of big batches), each a round trip of the activations and a wait.
    offload_per_layer: float = 0.0


def forecast_speed(
    *,
    workload: Workload,
    profile: Sequence[SpeedCoefficients],
    threads: int,
    threads_batch: int | None = None,
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
    gpu: GpuSpeed | None = None,
    gpu_layers: int = 0,
) -> SpeedForecast | None:
    """Tokens per second to expect; None when the profile measured nothing.

    Writing is forecast just after a prompt of ``prompt_tokens`` (a conversation's early
    turns). With ``gpu``, ``gpu_layers`` of the repeating layers run there (more than the model
    has: the output layer too, as llama.cpp counts), and prompt batches of the other layers are
    multiplied there too, their weights sent over first (llama.cpp's offload of big batches).
    """
    if not profile:
        return None
    decode = coefficients_at(profile, threads)
    prompt = coefficients_at(profile, threads_batch or threads)
    gpu_coefficients = gpu.coefficients if gpu is not None else None
    decode_s = _decode_seconds(
        workload,
        cpu=decode,
        gpu=gpu_coefficients,
        gpu_layers=gpu_layers if gpu is not None else 0,
        context_tokens=prompt_tokens,
    )
    if gpu is None:
        prompt_s = _cpu_prompt_seconds(workload, prompt, decode, prompt_tokens)
    else:
        prompt_s = _gpu_prompt_seconds(workload, prompt, gpu, gpu_layers, prompt_tokens)
    return SpeedForecast(
        decode_tokens_per_s=1.0 / max(decode_s, 1e-6),
        prompt_tokens_per_s=1.0 / max(prompt_s, 1e-7),
        threads=threads,
    )


def decode_terms(
    work: Workload,
    *,
    context_tokens: int,
    width_factor: float = 1.0,
    output_factor: float = 1.0,
    memory: float = 1.0,
    cached: float = 1.0,
) -> list[float]:
    """The amounts the decode costs multiply, in the order of the coefficients.

    Fixed, layers, shared-KV layers, vocabulary, the bytes read of each measured type (the
    repeating layers' times ``width_factor``, the output matrix's times ``output_factor``;
    the KV cache as it is; all of them times ``memory``, their :func:`memory_factor`; the
    KV bytes read again by grouped query heads times ``cached``, the cache's factor), then
    the repeating layers' rows.
    """
    amounts = {kind: amount * width_factor for kind, amount in work.layer_bytes.items()}
    for kind, amount in work.output_bytes.items():
        amounts[kind] = amounts.get(kind, 0) + amount * output_factor
    amounts[KV_CACHE_TYPE] = amounts.get(KV_CACHE_TYPE, 0) + work.kv_bytes_per_token(context_tokens)
    reread = {KV_CACHE_TYPE: work.kv_reread_bytes(context_tokens) * cached}
    return (
        [1.0, work.layer_units, work.shared_kv_layers, work.n_vocab]
        + [float(amounts.get(kind, 0)) * memory + reread.get(kind, 0) for kind in MEASURED_TYPES]
        + [float(sum(work.rows_per_token.values()))]
    )


def prompt_terms(
    work: Workload,
    *,
    prompt_tokens: int,
    width_factor: float = 1.0,
    type_factors: Mapping[str, float] | None = None,
) -> list[float]:
    """The amounts the prompt costs multiply per prompt token, in the coefficients' order.

    Fixed, layers, shared-KV layers, the weights multiplied of each type, then the rows of
    each type (both times ``width_factor`` and the type's factor in ``type_factors``;
    attention's products, among the weights, as they are).
    """
    by_type = type_factors or {}

    def scaled(amounts: Mapping[str, int]) -> dict[str, float]:
        return {
            kind: amount * width_factor * by_type.get(kind, 1.0) for kind, amount in amounts.items()
        }

    weights = scaled(work.weights_per_token)
    weights[KV_CACHE_TYPE] = weights.get(KV_CACHE_TYPE, 0) + work.attention_weights(prompt_tokens)
    rows = scaled(work.rows_per_token)
    return (
        [1.0, work.layer_units, work.shared_kv_layers]
        + [float(weights.get(kind, 0)) for kind in MEASURED_TYPES]
        + [float(rows.get(kind, 0)) for kind in MEASURED_TYPES]
    )


def repeating_layers_on_gpu(work: Workload, gpu_layers: int) -> int:
    """How many repeating layers ``n_gpu_layers`` puts on the GPU.

    llama.cpp counts the output layer as the last of n_layer + 1: any offload takes it first,
    then the last ``gpu_layers`` - 1 repeating layers.
    """
    return max(0, min(gpu_layers, work.n_layer + 1) - 1)


def _decode_seconds(
    work: Workload,
    *,
    cpu: SpeedCoefficients,
    gpu: SpeedCoefficients | None,
    gpu_layers: int,
    context_tokens: int,
) -> float:
    """One written token: layers on the GPU at its costs, the others at the CPU's.

    Each side's bytes cost what its :func:`memory_factor` says for the bytes it reads.
    """
    offloaded = gpu if gpu is not None and gpu_layers > 0 else None
    on_gpu = repeating_layers_on_gpu(work, gpu_layers) if offloaded else 0
    share = on_gpu / work.n_layer if work.n_layer else 0.0
    host = offloaded or cpu  # the output layer and sampling
    kv_bytes = {KV_CACHE_TYPE: work.kv_bytes_per_token(context_tokens)}
    kv_reread = {KV_CACHE_TYPE: work.kv_reread_bytes(context_tokens)}
    output_read = sum(work.output_bytes.values())
    layers_read = work.read_bytes(context_tokens) - output_read
    reads = {id(host): float(output_read)}  # each side's bytes per token
    for side, part in ((cpu, 1 - share), (offloaded, share)):
        if side is not None and part > 0:
            reads[id(side)] = reads.get(id(side), 0.0) + part * layers_read
    seconds = host.decode_fixed + host.decode_per_vocab * work.n_vocab
    output = _weighted(work.output_bytes, host.decode_per_byte) * host.decode_output_factor
    seconds += output * memory_factor(host, reads[id(host)])
    for side, part, shape in (
        (cpu, 1 - share, work),
        (offloaded, share, as_on_gpu(work, writing=True)),
    ):
        if side is None or part <= 0:
            continue
        seconds += part * shape.layer_units * side.decode_per_layer
        seconds += part * shape.shared_kv_layers * side.decode_per_shared_kv_layer
        layers = _weighted(work.layer_bytes, side.decode_per_byte) * _decode_width(side, work)
        layers += _weighted(kv_bytes, side.decode_per_byte)
        seconds += part * layers * memory_factor(side, reads[id(side)])
        reread = _weighted(kv_reread, side.decode_per_byte) * side.decode_cached_factor
        seconds += part * reread
        seconds += part * sum(work.rows_per_token.values()) * side.decode_per_row
    return seconds


def as_on_gpu(work: Workload, *, writing: bool) -> Workload:
    """The workload as a GPU's costs count it; no calibration model tells shared KV apart.

    llama.cpp's CUDA backend replays a written token's graph as a CUDA graph (not a prompt
    batch's, nor a graph with expert routing), so a written token's layer costs one layer
    whatever its operations: a Gemma 3 layer, 1.4 Llama layers' operations, took 43 µs a
    written token on the H200 and a Llama layer 40 µs; its prompt batches' launches counted.
    """
    if writing and not work.routes_experts:
        return replace(work, layer_ops=0, shared_kv_layers=0)
    return replace(work, shared_kv_layers=0)


def _cpu_prompt_seconds(
    work: Workload, cpu: SpeedCoefficients, writing: SpeedCoefficients, prompt_tokens: int
) -> float:
    """Per prompt token: the batch products, and the last token's logits and sampling."""
    factor = width_factor(cpu.prompt_width_factors, work.width)
    terms = prompt_terms(
        work,
        prompt_tokens=prompt_tokens,
        width_factor=factor,
        type_factors=prompt_type_factors(cpu, work.width),
    )
    per_token = sum(c * a for c, a in zip(_prompt_costs(cpu), terms, strict=True))
    return per_token + last_token_seconds(work, writing) / max(1, prompt_tokens)


def last_token_seconds(work: Workload, writing: SpeedCoefficients) -> float:
    """The output matrix times one vector, and sampling: once per prompt."""
    output = _weighted(work.output_bytes, writing.decode_per_byte) * writing.decode_output_factor
    memory = memory_factor(writing, sum(work.bytes_per_token.values()))
    return output * memory + writing.decode_per_vocab * work.n_vocab


def _decode_width(costs: SpeedCoefficients, work: Workload) -> float:
    return width_factor(costs.decode_width_factors, work.width)


def _gpu_prompt_seconds(
    work: Workload, cpu: SpeedCoefficients, gpu: GpuSpeed, gpu_layers: int, prompt_tokens: int
) -> float:
    """Per prompt token: every batch product on the GPU; per batch, the CPU layers' offload.

    Layers left on the CPU send their weights over for each batch, and each of their products
    makes a round trip; the profile measures both (see ``fit_gpu``).
    """
    on_gpu = repeating_layers_on_gpu(work, gpu_layers)
    cpu_layers = work.n_layer - on_gpu
    on_cpu_share = cpu_layers / work.n_layer if work.n_layer else 0.0
    coefficients = gpu.coefficients
    tokens = max(1, prompt_tokens)
    batches = -(-tokens // PROMPT_BATCH_TOKENS)
    sent = on_cpu_share * sum(work.layer_bytes.values())
    terms = prompt_terms(as_on_gpu(work, writing=False), prompt_tokens=prompt_tokens)
    per_token = sum(c * a for c, a in zip(_prompt_costs(coefficients), terms, strict=True))
    output = coefficients if gpu_layers > 0 else cpu
    last = _weighted(work.output_bytes, output.decode_per_byte) * output.decode_output_factor
    last *= memory_factor(output, sum(work.bytes_per_token.values()))
    last += coefficients.decode_per_vocab * work.n_vocab
    offload = sent * gpu.upload_per_byte + cpu_layers * gpu.offload_per_layer
    return per_token + (last + batches * offload) / tokens


def _prompt_costs(c: SpeedCoefficients) -> tuple[float, ...]:
    fallback = max(c.prompt_per_weight.values(), default=0.0)
    row_fallback = max(c.prompt_per_row.values(), default=0.0)
    return (
        c.prompt_fixed,
        c.prompt_per_layer,
        c.prompt_per_shared_kv_layer,
        *(c.prompt_per_weight.get(kind, fallback) for kind in MEASURED_TYPES),
        *(c.prompt_per_row.get(kind, row_fallback) for kind in MEASURED_TYPES),
    )


def _weighted(amounts: Mapping[str, int], costs: Mapping[str, float]) -> float:
    fallback = max(costs.values(), default=0.0)
    return sum(amount * costs.get(kind, fallback) for kind, amount in amounts.items())


def coefficients_at(profile: Sequence[SpeedCoefficients], threads: int) -> SpeedCoefficients:
    """The profile's coefficients at ``threads``: measured, interpolated or the nearest.

    Between two measured counts every cost is taken to follow Amdahl's law, c(n) = a + b / n:
    a part no thread count speeds up (memory once its bandwidth is used up, sampling, serial
    steps) and a part the threads divide among them. The two measured counts fix a and b, so
    a count between them is interpolated linearly in 1 / n, not in n. Linear in n put 8
    threads between 2 and 16 at 0.43 of the way instead of 0.86: replaying the H200 host's
    probe, forecasts 40-64 % too slow at 8 threads, against 6 % (median) this way.
    """
    ordered = sorted(profile, key=lambda c: c.threads)
    if threads <= ordered[0].threads:
        return ordered[0]
    for low, high in itertools.pairwise(ordered):
        if threads == high.threads:
            return high
        if low.threads < threads < high.threads:
            return _between(low, high, threads)
    return ordered[-1]


def amdahl_share(low: int, high: int, threads: int) -> float:
    """How far ``threads`` lies from ``low`` to ``high`` for costs a + b / threads (0 to 1)."""
    return (1 / low - 1 / threads) / (1 / low - 1 / high)


def _between(low: SpeedCoefficients, high: SpeedCoefficients, threads: int) -> SpeedCoefficients:
    t = amdahl_share(low.threads, high.threads, threads)

    def mix(a: float, b: float) -> float:
        return a + (b - a) * t

    def mix_map(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
        return {key: mix(a.get(key, 0.0), b.get(key, 0.0)) for key in a.keys() | b.keys()}

    return SpeedCoefficients(
        threads=threads,
        decode_fixed=mix(low.decode_fixed, high.decode_fixed),
        decode_per_layer=mix(low.decode_per_layer, high.decode_per_layer),
        decode_per_vocab=mix(low.decode_per_vocab, high.decode_per_vocab),
        decode_per_byte=mix_map(low.decode_per_byte, high.decode_per_byte),
        prompt_fixed=mix(low.prompt_fixed, high.prompt_fixed),
        prompt_per_layer=mix(low.prompt_per_layer, high.prompt_per_layer),
        prompt_per_weight=mix_map(low.prompt_per_weight, high.prompt_per_weight),
        prompt_per_row=mix_map(low.prompt_per_row, high.prompt_per_row),
        decode_per_shared_kv_layer=mix(
            low.decode_per_shared_kv_layer, high.decode_per_shared_kv_layer
        ),
        decode_per_row=mix(low.decode_per_row, high.decode_per_row),
        prompt_per_shared_kv_layer=mix(
            low.prompt_per_shared_kv_layer, high.prompt_per_shared_kv_layer
        ),
        decode_width_factors=_mix_factors(low.decode_width_factors, high.decode_width_factors, t),
        decode_output_factor=mix(low.decode_output_factor, high.decode_output_factor),
        cache_bytes=max(low.cache_bytes, high.cache_bytes),
        decode_cached_factor=mix(low.decode_cached_factor, high.decode_cached_factor),
        prompt_width_factors=_mix_factors(low.prompt_width_factors, high.prompt_width_factors, t),
        prompt_type_width_factors={
            kind: _mix_factors(
                low.prompt_type_width_factors.get(kind, {}),
                high.prompt_type_width_factors.get(kind, {}),
                t,
            )
            for kind in low.prompt_type_width_factors.keys() | high.prompt_type_width_factors.keys()
        },
    )


def _mix_factors(low: Mapping[int, float], high: Mapping[int, float], t: float) -> dict[int, float]:
    """Width factors between two thread counts' (each at every width either measured)."""
    widths = sorted(low.keys() | high.keys())
    return {
        w: width_factor(low, w) + (width_factor(high, w) - width_factor(low, w)) * t for w in widths
    }
