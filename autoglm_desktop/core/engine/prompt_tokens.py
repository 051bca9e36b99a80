"""Tokenizing a rendered prompt piece by piece, so a new turn costs only its new text.

llama.cpp cuts a text at its special tokens (``<|im_start|>`` and the like) before it
tokenizes the plain text between them, so a prompt split right before each special token
tokenizes to the same ids piece by piece. Pieces seen before come from a cache; a chat prompt
is mostly pieces of earlier turns. The first prompts after a load are also tokenized whole and
compared; on any difference (a tokenizer that strips spaces around special tokens, say) this
falls back to whole-prompt tokenization for good.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable

# Tokenizes text; the flag says whether to add the model's BOS token.
Tokenize = Callable[[str, bool], list[int]]

CACHED_PIECES = 4096
CHECKED_PROMPTS = 3


class PieceTokenizer:
    """Tokenizes prompts with a cache of the pieces between special tokens."""

    def __init__(self, *, tokenize: Tokenize, special_texts: Iterable[str]) -> None:
        self._tokenize = tokenize
        texts = sorted({t for t in special_texts if t}, key=len, reverse=True)
        self._splitter = re.compile("|".join(re.escape(t) for t in texts)) if texts else None
        self._pieces: OrderedDict[tuple[str, bool], list[int]] = OrderedDict()
        self._checks_left = CHECKED_PROMPTS
        self.tokenized_chars = 0  # text sent to the tokenizer, for tests and benchmarks

    def __call__(self, text: str, *, add_bos: bool) -> list[int]:
        if self._splitter is None:
            return self._whole(text, add_bos)
        tokens: list[int] = []
        for index, piece in enumerate(self._split(text)):
            tokens += self._piece(piece, add_bos and index == 0)
        if self._checks_left > 0:
            self._checks_left -= 1
            if self._whole(text, add_bos) != tokens:
                self._splitter = None
                self._pieces.clear()
                return self._whole(text, add_bos)
        return tokens

    def _split(self, text: str) -> list[str]:
        assert self._splitter is not None
        cuts = [m.start() for m in self._splitter.finditer(text) if m.start() > 0]
        bounds = [0, *cuts, len(text)]
        return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]

    def _piece(self, piece: str, add_bos: bool) -> list[int]:
        key = (piece, add_bos)
        cached = self._pieces.get(key)
        if cached is None:
            cached = self._whole(piece, add_bos)
            self._pieces[key] = cached
            if len(self._pieces) > CACHED_PIECES:
                self._pieces.popitem(last=False)
        else:
            self._pieces.move_to_end(key)
        return cached

    def _whole(self, text: str, add_bos: bool) -> list[int]:
        self.tokenized_chars += len(text)
        return self._tokenize(text, add_bos)
