"""What the engine reports while it works. Every event crosses the process boundary (pickled)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from autoglm_desktop.core.common.errors import EngineError
from autoglm_desktop.core.common.types import GenerationStats, ModelInfo


@dataclass(frozen=True)
class LoadProgress:
    fraction: float  # 0.0 .. 1.0, from llama.cpp's progress callback


@dataclass(frozen=True)
class ModelLoaded:
    info: ModelInfo


@dataclass(frozen=True)
class ContextTrimmed:
    """The oldest messages were left out so that the conversation fits the context."""

    dropped_messages: int
    prompt_tokens: int
    context_size: int


@dataclass(frozen=True)
class TokenChunk:
    """Text of the answer."""

    text: str


@dataclass(frozen=True)
class ReasoningChunk:
    """Text of the reasoning the model writes before its answer (thinking models)."""

    text: str


@dataclass(frozen=True)
class GenerationFinished:
    stats: GenerationStats
    request_id: str = ""  # the request's, as it was sent


@dataclass(frozen=True)
class Embeddings:
    """The answer to an EmbedRequest: one unit-length vector per text."""

    vectors: tuple[tuple[float, ...], ...]
    prompt_tokens: int


EngineEvent = (
    LoadProgress
    | ModelLoaded
    | ContextTrimmed
    | TokenChunk
    | ReasoningChunk
    | GenerationFinished
    | Embeddings
)


@dataclass(frozen=True)
class CollectedReply:
    """A whole reply, gathered from its events (for callers that do not stream)."""

    text: str
    stats: GenerationStats
    dropped_messages: int  # left out of the prompt to fit the context (0: none)
    reasoning: str = ""


def collect_reply(events: Iterable[EngineEvent]) -> CollectedReply:
    """Run a generation's events to the end and gather them.

    Raises:
        EngineError: the events ended without the generation's figures.
    """
    text: list[str] = []
    reasoning: list[str] = []
    dropped = 0
    for event in events:
        if isinstance(event, TokenChunk):
            text.append(event.text)
        elif isinstance(event, ReasoningChunk):
            reasoning.append(event.text)
        elif isinstance(event, ContextTrimmed):
            dropped = event.dropped_messages
        elif isinstance(event, GenerationFinished):
            return CollectedReply(
                text="".join(text),
                stats=event.stats,
                dropped_messages=dropped,
                reasoning="".join(reasoning),
            )
    raise EngineError("The engine stopped before the reply was finished.")
