"""The ASGI application: OpenAI's routes over an :class:`EngineQueue`.

Each request goes into the engine's queue with its own id; its events come back from the
queue's thread through ``call_soon_threadsafe``. A client that disconnects, while its request
waits or runs, cancels it (the engine stops within a token). A streamed reply starts once its
first token is out, so errors found before that (a prompt too long, a bad schema, a full
queue) still get their own HTTP status; an error after that arrives as an SSE ``error`` event.

The engine may be a fixed queue (``autoglm-desktop serve``) or the window's
:class:`~autoglm_desktop.core.engine.shared_engine.SharedEngine`, whose model comes and goes:
while none is loaded, model routes answer 503 (``model_not_loaded``) with the reason. A thinking
model's reasoning comes apart from its answer, as llama-server, vLLM and DeepSeek send it:
``message.reasoning_content``, and ``delta.reasoning_content`` in a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from autoglm_desktop import APP_ID
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.common.types import GenerationStats
from autoglm_desktop.core.engine.events import (
    Embeddings,
    GenerationFinished,
    ReasoningChunk,
    TokenChunk,
)
from autoglm_desktop.core.engine.protocol import EmbedRequest, GenerateRequest
from autoglm_desktop.core.engine.request_queue import Delivery, Ended, EngineQueue
from autoglm_desktop.core.engine.shared_engine import SharedEngine, Unavailable
from autoglm_desktop.core.server import translate
from autoglm_desktop.core.server.api_errors import SERVER_ERROR, ApiError, from_core_error
from autoglm_desktop.core.server.config import ServerConfig
from autoglm_desktop.core.server.request_log import RequestLogMiddleware, RequestSink, note_usage
from autoglm_desktop.core.server.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
)

_Body = TypeVar("_Body", bound=BaseModel)
_DONE = object()  # the end of a reply's text
LOADING_RETRY_AFTER_S = 5


@dataclass(frozen=True)
class _Piece:
    """A piece of a reply: of its answer, or of the reasoning before it."""

    text: str
    reasoning: bool = False


class _Session:
    """One request in the engine's queue, its events delivered to this event loop."""

    def __init__(
        self, engine: EngineQueue, request: GenerateRequest | EmbedRequest, *, timeout_s: float
    ):
        self._loop = asyncio.get_running_loop()
        self._items: asyncio.Queue[Delivery] = asyncio.Queue()
        self._deadline = self._loop.time() + timeout_s
        self._timeout_s = timeout_s
        self.timed_out = False
        self.stats: GenerationStats | None = None
        try:
            self.ticket = engine.submit(request, sink=self._put)
        except AutoGLMError as error:
            raise from_core_error(error) from error

    def _put(self, item: Delivery) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)

    def cancel(self) -> None:
        self.ticket.cancel()

    async def _next(self) -> Delivery:
        if not self.timed_out:
            remaining = max(0.0, self._deadline - self._loop.time())
            try:
                return await asyncio.wait_for(self._items.get(), remaining)
            except asyncio.TimeoutError:
                self.timed_out = True  # the reply ends here, with what it has
                self.ticket.cancel()
        return await self._items.get()

    async def next_piece(self) -> _Piece | object:
        """The next piece of the reply (answer or reasoning), or ``_DONE``.

        Raises:
            ApiError: the engine failed, or the request timed out before it began.
        """
        while True:
            item = await self._next()
            if isinstance(item, TokenChunk):
                return _Piece(item.text)
            if isinstance(item, ReasoningChunk):
                return _Piece(item.text, reasoning=True)
            if isinstance(item, GenerationFinished):
                self.stats = item.stats
            elif isinstance(item, Ended):
                if item.error is not None:
                    raise from_core_error(item.error)
                if self.stats is None and self.timed_out:
                    raise ApiError(
                        503,
                        f"The request waited {self._timeout_s:g} s for the model and was "
                        "dropped; the server is busy.",
                        type_=SERVER_ERROR,
                        code="timeout",
                    )
                return _DONE

    async def embeddings(self) -> Embeddings:
        """The request's vectors (raises ApiError if it failed or timed out)."""
        result: Embeddings | None = None
        while True:
            item = await self._next()
            if isinstance(item, Embeddings):
                result = item
            elif isinstance(item, Ended):
                if item.error is not None:
                    raise from_core_error(item.error)
                if result is None:
                    raise ApiError(
                        503, "The request timed out.", type_=SERVER_ERROR, code="timeout"
                    )
                return result

    async def reply(self) -> translate.Reply:
        """The whole reply: its answer, its reasoning and the engine's figures."""
        answer: list[str] = []
        reasoning: list[str] = []
        while isinstance(piece := await self.next_piece(), _Piece):
            (reasoning if piece.reasoning else answer).append(piece.text)
        return translate.Reply(text="".join(answer), stats=self.stats, reasoning="".join(reasoning))


async def _cancel_on_disconnect(request: Request, cancel: Callable[[], None]) -> None:
    """Once the body is read, the next message can only be the client's disconnect."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            cancel()
            return


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


class _ApiKeyMiddleware:
    """Every ``/v1`` route needs ``Authorization: Bearer KEY`` (compared in constant time)."""

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self._app = app
        self._key = api_key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith("/v1"):
            scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
            given = token.strip().encode("utf-8")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given, self._key):
                error = ApiError(
                    401,
                    "Incorrect or missing API key: send it as 'Authorization: Bearer KEY'.",
                    code="invalid_api_key",
                )
                await error.response()(scope, receive, send)
                return
        await self._app(scope, receive, send)


class OpenAIServer:
    """The routes, over one engine queue; :meth:`app` is the ASGI application."""

    def __init__(
        self,
        *,
        engine: EngineQueue | SharedEngine,
        config: ServerConfig,
        on_request: RequestSink | None = None,
    ) -> None:
        self._engine = engine if isinstance(engine, SharedEngine) else SharedEngine(engine)
        self._config = config
        self._on_request = on_request
        self._created = int(time.time())

    @property
    def model_id(self) -> str | None:
        """The name the API knows the loaded model by (its file's name without .gguf)."""
        current = self._engine.current()
        return _model_id(current) if isinstance(current, EngineQueue) else None

    def app(self) -> Starlette:
        middleware = []
        if self._on_request is not None:  # outermost: it also sees what the others refuse
            middleware.append(Middleware(RequestLogMiddleware, sink=self._on_request))
        if self._config.cors_origins:
            middleware.append(
                Middleware(
                    CORSMiddleware,
                    allow_origins=list(self._config.cors_origins),
                    allow_methods=["GET", "POST", "OPTIONS"],
                    allow_headers=["Authorization", "Content-Type"],
                )
            )
        if self._config.api_key:
            middleware.append(Middleware(_ApiKeyMiddleware, api_key=self._config.api_key))
        routes = [
            Route("/health", self.health, methods=["GET"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", self.model, methods=["GET"]),
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
        ]
        handlers: dict[Any, Any] = {
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        }
        return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)

    # -- routes ---------------------------------------------------------------------------

    async def health(self, _request: Request) -> Response:
        current = self._engine.current()
        if isinstance(current, Unavailable):
            status = "loading model" if current.loading else "no model"
            return JSONResponse({"status": status, "message": current.reason}, status_code=503)
        return JSONResponse({"status": "ok", "waiting": current.waiting()})

    async def models(self, _request: Request) -> Response:
        model_id = self.model_id
        data = [self._model_card(model_id)] if model_id else []
        return JSONResponse({"object": "list", "data": data})

    async def model(self, request: Request) -> Response:
        _queue, model = self._engine_for(request.path_params["model_id"])
        return JSONResponse(self._model_card(model))

    async def chat_completions(self, request: Request) -> Response:
        body = await self._parse(request, ChatCompletionRequest)
        engine, model = self._engine_for(body.model)
        request_id = f"chatcmpl-{uuid.uuid4().hex}"
        engine_request = translate.chat_request(
            body, request_id=request_id, max_tokens_limit=self._config.max_tokens_limit
        )
        if not body.stream:
            reply = await self._collect(request, engine, engine_request)
            return JSONResponse(
                translate.chat_response(request_id=request_id, model=model, reply=reply)
            )
        usage = body.stream_options is not None and body.stream_options.include_usage
        session, first = await self._start_stream(request, engine, engine_request)

        def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
            return translate.chat_chunk(
                request_id=request_id, model=model, delta=delta, finish=finish
            )

        def piece(part: _Piece) -> dict[str, Any]:
            return chunk({"reasoning_content" if part.reasoning else "content": part.text})

        opening = chunk({"role": "assistant", "content": ""})
        return _event_stream(
            _stream(
                request,
                session,
                first,
                opening=opening,
                piece=piece,
                closing=lambda finish: chunk({}, finish),
                usage_chunk=_usage_chunk(request_id, model, "chat.completion.chunk", usage),
            )
        )

    async def completions(self, request: Request) -> Response:
        body = await self._parse(request, CompletionRequest)
        engine, model = self._engine_for(body.model)
        request_id = f"cmpl-{uuid.uuid4().hex}"
        engine_request = translate.completion_request(
            body, request_id=request_id, max_tokens_limit=self._config.max_tokens_limit
        )
        if not body.stream:
            reply = await self._collect(request, engine, engine_request)
            return JSONResponse(
                translate.completion_response(request_id=request_id, model=model, reply=reply)
            )
        usage = body.stream_options is not None and body.stream_options.include_usage
        session, first = await self._start_stream(request, engine, engine_request)

        def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
            return translate.completion_chunk(
                request_id=request_id, model=model, text=text, finish=finish
            )

        return _event_stream(
            _stream(
                request,
                session,
                first,
                opening=None,
                piece=lambda part: chunk(part.text),  # a raw prompt's reply has no reasoning
                closing=lambda finish: chunk("", finish),
                usage_chunk=_usage_chunk(request_id, model, "text_completion", usage),
            )
        )

    async def embeddings(self, request: Request) -> Response:
        body = await self._parse(request, EmbeddingRequest)
        engine, model = self._engine_for(body.model)
        texts = translate.embedding_texts(body)
        engine_request = EmbedRequest(texts=tuple(texts), request_id=f"embd-{uuid.uuid4().hex}")
        session = _Session(engine, engine_request, timeout_s=self._config.request_timeout_s)
        watcher = asyncio.create_task(_cancel_on_disconnect(request, session.cancel))
        try:
            result = await session.embeddings()
        finally:
            watcher.cancel()
        note_usage(request.scope, prompt_tokens=result.prompt_tokens)
        return JSONResponse(
            translate.embeddings_response(
                model=model, result=result, base64=body.encoding_format == "base64"
            )
        )

    # -- helpers --------------------------------------------------------------------------

    def _model_card(self, model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": self._created, "owned_by": APP_ID}

    def _engine_for(self, name: str) -> tuple[EngineQueue, str]:
        """The queue serving the model ``name`` and its id (raises ApiError: none, or another)."""
        current = self._engine.current()
        model_id = _model_id(current) if isinstance(current, EngineQueue) else None
        if not isinstance(current, EngineQueue) or model_id is None:
            unavailable = current if isinstance(current, Unavailable) else Unavailable()
            retry = {"Retry-After": str(LOADING_RETRY_AFTER_S)} if unavailable.loading else None
            raise ApiError(
                503,
                unavailable.reason,
                type_=SERVER_ERROR,
                code="model_not_loaded",
                headers=retry,
            )
        if name != model_id:
            raise ApiError(
                404,
                f"The model {name!r} does not exist; this server serves {model_id!r}.",
                param="model",
                code="model_not_found",
            )
        return current, model_id

    async def _parse(self, request: Request, model: type[_Body]) -> _Body:
        limit = self._config.max_body_bytes
        too_big = ApiError(
            413,
            f"The request body is larger than this server accepts ({limit} bytes).",
            code="request_too_large",
        )
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_big
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        try:
            data = json.loads(b"".join(chunks))
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise _validation_error(exc) from None

    async def _collect(
        self, request: Request, engine: EngineQueue, engine_request: GenerateRequest
    ) -> translate.Reply:
        session = _Session(engine, engine_request, timeout_s=self._config.request_timeout_s)
        watcher = asyncio.create_task(_cancel_on_disconnect(request, session.cancel))
        try:
            reply = await session.reply()
        finally:
            watcher.cancel()
            session.cancel()
        _note_stats(request, reply.stats)
        return reply

    async def _start_stream(
        self, request: Request, engine: EngineQueue, engine_request: GenerateRequest
    ) -> tuple[_Session, _Piece | object]:
        """Queue the request and wait for its first piece (or its end)."""
        session = _Session(engine, engine_request, timeout_s=self._config.request_timeout_s)
        watcher = asyncio.create_task(_cancel_on_disconnect(request, session.cancel))
        try:
            first = await session.next_piece()
        except BaseException:
            session.cancel()
            raise
        finally:
            watcher.cancel()
        return session, first


def _usage_chunk(
    request_id: str, model: str, kind: str, wanted: bool
) -> Callable[[GenerationStats | None], dict[str, Any]] | None:
    """The last event's maker when the client asked for usage (``stream_options``)."""
    if not wanted:
        return None

    def chunk(stats: GenerationStats | None) -> dict[str, Any]:
        return {
            "id": request_id,
            "object": kind,
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": translate.usage(stats),
        }

    return chunk


def _model_id(queue: EngineQueue) -> str | None:
    plan = queue.client.plan
    return plan.model_path.stem if plan is not None else None


def _note_stats(request: Request, stats: GenerationStats | None) -> None:
    if stats is not None:
        note_usage(
            request.scope,
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=stats.generated_tokens,
        )


async def _stream(
    request: Request,
    session: _Session,
    first: _Piece | object,
    *,
    opening: dict[str, Any] | None,
    piece: Callable[[_Piece], dict[str, Any]],
    closing: Callable[[str], dict[str, Any]],
    usage_chunk: Callable[[GenerationStats | None], dict[str, Any]] | None,
) -> AsyncIterator[str]:
    """The SSE events of a reply whose first piece is ``first``; cancels it if cut short."""
    try:
        if opening is not None:
            yield _sse(opening)
        part = first
        while isinstance(part, _Piece):
            yield _sse(piece(part))
            part = await session.next_piece()
        yield _sse(closing(translate.finish_reason(session.stats)))
        if usage_chunk is not None:
            yield _sse(usage_chunk(session.stats))
    except ApiError as error:
        yield _sse(error.body())
    finally:
        session.cancel()  # the client went away mid-stream: stop the generation
        _note_stats(request, session.stats)
    yield "data: [DONE]\n\n"


def _event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    param = ".".join(str(part) for part in first["loc"]) or None
    message = f"{param}: {first['msg']}" if param else str(first["msg"])
    return ApiError(400, message, param=param, code="invalid_value")


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    return ApiError(exc.status_code, str(exc.detail), code=code).response()


async def _unexpected_error(_request: Request, exc: Exception) -> Response:
    message = f"The server failed: {exc!r}"
    return ApiError(500, message, type_=SERVER_ERROR, code="internal_error").response()


def build_app(
    *,
    engine: EngineQueue | SharedEngine,
    config: ServerConfig,
    on_request: RequestSink | None = None,
) -> Starlette:
    """The OpenAI-compatible application serving ``engine``'s model under ``config``.

    ``on_request`` hears of every request once answered (see :mod:`request_log`).
    """
    return OpenAIServer(engine=engine, config=config, on_request=on_request).app()
