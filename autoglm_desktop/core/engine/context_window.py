"""Fitting a conversation into the model's context, and reusing what the KV cache holds.

:func:`fit_conversation` leaves out the oldest turns. The system prompt is always kept, and the
kept part always starts with a user turn so that templates which insist on user/assistant
alternation still render. Where the turns are left out is a pure function of the conversation,
so every later turn (and the same conversation after a switch or a restart) keeps the same
prefix: with ``step`` tokens the cut moves in steps of about that size, not at every turn.

:func:`plan_reuse` finds how much of a new prompt a cached token list can serve: its longest
common prefix, or, after the oldest turns were left out, that prefix plus the rest of the
cache once a span in the middle is discarded and the tokens after it are shifted back
(llama-server's context shift).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

import numpy as np

from autoglm_desktop.core.common.errors import PromptTooLongError
from autoglm_desktop.core.common.types import ChatTurn, Role

# Renders system prompt + turns to prompt token ids (chat template + tokenizer); raises
# PromptTooLongError, before it tokenizes, when the rendered text is too long to ever fit.
RenderPrompt = Callable[[Sequence[ChatTurn]], list[int]]
# Tokens of one message's text alone (no template), to estimate where to cut.
CountTokens = Callable[[str], int]

# A shifted span must be confirmed by this many matching tokens after it.
SHIFT_PROBE_TOKENS = 16


@dataclass(frozen=True)
class FittedPrompt:
    tokens: list[int]
    dropped_turns: int


@dataclass(frozen=True)
class CacheReuse:
    """How to turn a cached token list into the longest possible prefix of a prompt.

    Keep the first ``keep`` cached tokens, discard the ``discard`` after them (shifting the
    rest back by that much), and ``reused`` prompt tokens need no evaluation.
    """

    keep: int
    discard: int
    reused: int


def reply_reserve(*, n_ctx: int, max_tokens: int) -> int:
    """Tokens kept free for the reply: the requested maximum, but at most a quarter of the context.

    A quarter leaves the conversation most of the window while still letting a reply of
    useful length start; generation beyond the reserve simply stops at the context end.
    """
    return max(1, min(max_tokens, n_ctx // 4))


def fit_conversation(
    turns: Sequence[ChatTurn],
    *,
    render: RenderPrompt,
    budget: int,
    count: CountTokens | None = None,
    step: int = 1,
) -> FittedPrompt:
    """Keep the newest turns whose rendered prompt has at most ``budget`` tokens.

    The full conversation is rendered once. When it does not fit, the cut is estimated from
    per-message token counts (``count``, plus the template's share spread evenly) and rounded
    up to a multiple of ``step`` tokens, then the kept part is rendered to confirm it fits.
    With ``step`` 1 as little as possible is left out. A rendering that ``render`` refuses as
    far too long (before tokenizing it) counts as one that does not fit.

    Raises:
        PromptTooLongError: when even the newest user turn alone does not fit.
    """
    system = [t for t in turns if t.role == Role.SYSTEM]
    dialogue = [t for t in turns if t.role != Role.SYSTEM]
    starts = [i for i, t in enumerate(dialogue) if t.role == Role.USER] or [0]

    def rendered_from(start: int) -> list[int] | None:
        """The prompt's tokens from this turn on; None: far too long to fit."""
        try:
            return render([*system, *dialogue[start:]])
        except PromptTooLongError:
            return None

    full = rendered_from(starts[0])
    if full is not None and len(full) <= budget:
        return FittedPrompt(tokens=full, dropped_turns=starts[0])
    if full is None and len(starts) > 1 and rendered_from(starts[-1]) is None:
        _raise_too_long(None, budget)  # not even the newest turn: no need to try the others

    counter = count or (lambda text: len(text.split()))
    sizes = [counter(t.content) for t in [*system, *dialogue]]
    full_size = len(full) if full is not None else sum(sizes)
    overhead = max(0.0, (full_size - sum(sizes)) / len(sizes))
    excess = full_size - budget
    target = math.ceil(excess / max(1, step)) * max(1, step)
    left_out = 0.0
    first = len(starts) - 1
    for index, start in enumerate(starts):
        if start > 0 and left_out >= target:
            first = index
            break
        end = starts[index + 1] if index + 1 < len(starts) else len(dialogue)
        left_out += sum(sizes[len(system) + i] + overhead for i in range(start, end))
    first = min(max(first, 1), len(starts) - 1)
    # The estimate may be short: leave out one more user turn until the rest fits.
    tokens: list[int] | None = None
    for start in starts[first:]:
        tokens = rendered_from(start)
        if tokens is not None and len(tokens) <= budget:
            return FittedPrompt(tokens=tokens, dropped_turns=start)
    _raise_too_long(tokens, budget)


def _raise_too_long(tokens: list[int] | None, budget: int) -> NoReturn:
    """``tokens``: the shortest rendering tried (None: one far too long to tokenize)."""
    size = f"{len(tokens)} tokens with the system prompt; " if tokens is not None else ""
    raise PromptTooLongError(
        f"The message is too long for this model's context window ({size}at most {budget} fit "
        "while leaving room for the reply). Shorten it, or load the model with a larger context."
    )


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """The number of leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def plan_reuse(cached: Sequence[int], prompt: Sequence[int], *, allow_shift: bool) -> CacheReuse:
    """The most of ``prompt`` that ``cached`` can serve, by prefix or by a context shift.

    A shift is proposed only when the tokens after the discarded span match the prompt for at
    least :data:`SHIFT_PROBE_TOKENS` tokens, and only if it serves more than the plain prefix.
    """
    keep = common_prefix(cached, prompt)
    plain = CacheReuse(keep=keep, discard=0, reused=keep)
    rest = len(prompt) - keep
    if not allow_shift or rest < SHIFT_PROBE_TOKENS or keep >= len(cached):
        return plain
    probe = list(prompt[keep : keep + SHIFT_PROBE_TOKENS])
    best = plain
    tail = np.asarray(cached[keep + 1 : len(cached) - SHIFT_PROBE_TOKENS + 1])
    for offset in np.flatnonzero(tail == probe[0]).tolist():
        j = keep + 1 + offset
        if list(cached[j : j + SHIFT_PROBE_TOKENS]) != probe:
            continue
        matched = common_prefix(cached[j:], prompt[keep:])
        if keep + matched > best.reused:
            best = CacheReuse(keep=keep, discard=j - keep, reused=keep + matched)
    return best
