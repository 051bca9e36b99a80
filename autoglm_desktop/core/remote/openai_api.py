"""The official ``openai`` client, set up for the app, and its errors in the app's words.

Every call gets its own ``httpx2`` client with no automatic retries (a 429 is the user's to
see, with its Retry-After, not minutes of silent retrying) and a request hook that hands each
new TCP socket to ``on_socket``, so that Stop can shut the connection down from another thread
at once, even while a read is blocked. SSE parsing is the ``openai`` package's own.

Imported only once a remote server is used: ``openai`` costs about 0.7 s of imports.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from autoglm_desktop.core.common import errors
from autoglm_desktop.core.common.types import ChatTurn, SamplingSettings

NO_KEY = "no-key"  # sent when the server needs none: the client insists on some key
# A server's list of models is outside text: ids are kept only when short and printable (they
# go back to the server as they are, so they are never altered), and only so many of them.
MAX_MODEL_ID_LENGTH = 256
MAX_MODELS = 1000


@dataclass(frozen=True, kw_only=True)
class RemoteTimeouts:
    """How long to wait on a remote server."""

    connect_s: float = 10.0
    # Nothing from the server for this long while a reply is awaited: it is stopped. Long enough
    # for a big prompt's evaluation on a busy server, as the local engine's reply silence.
    stall_s: float = 120.0
    list_s: float = 20.0  # a whole Test connection


@dataclass(frozen=True)
class StreamPiece:
    """What one chunk of the stream brings."""

    text: str = ""
    reasoning: str = ""  # a thinking model's reasoning, where the server parses it out
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def make_client(
    *,
    base_url: str,
    api_key: str | None,
    timeout: httpx2.Timeout,
    on_socket: Callable[[Any], None] | None = None,
) -> openai.OpenAI:
    """An ``openai`` client for one server; ``on_socket`` gets each socket it connects."""

    def trace(name: str, info: dict[str, Any]) -> None:
        if name == "connection.connect_tcp.complete" and on_socket is not None:
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                on_socket(sock)

    def hook(request: httpx2.Request) -> None:
        request.extensions["trace"] = trace

    http_client = httpx2.Client(timeout=timeout, event_hooks={"request": [hook]})
    return openai.OpenAI(
        base_url=base_url,
        api_key=api_key or NO_KEY,
        max_retries=0,
        timeout=timeout,
        http_client=http_client,
    )


def list_model_ids(*, base_url: str, api_key: str | None, timeout_s: float) -> list[str]:
    """The ids of the models the server lists (``GET /models``), sorted.

    Ids that are not short, printable text are left out, and the list ends at ``MAX_MODELS``.

    Raises:
        openai.OpenAIError: as the client raised it (see :func:`translate_error`).
    """
    timeout = httpx2.Timeout(timeout_s)
    with make_client(base_url=base_url, api_key=api_key, timeout=timeout) as client:
        ids = {model.id for model in client.models.list()}
    usable = (i for i in ids if isinstance(i, str) and _is_usable_model_id(i))
    return sorted(usable)[:MAX_MODELS]


def _is_usable_model_id(model_id: str) -> bool:
    return 0 < len(model_id) <= MAX_MODEL_ID_LENGTH and model_id.isprintable()


def chat_messages(
    turns: Sequence[ChatTurn], system_prompt: str
) -> list[ChatCompletionMessageParam]:
    messages: list[ChatCompletionMessageParam] = []
    if system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt})
    for turn in turns:
        if turn.role.value == "user":
            messages.append({"role": "user", "content": turn.content})
        elif turn.role.value == "assistant":
            messages.append({"role": "assistant", "content": turn.content})
        else:
            messages.append({"role": "system", "content": turn.content})
    return messages


def stream_chat(
    client: openai.OpenAI,
    *,
    model: str,
    messages: list[ChatCompletionMessageParam],
    sampling: SamplingSettings,
) -> Generator[StreamPiece, None, None]:
    """Stream a chat completion as pieces; the response is closed when the caller stops.

    Only the sampling settings every OpenAI-compatible server takes are sent (temperature,
    top_p, max_tokens, seed); top-k, min-p and the repeat penalty are the local engine's.

    Raises:
        openai.OpenAIError: as the client raised it.
    """
    extra: dict[str, Any] = {"seed": sampling.seed} if sampling.seed >= 0 else {}
    stream = client.chat.completions.create(
        model=model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        max_tokens=sampling.max_tokens,
        **extra,
    )
    with stream:
        for chunk in stream:
            yield _piece(chunk)


def _piece(chunk: ChatCompletionChunk) -> StreamPiece:
    text, reasoning, finish = "", "", None
    for choice in chunk.choices:
        if choice.index == 0:
            delta = choice.delta
            text = (delta.content or "") if delta is not None else ""
            reasoning = _reasoning(delta)
            finish = choice.finish_reason
    usage = chunk.usage
    return StreamPiece(
        text=text,
        reasoning=reasoning,
        finish_reason=finish,
        prompt_tokens=usage.prompt_tokens if usage is not None else None,
        completion_tokens=usage.completion_tokens if usage is not None else None,
    )


def _reasoning(delta: Any) -> str:
    """The reasoning in a delta: ``reasoning_content`` (vLLM, SGLang, DeepSeek) or ``reasoning``.

    Not part of the OpenAI schema, so the client keeps them as extra fields.
    """
    for name in ("reasoning_content", "reasoning"):
        value = getattr(delta, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


# --------------------------------------------------------------------------- errors


def translate_error(
    error: BaseException, *, server: str, url: str, model: str | None = None, started: bool = False
) -> errors.RemoteError:
    """The app's typed error for what the ``openai`` client raised.

    Args:
        error: what the client raised.
        server: the server's name, as the user gave it.
        url: its address.
        model: the model asked for (None: listing the models).
        started: part of the reply had arrived (the stream broke off).
    """
    if started:
        return errors.RemoteStreamInterruptedError(
            f"The connection to “{server}” broke off in the middle of the reply "
            f"({_short(error)}). What arrived is kept, marked interrupted; press Regenerate to "
            "try again."
        )
    if isinstance(error, openai.APITimeoutError) and not _no_connection(error):
        return errors.RemoteStalledError(
            f"“{server}” ({url}) did not answer in time. Check that the server is running and "
            "not overloaded, then try again."
        )
    if isinstance(error, openai.APIConnectionError):
        reason = "no answer in time" if _no_connection(error) else _cause(error)
        return errors.RemoteUnreachableError(
            f"Could not reach “{server}” at {url} ({reason}). Check the address and that "
            "the server is running and reachable from this computer."
        )
    if isinstance(error, openai.APIStatusError):
        return _status_error(error, server=server, url=url, model=model)
    return errors.RemoteError(f"“{server}” sent something this app cannot read: {_short(error)}")


def _status_error(
    error: openai.APIStatusError, *, server: str, url: str, model: str | None
) -> errors.RemoteError:
    status, said = error.status_code, _server_message(error)
    if status in (401, 403):
        return errors.RemoteAuthError(
            f"“{server}” refused the API key ({status}{said}). Check the key in Settings → "
            "Remote servers."
        )
    if status == 404 and model is not None:
        return errors.RemoteModelNotFoundError(
            f"“{server}” has no model “{model}” (404{said}). Press Test connection in Settings "
            "→ Remote servers to list the models it has now."
        )
    if status == 404:
        return errors.RemoteModelNotFoundError(
            f"{url} does not list models (404{said}): check the address. OpenAI-compatible "
            "servers usually end in /v1."
        )
    if status == 429:
        wait = retry_after_seconds(error.response.headers)
        when = f"Try again in {wait:.0f} seconds." if wait is not None else "Try again later."
        return errors.RemoteRateLimitError(
            f"“{server}” is busy or limits how often you may ask (429{said}). {when}",
            retry_after_s=wait,
        )
    if status >= 500:
        return errors.RemoteServerError(
            f"“{server}” failed with a server error ({status}{said}). Try again, or look at "
            "the server's log."
        )
    return errors.RemoteRequestError(f"“{server}” refused the request ({status}{said}).")


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(error: openai.APIStatusError) -> str:
    """``": <what the server said>"``, or ``""``."""
    body: Any = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        body = inner.get("message") or inner.get("detail") if isinstance(inner, dict) else inner
    text = " ".join(str(body).split()) if body else ""
    return f": {text[:300]}" if text else ""


def _no_connection(error: BaseException) -> bool:
    """Whether a timeout came before any connection was made (the server is not reachable)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, httpx2.ConnectTimeout | httpx2.PoolTimeout):
            return True
        cause = cause.__cause__
    return False


def _cause(error: BaseException) -> str:
    """The innermost reason, e.g. ``[Errno 111] Connection refused``."""
    while error.__cause__ is not None:
        error = error.__cause__
    return _short(error)


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text or type(error).__name__)[:300]
