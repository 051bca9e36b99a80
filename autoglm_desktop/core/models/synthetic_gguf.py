"""Write small (or large) GGUF models of a chosen shape with the ``gguf`` package.

The app writes such files to measure this PC's llama.cpp speed (``core.machine.speed_profile``);
the tests write them to try every shape without downloading models.

The files are real models llama.cpp loads: a byte-level BPE vocabulary, every tensor the
architecture needs, exact tensor types and byte counts. The weights are zeros (norms are ones):
the text is noise, but memory use and speed match a real model of the same shape, since ggml's
kernels do not look at values.

    spec = SyntheticModel(arch="gemma3", n_layer=6, sliding_window=512, weight_type="q4_0")
    write_synthetic_gguf(tmp_path / "g.gguf", spec)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

QT = gguf.GGMLQuantizationType
WEIGHT_TYPES = {
    "f32": (QT.F32, gguf.LlamaFileType.ALL_F32),
    "f16": (QT.F16, gguf.LlamaFileType.MOSTLY_F16),
    "q8_0": (QT.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
    "q4_0": (QT.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
    "bf16": (QT.BF16, gguf.LlamaFileType.MOSTLY_BF16),
    "q4_1": (QT.Q4_1, gguf.LlamaFileType.MOSTLY_Q4_1),
    "q5_0": (QT.Q5_0, gguf.LlamaFileType.MOSTLY_Q5_0),
    "q5_1": (QT.Q5_1, gguf.LlamaFileType.MOSTLY_Q5_1),
    "q2_k": (QT.Q2_K, gguf.LlamaFileType.MOSTLY_Q2_K),
    "q3_k": (QT.Q3_K, gguf.LlamaFileType.MOSTLY_Q3_K_M),
    "q4_k": (QT.Q4_K, gguf.LlamaFileType.MOSTLY_Q4_K_M),
    "q5_k": (QT.Q5_K, gguf.LlamaFileType.MOSTLY_Q5_K_M),
    "q6_k": (QT.Q6_K, gguf.LlamaFileType.MOSTLY_Q6_K),
    "iq4_nl": (QT.IQ4_NL, gguf.LlamaFileType.MOSTLY_IQ4_NL),
    "iq4_xs": (QT.IQ4_XS, gguf.LlamaFileType.MOSTLY_IQ4_XS),
}
ARCHITECTURES = ("llama", "gemma3")
# 256 byte tokens and one end-of-text token; merges and fillers come on top.
MIN_VOCAB_SIZE = 257


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]  # ggml order: ne[0] (the row length) first
    qtype: gguf.GGMLQuantizationType

    @property
    def n_bytes(self) -> int:
        block, type_size = gguf.GGML_QUANT_SIZES[self.qtype]
        n_elements = int(np.prod(self.shape))
        return n_elements // block * type_size

    @property
    def layer(self) -> int | None:
        parts = self.name.split(".")
        return int(parts[1]) if parts[0] == "blk" else None


@dataclass(frozen=True)
class SyntheticModel:
    """The shape of a model.

    ``n_head_kv`` may give one value per layer; such files are for reader tests only, since
    llama.cpp's llama and gemma3 graphs need the same KV width on every layer.
    """

    arch: str = "llama"  # "llama" (Llama/SmolLM/Qwen-like) or "gemma3"
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4
    n_head_kv: int | tuple[int, ...] = 2
    n_ff: int = 128
    head_dim: int | None = None  # key/value length; None: n_embd // n_head (written if set)
    vocab_size: int = 512
    weight_type: str = "q8_0"  # a key of WEIGHT_TYPES (norms are always f32)
    # Other types for some matrices, as quantisers mix them ("Q4_K_M"): (name part, type) pairs,
    # e.g. (("token_embd", "q8_0"), ("ffn_down", "q6_k")); the first pair whose part is in a
    # tensor's name wins.
    tensor_types: tuple[tuple[str, str], ...] = ()
    n_ctx_train: int = 4096
    sliding_window: int | None = None  # gemma3: the window of its sliding-window layers
    swa_pattern: int | tuple[bool, ...] | None = None  # {arch}.attention.sliding_window_pattern
    tied_embeddings: bool = True  # False: a separate output.weight
    chat_template: str | None = None
    control_tokens: tuple[str, ...] = ()  # special tokens (chat markers), after <|endoftext|>
    user_defined_tokens: tuple[str, ...] = ()  # matched even in plain text, after those
    bos_token: str = "<|endoftext|>"  # one of the tokens above
    eos_token: str = "<|endoftext|>"
    name: str = "synthetic"
    extra_keys: int = 0  # filler metadata entries ``synthetic.filler.N`` (uint8), for hostile files

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}")
        for kind in (self.weight_type, *(kind for _, kind in self.tensor_types)):
            if kind not in WEIGHT_TYPES:
                raise ValueError(f"weight types must be among {sorted(WEIGHT_TYPES)}")
        if self.vocab_size < MIN_VOCAB_SIZE + len(self.added_tokens):
            raise ValueError(f"vocab_size must be at least {MIN_VOCAB_SIZE} + the added tokens")
        if {self.bos_token, self.eos_token} - {"<|endoftext|>", *self.added_tokens}:
            raise ValueError("bos_token and eos_token must be tokens of the vocabulary")
        if isinstance(self.n_head_kv, tuple) and len(self.n_head_kv) != self.n_layer:
            raise ValueError("n_head_kv needs one value per layer")
        for spec in self.tensor_specs():
            block, _ = gguf.GGML_QUANT_SIZES[spec.qtype]
            if spec.shape[0] % block:
                raise ValueError(f"{spec.name}'s rows are not a multiple of its type's block")

    @property
    def added_tokens(self) -> tuple[str, ...]:
        return (*self.control_tokens, *self.user_defined_tokens)

    @property
    def qtype(self) -> gguf.GGMLQuantizationType:
        return WEIGHT_TYPES[self.weight_type][0]

    def qtype_of(self, tensor_name: str) -> gguf.GGMLQuantizationType:
        """The type of matrix ``tensor_name``: its ``tensor_types`` entry, else the model's."""
        for part, kind in self.tensor_types:
            if part in tensor_name:
                return WEIGHT_TYPES[kind][0]
        return self.qtype

    @property
    def key_length(self) -> int:
        return self.head_dim if self.head_dim is not None else self.n_embd // self.n_head

    def head_count_kv(self, layer: int) -> int:
        return self.n_head_kv[layer] if isinstance(self.n_head_kv, tuple) else self.n_head_kv

    def tensor_specs(self) -> list[TensorSpec]:
        """Every tensor, in file order."""
        f32, embd, hd = QT.F32, self.n_embd, self.key_length
        specs = [self._matrix("token_embd.weight", (embd, self.vocab_size))]
        for il in range(self.n_layer):
            kv_width = self.head_count_kv(il) * hd

            def t(
                suffix: str, shape: tuple[int, ...], qtype: QT | None = None, il: int = il
            ) -> TensorSpec:
                name = f"blk.{il}.{suffix}"
                if qtype is None:
                    return self._matrix(name, shape)
                return TensorSpec(name, shape, qtype)

            specs += [
                t("attn_norm.weight", (embd,), f32),
                t("attn_q.weight", (embd, self.n_head * hd)),
                t("attn_k.weight", (embd, kv_width)),
                t("attn_v.weight", (embd, kv_width)),
                t("attn_output.weight", (self.n_head * hd, embd)),
                t("ffn_norm.weight", (embd,), f32),
                t("ffn_gate.weight", (embd, self.n_ff)),
                t("ffn_up.weight", (embd, self.n_ff)),
                t("ffn_down.weight", (self.n_ff, embd)),
            ]
            if self.arch == "gemma3":
                specs += [
                    t("attn_q_norm.weight", (hd,), f32),
                    t("attn_k_norm.weight", (hd,), f32),
                    t("post_attention_norm.weight", (embd,), f32),
                    t("post_ffw_norm.weight", (embd,), f32),
                ]
        specs.append(TensorSpec("output_norm.weight", (embd,), f32))
        if not self.tied_embeddings:
            specs.append(self._matrix("output.weight", (embd, self.vocab_size)))
        return specs

    def _matrix(self, name: str, shape: tuple[int, ...]) -> TensorSpec:
        return TensorSpec(name, shape, self.qtype_of(name))

    def layer_bytes(self) -> list[int]:
        totals = [0] * self.n_layer
        for spec in self.tensor_specs():
            if spec.layer is not None:
                totals[spec.layer] += spec.n_bytes
        return totals


# ChatML, as most small models use.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def write_synthetic_gguf(path: Path, model: SyntheticModel) -> Path:
    """Write ``model`` to ``path`` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(path, model.arch)
    _write_hyperparameters(writer, model)
    _write_vocabulary(writer, model)
    if model.chat_template is not None:
        writer.add_chat_template(model.chat_template)
    for i in range(model.extra_keys):
        writer.add_uint8(f"synthetic.filler.{i}", 0)
    specs = model.tensor_specs()
    for spec in specs:
        numpy_shape = tuple(reversed(spec.shape))
        dtype = np.float32 if spec.qtype == QT.F32 else np.float16
        raw = None if spec.qtype in (QT.F32, QT.F16) else spec.qtype
        writer.add_tensor_info(spec.name, numpy_shape, np.dtype(dtype), spec.n_bytes, raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for spec in specs:
        writer.write_tensor_data(_data(spec))
    writer.close()
    return path


def _data(spec: TensorSpec) -> np.ndarray:
    if len(spec.shape) == 1:  # norms: ones keep activations finite
        return np.ones(spec.shape[0], dtype=np.float32)
    return np.zeros(spec.n_bytes, dtype=np.uint8)


def _write_hyperparameters(writer: gguf.GGUFWriter, model: SyntheticModel) -> None:
    writer.add_name(model.name)
    writer.add_type("model")
    writer.add_context_length(model.n_ctx_train)
    writer.add_embedding_length(model.n_embd)
    writer.add_block_count(model.n_layer)
    writer.add_feed_forward_length(model.n_ff)
    writer.add_head_count(model.n_head)
    writer.add_head_count_kv(
        list(model.n_head_kv) if isinstance(model.n_head_kv, tuple) else model.n_head_kv
    )
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(10000.0)
    if model.head_dim is not None or model.arch == "gemma3":
        writer.add_key_length(model.key_length)
        writer.add_value_length(model.key_length)
    if model.arch == "llama":
        writer.add_rope_dimension_count(model.key_length)
    if model.sliding_window is not None:
        writer.add_sliding_window(model.sliding_window)
    if model.swa_pattern is not None:
        pattern = model.swa_pattern
        writer.add_sliding_window_pattern(pattern if isinstance(pattern, int) else list(pattern))
    writer.add_vocab_size(model.vocab_size)
    writer.add_file_type(int(WEIGHT_TYPES[model.weight_type][1]))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _write_vocabulary(writer: gguf.GGUFWriter, model: SyntheticModel) -> None:
    """A byte-level BPE ("gpt2") vocabulary: 256 byte tokens, some merges, <|endoftext|>.

    The model's added tokens follow <|endoftext|> (in place of as many merges).
    """
    vocab_size, added = model.vocab_size, model.added_tokens
    tokens = _byte_alphabet()
    letters = "etaoinshrdlucmfw"
    n_pairs = max(0, vocab_size - MIN_VOCAB_SIZE - len(added))
    pairs = [a + b for a in letters for b in letters][:n_pairs]
    merges = [f"{pair[0]} {pair[1]}" for pair in pairs]
    tokens += pairs
    end_of_text = len(tokens)
    tokens += ["<|endoftext|>", *added]
    tokens += [f"<|synthetic_{i}|>" for i in range(len(tokens), vocab_size)]
    token_types = [int(gguf.TokenType.NORMAL)] * len(tokens)
    for index in range(end_of_text, end_of_text + 1 + len(model.control_tokens)):
        token_types[index] = int(gguf.TokenType.CONTROL)
    for index in range(end_of_text + 1 + len(model.control_tokens), end_of_text + 1 + len(added)):
        token_types[index] = int(gguf.TokenType.USER_DEFINED)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index(model.bos_token))
    writer.add_eos_token_id(tokens.index(model.eos_token))
    writer.add_add_bos_token(False)


def _byte_alphabet() -> list[str]:
    """GPT-2's printable stand-in for each byte value."""
    printable: Sequence[int] = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]
