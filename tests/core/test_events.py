"""Gathering a reply from the engine's events."""

from __future__ import annotations

import pytest

from autoglm_desktop.core.common.errors import EngineError
from autoglm_desktop.core.common.types import GenerationStats
from autoglm_desktop.core.engine.events import (
    ContextTrimmed,
    GenerationFinished,
    TokenChunk,
    collect_reply,
)

STATS = GenerationStats(prompt_tokens=9, evaluated_prompt_tokens=3, generated_tokens=2)


def test_a_reply_gathers_its_text_figures_and_what_was_left_out() -> None:
    events = [
        ContextTrimmed(dropped_messages=4, prompt_tokens=9, context_size=16),
        TokenChunk(text="Hel"),
        TokenChunk(text="lo"),
        GenerationFinished(stats=STATS),
    ]
    reply = collect_reply(events)
    assert (reply.text, reply.stats, reply.dropped_messages) == ("Hello", STATS, 4)


def test_events_that_end_before_the_figures_are_an_engine_error() -> None:
    with pytest.raises(EngineError, match="before the reply was finished"):
        collect_reply([TokenChunk(text="Hel")])
