"""Requests from the client to the engine process, and the engine's error replies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, SamplingSettings


@dataclass(frozen=True)
class LoadRequest:
    plan: LoadPlan
    kv_cache_dir: Path | None = None  # where KV states persist; None: RAM only


@dataclass(frozen=True)
class GenerateRequest:
    turns: tuple[ChatTurn, ...]
    system_prompt: str
    sampling: SamplingSettings


@dataclass(frozen=True)
class ShutdownRequest:
    pass


Request = LoadRequest | GenerateRequest | ShutdownRequest


@dataclass(frozen=True)
class EngineFailure:
    """Sent by the engine when a request failed; ``kind`` names a class in core.errors."""

    kind: str
    message: str


@dataclass(frozen=True)
class RequestDone:
    """Sent by the engine after the last event of a request."""
