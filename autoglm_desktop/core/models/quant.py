"""What a GGUF file name says: its quantization label, its split part, whether it is a projector.

Quantizers name files ``<model>-<QUANT>.gguf`` (``Qwen2.5-1.5B-Instruct-Q4_K_M.gguf``,
``qwen2.5-1.5b-instruct-q4_k_m.gguf``, ``Llama-3.2-1B-Instruct-UD-IQ2_XXS.gguf``). Large models
are split by ``llama-gguf-split`` into ``<stem>-00001-of-00003.gguf`` parts. Vision projectors
carry ``mmproj`` in their name. Nothing here opens a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFERRED_QUANT = "Q4_K_M"  # the usual best balance of size and quality

# Approximate bits per weight of a whole file (mixed tensor types included), as llama.cpp's
# quantizer produces them. Used to guess a parameter count from a file size and to order files.
_BITS_PER_WEIGHT = {
    "IQ1_S": 1.56,
    "IQ1_M": 1.75,
    "TQ1_0": 1.69,
    "IQ2_XXS": 2.06,
    "TQ2_0": 2.06,
    "IQ2_XS": 2.31,
    "IQ2_S": 2.5,
    "IQ2_M": 2.7,
    "Q2_K_S": 3.0,
    "Q2_K": 3.35,
    "Q2_K_L": 3.6,
    "IQ3_XXS": 3.06,
    "IQ3_XS": 3.3,
    "IQ3_S": 3.44,
    "IQ3_M": 3.66,
    "Q3_K_S": 3.5,
    "Q3_K_M": 3.91,
    "Q3_K_L": 4.27,
    "Q3_K_XL": 4.4,
    "IQ4_XS": 4.25,
    "IQ4_NL": 4.5,
    "MXFP4": 4.25,
    "MXFP4_MOE": 4.25,
    "Q4_0": 4.55,
    "Q4_0_4_4": 4.55,
    "Q4_0_4_8": 4.55,
    "Q4_0_8_8": 4.55,
    "Q4_K_S": 4.58,
    "Q4_K_M": 4.89,
    "Q4_K_L": 5.1,
    "Q4_K_XL": 5.1,
    "Q4_1": 5.0,
    "Q5_0": 5.54,
    "Q5_K_S": 5.54,
    "Q5_K_M": 5.7,
    "Q5_K_L": 5.9,
    "Q5_K_XL": 5.9,
    "Q5_1": 6.0,
    "Q6_K": 6.56,
    "Q6_K_L": 6.7,
    "Q6_K_XL": 6.7,
    "Q8_0": 8.5,
    "Q8_K_XL": 9.0,
    "F16": 16.0,
    "BF16": 16.0,
    "F32": 32.0,
}

_QUANT_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])"
    r"(?P<ud>UD[-_])?"
    r"(?P<label>"
    r"IQ[1-4]_(?:XXS|XS|S|M|NL)"
    r"|Q[2-8]_K(?:_(?:S|M|L|XL))?"
    r"|Q[4-8]_[01](?:_[48]_[48])?"
    r"|TQ[12]_0"
    r"|MXFP4(?:_MOE)?"
    r"|BF16|FP16|F16|FP32|F32"
    r")"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_ALIASES = {"FP16": "F16", "FP32": "F32"}
_SPLIT_NAME = re.compile(
    r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE
)


@dataclass(frozen=True)
class SplitName:
    """One part of a split model: ``<stem>-<index>-of-<count>.gguf`` (``index`` from 1)."""

    stem: str
    index: int
    count: int

    def part_name(self, index: int) -> str:
        return f"{self.stem}-{index:05d}-of-{self.count:05d}.gguf"


def parse_quant(filename: str) -> str | None:
    """The quantization label in a GGUF file name (``"Q4_K_M"``, ``"UD-IQ2_XXS"``), or ``None``.

    The path is ignored up to its last ``/``; a split suffix does not hide the label. Labels
    are upper-cased; ``FP16`` becomes ``F16``.
    """
    name = filename.rsplit("/", 1)[-1]
    split = parse_split_name(name)
    stem = split.stem if split else re.sub(r"\.gguf$", "", name, flags=re.IGNORECASE)
    matches = list(_QUANT_TOKEN.finditer(stem))
    if not matches:
        return None
    last = matches[-1]
    label = last.group("label").upper()
    label = _ALIASES.get(label, label)
    return f"UD-{label}" if last.group("ud") else label


def quant_bits(label: str | None) -> float | None:
    """Approximate bits per weight of a file with this label; ``None`` when unknown."""
    if not label:
        return None
    return _BITS_PER_WEIGHT.get(label.upper().removeprefix("UD-"))


def quant_sort_key(label: str | None) -> tuple[float, str]:
    """Orders labels from the smallest files to the largest; unknown labels last."""
    bits = quant_bits(label)
    return (bits if bits is not None else 99.0, label or "")


def parse_split_name(filename: str) -> SplitName | None:
    """The split part a file name denotes, or ``None`` for a file that is not split."""
    match = _SPLIT_NAME.match(filename.rsplit("/", 1)[-1])
    if match is None:
        return None
    index, count = int(match.group("index")), int(match.group("count"))
    if not 1 <= index <= count:
        return None
    return SplitName(stem=match.group("stem"), index=index, count=count)


def is_projector_name(filename: str) -> bool:
    """True for a multimodal projector (``mmproj-*.gguf``), which is not a chat model."""
    return "mmproj" in filename.rsplit("/", 1)[-1].lower()


def is_gguf_name(filename: str) -> bool:
    return filename.lower().endswith(".gguf")
