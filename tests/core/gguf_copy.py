"""A copy of a real GGUF model with another chat template (the weights byte for byte).

The header is rewritten with the new ``tokenizer.chat_template`` value; the tensor data, whose
offsets count from the start of the data section, is copied after the header padded to the
file's alignment.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import gguf

TEMPLATE_KEY = "tokenizer.chat_template"


def copy_with_chat_template(source: Path, target: Path, *, template: str) -> Path:
    """Write ``source`` to ``target`` with ``template`` as its chat template."""
    reader = gguf.GGUFReader(source)
    field = reader.fields[TEMPLATE_KEY]
    field_end = field.offset + sum(part.nbytes for part in field.parts)
    infos_end = max(t.field.offset + sum(p.nbytes for p in t.field.parts) for t in reader.tensors)
    key = TEMPLATE_KEY.encode()
    value = template.encode()
    new_field = (
        struct.pack("<Q", len(key))
        + key
        + struct.pack("<I", gguf.GGUFValueType.STRING)
        + struct.pack("<Q", len(value))
        + value
    )
    with source.open("rb") as src, target.open("wb") as dst:
        head = src.read(infos_end)
        header = head[: field.offset] + new_field + head[field_end:]
        padding = -len(header) % reader.alignment
        dst.write(header + b"\0" * padding)
        src.seek(reader.data_offset)
        shutil.copyfileobj(src, dst, 1 << 20)
    return target
