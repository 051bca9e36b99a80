"""How much RAM and VRAM a model needs with a given :class:`LoadPlan`, before loading it.

Everything comes from the GGUF header (:mod:`gguf_info`) and the rules of the llama.cpp that
llama-cpp-python 0.3.36 bundles; nothing is loaded. The parts:

* **Weights**, exactly from the tensor table. ``n_gpu_layers = k`` puts the *output* layer and
  the last ``k - 1`` repeating layers on the GPUs (``k = n_layer + 1`` offloads everything); the
  token embeddings always stay on the CPU. Several GPUs share the layers in proportion to their
  free memory, as llama.cpp's default split does. On the CPU, matrices of some types are
  *repacked* into an anonymous copy for faster kernels (Q4_0, Q4_K, IQ4_NL on AVX2; more on ARM):
  with mmap the file pages of those tensors stay mapped too, so they count twice in the process's
  resident set, but the kernel may drop the file pages: they are resident, not required.
* **KV cache**, per layer from the GQA head counts and key/value lengths, ``n_ctx`` padded to 256
  cells, sliding-window layers sized to the window plus one micro-batch (``swa_full=False``),
  f16/q8_0/q4_0 cells; recurrent layers (Mamba-style) hold a fixed state instead. llama.cpp clears
  the cache when it creates it, so all of it is resident from the start.
* **Compute buffers**, from a formula calibrated on the buffer sizes llama.cpp reports in its
  dry-run (no-alloc) load: the largest per-layer activation set (feed-forward or, without flash
  attention, the ``n_head × n_kv × n_ubatch`` attention matrix) plus the attention masks; the
  reserved size also covers logits for a whole micro-batch. GPU backends allocate the reserved
  size; on the CPU only the pages a real batch touches become resident, and llama-cpp-python asks
  for the logits of one token only, so the resident part is the per-layer peak. With a GPU
  backend, batches of 32 tokens or more run on the first GPU even for layers kept on the CPU
  (their weights are copied over per layer), so with no layer offloaded that GPU still holds a
  compute buffer plus the output matrix, and with layers on the CPU it also needs room for one
  CPU layer's K and V (measured: up to that much more, also when generating at long context);
  the CPU side is then a small pinned buffer (input embeddings and attention masks).
* **Fixed overheads**: the engine process (Python, llama-cpp-python, the shared libraries), the
  tokenizer tables (about 230 bytes per vocabulary entry), and a GPU runtime context per GPU
  (with its host side in RAM).

The constants were measured on Linux x86-64 (``bench/estimate_accuracy.py`` checks them: every
estimate within 10 % of the measured resident set; ``bench/gpu_validation.py`` checks VRAM on
an NVIDIA GPU). ``ram_bytes`` is the resident set of the
engine process once loaded and generating with the context full; ``ram_required_bytes`` leaves
out the file pages the kernel may reclaim and is what the tuner fits into available RAM.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from autoglm_desktop.core.common.errors import ModelFileError
from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.machine.hardware import GpuReading
from autoglm_desktop.core.models.gguf_info import GGUFInfo, TensorInfo, read_gguf_info

MIB = 1 << 20
KV_CELL_PADDING = 256  # llama.cpp pads the KV cache to this many cells
KQ_MASK_PADDING = 64  # and the mask's token dimension to this many rows

# Bytes per element of the KV cache types the engine offers.
KV_TYPE_BYTES = {"f32": 4.0, "f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
QUANTIZED_KV_TYPES = frozenset({"q8_0", "q4_0"})

# Measured with EngineClient on Linux x86-64, Python 3.11: the engine process right after
# loading a 0.1 MB model with a 512-token vocabulary.
ENGINE_BASE_ANON_BYTES = 29 * 1000 * 1000  # interpreter, llama-cpp-python, numpy, jinja2
ENGINE_BASE_FILE_BYTES = 23 * 1000 * 1000  # shared libraries and Python modules, mapped
# llama.cpp's vocabulary (token texts, the text->id map, the piece cache) and llama-cpp-python's
# per-token sampling arrays: 165-290 bytes per entry measured, depending on token length.
VOCAB_BYTES_PER_TOKEN = 230
VOCAB_BYTES_PER_MERGE = 80
# GPU runtime context (driver, cuBLAS handles and workspaces, ggml's CUDA memory pool) per GPU
# the engine uses, once it has generated: 597-599 MiB for every plan measured on an H200
# (CUDA 13, driver 580; bench/gpu_validation.py). ROCm runs the same ggml code through HIP
# and Vulkan is a guess: neither is measured. Metal shares system memory.
GPU_RUNTIME_BYTES = {"cuda": 600 * MIB, "rocm": 600 * MIB, "vulkan": 250 * MIB, "metal": 0}
DEFAULT_GPU_RUNTIME_BYTES = 600 * MIB
# The same runtime's host side in the engine's RAM (CUDA's libraries, the driver's mappings):
# 334-357 MiB of extra resident memory measured with CUDA. Not measured for the others.
GPU_HOST_RUNTIME_BYTES = {"cuda": 350 * MIB, "rocm": 350 * MIB}

# sliding_window_pattern defaults of llama.cpp for architectures whose files may omit it:
# every n-th layer is global (full context), the others use the sliding window.
_DEFAULT_SWA_PERIOD = {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "cohere2": 4, "gpt-oss": 2}
# Architectures with Gemma's extra norms and GELU-gated feed-forward (one more activation).
_GEMMA_LIKE = frozenset({"gemma", "gemma2", "gemma3", "gemma3n", "gemma-embedding"})

# Tensor types the CPU backend repacks, by CPU feature: (type, features needed, row multiple).
_REPACK_RULES: tuple[tuple[str, frozenset[str], int], ...] = (
    ("Q4_0", frozenset({"avx2"}), 8),
    ("Q4_0", frozenset({"neon", "i8mm"}), 4),
    ("Q4_0", frozenset({"neon", "dotprod"}), 4),
    ("Q4_K", frozenset({"avx2"}), 8),
    ("Q4_K", frozenset({"neon", "dotprod"}), 8),
    ("Q2_K", frozenset({"avx512f"}), 8),
    ("Q5_K", frozenset({"neon", "dotprod"}), 8),
    ("Q6_K", frozenset({"neon", "dotprod"}), 8),
    ("IQ4_NL", frozenset({"avx2"}), 8),
    ("IQ4_NL", frozenset({"neon"}), 4),
    ("MXFP4", frozenset({"avx2"}), 8),
    ("MXFP4", frozenset({"neon", "dotprod"}), 4),
    ("Q8_0", frozenset({"neon", "dotprod"}), 4),
)
# Activations converted for quantized matrix products (q8_0/q8_1/q8_K), bytes per float.
_QUANTIZED_ACTIVATION_BYTES = 1.125

_SPLIT_NAME = re.compile(r"^(?P<prefix>.*)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")


@dataclass(frozen=True)
class DeviceMemory:
    """What one device (the CPU's RAM or one GPU) holds, in bytes."""

    weights: int = 0
    kv_cache: int = 0
    compute: int = 0
    output: int = 0  # the logits buffer (host memory)
    overhead: int = 0  # process, tokenizer tables, GPU runtime context

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute + self.output + self.overhead


@dataclass(frozen=True)
class MemoryEstimate:
    """Predicted memory of the engine process for one plan."""

    ram_bytes: int  # resident set once loaded and generating, context full
    ram_required_bytes: int  # of that, what must stay in physical RAM
    vram_bytes: tuple[int, ...]  # one per GPU given
    ram: DeviceMemory
    gpus: tuple[DeviceMemory, ...]
    n_layer: int
    gpu_layers: int  # repeating layers on GPUs
    output_on_gpu: bool
    kv_cells: int  # cells of full-context layers (n_ctx padded)
    swa_kv_cells: int | None  # cells of sliding-window layers; None: the model has none
    repacked_bytes: int  # weights copied into the CPU's repacked layout
    mapped_bytes: int  # file pages mapped and resident (mmap)

    @property
    def kv_cache_bytes(self) -> int:
        return self.ram.kv_cache + sum(g.kv_cache for g in self.gpus)

    @property
    def fully_offloaded(self) -> bool:
        return self.gpu_layers == self.n_layer and self.output_on_gpu


@dataclass(frozen=True)
class ReservedBuffers:
    """The buffer sizes llama.cpp itself reports when it creates the context (all devices)."""

    kv_cache: int
    compute: int
    output: int


@dataclass(frozen=True)
class _Shape:
    """The hyperparameters the estimate needs, with llama.cpp's defaults filled in."""

    arch: str
    n_layer: int
    n_embd: int
    n_vocab: int
    n_merges: int
    head_k: int
    head_v: int
    n_head: tuple[int, ...]
    n_head_kv: tuple[int, ...]
    n_ff: tuple[int, ...]
    swa_layers: tuple[bool, ...]
    n_swa: int
    recurrent_state_bytes: int  # per recurrent layer (f32 conv + ssm state)


def estimate_memory(
    *,
    info: GGUFInfo,
    plan: LoadPlan,
    gpus: Sequence[GpuReading] = (),
    cpu_features: frozenset[str] | None = None,
    tokens_in_context: int | None = None,
    largest_batch: int | None = None,
) -> MemoryEstimate:
    """Predict RAM and per-GPU memory of loading ``info``'s model with ``plan``.

    Args:
        info: the model's GGUF header (the first file of a split model; the others are read).
        plan: the load plan. ``n_gpu_layers`` counts the output layer, as llama.cpp does.
        gpus: the GPUs llama.cpp will use, in its order; their free memory sets the split.
        cpu_features: the CPU's features (``hardware.read_cpu_features``), which decide which
            weights the CPU backend repacks; ``None``: assume an x86 CPU with AVX2.
        tokens_in_context: for predicting a particular moment, the tokens in the KV cache
            during the largest batch; ``None``: the context is full (the worst case).
        largest_batch: the largest batch evaluated so far; ``None``: a full micro-batch.

    Raises:
        ModelFileError: a part of a split model is missing or unreadable.
    """
    if not plan.use_gpu:
        gpus = ()  # the engine hides every GPU: nothing is placed on them
    shape = _shape(info)
    tensors = _all_tensors(info)
    n_ctx = max(1, plan.n_ctx)
    ubatch = max(1, min(plan.n_ubatch, plan.n_batch, n_ctx))
    kv_cells = _pad(n_ctx, KV_CELL_PADDING)
    has_swa = any(shape.swa_layers) and shape.n_swa > 0
    swa_cells = min(kv_cells, _pad(shape.n_swa + ubatch, KV_CELL_PADDING)) if has_swa else None

    placement = _place_layers(shape.n_layer, plan.n_gpu_layers, gpus)
    devices = len(gpus)
    features = cpu_features if cpu_features is not None else frozenset({"avx2", "avx", "fma"})

    weights = _weights(tensors, placement, devices, features, plan.use_mmap)
    kv = _kv_cache(shape, placement, devices, plan, kv_cells, swa_cells)

    flash = plan.flash_attn
    reserve = _compute_reserve(shape, ubatch, kv_cells, swa_cells, flash, has_output=True)
    reserve_layers = _compute_reserve(shape, ubatch, kv_cells, swa_cells, flash, has_output=False)
    batch = ubatch if largest_batch is None else max(1, min(largest_batch, ubatch))
    context_cells = kv_cells
    if tokens_in_context is not None:
        context_cells = min(kv_cells, _pad(max(tokens_in_context, batch), KV_CELL_PADDING))
    state_swa = min(swa_cells, context_cells) if swa_cells is not None else None
    touched = _layer_peak(shape, batch, context_cells, state_swa, flash) + _work_buffer(
        shape, batch, weights.cpu_weight_types
    )

    gpu_compute = [0] * devices
    for index in range(devices):
        if placement.layers_on(index):
            gpu_compute[index] = reserve_layers
        if placement.output_device == index:
            gpu_compute[index] = reserve
    offloading = [i for i, g in enumerate(gpus) if not g.unified_memory]
    if offloading:
        # Big batches run on the first GPU whatever the placement (see the module docstring).
        main = offloading[0] if placement.output_device is None else placement.output_device
        if placement.output_device is None:
            gpu_compute[main] = reserve + _output_matrix_bytes(tensors)
        if placement.cpu_layers:
            gpu_compute[main] += _cpu_layer_kv_bytes(shape, placement, plan, kv_cells, swa_cells)
        cpu_compute = _host_buffer(shape, ubatch, kv_cells, swa_cells, flash)
    elif placement.cpu_layers or placement.output_device is None:
        cpu_compute = touched
    else:  # fully offloaded: the CPU only embeds the input tokens
        cpu_compute = 2 * shape.n_embd * batch * 4

    output = shape.n_vocab * 4
    overhead = (
        ENGINE_BASE_ANON_BYTES
        + ENGINE_BASE_FILE_BYTES
        + shape.n_vocab * VOCAB_BYTES_PER_TOKEN
        + shape.n_merges * VOCAB_BYTES_PER_MERGE
        + max((GPU_HOST_RUNTIME_BYTES.get(gpus[i].backend, 0) for i in offloading), default=0)
    )
    ram = DeviceMemory(
        weights=weights.cpu_resident,
        kv_cache=kv.cpu,
        compute=cpu_compute,
        output=output,
        overhead=overhead,
    )
    gpu_memory = tuple(
        DeviceMemory(
            weights=weights.gpu[i],
            kv_cache=kv.gpu[i],
            compute=gpu_compute[i],
            overhead=GPU_RUNTIME_BYTES.get(gpus[i].backend, DEFAULT_GPU_RUNTIME_BYTES),
        )
        for i in range(devices)
    )
    return MemoryEstimate(
        ram_bytes=ram.total,
        ram_required_bytes=ram.total - weights.reclaimable,
        vram_bytes=tuple(g.total for g in gpu_memory),
        ram=ram,
        gpus=gpu_memory,
        n_layer=shape.n_layer,
        gpu_layers=shape.n_layer - placement.cpu_layers,
        output_on_gpu=placement.output_device is not None,
        kv_cells=kv_cells,
        swa_kv_cells=swa_cells,
        repacked_bytes=weights.repacked,
        mapped_bytes=weights.mapped,
    )


def reserved_buffers(*, info: GGUFInfo, plan: LoadPlan) -> ReservedBuffers:
    """The KV, compute and output buffer sizes llama.cpp reports for ``plan`` on the CPU.

    These are reservations (the compute buffer includes logits for a whole micro-batch), the
    figures its log prints; :func:`estimate_memory` predicts what becomes resident.
    """
    shape = _shape(info)
    n_ctx = max(1, plan.n_ctx)
    ubatch = max(1, min(plan.n_ubatch, plan.n_batch, n_ctx))
    kv_cells = _pad(n_ctx, KV_CELL_PADDING)
    has_swa = any(shape.swa_layers) and shape.n_swa > 0
    swa_cells = min(kv_cells, _pad(shape.n_swa + ubatch, KV_CELL_PADDING)) if has_swa else None
    placement = _place_layers(shape.n_layer, 0, ())
    kv = _kv_cache(shape, placement, 0, plan, kv_cells, swa_cells)
    compute = _compute_reserve(shape, ubatch, kv_cells, swa_cells, plan.flash_attn, True)
    return ReservedBuffers(kv_cache=kv.cpu, compute=compute, output=shape.n_vocab * 4)


def max_gpu_layers(info: GGUFInfo) -> int:
    """The ``n_gpu_layers`` that offloads everything: the repeating layers plus the output."""
    return _shape(info).n_layer + 1


# ------------------------------------------------------------------------------ the model


def _shape(info: GGUFInfo) -> _Shape:
    if info.is_projector:
        raise ModelFileError(f"{info.path.name} is a multimodal projector, not a language model.")
    n_layer = info.n_layer or len(info.layer_bytes)
    if n_layer <= 0 or not info.n_embd:
        raise ModelFileError(
            f"{info.path.name} does not describe its layers (block_count / embedding_length)."
        )
    n_embd = info.n_embd
    n_head = _per_layer(info.n_head_per_layer, n_layer, 1)
    n_head_kv = _per_layer(info.n_head_kv_per_layer, n_layer, n_head[0])
    default_head = n_embd // max(1, n_head[0])
    n_ff = _per_layer(info.n_ff_per_layer, n_layer, 4 * n_embd)
    if info.n_expert and info.n_expert_used:
        expert_ff = _metadata_int(info, f"{info.architecture}.expert_feed_forward_length")
        if expert_ff:
            n_ff = tuple(max(f, expert_ff * info.n_expert_used) for f in n_ff)
    n_swa, swa_layers = _sliding_window(info, n_layer)
    return _Shape(
        arch=info.architecture,
        n_layer=n_layer,
        n_embd=n_embd,
        n_vocab=info.vocab_size or 0,
        n_merges=_array_length(info, "tokenizer.ggml.merges"),
        head_k=info.key_length or default_head,
        head_v=info.value_length or default_head,
        n_head=n_head,
        n_head_kv=n_head_kv,
        n_ff=n_ff,
        swa_layers=swa_layers,
        n_swa=n_swa,
        recurrent_state_bytes=_recurrent_state_bytes(info),
    )


def _per_layer(values: tuple[int, ...], n_layer: int, default: int) -> tuple[int, ...]:
    if not values:
        return (default,) * n_layer
    if len(values) < n_layer:
        return tuple(values) + (values[-1],) * (n_layer - len(values))
    return tuple(values[:n_layer])


def _sliding_window(info: GGUFInfo, n_layer: int) -> tuple[int, tuple[bool, ...]]:
    """The window and which layers use it, with llama.cpp's per-architecture defaults.

    An architecture that has a window but no known pattern counts as having none: a full-size
    cache overestimates, which is the safe side.
    """
    window = info.sliding_window or 0
    pattern = info.sliding_window_pattern
    if window <= 0:
        return 0, (False,) * n_layer
    if isinstance(pattern, tuple):
        flags = tuple(pattern[:n_layer]) + (False,) * max(0, n_layer - len(pattern))
        return window, flags
    period = pattern if isinstance(pattern, int) else _DEFAULT_SWA_PERIOD.get(info.architecture)
    if period is None:
        return 0, (False,) * n_layer
    # llama_hparams::set_swa_pattern: period 0 = every layer, else the last of each period is
    # global.
    return window, tuple(period == 0 or il % period < period - 1 for il in range(n_layer))


def _recurrent_state_bytes(info: GGUFInfo) -> int:
    """Per-layer state of Mamba-style layers (f32 conv and SSM states), 0 for attention models."""
    arch = info.architecture
    d_inner = _metadata_int(info, f"{arch}.ssm.inner_size")
    d_state = _metadata_int(info, f"{arch}.ssm.state_size")
    if not d_inner or not d_state:
        return 0
    d_conv = _metadata_int(info, f"{arch}.ssm.conv_kernel") or 4
    groups = _metadata_int(info, f"{arch}.ssm.group_count") or 1
    conv = (d_conv - 1) * (d_inner + 2 * groups * d_state)
    return 4 * (conv + d_state * d_inner)


def _metadata_int(info: GGUFInfo, key: str) -> int | None:
    value = info.metadata.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _array_length(info: GGUFInfo, key: str) -> int:
    value = info.metadata.get(key)
    length = getattr(value, "length", None)
    if isinstance(length, int):
        return length
    return len(value) if isinstance(value, tuple) else 0


def _all_tensors(info: GGUFInfo) -> tuple[TensorInfo, ...]:
    """The tensors of every part of a split model (each part's offsets are within its file)."""
    if not info.is_split:
        return info.tensors
    match = _SPLIT_NAME.match(info.path.name)
    if match is None:
        raise ModelFileError(
            f"{info.path.name} is part of a split model but is not named like one."
        )
    tensors = list(info.tensors) if info.split_index == 0 else []
    for index in range(info.split_count):
        if index == info.split_index:
            continue
        part = info.path.with_name(
            f"{match.group('prefix')}-{index + 1:05d}-of-{info.split_count:05d}.gguf"
        )
        tensors += _shifted(read_gguf_info(part).tensors, index)
    return tuple(tensors)


def _shifted(tensors: Iterable[TensorInfo], part: int) -> list[TensorInfo]:
    """Offsets of other parts moved far apart, so spans never mix files."""
    shift = part << 48
    return [
        TensorInfo(
            t.name, t.type_id, t.type_name, t.shape, t.n_elements, t.n_bytes, t.offset + shift
        )
        for t in tensors
    ]


def _pad(value: int, multiple: int) -> int:
    return (value + multiple - 1) // multiple * multiple


# ------------------------------------------------------------------------------ placement


@dataclass(frozen=True)
class _Placement:
    layer_device: tuple[int | None, ...]  # None: CPU, else the GPU index
    output_device: int | None

    @property
    def cpu_layers(self) -> int:
        return sum(1 for d in self.layer_device if d is None)

    def layers_on(self, gpu: int) -> int:
        return sum(1 for d in self.layer_device if d == gpu)


def _place_layers(n_layer: int, n_gpu_layers: int, gpus: Sequence[GpuReading]) -> _Placement:
    """llama_model::load_tensors: the output layer first, then repeating layers from the end."""
    if not gpus or n_gpu_layers <= 0:
        return _Placement((None,) * n_layer, None)
    n_gpu_layers = min(n_gpu_layers, n_layer + 1)
    first_gpu_layer = n_layer + 1 - n_gpu_layers
    free = [max(0, g.free_bytes or g.total_bytes or 0) for g in gpus]
    total = sum(free) or len(gpus)
    splits, running = [], 0.0
    for value in free if sum(free) else [1] * len(gpus):
        running += value
        splits.append(running / total)

    def device(il: int) -> int | None:
        if il < first_gpu_layer:
            return None
        fraction = (il - first_gpu_layer) / n_gpu_layers
        return min(len(gpus) - 1, sum(1 for s in splits if s <= fraction))

    return _Placement(tuple(device(il) for il in range(n_layer)), device(n_layer))


# ------------------------------------------------------------------------------ weights


@dataclass(frozen=True)
class _Weights:
    cpu_resident: int  # mapped span + anonymous copies
    reclaimable: int  # mapped file pages nothing reads after loading
    gpu: tuple[int, ...]
    repacked: int
    mapped: int
    cpu_weight_types: frozenset[str]


def _weights(
    tensors: Sequence[TensorInfo],
    placement: _Placement,
    devices: int,
    features: frozenset[str],
    use_mmap: bool,
) -> _Weights:
    gpu = [0] * devices
    copied = repacked = 0
    in_mapping: list[TensorInfo] = []
    used_mapped = 0
    types: set[str] = set()
    tied = not any(t.name == "output.weight" for t in tensors)
    for tensor in tensors:
        device = _tensor_device(tensor, placement)
        is_embedding = tensor.name.startswith("token_embd.")
        if device is not None:
            gpu[device] += tensor.n_bytes
            continue
        if not is_embedding and len(tensor.shape) >= 2:
            types.add(tensor.type_name)
        if not is_embedding and _repacked(tensor, features):
            repacked += tensor.n_bytes
        elif use_mmap:
            in_mapping.append(tensor)
            used_mapped += tensor.n_bytes
        else:
            copied += tensor.n_bytes
        if is_embedding and tied:
            # The output layer reuses the embeddings: a GPU copy, or a repacked CPU copy.
            if placement.output_device is not None:
                gpu[placement.output_device] += tensor.n_bytes
            elif _repacked(tensor, features):
                repacked += tensor.n_bytes
            types.add(tensor.type_name)
    mapped = _mapped_span(in_mapping) if use_mmap else 0
    return _Weights(
        cpu_resident=mapped + copied + repacked,
        reclaimable=max(0, mapped - used_mapped),
        gpu=tuple(gpu),
        repacked=repacked,
        mapped=mapped,
        cpu_weight_types=frozenset(types),
    )


def _tensor_device(tensor: TensorInfo, placement: _Placement) -> int | None:
    layer = tensor.layer
    if layer is not None:
        if layer < len(placement.layer_device):
            return placement.layer_device[layer]
        return None
    if tensor.name.startswith(("output.", "output_norm.")):
        return placement.output_device
    return None  # token embeddings and other global tensors stay on the CPU


def _repacked(tensor: TensorInfo, features: frozenset[str]) -> bool:
    if len(tensor.shape) not in (2, 3) or tensor.name.endswith(".bias"):
        return False
    rows = tensor.shape[1]
    return any(
        tensor.type_name == type_name and needs <= features and rows % multiple == 0
        for type_name, needs, multiple in _REPACK_RULES
    )


def _mapped_span(tensors: Sequence[TensorInfo]) -> int:
    """llama.cpp unmaps the file outside the range of tensors used from the mapping."""
    if not tensors:
        return 0
    by_file: dict[int, tuple[int, int]] = {}
    for tensor in tensors:
        part = tensor.offset >> 48
        start, end = by_file.get(part, (tensor.offset, tensor.offset + tensor.n_bytes))
        by_file[part] = (min(start, tensor.offset), max(end, tensor.offset + tensor.n_bytes))
    return sum(end - start for start, end in by_file.values())


# ------------------------------------------------------------------------------ KV cache


@dataclass(frozen=True)
class _KvCache:
    cpu: int
    gpu: tuple[int, ...]


def _kv_cache(
    shape: _Shape,
    placement: _Placement,
    devices: int,
    plan: LoadPlan,
    kv_cells: int,
    swa_cells: int | None,
) -> _KvCache:
    k_bytes = KV_TYPE_BYTES.get(plan.type_k, 2.0)
    v_bytes = KV_TYPE_BYTES.get(plan.type_v, 2.0)
    cpu = 0
    gpu = [0] * devices
    for il in range(shape.n_layer):
        heads_kv = shape.n_head_kv[il]
        if heads_kv == 0:  # a recurrent layer of a hybrid model, or a pure SSM
            size = shape.recurrent_state_bytes
        else:
            cells = swa_cells if shape.swa_layers[il] and swa_cells is not None else kv_cells
            per_cell = heads_kv * (shape.head_k * k_bytes + shape.head_v * v_bytes)
            size = int(cells * per_cell)
        device = placement.layer_device[il]
        if device is None:
            cpu += size
        else:
            gpu[device] += size
    return _KvCache(cpu, tuple(gpu))


# ------------------------------------------------------------------------------ compute


def _layer_peak(
    shape: _Shape, batch: int, cells: int, swa_cells: int | None, flash_attn: bool
) -> int:
    """Bytes of the largest set of activations live in one layer, plus the attention masks.

    Calibrated against llama.cpp's reported compute buffers (llama and gemma3 graphs, 2-32
    layers, n_ubatch 128-2048, n_ctx 512-32768): feed-forward peak ``3 n_ff + 4 n_embd``
    floats per token (one more query width for Gemma), attention without flash attention
    ``n_head × n_kv`` floats per token plus the layer's other tensors.
    """
    embd = shape.n_embd
    feed_forward = 3 * max(shape.n_ff) + 4 * embd
    query = max(shape.n_head) * shape.head_k
    if shape.arch in _GEMMA_LIKE:
        feed_forward += query
    peak = max(feed_forward, 5 * embd) * batch * 4
    mask_rows = _pad(batch, KQ_MASK_PADDING)
    mask_bytes = 2 if flash_attn else 4
    masks = cells * mask_rows * mask_bytes
    if swa_cells is not None:
        masks += swa_cells * mask_rows * mask_bytes
    if not flash_attn:
        kv_width = max(shape.n_head_kv) * shape.head_k
        attention = (max(shape.n_head) * cells + 4 * embd + query + 2 * kv_width) * batch * 4
        peak = max(peak, attention)
    return peak + masks


def _compute_reserve(
    shape: _Shape,
    ubatch: int,
    cells: int,
    swa_cells: int | None,
    flash_attn: bool,
    has_output: bool,
) -> int:
    """The compute buffer llama.cpp reserves: the worst of a layer and the logits of a batch."""
    layers = _layer_peak(shape, ubatch, cells, swa_cells, flash_attn)
    if not has_output:
        return layers
    logits = (shape.n_vocab + 2 * shape.n_embd) * ubatch * 4
    return max(layers, logits)


def _work_buffer(shape: _Shape, batch: int, weight_types: frozenset[str]) -> int:
    """The CPU backend's scratch: activations converted for the matrix products."""
    widest = max(max(shape.n_ff), shape.n_embd)
    if weight_types <= {"F32"}:
        return 0
    per_float = 2.0 if weight_types <= {"F16", "BF16", "F32"} else _QUANTIZED_ACTIVATION_BYTES
    return int(widest * batch * per_float)


def _host_buffer(
    shape: _Shape, ubatch: int, cells: int, swa_cells: int | None, flash_attn: bool
) -> int:
    """The pinned host compute buffer next to a GPU: input embeddings and attention masks.

    Measured (CUDA_Host, dry run): ``2 n_embd`` floats per token plus the f16 mask, on every
    n_gpu_layers.
    """
    mask_rows = _pad(ubatch, KQ_MASK_PADDING)
    mask_bytes = 2 if flash_attn else 4
    masks = cells * mask_rows * mask_bytes
    if swa_cells is not None:
        masks += swa_cells * mask_rows * mask_bytes
    return 2 * shape.n_embd * ubatch * 4 + masks


def _output_matrix_bytes(tensors: Sequence[TensorInfo]) -> int:
    """The output projection (or the embeddings it is tied to), copied for batches on a GPU."""
    by_name = {t.name: t.n_bytes for t in tensors}
    return by_name.get("output.weight", by_name.get("token_embd.weight", 0))


def _cpu_layer_kv_bytes(
    shape: _Shape,
    placement: _Placement,
    plan: LoadPlan,
    kv_cells: int,
    swa_cells: int | None,
) -> int:
    """One CPU layer's K and V, which attention on the GPU copies over (the largest layer)."""
    k_bytes = KV_TYPE_BYTES.get(plan.type_k, 2.0)
    v_bytes = KV_TYPE_BYTES.get(plan.type_v, 2.0)
    largest = 0
    for il, device in enumerate(placement.layer_device):
        if device is not None or shape.n_head_kv[il] == 0:
            continue
        cells = swa_cells if shape.swa_layers[il] and swa_cells is not None else kv_cells
        per_cell = shape.n_head_kv[il] * (shape.head_k * k_bytes + shape.head_v * v_bytes)
        largest = max(largest, int(cells * per_cell))
    return largest
