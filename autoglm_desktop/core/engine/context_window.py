"""Fitting a conversation into the model's context by leaving out its oldest turns.

The system prompt is always kept, and the kept part always starts with a user turn so that
templates which insist on user/assistant alternation still render.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autoglm_desktop.core.common.errors import PromptTooLongError
from autoglm_desktop.core.common.types import ChatTurn, Role

# Renders system prompt + turns to prompt token ids (chat template + tokenizer).
RenderPrompt = Callable[[Sequence[ChatTurn]], list[int]]


@dataclass(frozen=True)
class FittedPrompt:
    tokens: list[int]
    dropped_turns: int


def reply_reserve(*, n_ctx: int, max_tokens: int) -> int:
    """Tokens kept free for the reply: the requested maximum, but at most a quarter of the context.

    A quarter leaves the conversation most of the window while still letting a reply of
    useful length start; generation beyond the reserve simply stops at the context end.
    """
    return max(1, min(max_tokens, n_ctx // 4))


def fit_conversation(
    turns: Sequence[ChatTurn], *, render: RenderPrompt, budget: int
) -> FittedPrompt:
    """Keep the newest turns whose rendered prompt has at most ``budget`` tokens.

    Raises:
        PromptTooLongError: when even the newest user turn alone does not fit.
    """
    system = [t for t in turns if t.role == Role.SYSTEM]
    dialogue = [t for t in turns if t.role != Role.SYSTEM]
    starts = [i for i, t in enumerate(dialogue) if t.role == Role.USER] or [0]

    def rendered_from(start: int) -> list[int]:
        return render([*system, *dialogue[start:]])

    full = rendered_from(starts[0])
    if len(full) <= budget:
        return FittedPrompt(tokens=full, dropped_turns=starts[0])

    # Binary search for the earliest user turn from which the rest fits: fewer turns never
    # render to more tokens, so "fits" is monotonic in the start index.
    lo, hi = 1, len(starts) - 1
    best: tuple[int, list[int]] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        tokens = rendered_from(starts[mid])
        if len(tokens) <= budget:
            best = (starts[mid], tokens)
            hi = mid - 1
        else:
            lo = mid + 1
    if best is None:
        last = rendered_from(starts[-1])
        raise PromptTooLongError(
            f"The message is too long for this model's context window ({len(last)} tokens "
            f"with the system prompt; at most {budget} fit while leaving room for the reply). "
            "Shorten it, or load the model with a larger context."
        )
    return FittedPrompt(tokens=best[1], dropped_turns=best[0])
