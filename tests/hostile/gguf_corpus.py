"""A generated corpus of hostile GGUF files (and paths that only pretend to be files).

Every file starts from one small real model (``core/synthetic_gguf.py``, written with the
``gguf`` package, which llama.cpp loads) taken apart into its raw parts: the metadata entries as
(key, type, encoded value), the tensor table, the tensor data. Each case changes a part and
writes the bytes back by hand, because the ``gguf`` package refuses to write what a hostile file
holds (negative lengths, wrong counts, unknown types, tensors past the end). On top come
truncations at every structural boundary of the file, and paths that are not regular files
(symlink loops, a folder, a FIFO, a socket).

    cases = build_corpus(tmp_path / "corpus")
    for case in cases: ...   # case.path, case.category, case.expect

Run it on its own to look at the files: ``python tests/hostile/gguf_corpus.py OUT_DIR``.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import gguf

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.append(str(TESTS))

from core.synthetic_gguf import SyntheticModel, write_synthetic_gguf  # noqa: E402

# What every open path must do with a case: refuse it with a typed error, load it, or either.
Expect = Literal["refuse", "load", "any"]
VT = gguf.GGUFValueType
U64_MAX = (1 << 64) - 1
ALIGNMENT = 32


# ------------------------------------------------------------------------------ raw model


@dataclass(frozen=True)
class KV:
    key: bytes
    vtype: int
    payload: bytes  # the encoded value (for an array: element type, length, elements)


@dataclass(frozen=True)
class Tensor:
    name: bytes
    dims: tuple[int, ...]
    ttype: int
    offset: int  # relative to the data section


@dataclass(frozen=True)
class RawGGUF:
    """A GGUF file as parts; :meth:`serialize` writes them back without any check."""

    kvs: tuple[KV, ...]
    tensors: tuple[Tensor, ...]
    data: bytes
    magic: bytes = b"GGUF"
    version: int = 3
    n_tensors: int | None = None  # None: the real count
    n_kv: int | None = None
    alignment: int = ALIGNMENT  # where the data section starts
    data_gap: int | None = None  # bytes between the table and the data; None: to alignment

    def kv(self, key: str) -> KV:
        return next(kv for kv in self.kvs if kv.key == key.encode())

    def with_kv(self, key: str, vtype: int, payload: bytes) -> RawGGUF:
        """``key`` set to the value (replaced in place, or added at the end)."""
        new = KV(key.encode("utf-8", errors="surrogateescape"), vtype, payload)
        if any(kv.key == new.key for kv in self.kvs):
            return replace(self, kvs=tuple(new if kv.key == new.key else kv for kv in self.kvs))
        return replace(self, kvs=(*self.kvs, new))

    def without_kv(self, key: str) -> RawGGUF:
        return replace(self, kvs=tuple(kv for kv in self.kvs if kv.key != key.encode()))

    def with_tensor(self, index: int, **changes: object) -> RawGGUF:
        tensors = list(self.tensors)
        tensors[index] = replace(tensors[index], **changes)  # type: ignore[arg-type]
        return replace(self, tensors=tuple(tensors))

    def serialize(self) -> tuple[bytes, list[tuple[int, str]]]:
        """The file's bytes and its structural boundaries (offset, what ends there)."""
        out = bytearray()
        marks: list[tuple[int, str]] = []

        def put(chunk: bytes, label: str) -> None:
            out.extend(chunk)
            marks.append((len(out), label))

        put(self.magic, "magic")
        put(u32(self.version), "version")
        put(u64(len(self.tensors) if self.n_tensors is None else self.n_tensors), "n_tensors")
        put(u64(len(self.kvs) if self.n_kv is None else self.n_kv), "n_kv")
        for kv in self.kvs:
            name = kv.key.decode(errors="replace")
            put(u64(len(kv.key)), f"{name}:key-length")
            put(kv.key, f"{name}:key")
            put(u32(kv.vtype), f"{name}:type")
            if kv.vtype == VT.ARRAY and len(kv.payload) > 12:
                put(kv.payload[:4], f"{name}:element-type")
                put(kv.payload[4:12], f"{name}:array-length")
                first = _first_element_size(kv.payload)
                put(kv.payload[12 : 12 + first], f"{name}:first-element")
                put(kv.payload[12 + first :], f"{name}:value")
            else:
                put(kv.payload, f"{name}:value")
        for tensor in self.tensors:
            name = tensor.name.decode(errors="replace")
            put(u64(len(tensor.name)), f"{name}:name-length")
            put(tensor.name, f"{name}:name")
            put(u32(len(tensor.dims)), f"{name}:n-dims")
            put(b"".join(u64(d) for d in tensor.dims), f"{name}:dims")
            put(u32(tensor.ttype), f"{name}:type")
            put(u64(tensor.offset), f"{name}:offset")
        gap = self.data_gap
        if gap is None:
            gap = -len(out) % self.alignment
        put(b"\0" * gap, "alignment-padding")
        if self.data:
            half = len(self.data) // 2
            put(self.data[:half], "half-of-the-data")
            put(self.data[half:], "data")
        return bytes(out), marks


def _first_element_size(payload: bytes) -> int:
    (element_type,) = struct.unpack_from("<I", payload, 0)
    if element_type == VT.STRING:
        (length,) = struct.unpack_from("<Q", payload, 12)
        return 8 + length
    return struct.calcsize("<" + _SCALAR_FORMATS.get(element_type, "B"))


_SCALAR_FORMATS = {
    VT.UINT8: "B",
    VT.INT8: "b",
    VT.UINT16: "H",
    VT.INT16: "h",
    VT.UINT32: "I",
    VT.INT32: "i",
    VT.FLOAT32: "f",
    VT.BOOL: "?",
    VT.UINT64: "Q",
    VT.INT64: "q",
    VT.FLOAT64: "d",
}


def u32(value: int) -> bytes:
    return struct.pack("<I", value & 0xFFFFFFFF)


def u64(value: int) -> bytes:
    return struct.pack("<Q", value & U64_MAX)


def enc_str(text: str | bytes) -> bytes:
    raw = text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text
    return u64(len(raw)) + raw


def enc_scalar(vtype: int, value: object) -> bytes:
    return struct.pack("<" + _SCALAR_FORMATS[VT(vtype)], value)


def enc_array(element_type: int, items: list[object], *, length: int | None = None) -> bytes:
    if element_type == VT.STRING:
        body = b"".join(enc_str(str(item)) for item in items)
    else:
        body = b"".join(enc_scalar(element_type, item) for item in items)
    return u32(element_type) + u64(len(items) if length is None else length) + body


def read_raw(path: Path) -> RawGGUF:
    """A real GGUF file (read with the ``gguf`` package) as raw parts."""
    reader = gguf.GGUFReader(path)
    kvs = []
    for key, fld in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        payload = b"".join(bytes(part.tobytes()) for part in fld.parts[3:])
        kvs.append(KV(key.encode(), int(fld.types[0]), payload))
    tensors = []
    data_start = min(t.data_offset for t in reader.tensors)
    for t in reader.tensors:
        parts = t.field.parts
        tensors.append(
            Tensor(
                name=t.name.encode(),
                dims=tuple(int(d) for d in parts[3]),
                ttype=int(parts[4][0]),
                offset=int(parts[5][0]),
            )
        )
    raw = path.read_bytes()
    return RawGGUF(kvs=tuple(kvs), tensors=tuple(tensors), data=raw[data_start:])


# ------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One corpus entry: a path and what every open path must make of it."""

    name: str
    category: str
    path: Path
    expect: Expect = "any"
    note: str = ""


@dataclass
class _Corpus:
    root: Path
    base: RawGGUF
    cases: list[Case] = field(default_factory=list)

    def folder(self, category: str) -> Path:
        path = self.root / category
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add_bytes(
        self, category: str, name: str, data: bytes, expect: Expect = "any", note: str = ""
    ) -> None:
        path = self.folder(category) / f"{name}.gguf"
        path.write_bytes(data)
        self.cases.append(Case(name=name, category=category, path=path, expect=expect, note=note))

    def add(
        self, category: str, name: str, model: RawGGUF, expect: Expect = "any", note: str = ""
    ) -> None:
        self.add_bytes(category, name, model.serialize()[0], expect, note)

    def add_path(self, category: str, name: str, path: Path, expect: Expect = "refuse") -> None:
        self.cases.append(Case(name=name, category=category, path=path, expect=expect))


def base_model(folder: Path) -> RawGGUF:
    """The model every case starts from: one layer, a ChatML template, real and loadable."""
    chatml = (
        "{% for message in messages %}"
        "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    spec = SyntheticModel(n_layer=1, vocab_size=300, chat_template=chatml)
    return read_raw(write_synthetic_gguf(folder / "base-source.gguf", spec))


def build_corpus(root: Path) -> list[Case]:
    """Write every case under ``root`` (one folder per category) and return them."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = _Corpus(root=root, base=base_model(root / "_source"))
    for builder in BUILDERS:
        builder(corpus)
    return corpus.cases


def _valid(c: _Corpus) -> None:
    b = c.base
    c.add("valid", "base", b, "load", "the model every case starts from")
    c.add("valid", "version-2", replace(b, version=2), "any")
    big_align = _realigned(b.with_kv("general.alignment", VT.UINT32, u32(4096)), 4096)
    c.add("valid", "alignment-4096", big_align, "load")
    c.add("valid", "no-chat-template", b.without_kv("tokenizer.chat_template"), "load")
    c.add(
        "valid", "extra-unknown-keys", b.with_kv("x.\U0001f600", VT.STRING, enc_str("ok")), "load"
    )


def _realigned(b: RawGGUF, alignment: int) -> RawGGUF:
    """``b`` with its tensors laid out at multiples of ``alignment``."""
    ends = [t.offset for t in b.tensors[1:]] + [len(b.data)]
    tensors, data = [], bytearray()
    for tensor, end in zip(b.tensors, ends, strict=True):
        data += b"\0" * (-len(data) % alignment)
        tensors.append(replace(tensor, offset=len(data)))
        data += b.data[tensor.offset : end]
    return replace(b, tensors=tuple(tensors), data=bytes(data), alignment=alignment)


def _truncated(c: _Corpus) -> None:
    """The base file cut at every boundary between two of its parts (and inside the header)."""
    data, marks = c.base.serialize()
    cuts = {offset: f"after-{label}" for offset, label in reversed(marks) if offset < len(data)}
    cuts.update({offset: "inside-the-header" for offset in (2, 6, 12, 20)})
    cuts[len(data) - 1] = "before-the-last-byte"
    for offset, label in sorted(cuts.items()):
        c.add_bytes("truncated", f"at-{offset:06d}-{_safe(label)}", data[:offset], "refuse")


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)[:60]


def _tiny_files(c: _Corpus) -> None:
    c.add_bytes("tiny-files", "header-no-tensors-no-keys", b"GGUF" + u32(3) + u64(0) + u64(0))
    for name, data in {
        "empty": b"",
        "one-byte": b"G",
        "magic-only": b"GGUF",
        "24-zero-bytes": b"\0" * 24,
        "24-ff-bytes": b"\xff" * 24,
        "header-1-tensor-0-keys": b"GGUF" + u32(3) + u64(1) + u64(0),
        "header-0-tensors-1-key": b"GGUF" + u32(3) + u64(0) + u64(1),
    }.items():
        c.add_bytes("tiny-files", name, data, "refuse")


def _magic(c: _Corpus) -> None:
    data = c.base.serialize()[0]
    for name, magic in {
        "lowercase": b"gguf",
        "byte-swapped": b"FUGG",
        "ggml": b"lmgg",
        "ggjt": b"tjgg",
        "zero": b"\0\0\0\0",
        "nul-prefix": b"\0GGU",
    }.items():
        c.add_bytes("magic", name, magic + data[4:], "refuse")
    for name, prefix in {
        "zip": b"PK\x03\x04",
        "git-lfs-pointer": b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n",
        "html": b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
        "json": b'{"error": "Repository not found"}',
        "elf": b"\x7fELF\x02\x01\x01" + b"\0" * 57,
        "text": "Ceci n'est pas un modèle\n".encode(),
        "shell-script": b"#!/bin/sh\nrm -rf /\n",
        "terminal-escapes": b"\x1b]0;pwned\x07\x1b[2J\x1b[31mred",
    }.items():
        c.add_bytes("magic", name, prefix, "refuse")


def _version(c: _Corpus) -> None:
    b = c.base
    for version, expect in (
        (0, "refuse"),
        (1, "refuse"),
        (4, "refuse"),
        (99, "refuse"),
        (1 << 31, "refuse"),
        (3 << 24, "refuse"),
        (U64_MAX & 0xFFFFFFFF, "refuse"),
    ):
        c.add("version", f"v{version}", replace(b, version=version), expect)  # type: ignore[arg-type]


def _counts(c: _Corpus) -> None:
    b = c.base
    n_t, n_kv = len(b.tensors), len(b.kvs)
    c.add("counts", "tensors-one-fewer", replace(b, n_tensors=n_t - 1), "any")
    c.add("counts", "tensors-zero", replace(b, n_tensors=0), "any")
    for name, changes in {
        "tensors-2^63": {"n_tensors": 1 << 63},
        "tensors-2^64-1": {"n_tensors": U64_MAX},
        "tensors-2^20+1": {"n_tensors": (1 << 20) + 1},
        "tensors-one-more": {"n_tensors": n_t + 1},
        "keys-2^63": {"n_kv": 1 << 63},
        "keys-2^64-1": {"n_kv": U64_MAX},
        "keys-65537": {"n_kv": 65537},
        "keys-8193": {"n_kv": 8193},
        "keys-one-more": {"n_kv": n_kv + 1},
        "keys-one-fewer": {"n_kv": n_kv - 1},
        "keys-zero": {"n_kv": 0},
    }.items():
        c.add("counts", name, replace(b, **changes), "refuse")  # type: ignore[arg-type]
    # 200,000 real keys: llama-cpp-python reads them in quadratic time; the reader refuses them.
    fillers = tuple(KV(f"x.filler.{i:06d}".encode(), VT.UINT8, b"\0") for i in range(200_000))
    c.add("counts", "keys-200000-real", replace(b, kvs=b.kvs + fillers), "refuse")
    # Past the limit (llama-cpp-python would take over a minute), and just under it.
    fillers = tuple(KV(f"x.filler.{i:05d}".encode(), VT.UINT8, b"\0") for i in range(65_000))
    c.add("counts", "keys-65000-real", replace(b, kvs=b.kvs + fillers), "refuse")
    c.add("counts", "keys-8000-real", replace(b, kvs=b.kvs + fillers[:8000]), "load")


def _strings(c: _Corpus) -> None:
    b = c.base
    lengths = {"minus-1": U64_MAX, "2^63": 1 << 63, "2^40": 1 << 40, "one-too-many": 21}
    for name, length in lengths.items():
        entry = u64(length) + b"general.architecture" + u32(VT.STRING) + enc_str("llama")
        c.add_bytes("strings", f"key-length-{name}", _with_raw_first_key(b, entry), "refuse")
        value = u64(length) + b"x"
        c.add(
            "strings", f"value-length-{name}", b.with_kv("general.name", VT.STRING, value), "refuse"
        )
    template = b.kv("tokenizer.chat_template").payload
    c.add(
        "strings",
        "template-length-minus-1",
        b.with_kv("tokenizer.chat_template", VT.STRING, u64(U64_MAX) + template[8:]),
        "refuse",
    )
    c.add(
        "strings",
        "invalid-utf8-value",
        b.with_kv("general.name", VT.STRING, enc_str(b"\xff\xfe\xc3(")),
        "any",
    )
    c.add("strings", "invalid-utf8-key", b.with_kv("x.\udcff", VT.STRING, enc_str("v")), "any")
    c.add("strings", "empty-key", b.with_kv("", VT.STRING, enc_str("v")), "any")
    c.add("strings", "nul-in-key", b.with_kv("general.na\0me", VT.STRING, enc_str("v")), "any")
    c.add("strings", "key-1-mib", b.with_kv("k" * (1 << 20), VT.UINT8, b"\0"), "any")
    c.add("strings", "duplicate-key", replace(b, kvs=(*b.kvs, b.kv("general.name"))), "refuse")
    t0 = b.tensors[0]
    c.add("strings", "tensor-name-empty", b.with_tensor(0, name=b""), "any")
    c.add("strings", "tensor-name-64-bytes", b.with_tensor(0, name=b"t" * 64), "refuse")
    c.add(
        "strings",
        "tensor-name-nul",
        b.with_tensor(0, name=t0.name[:5] + b"\0" + t0.name[5:]),
        "any",
    )
    c.add("strings", "tensor-name-invalid-utf8", b.with_tensor(0, name=b"\xff\xfe"), "any")


def _with_raw_first_key(b: RawGGUF, raw_entry: bytes) -> bytes:
    """The base file with an extra first metadata entry written as given."""
    data, marks = replace(b, n_kv=len(b.kvs) + 1).serialize()
    end_of_header = dict((label, off) for off, label in marks)["n_kv"]
    return data[:end_of_header] + raw_entry + data[end_of_header:]


def _arrays(c: _Corpus) -> None:
    b = c.base
    key = "llama.attention.head_count_kv"
    for name, length in {
        "minus-1": U64_MAX,
        "2^62": 1 << 62,
        "2^32": 1 << 32,
        "one-too-many": 2,
    }.items():
        c.add(
            "arrays",
            f"int-array-length-{name}",
            b.with_kv(key, VT.ARRAY, enc_array(VT.INT32, [2], length=length)),
            "refuse",
        )
        c.add(
            "arrays",
            f"string-array-length-{name}",
            b.with_kv("x.strings", VT.ARRAY, enc_array(VT.STRING, ["a"], length=length)),
            "refuse",
        )
    tokens = b.kv("tokenizer.ggml.tokens").payload
    c.add(
        "arrays",
        "tokens-length-minus-1",
        b.with_kv("tokenizer.ggml.tokens", VT.ARRAY, tokens[:4] + u64(U64_MAX) + tokens[12:]),
        "refuse",
    )
    c.add(
        "arrays",
        "tokens-length-2^62",
        b.with_kv("tokenizer.ggml.tokens", VT.ARRAY, tokens[:4] + u64(1 << 62) + tokens[12:]),
        "refuse",
    )
    for name, element_type in {
        "element-type-13": 13,
        "element-type-2^32-1": 0xFFFFFFFF,
        "nested-array": VT.ARRAY,
    }.items():
        c.add(
            "arrays",
            name,
            b.with_kv("x.array", VT.ARRAY, u32(element_type) + u64(1) + u32(0)),
            "refuse",
        )
    c.add("arrays", "empty-array", b.with_kv("x.empty", VT.ARRAY, enc_array(VT.INT32, [])), "any")
    c.add(
        "arrays",
        "head-count-kv-array-wrong-length",
        b.with_kv(key, VT.ARRAY, enc_array(VT.INT32, [2, 2, 2])),
        "any",
    )
    c.add(
        "arrays",
        "head-count-kv-array-of-strings",
        b.with_kv(key, VT.ARRAY, enc_array(VT.STRING, ["2"])),
        "any",
    )
    c.add(
        "arrays",
        "bool-array-value-7",
        b.with_kv("x.bools", VT.ARRAY, u32(VT.BOOL) + u64(3) + b"\x07\x00\x01"),
        "any",
    )


def _value_types(c: _Corpus) -> None:
    b = c.base
    for name, vtype in {"type-13": 13, "type-2^31": 1 << 31, "type-2^32-1": 0xFFFFFFFF}.items():
        c.add("value-types", name, b.with_kv("x.odd", vtype, b"\0" * 8), "refuse")
    c.add(
        "value-types",
        "bool-value-2",
        b.with_kv("tokenizer.ggml.add_bos_token", VT.BOOL, b"\x02"),
        "any",
    )
    c.add(
        "value-types",
        "float-nan",
        b.with_kv(
            "llama.attention.layer_norm_rms_epsilon", VT.FLOAT32, struct.pack("<f", float("nan"))
        ),
        "any",
    )
    c.add(
        "value-types",
        "float-inf-rope",
        b.with_kv("llama.rope.freq_base", VT.FLOAT32, struct.pack("<f", float("inf"))),
        "any",
    )


def _known_keys(c: _Corpus) -> None:
    b = c.base
    ctx = "llama.context_length"
    for name, (key, vtype, payload) in {
        "architecture-int": ("general.architecture", VT.UINT32, u32(7)),
        "architecture-array": ("general.architecture", VT.ARRAY, enc_array(VT.STRING, ["llama"])),
        "architecture-empty": ("general.architecture", VT.STRING, enc_str("")),
        "context-length-0": (ctx, VT.UINT32, u32(0)),
        "context-length-1": (ctx, VT.UINT32, u32(1)),
        "context-length-2^40": (ctx, VT.UINT64, u64(1 << 40)),
        "context-length-2^32-1": (ctx, VT.UINT32, u32(0xFFFFFFFF)),
        "context-length-2^30": (ctx, VT.UINT32, u32(1 << 30)),
        "context-length-minus-1-int32": (ctx, VT.INT32, enc_scalar(VT.INT32, -1)),
        "context-length-minus-1-int64": (ctx, VT.INT64, enc_scalar(VT.INT64, -1)),
        "context-length-string": (ctx, VT.STRING, enc_str("4096")),
        "context-length-float": (ctx, VT.FLOAT32, enc_scalar(VT.FLOAT32, 4096.5)),
        "block-count-0": ("llama.block_count", VT.UINT32, u32(0)),
        "block-count-2^31": ("llama.block_count", VT.UINT32, u32(1 << 31)),
        "block-count-minus-1": ("llama.block_count", VT.INT32, enc_scalar(VT.INT32, -1)),
        "block-count-2": ("llama.block_count", VT.UINT32, u32(2)),
        "head-count-0": ("llama.attention.head_count", VT.UINT32, u32(0)),
        "head-count-kv-0": ("llama.attention.head_count_kv", VT.UINT32, u32(0)),
        "head-count-kv-3": ("llama.attention.head_count_kv", VT.UINT32, u32(3)),
        "embedding-length-0": ("llama.embedding_length", VT.UINT32, u32(0)),
        "embedding-length-2^31": ("llama.embedding_length", VT.UINT32, u32(1 << 31)),
        "feed-forward-0": ("llama.feed_forward_length", VT.UINT32, u32(0)),
        "rope-dimension-0": ("llama.rope.dimension_count", VT.UINT32, u32(0)),
        "rms-eps-0": (
            "llama.attention.layer_norm_rms_epsilon",
            VT.FLOAT32,
            enc_scalar(VT.FLOAT32, 0.0),
        ),
        "alignment-0": ("general.alignment", VT.UINT32, u32(0)),
        "alignment-3": ("general.alignment", VT.UINT32, u32(3)),
        "alignment-2^31": ("general.alignment", VT.UINT32, u32(1 << 31)),
        "alignment-string": ("general.alignment", VT.STRING, enc_str("32")),
        "file-type-9999": ("general.file_type", VT.UINT32, u32(9999)),
        "file-type-minus-1": ("general.file_type", VT.INT32, enc_scalar(VT.INT32, -1)),
        "vocab-size-0": ("llama.vocab_size", VT.UINT32, u32(0)),
        "vocab-size-2^31": ("llama.vocab_size", VT.UINT32, u32(1 << 31)),
        "expert-count-2^31": ("llama.expert_count", VT.UINT32, u32(1 << 31)),
        "expert-used-more-than-experts": ("llama.expert_used_count", VT.UINT32, u32(8)),
        "sliding-window-0": ("llama.attention.sliding_window", VT.UINT32, u32(0)),
        "split-count-2^31": ("split.count", VT.UINT16, enc_scalar(VT.UINT16, 65535)),
        "split-no-past-count": ("split.no", VT.UINT16, enc_scalar(VT.UINT16, 5)),
        "type-mmproj": ("general.type", VT.STRING, enc_str("mmproj")),
    }.items():
        c.add("known-keys", name, b.with_kv(key, vtype, payload), "any")
    c.add("known-keys", "architecture-missing", b.without_kv("general.architecture"), "any")
    c.add(
        "known-keys",
        "hyperparameters-missing",
        replace(b, kvs=tuple(kv for kv in b.kvs if not kv.key.startswith(b"llama."))),
        "any",
    )


def _architecture(c: _Corpus) -> None:
    b = c.base
    for name, arch in {
        "unknown": "notanarch",
        "path-traversal": "../../../../etc/passwd",
        "nul": "lla\0ma",
        "escapes": "\x1b]0;pwned\x07\x1b[2J",
        "html": "<img src=x onerror=alert(1)>",
        "long-64-kib": "a" * (64 << 10),
        "clip": "clip",
        "bert": "bert",
        "gemma3-with-llama-keys": "gemma3",
        "qwen2-with-llama-keys": "qwen2",
    }.items():
        c.add(
            "architecture", name, b.with_kv("general.architecture", VT.STRING, enc_str(arch)), "any"
        )


def _tensors(c: _Corpus) -> None:
    b = c.base
    last = len(b.tensors) - 1
    t0, t1 = b.tensors[0], b.tensors[1]
    size = len(b.data)
    for name, (index, changes) in {
        "offset-past-eof": (last, {"offset": size + 4096}),
        "offset-2^63": (last, {"offset": 1 << 63}),
        "offset-minus-1": (last, {"offset": U64_MAX}),
        "overlapping": (1, {"offset": t0.offset}),
        "misaligned-offset": (1, {"offset": t1.offset + 1}),
        "offsets-swapped": (0, {"offset": t1.offset}),
        "zero-dims": (1, {"dims": ()}),
        "dimension-0": (0, {"dims": (t0.dims[0], 0)}),
        "dimension-2^62": (0, {"dims": (t0.dims[0], 1 << 62)}),
        "dimension-2^63": (0, {"dims": (1 << 63, 1)}),
        "dimension-minus-1": (0, {"dims": (t0.dims[0], U64_MAX)}),
        "dims-product-overflows": (0, {"dims": (1 << 32, 1 << 32, 1 << 32, 1 << 32)}),
        "5-dims": (1, {"dims": (t1.dims[0], 1, 1, 1, 1)}),
        "99-dims": (1, {"dims": (1,) * 99}),
        "row-not-a-block-multiple": (0, {"dims": (t0.dims[0] + 1, t0.dims[1])}),
        "type-39-removed": (0, {"ttype": 4}),
        "type-999": (0, {"ttype": 999}),
        "type-2^32-1": (0, {"ttype": 0xFFFFFFFF}),
        "wrong-shape-for-model": (0, {"dims": (t0.dims[0] // 2, t0.dims[1] * 2)}),
    }.items():
        c.add(
            "tensors",
            name,
            b.with_tensor(index, **changes),
            "refuse" if name != "wrong-shape-for-model" else "any",
        )
    c.add("tensors", "duplicate-name", b.with_tensor(1, name=t0.name), "refuse")
    c.add("tensors", "required-tensor-missing", _drop_tensor(b, "output_norm.weight"), "any")
    c.add("tensors", "no-tensors", replace(b, tensors=(), data=b""), "any")
    c.add("tensors", "data-short-by-one-byte", replace(b, data=b.data[:-1]), "refuse")
    c.add("tensors", "data-missing", replace(b, data=b""), "refuse")
    c.add("tensors", "data-gap-misaligned", replace(b, data_gap=1), "any")
    c.add("tensors", "data-nan", replace(b, data=b"\xff" * len(b.data)), "any")
    c.add("tensors", "extra-unknown-tensor", _add_tensor(b, b"hostile.weight"), "any")
    c.add("tensors", "tensor-named-blk-99999", _add_tensor(b, b"blk.99999.attn_q.weight"), "any")


def _drop_tensor(b: RawGGUF, name: str) -> RawGGUF:
    """``b`` without tensor ``name`` (only the last tensor can go without moving others)."""
    kept = tuple(t for t in b.tensors if t.name != name.encode())
    assert b.tensors[-1].name == name.encode()
    return replace(b, tensors=kept, data=b.data[: b.tensors[-1].offset])


def _add_tensor(b: RawGGUF, name: bytes) -> RawGGUF:
    offset = len(b.data) + (-len(b.data) % ALIGNMENT)
    tensor = Tensor(name=name, dims=(32,), ttype=int(gguf.GGMLQuantizationType.F32), offset=offset)
    data = b.data + b"\0" * (offset - len(b.data)) + b"\0" * 128
    return replace(b, tensors=(*b.tensors, tensor), data=data)


def _tokenizer(c: _Corpus) -> None:
    b = c.base
    tok = "tokenizer.ggml."
    n_vocab = 300
    for name, (key, vtype, payload) in {
        "vocab-empty": (tok + "tokens", VT.ARRAY, enc_array(VT.STRING, [])),
        "vocab-one-token": (tok + "tokens", VT.ARRAY, enc_array(VT.STRING, ["a"])),
        "vocab-of-ints": (tok + "tokens", VT.ARRAY, enc_array(VT.INT32, list(range(n_vocab)))),
        "vocab-empty-strings": (tok + "tokens", VT.ARRAY, enc_array(VT.STRING, [""] * n_vocab)),
        "vocab-duplicates": (tok + "tokens", VT.ARRAY, enc_array(VT.STRING, ["a"] * n_vocab)),
        "vocab-a-string": (tok + "tokens", VT.STRING, enc_str("abc")),
        "token-types-short": (tok + "token_type", VT.ARRAY, enc_array(VT.INT32, [1] * 10)),
        "token-types-long": (
            tok + "token_type",
            VT.ARRAY,
            enc_array(VT.INT32, [1] * (n_vocab * 2)),
        ),
        "token-types-invalid": (tok + "token_type", VT.ARRAY, enc_array(VT.INT32, [99] * n_vocab)),
        "token-types-all-control": (
            tok + "token_type",
            VT.ARRAY,
            enc_array(VT.INT32, [3] * n_vocab),
        ),
        "scores-short": (tok + "scores", VT.ARRAY, enc_array(VT.FLOAT32, [0.0] * 3)),
        "merges-empty": (tok + "merges", VT.ARRAY, enc_array(VT.STRING, [])),
        "merges-garbage": (
            tok + "merges",
            VT.ARRAY,
            enc_array(VT.STRING, ["no-space-here", " ", "a b c"]),
        ),
        "merges-unknown-tokens": (
            tok + "merges",
            VT.ARRAY,
            enc_array(VT.STRING, ["\u2603 \u2603"]),
        ),
        "bos-id-past-vocab": (tok + "bos_token_id", VT.UINT32, u32(n_vocab)),
        "bos-id-2^31": (tok + "bos_token_id", VT.UINT32, u32(1 << 31)),
        "eos-id-minus-1": (tok + "eos_token_id", VT.INT32, enc_scalar(VT.INT32, -1)),
        "eos-id-2^32-1": (tok + "eos_token_id", VT.UINT32, u32(0xFFFFFFFF)),
        "eos-id-a-string": (tok + "eos_token_id", VT.STRING, enc_str("</s>")),
        "tokenizer-model-unknown": (tok + "model", VT.STRING, enc_str("nope")),
        "tokenizer-model-llama-without-scores": (tok + "model", VT.STRING, enc_str("llama")),
        "tokenizer-model-none": (tok + "model", VT.STRING, enc_str("none")),
        "tokenizer-pre-unknown": (tok + "pre", VT.STRING, enc_str("\x1b[2Jnope")),
        "added-token-html": (
            tok + "tokens",
            VT.ARRAY,
            enc_array(VT.STRING, _vocab_with(b, "<img src=x>")),
        ),
    }.items():
        c.add("tokenizer", name, b.with_kv(key, vtype, payload), "any")
    c.add("tokenizer", "tokens-missing", b.without_kv(tok + "tokens"), "any")
    c.add("tokenizer", "merges-missing", b.without_kv(tok + "merges"), "any")


def _vocab_with(b: RawGGUF, token: str) -> list[object]:
    payload = b.kv("tokenizer.ggml.tokens").payload
    (length,) = struct.unpack_from("<Q", payload, 4)
    tokens: list[object] = []
    pos = 12
    for _ in range(length):
        (n,) = struct.unpack_from("<Q", payload, pos)
        tokens.append(payload[pos + 8 : pos + 8 + n].decode())
        pos += 8 + n
    tokens[-1] = token
    return tokens


# Chat templates stored in the file; the attacks on the renderer are in test_template_attacks.
LOOPING_TEMPLATE = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
# Jinja folds constants when it compiles: this power runs in one C call while the template loads.
COMPILE_TIME_POWER = "{{ 7 ** 7 ** 12 }}"


def _chat_template(c: _Corpus) -> None:
    b = c.base
    key = "tokenizer.chat_template"
    for name, (vtype, payload) in {
        "int": (VT.UINT32, u32(42)),
        "bool": (VT.BOOL, b"\x01"),
        "array-of-strings": (VT.ARRAY, enc_array(VT.STRING, ["{{ messages }}", "x"])),
        "empty": (VT.STRING, enc_str("")),
        "10-mib-text": (VT.STRING, enc_str("A" * (10 << 20))),
        "10-mib-expressions": (
            VT.STRING,
            enc_str("{{ messages[0]['content'] }}" * (10 << 20 >> 5)),
        ),
        "syntax-error": (VT.STRING, enc_str("{% for %}{{")),
        "unclosed-block": (VT.STRING, enc_str("{% if true %}")),
        "raises": (VT.STRING, enc_str("{{ raise_exception('no chat for you') }}")),
        "raises-escapes": (
            VT.STRING,
            enc_str("{{ raise_exception('\x1b]0;pwned\x07\x1b[2J<img src=x>') }}"),
        ),
        "undefined-everything": (VT.STRING, enc_str("{{ foo.bar.baz() }}")),
        "nul-bytes": (VT.STRING, enc_str("\0{{ messages }}\0")),
        "looping": (VT.STRING, enc_str(LOOPING_TEMPLATE)),
        "deep-nesting": (VT.STRING, enc_str("{% if true %}" * 2000 + "x" + "{% endif %}" * 2000)),
        "deep-parentheses": (VT.STRING, enc_str("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")),
        "no-generation-prompt": (VT.STRING, enc_str("{{ messages[0]['content'] }}")),
        "outputs-nothing": (VT.STRING, enc_str("{% for m in messages %}{% endfor %}")),
        "special-tokens-only": (VT.STRING, enc_str("<|endoftext|>" * 100)),
    }.items():
        c.add("chat-template", name, b.with_kv(key, vtype, payload), "any")
    c.add(
        "chat-template",
        "compile-time-power",
        b.with_kv(key, VT.STRING, enc_str(COMPILE_TIME_POWER)),
        "any",
    )
    # Named templates (tool use, RAG): llama-cpp-python would compile each while loading.
    named = key + ".tool_use"
    c.add(
        "chat-template",
        "named-syntax-error",
        b.with_kv(named, VT.STRING, enc_str("{% for %}")),
        "load",
    )
    expressions = "{{ messages[0]['content'] }}" * (10 << 20 >> 5)
    c.add(
        "chat-template",
        "named-10-mib-expressions",
        b.with_kv(named, VT.STRING, enc_str(expressions)),
        "load",
    )


def _names(c: _Corpus) -> None:
    b = c.base
    values = {
        "nul": "mo\0del",
        "terminal-title-and-clear": "\x1b]0;pwned\x07\x1b[2J\x1b[3J\x1bc",
        "terminal-hyperlink": "\x1b]8;;file:///etc/passwd\x07click\x1b]8;;\x07",
        "html-img": '<img src="file:///etc/passwd"><b>bold</b><font size=99>big</font>',
        "rich-text-table": "<table>" + "<tr><td>x</td></tr>" * 1000 + "</table>",
        "bidi-override": "\u202egguf.exe\u202c",
        "zero-width": "\u200b\u200c\u200d\ufeff" * 100,
        "combining-zalgo": "Z" + "\u0300\u0301\u0302\u0303" * 500,
        "emoji": "\U0001f600\U0001f4a9" * 100,
        "lone-surrogate": "\udcff",
        "newlines": "line1\nline2\r\nline3\rline4\u2028line5",
        "1-mib": "n" * (1 << 20),
        "format-string": "%s%n%x{0}{__class__}",
        "backspaces": "real\b\b\b\bfake",
    }
    for name, value in values.items():
        c.add(
            "names",
            f"model-name-{name}",
            b.with_kv("general.name", VT.STRING, enc_str(value)),
            "load",
        )
    for name in ("nul", "terminal-title-and-clear", "html-img", "bidi-override"):
        tensor_name = values[name].encode("utf-8", errors="surrogatepass")[:40]
        extra = _add_tensor(b, tensor_name)
        c.add("names", f"tensor-name-{name}", extra, "any")
    # File names: anything but NUL and "/".
    for name, stem in {
        "escapes": "\x1b]0;pwned\x07\x1b[2J",
        "html": "<img src=x onerror=alert(1)>",
        "bidi": "model\u202eftxt.exe",
        "newline": "two\nlines",
        "leading-dash": "--help",
        "spaces-and-quotes": " 'quoted' \"and\" `ticked` $(echo hi) ",
        "long-250-bytes": "L" * 245,
    }.items():
        path = c.folder("names") / f"{stem}.gguf"
        path.write_bytes(b.serialize()[0])
        c.add_path("names", f"file-name-{name}", path, "load")
    # llama.cpp opens paths given as UTF-8: a name that is not text is refused with a reason.
    path = c.folder("names") / os.fsdecode(b"\xff\xfe-latin1-\xe9.gguf")
    path.write_bytes(b.serialize()[0])
    c.add_path("names", "file-name-non-utf8", path, "any")


def _filesystem(c: _Corpus) -> None:
    folder = c.folder("filesystem")
    valid = folder / "valid-target.gguf"
    valid.write_bytes(c.base.serialize()[0])
    loop_a, loop_b = folder / "loop-a.gguf", folder / "loop-b.gguf"
    loop_a.symlink_to(loop_b.name)
    loop_b.symlink_to(loop_a.name)
    c.add_path("filesystem", "symlink-loop", loop_a)
    (folder / "self-loop.gguf").symlink_to("self-loop.gguf")
    c.add_path("filesystem", "symlink-to-itself", folder / "self-loop.gguf")
    (folder / "dangling.gguf").symlink_to("no-such-target.gguf")
    c.add_path("filesystem", "dangling-symlink", folder / "dangling.gguf")
    (folder / "good-link.gguf").symlink_to(valid.name)
    c.add_path("filesystem", "symlink-to-a-model", folder / "good-link.gguf", "load")
    (folder / "x.gguf").mkdir()
    c.add_path("filesystem", "directory", folder / "x.gguf")
    fifo = folder / "fifo" / "x.gguf"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    c.add_path("filesystem", "fifo", fifo)
    sock_path = folder / "s.gguf"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
    c.add_path("filesystem", "unix-socket", sock_path)
    for device in ("null", "zero", "urandom"):
        link = folder / f"dev-{device}.gguf"
        link.symlink_to(f"/dev/{device}")
        c.add_path("filesystem", f"symlink-to-dev-{device}", link)
    c.add_path("filesystem", "missing", folder / "missing.gguf")
    c.add_path("filesystem", "parent-is-a-file", valid / "child.gguf")
    sparse = folder / "sparse-8-gib.gguf"
    with open(sparse, "wb") as handle:
        handle.write(c.base.serialize()[0][:4096])
        handle.truncate(8 << 30)
    c.add_path("filesystem", "sparse-8-gib-garbage-after-header", sparse)


BUILDERS: tuple[Callable[[_Corpus], None], ...] = (
    _valid,
    _truncated,
    _tiny_files,
    _magic,
    _version,
    _counts,
    _strings,
    _arrays,
    _value_types,
    _known_keys,
    _architecture,
    _tensors,
    _tokenizer,
    _chat_template,
    _names,
    _filesystem,
)


# The categories, in the order build_corpus writes them (tests are parametrized by them).
CATEGORIES = tuple(builder.__name__.strip("_").replace("_", "-") for builder in BUILDERS)


def categories(cases: list[Case]) -> Iterator[tuple[str, list[Case]]]:
    """The cases grouped by category, in corpus order."""
    order = dict.fromkeys(case.category for case in cases)
    for category in order:
        yield category, [case for case in cases if case.category == category]


if __name__ == "__main__":
    built = build_corpus(Path(sys.argv[1]))
    for category, members in categories(built):
        print(f"{category:16} {len(members):4}")
    print(f"{'total':16} {len(built):4}")
