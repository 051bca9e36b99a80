"""The server's request log: one :class:`RequestRecord` per HTTP request, handed to a sink.

:class:`RequestLogMiddleware` wraps the whole application, so every request is recorded, refused
ones too (401, 404, 429...), once its response has been sent to the end (a streamed reply: its
last event). Routes that ran the model note its figures in the request's scope
(:func:`note_usage`). The sink is called on the server's thread and must only hand the record
on (the window re-emits it as a Qt signal); a sink that raises loses that record, nothing else.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

# ASGI's types, as Starlette names them (not imported from it: the window reads this module's
# records without loading the server's stack).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

USAGE_KEY = "autoglm.usage"  # where a route leaves the tokens it used, in the request's scope


@dataclass(frozen=True, kw_only=True)
class RequestRecord:
    """One request the server answered."""

    started: float  # time.time() when it arrived
    method: str
    path: str
    status: int  # the HTTP status sent (500 when the app failed before sending one)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_s: float = 0.0  # from arrival to the last byte of the response
    client: str = ""  # the caller's address


RequestSink = Callable[[RequestRecord], None]


def note_usage(scope: Scope, *, prompt_tokens: int, completion_tokens: int = 0) -> None:
    """Let the request log know what the model read and wrote for this request."""
    scope[USAGE_KEY] = (prompt_tokens, completion_tokens)


class RequestLogMiddleware:
    """Records each HTTP request and hands it to ``sink`` once answered."""

    def __init__(self, app: ASGIApp, *, sink: RequestSink) -> None:
        self._app = app
        self._sink = sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started, clock = time.time(), time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_and_note)
        finally:
            prompt, completion = scope.get(USAGE_KEY, (0, 0))
            record = RequestRecord(
                started=started,
                method=str(scope.get("method", "")),
                path=str(scope.get("path", "")),
                status=status,
                prompt_tokens=prompt,
                completion_tokens=completion,
                duration_s=time.perf_counter() - clock,
                client=_client(scope),
            )
            with contextlib.suppress(Exception):  # a listener's bug must not fail the request
                self._sink(record)


def _client(scope: Scope) -> str:
    client: Any = scope.get("client")
    if isinstance(client, list | tuple) and client:
        return str(client[0])
    return ""
