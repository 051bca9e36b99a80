"""GGUF metadata and tensor table: the real starter model, synthetic shapes, hostile files."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic_gguf import SyntheticModel, write_synthetic_gguf

from autoglm_desktop.core.common.errors import GGUFFormatError, ModelFileError
from autoglm_desktop.core.models.gguf_info import ArraySummary, GGUFInfo, read_gguf_info

# --------------------------------------------------------------------------- the starter model


def test_starter_model_info(starter_model: Path) -> None:
    info = read_gguf_info(starter_model)
    assert (info.architecture, info.version, info.alignment) == ("llama", 3, 32)
    assert info.file_type_name == "Q4_1"
    assert (info.n_ctx_train, info.n_layer, info.n_embd) == (8192, 30, 576)
    assert (info.n_head, info.n_head_kv) == (9, 3)
    assert info.n_head_kv_per_layer == (3,) * 30
    assert info.n_ff_per_layer == (1536,) * 30
    assert (info.key_length, info.value_length) == (64, 64)  # 576 / 9, not in the file
    assert info.sliding_window is None and info.sliding_window_pattern is None
    assert info.n_expert is None
    assert info.vocab_size == 49152
    assert (info.bos_token_id, info.eos_token_id) == (1, 2)
    assert info.chat_template is not None and "<|im_start|>" in info.chat_template
    assert not info.is_split and not info.is_projector
    assert info.metadata["tokenizer.ggml.merges"] == ArraySummary("string", 48900)

    assert len(info.tensors) == 272
    embd = info.tensors[0]
    assert (embd.name, embd.type_name, embd.shape) == ("token_embd.weight", "Q8_0", (576, 49152))
    assert embd.n_bytes == 576 * 49152 // 32 * 34
    assert info.token_embd_bytes == embd.n_bytes
    assert not info.has_output_tensor  # tied: llama.cpp reuses token_embd as the output
    assert info.output_bytes == 576 * 4  # output_norm only
    assert info.other_bytes == 0
    assert info.layer_bytes == (2_216_448,) * 30
    last = max(info.tensors, key=lambda t: t.offset)
    assert last.offset + last.n_bytes == info.file_size  # the table accounts for every byte
    assert info.total_weight_bytes == sum(t.n_bytes for t in info.tensors) == 96_576_768


@pytest.mark.slow
def test_sizes_agree_with_llama_cpp(starter_model: Path, tmp_path: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    synthetic = write_synthetic_gguf(
        tmp_path / "gemma.gguf",
        SyntheticModel(
            arch="gemma3",
            n_layer=6,
            n_embd=128,
            n_head=4,
            n_head_kv=1,
            head_dim=64,
            n_ff=256,
            sliding_window=512,
            weight_type="q4_0",
        ),
    )
    for path in (starter_model, synthetic):
        info = read_gguf_info(path)
        params = llama_cpp.llama_model_default_params()
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        assert model is not None, f"llama.cpp could not load {path.name}"
        try:
            assert llama_cpp.llama_model_size(model) == info.total_weight_bytes
            assert llama_cpp.llama_model_n_params(model) == info.n_params
            assert llama_cpp.llama_model_n_layer(model) == info.n_layer
            assert llama_cpp.llama_model_n_embd(model) == info.n_embd
            assert llama_cpp.llama_model_n_head_kv(model) == info.n_head_kv
            assert llama_cpp.llama_model_n_ctx_train(model) == info.n_ctx_train
        finally:
            llama_cpp.llama_model_free(model)


# --------------------------------------------------------------------------- synthetic shapes


def _read(tmp_path: Path, spec: SyntheticModel) -> GGUFInfo:
    return read_gguf_info(write_synthetic_gguf(tmp_path / "model.gguf", spec))


def test_gqa_q8_0_exact_bytes(tmp_path: Path) -> None:
    info = _read(
        tmp_path,
        SyntheticModel(
            n_layer=2,
            n_embd=64,
            n_head=4,
            n_head_kv=2,
            n_ff=128,
            vocab_size=512,
            weight_type="q8_0",
        ),
    )
    # Q8_0: 34 bytes per 32 weights. head_dim 16, K/V width 2 * 16 = 32.
    q = o = 64 * 64 // 32 * 34  # 4,352
    k = v = 64 * 32 // 32 * 34  # 2,176
    ffn = 3 * (64 * 128 // 32 * 34)  # gate, up, down: 26,112
    norms = 2 * 64 * 4  # attn_norm, ffn_norm (f32): 512
    assert q + k + v + o + ffn + norms == 39_680
    assert info.layer_bytes == (39_680, 39_680)
    assert info.token_embd_bytes == 64 * 512 // 32 * 34 == 34_816
    assert info.output_bytes == 256
    assert info.total_weight_bytes == 114_432
    assert (info.n_head, info.n_head_kv, info.key_length, info.value_length) == (4, 2, 16, 16)
    assert info.file_type_name == "Q8_0"
    assert {t.type_name for t in info.tensors} == {"Q8_0", "F32"}


def test_gemma3_sliding_window_q4_0_exact_bytes(tmp_path: Path) -> None:
    spec = SyntheticModel(
        arch="gemma3",
        n_layer=6,
        n_embd=128,
        n_head=4,
        n_head_kv=1,
        head_dim=64,
        n_ff=256,
        sliding_window=512,
        weight_type="q4_0",
        chat_template="{{ messages }}",
    )
    info = _read(tmp_path, spec)
    # Q4_0: 18 bytes per 32 weights. Q and O are 128 x 256 (4 heads of 64), K and V 128 x 64.
    matrices = 5 * (32_768 // 32 * 18) + 2 * (8_192 // 32 * 18)  # q, o, gate, up, down; k, v
    norms = 4 * 128 * 4 + 2 * 64 * 4  # attn, ffn, post-attention, post-ffw; q_norm, k_norm
    assert matrices + norms == 103_936
    assert info.layer_bytes == (103_936,) * 6
    assert info.architecture == "gemma3"
    assert info.sliding_window == 512
    assert info.sliding_window_pattern is None  # llama.cpp's gemma3 default applies
    assert (info.key_length, info.value_length, info.n_head_kv) == (64, 64, 1)
    assert info.chat_template == "{{ messages }}"
    assert info.file_type_name == "Q4_0"


def test_f16_untied_output(tmp_path: Path) -> None:
    info = _read(tmp_path, SyntheticModel(weight_type="f16", tied_embeddings=False, vocab_size=300))
    assert info.has_output_tensor
    assert info.output_bytes == 64 * 300 * 2 + 64 * 4  # output.weight + output_norm
    assert info.token_embd_bytes == 64 * 300 * 2
    assert info.layer_bytes == (74_240, 74_240)
    assert info.vocab_size == 300


def test_per_layer_kv_heads_and_swa_pattern(tmp_path: Path) -> None:
    spec = SyntheticModel(
        n_layer=3, n_head_kv=(1, 2, 4), swa_pattern=(True, True, False), sliding_window=128
    )
    info = _read(tmp_path, spec)
    assert info.n_head_kv_per_layer == (1, 2, 4)
    assert info.n_head_kv == 4
    assert info.sliding_window_pattern == (True, True, False)
    assert list(info.layer_bytes) == spec.layer_bytes()
    assert info.layer_bytes[0] < info.layer_bytes[1] < info.layer_bytes[2]


@pytest.mark.parametrize("weight_type", ["f32", "f16", "q8_0", "q4_0"])
@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_tensor_table_matches_what_was_written(tmp_path: Path, arch: str, weight_type: str) -> None:
    spec = SyntheticModel(
        arch=arch,
        n_layer=3,
        n_embd=96,
        n_head=3,
        n_head_kv=1,
        n_ff=160,
        vocab_size=700,
        weight_type=weight_type,
    )
    info = _read(tmp_path, spec)
    written = spec.tensor_specs()
    assert [(t.name, t.shape, t.n_bytes) for t in info.tensors] == [
        (s.name, s.shape, s.n_bytes) for s in written
    ]
    assert [t.type_id for t in info.tensors] == [int(s.qtype) for s in written]
    assert list(info.layer_bytes) == spec.layer_bytes()
    assert info.total_weight_bytes == sum(s.n_bytes for s in written)
    offsets = [t.offset for t in info.tensors]
    assert offsets == sorted(offsets) and all(o % 32 == 0 for o in offsets)
    assert info.tensors[-1].offset + info.tensors[-1].n_bytes <= info.file_size


def test_split_and_projector_flags(tmp_path: Path) -> None:
    path = tmp_path / "mmproj.gguf"
    _write_raw(
        path,
        [
            _kv_string("general.architecture", "clip"),
            _kv_string("general.type", "mmproj"),
            _kv_u32("clip.vision.image_size", 224),
            _kv_u16("split.count", 3),
            _kv_u16("split.no", 1),
        ],
    )
    info = read_gguf_info(path)
    assert info.is_projector
    assert (info.is_split, info.split_count, info.split_index) == (True, 3, 1)
    assert info.tensors == () and info.total_weight_bytes == 0
    assert info.n_layer is None and info.n_head is None and info.key_length is None


# --------------------------------------------------------------------------- hostile files


def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def _kv_string(key: str, value: str) -> bytes:
    return _string(key) + struct.pack("<I", 8) + _string(value)


def _kv_u32(key: str, value: int) -> bytes:
    return _string(key) + struct.pack("<II", 4, value)


def _kv_u16(key: str, value: int) -> bytes:
    return _string(key) + struct.pack("<IH", 2, value)


def _header(n_tensors: int, n_kv: int, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def _tensor_entry(name: str, shape: tuple[int, ...], type_id: int, offset: int) -> bytes:
    dims = b"".join(struct.pack("<Q", d) for d in shape)
    return (
        _string(name) + struct.pack("<I", len(shape)) + dims + struct.pack("<IQ", type_id, offset)
    )


def _write_raw(path: Path, kvs: list[bytes], tensors: tuple[bytes, ...] = ()) -> Path:
    body = _header(len(tensors), len(kvs)) + b"".join(kvs) + b"".join(tensors)
    padding = b"\0" * (-len(body) % 32)
    path.write_bytes(body + padding)
    return path


@pytest.fixture
def small_model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("small") / "small.gguf"
    spec = SyntheticModel(
        n_layer=1,
        n_embd=32,
        n_head=2,
        n_head_kv=1,
        n_ff=64,
        vocab_size=300,
        chat_template="{{ x }}",
    )
    return write_synthetic_gguf(path, spec).read_bytes()


HOSTILE = {
    "empty": b"",
    "three bytes": b"GGU",
    "wrong magic": b"GGML" + bytes(60),
    "web page": b"\n<!DOCTYPE html><html><body>404</body></html>",
    "git lfs pointer": b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 9\n",
    "magic only": b"GGUF",
    "truncated header": b"GGUF\x03\x00\x00\x00\x01\x00",
    "version 1": _header(0, 0, version=1),
    "version 4": _header(0, 0, version=4),
    "version 0": _header(0, 0, version=0),
    "big endian": b"GGUF" + struct.pack(">IQQ", 3, 0, 0),
    "absurd tensor count": _header(2**63, 0),
    "absurd kv count": _header(0, 2**64 - 1),
    "huge key length": _header(0, 1) + struct.pack("<Q", 2**63) + bytes(64),
    "huge string value": _header(0, 1) + _string("k") + struct.pack("<IQ", 8, 2**40) + b"v",
    "huge array": _header(0, 1) + _string("k") + struct.pack("<IIQ", 9, 4, 2**61),
    "huge string array": _header(0, 1) + _string("k") + struct.pack("<IIQ", 9, 8, 2**40),
    "nested array": _header(0, 1) + _string("k") + struct.pack("<IIQ", 9, 9, 1) + bytes(64),
    "unknown value type": _header(0, 1) + _string("k") + struct.pack("<I", 77) + bytes(64),
    "duplicate key": _header(0, 2) + _kv_u32("a", 1) + _kv_u32("a", 2),
    "bad alignment": _header(0, 1) + _kv_u32("general.alignment", 48),
    "five dims": _header(1, 0) + _tensor_entry("t", (1, 1, 1, 1, 1), 0, 0) + bytes(32),
    "unknown tensor type": _header(1, 0) + _tensor_entry("t", (32,), 250, 0) + bytes(200),
    "long tensor name": _header(1, 0) + _tensor_entry("t" * 200, (4,), 0, 0) + bytes(64),
    "misplaced tensor": _header(1, 0) + _tensor_entry("t", (8,), 0, 64) + bytes(200),
    "tensor past the end": _header(1, 0) + _tensor_entry("t", (2**20,), 0, 0) + bytes(64),
    "impossible tensor": _header(1, 0) + _tensor_entry("t", (2**40, 2**40), 0, 0) + bytes(64),
    "partial block": _header(1, 0) + _tensor_entry("t", (33,), 8, 0) + bytes(128),
    "duplicate tensor": _header(2, 0)
    + _tensor_entry("t", (8,), 0, 0)
    + _tensor_entry("t", (8,), 0, 32)
    + bytes(128),
    "absurd layer count": _header(0, 2)
    + _kv_string("general.architecture", "llama")
    + _kv_u32("llama.block_count", 2**31),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_raise_format_errors(tmp_path: Path, name: str) -> None:
    path = tmp_path / "hostile.gguf"
    path.write_bytes(HOSTILE[name])
    with pytest.raises(GGUFFormatError) as caught:
        read_gguf_info(path)
    message = str(caught.value)
    assert message.startswith("hostile.gguf ")
    assert any(
        words in message
        for words in (
            "is not a GGUF model file",
            "is truncated or damaged",
            "version",
            "big-endian",
        )
    )


def test_not_gguf_messages_name_what_the_file_looks_like(tmp_path: Path) -> None:
    cases = {
        "page.gguf": (HOSTILE["web page"], "web page"),
        "lfs.gguf": (HOSTILE["git lfs pointer"], "Git LFS pointer"),
        "old.bin": (b"tjgg" + bytes(64), "old GGML model"),
        "empty.gguf": (b"", "empty"),
    }
    for name, (content, words) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(GGUFFormatError, match=words):
            read_gguf_info(tmp_path / name)


def test_missing_file_and_folder_are_model_file_errors(tmp_path: Path) -> None:
    for path, words in ((tmp_path / "nope.gguf", "not found"), (tmp_path, "folder")):
        with pytest.raises(ModelFileError, match=words) as caught:
            read_gguf_info(path)
        assert not isinstance(caught.value, GGUFFormatError)


def test_metadata_over_the_limit(tmp_path: Path, small_model: bytes) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(small_model)
    with pytest.raises(GGUFFormatError, match="metadata is larger than"):
        read_gguf_info(path, max_metadata_bytes=4096)


def test_random_bytes(tmp_path: Path) -> None:
    rng = random.Random(1234)
    path = tmp_path / "random.gguf"
    for size in (1, 7, 24, 100, 4096, 65536):
        for prefix in (b"", b"GGUF", b"GGUF\x03\x00\x00\x00"):
            path.write_bytes(prefix + rng.randbytes(size))
            with pytest.raises(GGUFFormatError):
                read_gguf_info(path)


def test_every_truncation_is_a_format_error(tmp_path: Path, small_model: bytes) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(small_model)
    data_offset = read_gguf_info(path).data_offset
    cuts = list(range(0, 512)) + list(range(512, len(small_model), 97))
    for cut in cuts:
        path.write_bytes(small_model[:cut])
        with pytest.raises(GGUFFormatError):
            read_gguf_info(path)
    assert data_offset < len(small_model)


@pytest.fixture(scope="module")
def mutation_target(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, int, Path]:
    """A small valid model, where its tensor data starts, and a path to write mutants to."""
    folder = tmp_path_factory.mktemp("mutations")
    spec = SyntheticModel(n_layer=1, n_embd=32, n_head=2, n_head_kv=1, n_ff=64, vocab_size=300)
    original = write_synthetic_gguf(folder / "original.gguf", spec)
    return original.read_bytes(), read_gguf_info(original).data_offset, folder / "mutated.gguf"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_headers_only_raise_format_errors(
    mutation_target: tuple[bytes, int, Path], data: st.DataObject
) -> None:
    original, data_offset, path = mutation_target
    mutated = bytearray(original)
    # The header and first keys, anywhere in the metadata, and the tensor table at its end.
    position = st.one_of(
        st.integers(0, 300),
        st.integers(0, data_offset - 1),
        st.integers(max(0, data_offset - 700), data_offset - 1),
    )
    byte = st.one_of(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]), st.integers(0, 255))
    for index in data.draw(st.lists(position, min_size=1, max_size=8)):
        mutated[index] = data.draw(byte)
    if data.draw(st.booleans()):
        del mutated[data.draw(st.integers(0, len(mutated))) :]
    path.write_bytes(bytes(mutated))
    try:
        info = read_gguf_info(path)
    except GGUFFormatError:
        return
    assert info.total_weight_bytes <= os.path.getsize(path)
