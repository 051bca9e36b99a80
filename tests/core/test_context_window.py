from __future__ import annotations

from collections.abc import Sequence

import pytest

from autoglm_desktop.core.common.errors import PromptTooLongError
from autoglm_desktop.core.common.types import ChatTurn, Role
from autoglm_desktop.core.engine.context_window import (
    CacheReuse,
    fit_conversation,
    plan_reuse,
    reply_reserve,
)


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


def test_cut_moves_in_steps_so_later_turns_keep_the_same_start() -> None:
    budget, step = 200, 100
    starts = []
    for pairs in range(15, 40):
        fitted = fit_conversation(
            conversation(pairs), render=render_words, budget=budget, step=step
        )
        assert len(fitted.tokens) <= budget
        starts.append(fitted.dropped_turns)
    # The start changes rarely (about once per half budget), not at every turn.
    assert len(set(starts)) <= len(starts) // 3
    assert starts == sorted(starts)


def test_plain_prefix_reuse() -> None:
    reuse = plan_reuse([1, 2, 3, 4], [1, 2, 3, 9, 9], allow_shift=True)
    assert reuse == CacheReuse(keep=3, discard=0, reused=3)


def test_shift_discards_the_left_out_span_and_reuses_the_rest() -> None:
    system, dropped, kept = [1, 2, 3], list(range(100, 140)), list(range(200, 260))
    cached = system + dropped + kept
    prompt = system + kept + [7, 7, 7]
    reuse = plan_reuse(cached, prompt, allow_shift=True)
    assert reuse == CacheReuse(keep=3, discard=40, reused=3 + len(kept))
    assert plan_reuse(cached, prompt, allow_shift=False).reused == 3


def test_no_shift_without_a_confirmed_match() -> None:
    cached = [1, 2, 3, *range(100, 140)]
    prompt = [1, 2, 3, *range(120, 125), *range(500, 540)]  # only 5 tokens match
    assert plan_reuse(cached, prompt, allow_shift=True).discard == 0
