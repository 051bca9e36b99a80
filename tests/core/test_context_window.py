from __future__ import annotations

from collections.abc import Sequence

import pytest

from autoglm_desktop.core.common.errors import PromptTooLongError
from autoglm_desktop.core.common.types import ChatTurn, Role
from autoglm_desktop.core.engine.context_window import fit_conversation, reply_reserve


def render_words(turns: Sequence[ChatTurn]) -> list[int]:
    """A stand-in tokenizer: one token per word plus two per turn for the template."""
    tokens: list[int] = []
    for turn in turns:
        tokens += [0, 0] + [1] * len(turn.content.split())
    return tokens


def conversation(pairs: int, words: int = 10) -> list[ChatTurn]:
    turns = [ChatTurn(Role.SYSTEM, "be brief")]
    for i in range(pairs):
        turns.append(ChatTurn(Role.USER, " ".join(["question"] * words) + f" {i}"))
        turns.append(ChatTurn(Role.ASSISTANT, " ".join(["answer"] * words) + f" {i}"))
    turns.append(ChatTurn(Role.USER, "last question"))
    return turns


def test_short_conversation_is_kept_whole() -> None:
    turns = conversation(3)
    fitted = fit_conversation(turns, render=render_words, budget=1000)
    assert fitted.dropped_turns == 0
    assert fitted.tokens == render_words(turns)


def test_oldest_turns_are_dropped_and_system_prompt_kept() -> None:
    turns = conversation(50)
    budget = 200
    fitted = fit_conversation(turns, render=render_words, budget=budget)
    assert len(fitted.tokens) <= budget
    assert fitted.dropped_turns > 0
    kept = [turns[0], *turns[1 + fitted.dropped_turns :]]
    assert fitted.tokens == render_words(kept)
    assert kept[1].role == Role.USER  # kept part starts with a user turn
    # Dropping one pair fewer would not have fitted: the trim is as small as possible.
    one_more = [turns[0], *turns[1 + fitted.dropped_turns - 2 :]]
    assert len(render_words(one_more)) > budget


def test_single_message_too_long_raises_typed_error() -> None:
    turns = [ChatTurn(Role.USER, "word " * 500)]
    with pytest.raises(PromptTooLongError, match="too long"):
        fit_conversation(turns, render=render_words, budget=100)


@pytest.mark.parametrize(
    ("n_ctx", "max_tokens", "expected"), [(4096, 512, 512), (2048, 4096, 512), (8, 0, 1)]
)
def test_reply_reserve(n_ctx: int, max_tokens: int, expected: int) -> None:
    assert reply_reserve(n_ctx=n_ctx, max_tokens=max_tokens) == expected
