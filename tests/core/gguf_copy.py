"""A copy of a real GGUF model with another chat template (the weights byte for byte).

:data:`THINKING_CHATML` makes the starter model a "thinking" model: its prompt opens ``<think>``.

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

# ChatML (SmolLM2's markers) that takes earlier reasoning back as reasoning_content, switches
# thinking with enable_thinking (on unless told otherwise) and opens <think> in the prompt.
THINKING_CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message.reasoning_content is defined %}"
    "{{ '<think>\\n' + message.reasoning_content + '\\n</think>\\n\\n' }}{% endif %}"
    "{{ message['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "{{ '<think>\\n\\n</think>\\n\\n' }}{% else %}{{ '<think>\\n' }}{% endif %}{% endif %}"
)


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
