"""Requests from the client to the engine process, and the engine's error replies."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, SamplingSettings, Thinking


@dataclass(frozen=True)
class LoadRequest:
    plan: LoadPlan
    kv_cache_dir: Path | None = None  # where KV states persist; None: RAM only


@dataclass(frozen=True)
class GenerateRequest:
    turns: tuple[ChatTurn, ...]
    system_prompt: str
    sampling: SamplingSettings
    thinking: Thinking = Thinking.DEFAULT


@dataclass(frozen=True)
class ShutdownRequest:
    pass


Request = LoadRequest | GenerateRequest | ShutdownRequest


@dataclass(frozen=True)
class EngineFailure:
    """Sent by the engine when a request failed; ``kind`` names a class in core.errors.

    ``message`` is already short plain text (:func:`~autoglm_desktop.core.common.untrusted_text.
    plain_message`): a model's 100 MB error never crosses the pipe.
    """

    kind: str
    message: str


@dataclass(frozen=True)
class RequestDone:
    """Sent by the engine after the last event of a request."""


class Stage(enum.Enum):
    """What the engine is busy with; the client gives each stage its own deadline."""

    LOAD = "load"
    TEMPLATE = "template"  # running the model's chat template
    REPLY = "reply"  # evaluating the prompt, writing the reply, storing the KV state


@dataclass(frozen=True)
class Busy:
    """Sent by the engine as a stage begins, then at least every second or so while it works.

    The beats come from the work itself (llama.cpp's callbacks), never from a timer, so an
    engine stuck in one place goes silent and the client can tell.
    """

    stage: Stage
