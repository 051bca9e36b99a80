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
    parallel: int = 1  # replies the engine may decode together (the local server's batches)


@dataclass(frozen=True, kw_only=True)
class ReplyOptions:
    """What a request of the local server asks beyond a conversation's sampling settings.

    The window's requests keep the defaults: the conversation is trimmed to fit, no grammar.
    """

    # Raw text to continue (``/v1/completions``): no chat template, ``turns`` are ignored.
    prompt_text: str | None = None
    stop: tuple[str, ...] = ()  # more strings that end the reply (the model's EOS always does)
    json_schema: str | None = None  # the reply must be JSON of this schema (a grammar enforces it)
    json_object: bool = False  # the reply must be a JSON object
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    # False: a conversation that does not fit fails with PromptTooLongError (nothing left out).
    trim_to_fit: bool = True


@dataclass(frozen=True)
class GenerateRequest:
    turns: tuple[ChatTurn, ...]
    system_prompt: str
    sampling: SamplingSettings
    thinking: Thinking = Thinking.DEFAULT
    options: ReplyOptions = ReplyOptions()
    request_id: str = ""  # named in the engine's GenerationFinished (the server's log)


@dataclass(frozen=True)
class EmbedRequest:
    """Embeddings of texts (the local server's ``/v1/embeddings``)."""

    texts: tuple[str, ...]
    request_id: str = ""


@dataclass(frozen=True)
class ShutdownRequest:
    pass


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


# -- batch mode: several replies decoded together (the local server's requests) -------------


@dataclass(frozen=True)
class BatchOpen:
    """Enter batch mode: the engine decodes the replies added until ``BatchClose`` together."""


@dataclass(frozen=True)
class BatchAdd:
    """A reply to decode along with the others (its ``request_id`` names its events)."""

    request: GenerateRequest


@dataclass(frozen=True)
class BatchCancel:
    """Stop one reply of the batch (it ends with a ``stopped`` GenerationFinished)."""

    request_id: str


@dataclass(frozen=True)
class BatchClose:
    """Leave batch mode once no reply is left; the engine answers ``RequestDone``."""


BatchMessage = BatchAdd | BatchCancel | BatchClose


@dataclass(frozen=True)
class BatchEvent:
    """An event of one reply in the batch: a TokenChunk, its GenerationFinished, or a failure.

    A reply ends with its GenerationFinished or with its EngineFailure (the others go on).
    """

    request_id: str
    event: object  # TokenChunk | GenerationFinished | EngineFailure


Request = LoadRequest | GenerateRequest | EmbedRequest | ShutdownRequest | BatchOpen
