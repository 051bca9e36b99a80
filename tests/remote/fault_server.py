"""An OpenAI-compatible server that misbehaves on request, for the remote engine's tests.

Real HTTP on 127.0.0.1 (Starlette + uvicorn, on a thread of the test process). The model asked
for says what happens:

* ``echo``: streams ``REPLY_WORDS`` one per chunk, a finish, usage, ``[DONE]``;
* ``think``: streams ``THOUGHTS`` as ``reasoning_content`` (as vLLM does), then as ``echo``;
* ``drop``: streams ``PARTIAL_WORDS``, then the connection breaks (no end of the body);
* ``error-mid``: streams ``PARTIAL_WORDS``, then an SSE error event, as a server that failed;
* ``no-finish``: streams ``PARTIAL_WORDS``, then ``[DONE]`` without a finish reason;
* ``stall``: streams ``PARTIAL_WORDS``, then sends nothing until the client goes;
* ``stall-first``: answers nothing at all (no headers) until the client goes;
* ``endless``: streams a word every 20 ms until the client goes;
* ``rate-limit``: 429 with ``Retry-After: RETRY_AFTER``;
* ``boom``: 500 with an OpenAI error body;
* any other model: 404, as a server that does not have it.

With an ``api_key`` every request without ``Authorization: Bearer <key>`` gets 401. The
server records when a client that was being streamed to went away (``gone``), so the tests can
check that Stop closed the stream.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

REPLY_WORDS = ["Hello", " from", " the", " fault", " server", "."]
THOUGHTS = ["The", " user", " greets", " me."]
PARTIAL_WORDS = ["This", " part", " arrived"]
RETRY_AFTER = 7
MODELS = [
    "echo",
    "think",
    "drop",
    "error-mid",
    "no-finish",
    "stall",
    "stall-first",
    "endless",
    "rate-limit",
    "boom",
]


class FaultServer:
    """Runs the fault server on a free port of 127.0.0.1 until :meth:`close`."""

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.gone = threading.Event()  # a client being streamed to went away
        self.gone_at: float | None = None
        self.requests: list[dict[str, Any]] = []  # the chat requests' bodies
        self.hits = 0  # requests of any kind
        self.extra_models: list[str] = []  # listed after MODELS (a test's hostile names)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        app = Starlette(
            routes=[
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, log_level="critical", lifespan="off", timeout_keep_alive=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fault server did not start")
            time.sleep(0.01)

    def reset(self) -> None:
        self.gone.clear()
        self.gone_at = None
        self.requests.clear()
        self.hits = 0
        self.extra_models = []

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()

    # -- endpoints -----------------------------------------------------------------------

    def _refused(self, request: Request) -> Response | None:
        self.hits += 1
        if self.api_key is None:
            return None
        if request.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        return _error(401, "Incorrect API key provided.", "invalid_request_error")

    async def _models(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        listed = MODELS + self.extra_models
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fault"} for m in listed]
        return JSONResponse({"object": "list", "data": data})

    async def _chat(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = await request.json()
        self.requests.append(body)
        model = body.get("model")
        if model == "rate-limit":
            response = _error(429, "Rate limit reached.", "rate_limit_error")
            response.headers["Retry-After"] = str(RETRY_AFTER)
            return response
        if model == "boom":
            return _error(500, "The GPU caught fire.", "server_error")
        if model == "stall-first":
            await self._until_gone(request)
            return Response(status_code=204)
        if model not in MODELS:
            return _error(404, f"The model `{model}` does not exist.", "invalid_request_error")
        return StreamingResponse(self._stream(model, request), media_type="text/event-stream")

    async def _stream(self, model: str, request: Request) -> AsyncIterator[str]:
        try:
            async for event in self._events(model, request):
                yield event
        finally:
            # Reached when the client went (Starlette cancels the stream) or the stream ended.
            if model in ("stall", "endless") and self.gone_at is None:
                self.gone_at = time.monotonic()
                self.gone.set()

    async def _events(self, model: str, request: Request) -> AsyncIterator[str]:
        if model in ("echo", "think"):
            for word in THOUGHTS if model == "think" else []:
                yield _chunk("", reasoning=word)
            for event in _whole_reply():
                yield event
            return
        if model == "endless":
            while True:
                yield _chunk(" word")
                await asyncio.sleep(0.02)
        for word in PARTIAL_WORDS:
            yield _chunk(word)
        async for event in self._cut_short(model, request):
            yield event

    async def _cut_short(self, model: str, request: Request) -> AsyncIterator[str]:
        """How a reply after ``PARTIAL_WORDS`` goes wrong."""
        if model == "drop":
            await asyncio.sleep(0.05)  # the words go out first
            raise ConnectionAbortedError("the fault server drops the connection")
        if model == "error-mid":
            yield "data: " + json.dumps({"error": {"message": "Out of memory on the GPU."}})
            yield "\n\n"
        elif model == "no-finish":
            yield "data: [DONE]\n\n"
        elif model == "stall":
            await self._until_gone(request)

    async def _until_gone(self, request: Request) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not await request.is_disconnected():
            await asyncio.sleep(0.02)
        if self.gone_at is None:
            self.gone_at = time.monotonic()
            self.gone.set()


def _whole_reply() -> list[str]:
    events = [_chunk(word) for word in REPLY_WORDS]
    events.append(_chunk("", finish="stop"))
    events.append(_usage(prompt=11, completion=len(REPLY_WORDS)))
    events.append("data: [DONE]\n\n")
    return events


def _chunk(text: str, *, finish: str | None = None, reasoning: str = "") -> str:
    delta: dict[str, Any] = {"content": text} if text else {}
    if reasoning:
        delta = {"content": None, "reasoning_content": reasoning}
    data = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fault",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n"


def _usage(*, prompt: int, completion: int) -> str:
    data = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fault",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return f"data: {json.dumps(data)}\n\n"


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}},
        status_code=status,
    )
