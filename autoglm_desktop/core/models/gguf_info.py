"""What a GGUF file holds: model hyperparameters and the tensor table, without loading weights.

The parser is our own, not ``gguf.GGUFReader``: that reader builds a numpy view for every field
(1.8 s for the 98 MB starter model, most of it the vocabulary) and trusts every count in the
file. This one reads only the metadata section (a few MB), checks each count and length
against the bytes that remain before it reads anything, skips large arrays without decoding
them, and applies the structural checks of llama.cpp's ``gguf.cpp`` (version, duplicate keys and
names, dimensions, alignment, contiguous offsets, data inside the file). A hostile file costs at
most ``max_metadata_bytes`` of memory and a bounded number of steps, and fails with
:class:`GGUFFormatError`. Reading the starter model's info takes about 10 ms.

The ``gguf`` package supplies the table of tensor types (block sizes, bytes per block).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeGuard

from autoglm_desktop.core.common.errors import GGUFFormatError, ModelFileError
from autoglm_desktop.core.common.regular_file import open_regular_file

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
DEFAULT_MAX_METADATA_BYTES = 64 << 20  # real files: 1-10 MiB (a 262k-token vocabulary is ~6)

# Limits that no real model comes near; beyond them a file is treated as damaged.
MAX_TENSORS = 1 << 20
# Real models have a few dozen to a few hundred metadata keys. llama-cpp-python reads the keys in
# quadratic time (200,000 keys: minutes, with no way to cancel), so more than this is refused.
MAX_METADATA_KEYS = 1 << 16
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_TENSOR_NAME = 63  # GGML_MAX_NAME - 1
MAX_LAYERS = 4096
MAX_STRING_ARRAY = 1 << 22  # elements; a vocabulary has at most a few hundred thousand
MAX_DECODED_ARRAY = MAX_LAYERS  # larger numeric arrays (token types, scores) are summarized
MAX_DECODED_STRINGS = 256  # larger string arrays (vocabularies) are summarized

_LAYER_TENSOR = re.compile(r"blk\.(\d{1,6})\.")
# Tensors of the other parts of a split model, combined into one table, have their offsets
# moved by ``part << SPLIT_PART_SHIFT`` so spans never mix files (as memory_estimate does).
SPLIT_PART_SHIFT = 48

# GGUF value types.
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL = range(8)
_STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = range(8, 13)
_SCALAR_FORMATS = {
    _UINT8: "B",
    _INT8: "b",
    _UINT16: "H",
    _INT16: "h",
    _UINT32: "I",
    _INT32: "i",
    _FLOAT32: "f",
    _BOOL: "?",
    _UINT64: "Q",
    _INT64: "q",
    _FLOAT64: "d",
}
_TYPE_NAMES = {
    _UINT8: "uint8",
    _INT8: "int8",
    _UINT16: "uint16",
    _INT16: "int16",
    _UINT32: "uint32",
    _INT32: "int32",
    _FLOAT32: "float32",
    _BOOL: "bool",
    _STRING: "string",
    _ARRAY: "array",
    _UINT64: "uint64",
    _INT64: "int64",
    _FLOAT64: "float64",
}
_SCALAR_STRUCTS = {t: struct.Struct("<" + fmt) for t, fmt in _SCALAR_FORMATS.items()}
_U32 = struct.Struct("<I")
_READ_CHUNK = 1 << 20
_U64 = struct.Struct("<Q")
_HEADER = struct.Struct("<4sIQQ")  # magic, version, tensor count, metadata key count

# What a file that is not GGUF often is, from its first bytes.
_NOT_GGUF_HINTS = (
    (b"lmgg", "an old GGML model, which llama.cpp no longer loads"),
    (b"fmgg", "an old GGML model, which llama.cpp no longer loads"),
    (b"tjgg", "an old GGML model, which llama.cpp no longer loads"),
    (b"PK\x03\x04", "a zip archive"),
    (b"version https://git-lfs", "a Git LFS pointer, not the model itself"),
    (b"<!DOCTYPE", "a web page, not the model itself"),
    (b"<html", "a web page, not the model itself"),
    (b"{", "a JSON file"),
)


@dataclass(frozen=True)
class ArraySummary:
    """A metadata array too large to keep (a vocabulary, merges, scores)."""

    element_type: str
    length: int


Scalar = int | float | bool | str
MetadataValue = Scalar | tuple[Scalar, ...] | ArraySummary


@dataclass(frozen=True)
class TensorInfo:
    name: str
    type_id: int
    type_name: str  # "Q4_0", "F16", ...
    shape: tuple[int, ...]  # ggml order: ne[0] (the row length) first
    n_elements: int
    n_bytes: int
    offset: int  # absolute position in the file

    @property
    def layer(self) -> int | None:
        """The block number of a ``blk.N.*`` tensor."""
        match = _LAYER_TENSOR.match(self.name)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    file_size: int
    version: int
    alignment: int
    data_offset: int  # where tensor data starts
    architecture: str
    name: str | None
    file_type: int | None
    file_type_name: str | None  # "Q4_1", "Q4_K_M", ...
    n_ctx_train: int | None
    n_layer: int | None
    n_embd: int | None
    n_head_per_layer: tuple[int, ...]  # one entry per layer; () when the file does not say
    n_head_kv_per_layer: tuple[int, ...]  # defaults to n_head, as in llama.cpp
    n_ff_per_layer: tuple[int, ...]
    key_length: int | None  # per KV head; defaults to n_embd / n_head, as in llama.cpp
    value_length: int | None
    sliding_window: int | None
    sliding_window_pattern: int | tuple[bool, ...] | None  # as stored; None: not in the file
    n_expert: int | None
    n_expert_used: int | None
    vocab_size: int | None
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    split_count: int  # 1 for a file that is not split
    split_index: int
    is_projector: bool  # a multimodal projector (mmproj), not a language model
    tensors: tuple[TensorInfo, ...]
    layer_bytes: tuple[int, ...]  # bytes of blk.N.* tensors, index N
    token_embd_bytes: int
    output_bytes: int  # output.* and output_norm.*: llama.cpp's output layer
    other_bytes: int
    metadata: Mapping[str, MetadataValue]

    @property
    def total_weight_bytes(self) -> int:
        return sum(self.layer_bytes) + self.token_embd_bytes + self.output_bytes + self.other_bytes

    @property
    def n_params(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def n_head(self) -> int | None:
        return max(self.n_head_per_layer) if self.n_head_per_layer else None

    @property
    def n_head_kv(self) -> int | None:
        return max(self.n_head_kv_per_layer) if self.n_head_kv_per_layer else None

    @property
    def is_split(self) -> bool:
        return self.split_count > 1

    @property
    def has_output_tensor(self) -> bool:
        """False when the output projection reuses the token embeddings (tied weights)."""
        return any(t.name == "output.weight" for t in self.tensors)


def read_gguf_info(path: Path, *, max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES) -> GGUFInfo:
    """Read the metadata and tensor table of a GGUF file.

    Raises:
        ModelFileError: the file is missing or cannot be read.
        NotRegularFileError: the path is a folder, a named pipe or a device.
        GGUFFormatError: it is not a GGUF file, or it is truncated or damaged.
    """
    path = Path(path)
    try:
        with open_regular_file(path) as file:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                raise GGUFFormatError(f"{path.name} is not a GGUF model file (it is empty).")
            return _Parser(path, file, size, max_metadata_bytes).parse()
    except OSError as error:
        raise _unreadable(path, error) from None


def has_gguf_header(path: Path) -> bool:
    """Whether ``path`` is an ordinary file that starts like a GGUF model llama.cpp can read.

    Reads 24 bytes (the magic, the version and two sane counts), never raises: the library
    scan uses it to pass over text files, empty files and programs that end in ``.gguf``.
    """
    try:
        with open_regular_file(path) as file:
            head = file.read(_HEADER.size)
    except (OSError, ModelFileError):
        return False
    if len(head) < _HEADER.size:
        return False
    magic, version, n_tensors, n_kv = _HEADER.unpack(head)
    return (
        magic == GGUF_MAGIC
        and version in SUPPORTED_VERSIONS
        and n_tensors <= MAX_TENSORS
        and n_kv <= MAX_METADATA_KEYS
    )


class ReadableStream(Protocol):
    """What the parser reads from: ``read(n)`` returns up to ``n`` bytes, ``b""`` at the end."""

    def read(self, n: int, /) -> bytes: ...


def read_gguf_info_from_stream(
    stream: ReadableStream,
    *,
    name: str,
    size: int,
    max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES,
    read_chunk: int = _READ_CHUNK,
) -> GGUFInfo:
    """Read the metadata and tensor table from the start of a GGUF file given as a stream.

    ``size`` is the whole file's size (the tensor table is checked against it); the stream need
    only hold the header: the parser reads it front to back in growing chunks (``read_chunk``
    first, then doubling) and stops at the end of the tensor table. ``name`` becomes the info's
    ``path`` (a hub path, for instance). Errors of the stream itself propagate unchanged.

    Raises:
        GGUFFormatError: it is not a GGUF file, or it is truncated or damaged.
    """
    if size <= 0:
        raise GGUFFormatError(f"{Path(name).name} is not a GGUF model file (it is empty).")
    return _Parser(Path(name), stream, size, max_metadata_bytes, read_chunk).parse()


@dataclass(frozen=True)
class TensorTable:
    """A file's tensor table, read on its own (see :func:`read_tensor_table`)."""

    tensors: tuple[TensorInfo, ...]
    start: int  # where the table starts in the file
    end: int  # where it ends
    data_offset: int  # where tensor data starts


def read_tensor_table(
    data: bytes,
    *,
    start: int,
    n_tensors: int,
    alignment: int,
    file_size: int,
    name: str,
) -> TensorTable:
    """The tensor table at byte ``start`` of a GGUF file, from ``data`` (its bytes from there on).

    For a file whose metadata is known from elsewhere (another quantization of the same model):
    the table alone is a few kilobytes, the metadata before it megabytes. The table is checked
    as :func:`read_gguf_info` checks it, and its tensors must fill the file exactly, so a wrong
    ``start`` fails.

    Raises:
        GGUFFormatError: the bytes at ``start`` are not a table of ``n_tensors`` tensors that
            fills a file of ``file_size`` bytes.
    """
    parser = _Parser(Path(name), io.BytesIO(data), file_size, DEFAULT_MAX_METADATA_BYTES)
    return parser.parse_tensor_table(start, n_tensors, alignment)


def with_tensors(
    info: GGUFInfo, tensors: Sequence[TensorInfo], *, path: Path, file_size: int
) -> GGUFInfo:
    """``info`` with another tensor table (and the byte totals that follow from it)."""
    table = tuple(tensors)
    layer_bytes, token_embd, output, other = _byte_totals(table, info.n_layer)
    return replace(
        info,
        path=path,
        file_size=file_size,
        tensors=table,
        layer_bytes=layer_bytes,
        token_embd_bytes=token_embd,
        output_bytes=output,
        other_bytes=other,
    )


def combine_split_parts(parts: Sequence[GGUFInfo]) -> GGUFInfo:
    """One info for a whole split model, from the header of every part in order.

    The first part holds the model's metadata; every part holds its share of the tensor table.
    The result has the first part's metadata and path, every part's tensors (offsets of part
    ``i`` moved by ``i << SPLIT_PART_SHIFT``), the size of all parts together and
    ``split_count == 1``: it describes the whole model, so nothing is left to read from disk.

    Raises:
        GGUFFormatError: the parts do not belong together (count, order or missing metadata).
    """
    if not parts:
        raise ValueError("no parts")
    first = parts[0]
    name = first.path.name
    if first.split_index != 0 or first.split_count != len(parts):
        raise GGUFFormatError(
            f"{name} is not the first of {len(parts)} parts of a split model "
            f"(it says part {first.split_index + 1} of {first.split_count})."
        )
    tensors: list[TensorInfo] = []
    for index, part in enumerate(parts):
        if part.split_index != index or part.split_count != first.split_count:
            raise GGUFFormatError(
                f"{part.path.name} is not part {index + 1} of {first.split_count} of {name}."
            )
        shift = index << SPLIT_PART_SHIFT
        tensors += [replace(t, offset=t.offset + shift) for t in part.tensors]
    combined = with_tensors(
        first, tensors, path=first.path, file_size=sum(p.file_size for p in parts)
    )
    return replace(combined, split_count=1, split_index=0)


def _unreadable(path: Path, error: Exception) -> ModelFileError:
    if isinstance(error, FileNotFoundError):
        return ModelFileError(f"The model file {path} was not found.")
    if isinstance(error, IsADirectoryError):
        return ModelFileError(f"{path} is a folder, not a model file.")
    if isinstance(error, PermissionError):
        return ModelFileError(f"The model file {path} cannot be read (permission denied).")
    return ModelFileError(f"The model file {path} cannot be read ({error}).")


class _Damaged(Exception):
    """Internal: the structure is wrong; the message says where."""


class _Truncated(Exception):
    """Internal: the file ends before a structure it declares."""


class _TooLarge(Exception):
    """Internal: the metadata section is larger than the caller allows."""


class _Parser:
    """Reads the file front to back into a growing buffer, never past the metadata limit.

    Plain reads rather than a memory map: a map of a file that shrinks under us (a download
    being replaced) kills the process with SIGBUS, and Windows cannot delete a mapped file.
    """

    def __init__(
        self,
        path: Path,
        file: ReadableStream,
        size: int,
        max_metadata_bytes: int,
        read_chunk: int = _READ_CHUNK,
    ) -> None:
        self.path = path
        self.read_chunk = read_chunk
        self.file = file
        self.buf = bytearray()
        self.size = size
        self.limit = min(size, max_metadata_bytes)  # the metadata section must end before it
        self.max_metadata_bytes = max_metadata_bytes
        self.pos = 0

    def parse(self) -> GGUFInfo:
        with self._format_errors():
            version = self._header()
            return self._body(version)

    def parse_tensor_table(self, start: int, n_tensors: int, alignment: int) -> TensorTable:
        """The stream holds the file from ``start`` on: read ``n_tensors`` tensor entries there.

        The table must fill the file exactly as gguf.cpp lays tensors out (contiguous, aligned,
        the last ending at the end of the file), so bytes that only look like a table fail.
        """
        with self._format_errors():
            if n_tensors <= 0 or n_tensors > MAX_TENSORS:
                raise _Damaged(f"it declares {n_tensors} tensors")
            entries = [self._tensor_entry() for _ in range(n_tensors)]
            end = start + self.pos
            data_offset = _align(end, alignment)
            tensors = self._place_tensors(entries, data_offset, alignment)
            last = tensors[-1]
            if not 0 <= self.size - (last.offset + last.n_bytes) < alignment:
                raise _Damaged("its tensors do not fill the file")
            return TensorTable(tensors=tensors, start=start, end=end, data_offset=data_offset)

    @contextlib.contextmanager
    def _format_errors(self) -> Iterator[None]:
        name = self.path.name
        try:
            yield
        except _Truncated:
            raise GGUFFormatError(
                f"{name} looks damaged or is not a model file (it is truncated or damaged: it "
                "ends too early)."
            ) from None
        except _Damaged as error:
            raise GGUFFormatError(
                f"{name} looks damaged or is not a model file (it is truncated or damaged: "
                f"{error})."
            ) from None
        except _TooLarge:
            limit = self.max_metadata_bytes
            shown = f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit:,} bytes"
            raise GGUFFormatError(
                f"{name} looks damaged or is not a model file (it is truncated or damaged: its "
                f"metadata is larger than {shown})."
            ) from None

    # ---------------------------------------------------------------- primitives

    def _need(self, n: int) -> None:
        self._check_end(self.pos + n)
        if self.pos + n > len(self.buf):
            self._fill(self.pos + n)

    def _check_end(self, end: int) -> None:
        if end > self.limit:
            raise _TooLarge if end <= self.size else _Truncated

    def _fill(self, end: int) -> None:
        """Buffer the file up to ``end`` (<= limit), reading ahead in growing chunks."""
        have = len(self.buf)
        want = min(self.limit, max(end, 2 * have, have + self.read_chunk)) - have
        self.buf += self.file.read(want)
        if len(self.buf) < end:  # the file shrank since we measured it
            raise _Truncated

    def _remaining(self) -> int:
        return self.limit - self.pos

    def _u32(self) -> int:
        self._need(4)
        (value,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def _u64(self) -> int:
        self._need(8)
        (value,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(value)

    def _bytes(self, n: int) -> bytes:
        self._need(n)
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data

    def _string(self) -> str:
        return self._bytes(self._u64()).decode("utf-8", errors="replace")

    # ---------------------------------------------------------------- sections

    def _header(self) -> int:
        self._fill(min(self.limit, 32))
        if self.buf[:4] != GGUF_MAGIC:
            start = bytes(self.buf[:32]).lstrip()
            hint = next(
                (text for prefix, text in _NOT_GGUF_HINTS if start.startswith(prefix)), None
            )
            suffix = f" (it looks like {hint})" if hint else ""
            raise GGUFFormatError(f"{self.path.name} is not a GGUF model file{suffix}.")
        self.pos = 4
        version = self._u32()
        if version not in SUPPORTED_VERSIONS:
            if version & 0xFFFF == 0 and version >> 16:
                raise GGUFFormatError(
                    f"{self.path.name} is a big-endian GGUF file, which this computer cannot load."
                )
            if version == 1:
                raise GGUFFormatError(
                    f"{self.path.name} uses GGUF version 1, which llama.cpp no longer loads."
                )
            if SUPPORTED_VERSIONS[-1] < version < 256:
                raise GGUFFormatError(
                    f"{self.path.name} uses GGUF version {version}, which is newer than this"
                    " app's llama.cpp can load."
                )
            raise _Damaged(f"unknown GGUF version {version}")
        return version

    def _body(self, version: int) -> GGUFInfo:
        n_tensors = self._u64()
        n_kv = self._u64()
        if n_kv > MAX_METADATA_KEYS:
            raise _Damaged(
                f"it has {n_kv:,} metadata entries; real models have a few hundred at most"
            )
        # The smallest KV entry is 13 bytes, the smallest tensor entry 24: counts beyond what
        # the file could hold are rejected before any loop runs.
        if n_tensors > MAX_TENSORS or n_kv * 13 + n_tensors * 24 > self._remaining():
            if n_kv * 13 + n_tensors * 24 <= self.size - self.pos:
                raise _TooLarge
            raise _Damaged(f"it declares {n_tensors} tensors and {n_kv} metadata entries")
        metadata = self._metadata(n_kv)
        alignment = self._alignment(metadata)
        raw_tensors = [self._tensor_entry() for _ in range(n_tensors)]
        data_offset = _align(self.pos, alignment)
        tensors = self._place_tensors(raw_tensors, data_offset, alignment)
        return _build_info(self, version, alignment, data_offset, metadata, tensors)

    def _metadata(self, count: int) -> dict[str, MetadataValue]:
        metadata: dict[str, MetadataValue] = {}
        for _ in range(count):
            key = self._string()
            if key in metadata:
                raise _Damaged(f"the metadata key {key!r} appears twice")
            metadata[key] = self._value(self._u32(), key)
        return metadata

    def _value(self, value_type: int, key: str) -> MetadataValue:
        if value_type == _STRING:
            return self._string()
        if value_type == _ARRAY:
            return self._array(key)
        fmt = _SCALAR_FORMATS.get(value_type)
        if fmt is None:
            raise _Damaged(f"the metadata key {key!r} has an unknown type {value_type}")
        scalar = _SCALAR_STRUCTS[value_type]
        self._need(scalar.size)
        (value,) = scalar.unpack_from(self.buf, self.pos)
        self.pos += scalar.size
        return value  # type: ignore[no-any-return]

    def _array(self, key: str) -> MetadataValue:
        element_type = self._u32()
        length = self._u64()
        if element_type == _STRING:
            return self._string_array(key, length)
        fmt = _SCALAR_FORMATS.get(element_type)
        if fmt is None:  # nested arrays are invalid in llama.cpp too
            raise _Damaged(f"the metadata array {key!r} has an invalid element type")
        item_size = struct.calcsize("<" + fmt)
        self._check_end(self.pos + length * item_size)
        if length > MAX_DECODED_ARRAY:
            self.pos += length * item_size
            return ArraySummary(_TYPE_NAMES[element_type], length)
        self._need(length * item_size)
        values = struct.unpack_from(f"<{length}{fmt}", self.buf, self.pos)
        self.pos += length * item_size
        return tuple(values)

    def _string_array(self, key: str, length: int) -> MetadataValue:
        if length > MAX_STRING_ARRAY:
            raise _Damaged(f"the metadata array {key!r} has {length} strings")
        self._check_end(self.pos + length * 8)
        if length <= MAX_DECODED_STRINGS:
            return tuple(self._string() for _ in range(length))
        # A vocabulary: walk it for its length only (tens of milliseconds for 262k tokens).
        unpack, buf, pos = _U64.unpack_from, self.buf, self.pos
        for _ in range(length):
            if pos + 8 > len(buf):
                self.pos = pos
                self._need(8)  # grows self.buf in place
            pos += 8 + unpack(buf, pos)[0]
        self.pos = pos
        self._check_end(pos)
        return ArraySummary("string", length)

    def _alignment(self, metadata: Mapping[str, MetadataValue]) -> int:
        value = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if not _is_int(value) or value <= 0 or value & (value - 1):
            raise _Damaged("its alignment is not a power of two")
        return value

    def _tensor_entry(self) -> tuple[str, tuple[int, ...], int, int]:
        name_length = self._u64()
        if name_length > MAX_TENSOR_NAME:
            raise _Damaged("a tensor name is too long")
        name = self._bytes(name_length).decode("utf-8", errors="replace")
        n_dims = self._u32()
        if n_dims > MAX_DIMS:
            raise _Damaged(f"tensor {name!r} has {n_dims} dimensions")
        shape = tuple(self._u64() for _ in range(n_dims))
        type_id = self._u32()
        offset = self._u64()
        return name, shape, type_id, offset

    def _place_tensors(
        self,
        entries: list[tuple[str, tuple[int, ...], int, int]],
        data_offset: int,
        alignment: int,
    ) -> tuple[TensorInfo, ...]:
        """Sizes from the type table; offsets checked the way gguf.cpp checks them."""
        sizes = _quant_sizes()
        names: set[str] = set()
        tensors = []
        expected_offset = 0
        for name, shape, type_id, offset in entries:
            if name in names:
                raise _Damaged(f"tensor {name!r} appears twice")
            names.add(name)
            if type_id not in sizes:
                raise _Damaged(f"tensor {name!r} has an unknown type {type_id}")
            type_name, block_size, type_size = sizes[type_id]
            n_elements = 1
            for dim in shape:
                n_elements *= dim
            if n_elements >= 1 << 62:
                raise _Damaged(f"tensor {name!r} is impossibly large")
            if shape and shape[0] % block_size:
                raise _Damaged(f"tensor {name!r} has rows that do not fit its type {type_name}")
            n_bytes = n_elements // block_size * type_size
            if offset != expected_offset:
                raise _Damaged(f"tensor {name!r} is not where the table says")
            if data_offset + offset + n_bytes > self.size:
                raise _Truncated
            expected_offset += _align(n_bytes, alignment)
            tensors.append(
                TensorInfo(
                    name=name,
                    type_id=type_id,
                    type_name=type_name,
                    shape=shape,
                    n_elements=n_elements,
                    n_bytes=n_bytes,
                    offset=data_offset + offset,
                )
            )
        return tuple(tensors)


@functools.lru_cache(maxsize=1)
def _quant_sizes() -> dict[int, tuple[str, int, int]]:
    """Type id -> (name, elements per block, bytes per block), from the ``gguf`` package."""
    import gguf

    return {
        int(qtype): (qtype.name, block, size)
        for qtype, (block, size) in gguf.GGML_QUANT_SIZES.items()
    }


@functools.lru_cache(maxsize=1)
def _file_type_names() -> dict[int, str]:
    import gguf

    names = {}
    for file_type in gguf.LlamaFileType:
        names[int(file_type)] = file_type.name.removeprefix("MOSTLY_").removeprefix("ALL_")
    return names


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------------------------- assembling


def _build_info(
    parser: _Parser,
    version: int,
    alignment: int,
    data_offset: int,
    metadata: dict[str, MetadataValue],
    tensors: tuple[TensorInfo, ...],
) -> GGUFInfo:
    arch = _get_str(metadata, "general.architecture") or ""
    hp = _Hyperparameters(metadata, arch)
    n_layer = hp.get_int("block_count")
    if n_layer is not None and not 0 <= n_layer <= MAX_LAYERS:
        raise _Damaged(f"it declares {n_layer} layers")
    n_embd = hp.get_int("embedding_length")
    n_head = hp.per_layer("attention.head_count", n_layer)
    n_head_kv = hp.per_layer("attention.head_count_kv", n_layer) or n_head
    key_length = hp.get_int("attention.key_length")
    value_length = hp.get_int("attention.value_length")
    # llama.cpp's default head size: n_embd over the first layer's head count.
    head_dim = n_embd // n_head[0] if n_embd and n_head and n_head[0] > 0 else None
    file_type = _get_int(metadata, "general.file_type")
    layer_bytes, token_embd, output, other = _byte_totals(tensors, n_layer)
    return GGUFInfo(
        path=parser.path,
        file_size=parser.size,
        version=version,
        alignment=alignment,
        data_offset=data_offset,
        architecture=arch,
        name=_get_str(metadata, "general.name"),
        file_type=file_type,
        file_type_name=_file_type_names().get(file_type) if file_type is not None else None,
        n_ctx_train=hp.get_int("context_length"),
        n_layer=n_layer,
        n_embd=n_embd,
        n_head_per_layer=n_head,
        n_head_kv_per_layer=n_head_kv,
        n_ff_per_layer=hp.per_layer("feed_forward_length", n_layer),
        key_length=key_length if key_length is not None else head_dim,
        value_length=value_length if value_length is not None else head_dim,
        sliding_window=hp.get_int("attention.sliding_window"),
        sliding_window_pattern=hp.swa_pattern(),
        n_expert=hp.get_int("expert_count"),
        n_expert_used=hp.get_int("expert_used_count"),
        vocab_size=hp.get_int("vocab_size") or _array_length(metadata, "tokenizer.ggml.tokens"),
        chat_template=_get_str(metadata, "tokenizer.chat_template"),
        bos_token_id=_get_int(metadata, "tokenizer.ggml.bos_token_id"),
        eos_token_id=_get_int(metadata, "tokenizer.ggml.eos_token_id"),
        split_count=_get_int(metadata, "split.count") or 1,
        split_index=_get_int(metadata, "split.no") or 0,
        is_projector=metadata.get("general.type") == "mmproj"
        or any(key.startswith("clip.") for key in metadata),
        tensors=tensors,
        layer_bytes=layer_bytes,
        token_embd_bytes=token_embd,
        output_bytes=output,
        other_bytes=other,
        metadata=metadata,
    )


class _Hyperparameters:
    """``{arch}.*`` keys, read with llama.cpp's conventions."""

    def __init__(self, metadata: Mapping[str, MetadataValue], arch: str) -> None:
        self.metadata = metadata
        self.prefix = f"{arch}."

    def get_int(self, key: str) -> int | None:
        return _get_int(self.metadata, self.prefix + key)

    def per_layer(self, key: str, n_layer: int | None) -> tuple[int, ...]:
        """A value that may be one number for all layers or an array with one per layer."""
        value = self.metadata.get(self.prefix + key)
        if _is_int(value):
            return (value,) * (n_layer or 1)
        if isinstance(value, tuple) and all(_is_int(v) for v in value):
            return tuple(int(v) for v in value)
        return ()

    def swa_pattern(self) -> int | tuple[bool, ...] | None:
        value = self.metadata.get(self.prefix + "attention.sliding_window_pattern")
        if _is_int(value):
            return value
        if isinstance(value, tuple):
            return tuple(bool(v) for v in value)
        return None


def _byte_totals(
    tensors: tuple[TensorInfo, ...], n_layer: int | None
) -> tuple[tuple[int, ...], int, int, int]:
    per_layer = [0] * (n_layer or 0)
    token_embd = output = other = 0
    for tensor in tensors:
        layer = tensor.layer
        if layer is not None and layer < MAX_LAYERS:
            if layer >= len(per_layer):
                per_layer.extend([0] * (layer + 1 - len(per_layer)))
            per_layer[layer] += tensor.n_bytes
        elif tensor.name.startswith("token_embd."):
            token_embd += tensor.n_bytes
        elif tensor.name.startswith(("output.", "output_norm.")):
            output += tensor.n_bytes
        else:
            other += tensor.n_bytes
    return tuple(per_layer), token_embd, output, other


def _get_int(metadata: Mapping[str, MetadataValue], key: str) -> int | None:
    value = metadata.get(key)
    return value if _is_int(value) else None


def _get_str(metadata: Mapping[str, MetadataValue], key: str) -> str | None:
    value = metadata.get(key)
    return value if isinstance(value, str) else None


def _array_length(metadata: Mapping[str, MetadataValue], key: str) -> int | None:
    value = metadata.get(key)
    if isinstance(value, ArraySummary):
        return value.length
    if isinstance(value, tuple):
        return len(value)
    return None
