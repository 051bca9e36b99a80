"""OpenAI's requests as engine requests, and the engine's replies as OpenAI's responses.

Sampling settings a request leaves out take the app's defaults (:class:`SamplingSettings`),
except the repeat penalty, which is off: OpenAI's clients steer repetition with
``frequency_penalty`` and ``presence_penalty``. A conversation that does not fit the context
is refused (``context_length_exceeded``) rather than shortened behind the caller's back.

Thinking models: the reasoning goes out as ``reasoning_content`` beside the answer (and comes
back in assistant messages the same way); ``reasoning_effort`` and
``chat_template_kwargs.enable_thinking`` set the Think switch where the template has one.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import time
from base64 import b64encode
from dataclasses import dataclass
from typing import Any

from autoglm_desktop.core.common.types import (
    ChatTurn,
    GenerationStats,
    Role,
    SamplingSettings,
    Thinking,
)
from autoglm_desktop.core.engine.events import Embeddings
from autoglm_desktop.core.engine.protocol import GenerateRequest, ReplyOptions
from autoglm_desktop.core.server.api_errors import ApiError
from autoglm_desktop.core.server.schemas import (
    MAX_STOP_STRINGS,
    ChatCompletionRequest,
    ChatMessage,
    CompletionRequest,
    EmbeddingRequest,
    TextPart,
    _Generation,
)

MAX_EMBEDDING_INPUTS = 256
_ROLES = {"system": Role.SYSTEM, "developer": Role.SYSTEM, "user": Role.USER}
_FINISH = {"eos": "stop", "length": "length", "stopped": "length"}
# OpenAI's reasoning_effort as the Think setting (a model without that choice uses its default).
_EFFORTS = {
    "none": Thinking.OFF,
    "minimal": Thinking.LOW,
    "low": Thinking.LOW,
    "medium": Thinking.MEDIUM,
    "high": Thinking.HIGH,
}


@dataclass(frozen=True)
class Reply:
    """A finished reply: its text and what the engine reported."""

    text: str
    stats: GenerationStats | None  # None: it never started (cancelled while waiting)
    reasoning: str = ""  # a thinking model's reasoning, written before the answer


def refuse_unsupported(body: _Generation) -> None:
    """Refuse the parameters this server cannot honour, naming each (400).

    Raises:
        ApiError: ``n`` > 1, logprobs, tools, more than four stop strings.
    """
    if body.n is not None and body.n > 1:
        raise ApiError(
            400,
            "n > 1 is not supported: this server writes one choice per request. Send the "
            "request n times instead (they are decoded side by side).",
            param="n",
            code="unsupported_value",
        )
    if body.logprobs:
        raise ApiError(400, "logprobs are not supported.", param="logprobs", code="unsupported")
    stops = _stop_strings(body)
    if len(stops) > MAX_STOP_STRINGS:
        raise ApiError(400, f"At most {MAX_STOP_STRINGS} stop strings.", param="stop")
    if isinstance(body, ChatCompletionRequest) and (body.tools or body.functions):
        raise ApiError(400, "Tools and functions are not supported.", param="tools")
    if isinstance(body, CompletionRequest) and (body.suffix or body.echo):
        param = "suffix" if body.suffix else "echo"
        raise ApiError(400, f"{param} is not supported.", param=param, code="unsupported")


def chat_request(
    body: ChatCompletionRequest, *, request_id: str, max_tokens_limit: int
) -> GenerateRequest:
    """The engine request for a chat completion (raises ApiError for what it cannot serve)."""
    refuse_unsupported(body)
    turns = tuple(_turn(message, index) for index, message in enumerate(body.messages))
    options = _options(body)
    fmt = body.response_format
    if fmt is not None and fmt.type == "json_schema":
        if fmt.json_schema is None or not fmt.json_schema.schema_:
            raise ApiError(400, "json_schema needs a schema.", param="response_format.json_schema")
        schema = json.dumps(fmt.json_schema.schema_)
        options = _replace(options, json_schema=schema)
    elif fmt is not None and fmt.type == "json_object":
        options = _replace(options, json_object=True)
    asked = body.max_completion_tokens or body.max_tokens
    return GenerateRequest(
        turns=turns,
        system_prompt="",
        sampling=_sampling(body, max_tokens=_max_tokens(asked, max_tokens_limit)),
        thinking=_thinking(body),
        options=options,
        request_id=request_id,
    )


def _thinking(body: ChatCompletionRequest) -> Thinking:
    """The Think setting the request asks for (DEFAULT: as the model's template has it)."""
    enable = (body.chat_template_kwargs or {}).get("enable_thinking")
    if isinstance(enable, bool):
        return Thinking.ON if enable else Thinking.OFF
    if body.reasoning_effort is not None:
        return _EFFORTS[body.reasoning_effort]
    return Thinking.DEFAULT


def completion_request(
    body: CompletionRequest, *, request_id: str, max_tokens_limit: int
) -> GenerateRequest:
    """The engine request for a text completion (raises ApiError for what it cannot serve)."""
    refuse_unsupported(body)
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if len(prompts) != 1:
        raise ApiError(400, "Send one prompt per request.", param="prompt")
    return GenerateRequest(
        turns=(),
        system_prompt="",
        sampling=_sampling(body, max_tokens=_max_tokens(body.max_tokens, max_tokens_limit)),
        options=_replace(_options(body), prompt_text=prompts[0]),
        request_id=request_id,
    )


def _turn(message: ChatMessage, index: int) -> ChatTurn:
    role = _ROLES.get(message.role, Role.ASSISTANT)
    content = message.content
    reasoning = (message.reasoning_content or "") if role is Role.ASSISTANT else ""
    if content is None:
        return ChatTurn(role=role, content="", reasoning=reasoning)
    if isinstance(content, str):
        return ChatTurn(role=role, content=content, reasoning=reasoning)
    texts = []
    for part in content:
        if not isinstance(part, TextPart):
            raise ApiError(
                400,
                f"Content of type {part.type!r} is not supported; this model reads text only.",
                param=f"messages[{index}].content",
                code="unsupported_content",
            )
        texts.append(part.text)
    return ChatTurn(role=role, content="".join(texts), reasoning=reasoning)


def _max_tokens(asked: int | None, limit: int) -> int:
    if asked is None:
        return limit
    if asked > limit:
        raise ApiError(
            400,
            f"max_tokens is {asked}; this server writes at most {limit} tokens per reply.",
            param="max_tokens",
            code="invalid_value",
        )
    return asked


def _sampling(body: _Generation, *, max_tokens: int) -> SamplingSettings:
    app = SamplingSettings()
    return SamplingSettings(
        temperature=app.temperature if body.temperature is None else body.temperature,
        top_p=app.top_p if body.top_p is None else body.top_p,
        top_k=app.top_k if body.top_k is None else body.top_k,
        min_p=app.min_p if body.min_p is None else body.min_p,
        repeat_penalty=1.0 if body.repeat_penalty is None else body.repeat_penalty,
        max_tokens=max_tokens,
        seed=-1 if body.seed is None else body.seed & 0xFFFFFFFF,
    )


def _stop_strings(body: _Generation) -> list[str]:
    stop = body.stop
    if stop is None:
        return []
    return [s for s in ([stop] if isinstance(stop, str) else stop) if s]


def _options(body: _Generation) -> ReplyOptions:
    return ReplyOptions(
        stop=tuple(_stop_strings(body)),
        frequency_penalty=body.frequency_penalty or 0.0,
        presence_penalty=body.presence_penalty or 0.0,
        trim_to_fit=False,
    )


def _replace(options: ReplyOptions, **changes: Any) -> ReplyOptions:
    return dataclasses.replace(options, **changes)


def finish_reason(stats: GenerationStats | None) -> str:
    """OpenAI's finish reason for how the engine ended the reply."""
    if stats is None:
        return "length"
    return _FINISH.get(stats.stop_reason, "stop")


def usage(stats: GenerationStats | None) -> dict[str, int]:
    prompt = stats.prompt_tokens if stats else 0
    completion = stats.generated_tokens if stats else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def chat_response(*, request_id: str, model: str, reply: Reply) -> dict[str, Any]:
    message = {"role": "assistant", "content": reply.text}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(reply.stats),
            }
        ],
        "usage": usage(reply.stats),
    }


def completion_response(*, request_id: str, model: str, reply: Reply) -> dict[str, Any]:
    return {
        "id": request_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "text": reply.text,
                "logprobs": None,
                "finish_reason": finish_reason(reply.stats),
            }
        ],
        "usage": usage(reply.stats),
    }


def chat_chunk(
    *, request_id: str, model: str, delta: dict[str, str], finish: str | None = None
) -> dict[str, Any]:
    return {
        "id": request_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def completion_chunk(
    *, request_id: str, model: str, text: str, finish: str | None = None
) -> dict[str, Any]:
    return {
        "id": request_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
    }


def embedding_texts(body: EmbeddingRequest) -> list[str]:
    """The texts to embed (raises ApiError for token arrays, dimensions, too many inputs)."""
    if body.dimensions is not None:
        raise ApiError(400, "dimensions is not supported.", param="dimensions", code="unsupported")
    given = body.input
    texts = [given] if isinstance(given, str) else given
    if not texts or not all(isinstance(text, str) for text in texts):
        raise ApiError(
            400, "input must be a string or a list of strings.", param="input", code="invalid_value"
        )
    if len(texts) > MAX_EMBEDDING_INPUTS:
        raise ApiError(400, f"At most {MAX_EMBEDDING_INPUTS} inputs per request.", param="input")
    return [str(text) for text in texts]


def embeddings_response(*, model: str, result: Embeddings, base64: bool) -> dict[str, Any]:
    """OpenAI's embeddings list (``base64``: little-endian float32, as the openai client asks)."""
    data = []
    for index, vector in enumerate(result.vectors):
        encoded: Any = list(vector)
        if base64:
            encoded = b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = result.prompt_tokens
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
