"""Tokenizing a rendered prompt piece by piece: the template's markers special, messages plain.

llama.cpp cuts a text at its special tokens (``<|im_start|>`` and the like) before it
tokenizes the plain text between them. A prompt (see :class:`~.chat_render.SplitPrompt`) is
cut the same way, but only at the special texts of the template's own parts: each piece is one
of those markers and the text up to the next one, the messages' texts included. A piece whose
text holds no special text tokenizes exactly as in the whole prompt; one that does (a message
quoting ``<|im_end|>``) has its text tokenized with llama.cpp's special-token parsing off, so
the quote stays ordinary text. User-defined tokens are matched even then, so the texts of the
template's user-defined markers (``guarded_texts``) are cut apart before they are tokenized.

Pieces seen before come from a cache; a chat prompt is mostly pieces of earlier turns, and a
piece does not change when a message is appended. The first clean prompts after a load are
also tokenized whole and compared; on any difference (a tokenizer that strips spaces around
special tokens, say) clean prompts are tokenized whole from then on.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

# Tokenizes text; the flags say whether to add the model's BOS token and to parse special texts.
Tokenize = Callable[[str, bool, bool], list[int]]
# A marker of the template (or "" at the prompt's start) and the text up to the next one.
Piece = tuple[str, str]

CACHED_PIECES = 4096
CHECKED_PROMPTS = 3


def _alternation(texts: Iterable[str]) -> str:
    return "|".join(re.escape(t) for t in sorted(set(texts), key=len, reverse=True))


class PieceTokenizer:
    """Tokenizes split prompts with a cache of the pieces between the template's markers."""

    def __init__(
        self,
        *,
        tokenize: Tokenize,
        special_texts: Iterable[str],
        guarded_texts: Iterable[str] = (),
    ) -> None:
        self._tokenize = tokenize
        special = _alternation(t for t in special_texts if t)
        self._splitter = re.compile(special) if special else None
        guarded = _alternation(t for t in guarded_texts if len(t) > 1)
        self._guard = re.compile(f"(?=(?:{guarded}))") if guarded else None
        self._pieces: OrderedDict[tuple[str, str, bool], list[int]] = OrderedDict()
        self._piecewise = True
        self._checks_left = CHECKED_PROMPTS
        self.tokenized_chars = 0  # text sent to the tokenizer, for tests and benchmarks

    def __call__(self, parts: Sequence[str], *, add_bos: bool) -> list[int]:
        """Tokens of a prompt given as template text and messages' text, alternating."""
        text = "".join(parts)
        if self._splitter is None:  # no special texts: nothing a message could forge
            return self._run(text, add_bos, special=True)
        pieces = self._split(parts)
        clean = all(self._is_clean(body) for _, body in pieces)
        if clean and not self._piecewise:
            return self._run(text, add_bos, special=True)
        tokens: list[int] = []
        for index, (marker, body) in enumerate(pieces):
            tokens += self._piece(marker, body, add_bos and index == 0)
        if clean and self._checks_left > 0:
            self._checks_left -= 1
            whole = self._run(text, add_bos, special=True)
            if whole != tokens:
                self._piecewise = False
                self._pieces.clear()
                return whole
        return tokens

    def _split(self, parts: Sequence[str]) -> list[Piece]:
        """Cut before each special text of the template's parts (never inside a message)."""
        assert self._splitter is not None
        markers: list[str] = [""]
        bodies: list[list[str]] = [[]]
        for index, part in enumerate(parts):
            if index % 2:  # a message's text
                bodies[-1].append(part)
                continue
            start = 0
            for match in self._splitter.finditer(part):
                bodies[-1].append(part[start : match.start()])
                markers.append(match.group())
                bodies.append([])
                start = match.end()
            bodies[-1].append(part[start:])
        pieces = [(m, "".join(b)) for m, b in zip(markers, bodies, strict=True)]
        return [p for p in pieces if p != ("", "")]

    def _is_clean(self, body: str) -> bool:
        assert self._splitter is not None
        return self._splitter.search(body) is None

    def _piece(self, marker: str, body: str, add_bos: bool) -> list[int]:
        key = (marker, body, add_bos)
        cached = self._pieces.get(key)
        if cached is None:
            cached = self._tokens_of(marker, body, add_bos)
            self._pieces[key] = cached
            if len(self._pieces) > CACHED_PIECES:
                self._pieces.popitem(last=False)
        else:
            self._pieces.move_to_end(key)
        return cached

    def _tokens_of(self, marker: str, body: str, add_bos: bool) -> list[int]:
        if self._is_clean(body):
            return self._run(marker + body, add_bos, special=True)
        tokens = self._run(marker, add_bos, special=True) if marker else []
        return tokens + self._plain(body, add_bos and not marker)

    def _plain(self, text: str, add_bos: bool) -> list[int]:
        """``text`` as ordinary text, each guarded text cut after its first character."""
        cuts = sorted({m.start() + 1 for m in self._guard.finditer(text)}) if self._guard else []
        bounds = [0, *cuts, len(text)]
        tokens: list[int] = []
        for index, (a, b) in enumerate(itertools.pairwise(bounds)):
            tokens += self._run(text[a:b], add_bos and index == 0, special=False)
        return tokens

    def _run(self, text: str, add_bos: bool, *, special: bool) -> list[int]:
        self.tokenized_chars += len(text)
        return self._tokenize(text, add_bos, special)
