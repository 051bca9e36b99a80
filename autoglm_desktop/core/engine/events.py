"""What the engine reports while it works. Every event crosses the process boundary (pickled)."""

from __future__ import annotations

from dataclasses import dataclass

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
    text: str


@dataclass(frozen=True)
class GenerationFinished:
    stats: GenerationStats


EngineEvent = LoadProgress | ModelLoaded | ContextTrimmed | TokenChunk | GenerationFinished
