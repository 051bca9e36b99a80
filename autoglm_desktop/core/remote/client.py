"""Chat with a model of a remote server, yielding the local engine's events.

:class:`RemoteChatClient` streams a reply as ``TokenChunk`` events (a thinking model's reasoning,
where the server parses it out as vLLM and SGLang do, as ``ReasoningChunk`` events) and ends it
with ``GenerationFinished`` (token counts, TTFT, tokens/s), or raises a
:class:`~autoglm_desktop.core.common.errors.RemoteError`, so the chat controller handles a remote
model exactly as a local one. Like :class:`~autoglm_desktop.core.engine.EngineClient`, use it
from one thread; :meth:`RemoteChatClient.request_stop` is safe from any.

The HTTP stream is read on a thread of its own and handed over through a queue: the caller's
loop wakes every few hundredths of a second, so Stop and the stall deadline never wait behind a
blocked read (a server evaluating a long prompt sends nothing for a while, one that hangs sends
nothing at all). Stop shuts the connection's socket down, so the server sees the client go at
once; the reading thread then ends by itself.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autoglm_desktop.core.common import errors
from autoglm_desktop.core.common.types import (
    ChatTurn,
    GenerationStats,
    SamplingSettings,
    StopReason,
)
from autoglm_desktop.core.engine.events import (
    EngineEvent,
    GenerationFinished,
    ReasoningChunk,
    TokenChunk,
)
from autoglm_desktop.core.remote.keys import ApiKeyStore
from autoglm_desktop.core.remote.servers import RemoteServer, RemoteTarget

if TYPE_CHECKING:
    from autoglm_desktop.core.remote.openai_api import RemoteTimeouts, StreamPiece

POLL_SECONDS = 0.05
READ_TIMEOUT_MARGIN_S = 10.0


@dataclass(frozen=True)
class ConnectionCheck:
    """What Test connection found."""

    models: tuple[str, ...]
    seconds: float


def check_connection(
    *, base_url: str, api_key: str | None, server_name: str = "", timeout_s: float = 20.0
) -> ConnectionCheck:
    """Ask the server for its models (``GET /models``).

    Raises:
        RemoteError: a subclass that says what went wrong (unreachable, key refused...).
    """
    import autoglm_desktop.core.remote.openai_api as openai_api

    started = time.monotonic()
    try:
        models = openai_api.list_model_ids(base_url=base_url, api_key=api_key, timeout_s=timeout_s)
    except Exception as error:
        raise openai_api.translate_error(
            error, server=server_name or base_url, url=base_url
        ) from error
    return ConnectionCheck(models=tuple(models), seconds=time.monotonic() - started)


class RemoteChatClient:
    """Streams replies from remote servers; one at a time."""

    def __init__(
        self, *, keys: ApiKeyStore | None = None, timeouts: RemoteTimeouts | None = None
    ) -> None:
        self._keys = keys or ApiKeyStore()
        self._timeouts = timeouts
        self._stop = threading.Event()
        self._reader: _Reader | None = None

    @property
    def keys(self) -> ApiKeyStore:
        return self._keys

    def request_stop(self) -> None:
        """End the current reply at once and close its connection. Safe from any thread."""
        self._stop.set()
        reader = self._reader
        if reader is not None:
            reader.abort()

    def generate(
        self,
        *,
        target: RemoteTarget,
        turns: Sequence[ChatTurn],
        system_prompt: str = "",
        sampling: SamplingSettings | None = None,
    ) -> Iterator[EngineEvent]:
        """Stream a reply of ``target`` to ``turns``.

        Raises:
            RemoteError: a subclass that says what went wrong; text already yielded stays.
        """
        import autoglm_desktop.core.remote.openai_api as openai_api

        self._stop.clear()
        timeouts = self._timeouts or openai_api.RemoteTimeouts()
        api_key = self._api_key(target.server)
        reader = _Reader(
            target=target,
            api_key=api_key,
            messages=openai_api.chat_messages(turns, system_prompt),
            sampling=sampling or SamplingSettings(),
            timeouts=timeouts,
        )
        self._reader = reader
        if self._stop.is_set():  # Stop came while the key was read: nothing was sent
            yield GenerationFinished(_Tally(started=reader.started).stats(StopReason.STOPPED.value))
            return
        reader.start()
        try:
            yield from self._follow(reader, target=target, stall_s=timeouts.stall_s)
        finally:
            reader.abort()  # done, stopped, failed or abandoned: the connection goes
            self._reader = None

    def _api_key(self, server: RemoteServer) -> str | None:
        key = self._keys.get(server.id)
        if key is None and server.has_key:
            raise errors.RemoteKeyMissingError(
                f"The API key of “{server.name}” is not stored: this computer has no system "
                "keyring, so keys are kept only until the app closes. Enter it again in "
                "Settings → Remote servers."
            )
        return key

    def _follow(
        self, reader: _Reader, *, target: RemoteTarget, stall_s: float
    ) -> Iterator[EngineEvent]:
        import autoglm_desktop.core.remote.openai_api as openai_api

        tally = _Tally(started=reader.started)
        last_heard = time.monotonic()
        while True:
            if self._stop.is_set():
                yield GenerationFinished(tally.stats(StopReason.STOPPED.value))
                return
            try:
                item = reader.queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if time.monotonic() - last_heard > stall_s:
                    raise _stalled(target, stall_s, started=bool(tally.text_pieces)) from None
                continue
            last_heard = time.monotonic()
            if isinstance(item, BaseException):
                if self._stop.is_set():
                    continue  # the socket was shut down on purpose
                raise openai_api.translate_error(
                    item,
                    server=target.server.name,
                    url=target.server.base_url,
                    model=target.model,
                    started=bool(tally.text_pieces),
                ) from item
            if item is None:  # the stream ended
                yield GenerationFinished(tally.finished(target))
                return
            tally.add(item)
            if item.reasoning:
                yield ReasoningChunk(item.reasoning)
            if item.text:
                yield TokenChunk(item.text)


def _stalled(target: RemoteTarget, seconds: float, *, started: bool) -> errors.RemoteError:
    what = "in the middle of the reply" if started else "after the request"
    kept = " What arrived is kept, marked interrupted." if started else ""
    return errors.RemoteStalledError(
        f"“{target.server.name}” sent nothing for {seconds:g} seconds {what}, so the reply was "
        f"stopped.{kept} The server may be overloaded or stuck; try again later."
    )


class _Tally:
    """A reply's figures as its pieces arrive."""

    def __init__(self, *, started: float) -> None:
        self.started = started
        self.first_token: float | None = None
        self.text_pieces = 0
        self.finish_reason: str | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def add(self, piece: StreamPiece) -> None:
        """Take ``piece`` in (reasoning counts as text: the model wrote it)."""
        if piece.finish_reason is not None:
            self.finish_reason = piece.finish_reason
        if piece.prompt_tokens is not None:
            self.prompt_tokens = piece.prompt_tokens
        if piece.completion_tokens is not None:
            self.completion_tokens = piece.completion_tokens
        if not piece.text and not piece.reasoning:
            return
        self.text_pieces += 1
        if self.first_token is None:
            self.first_token = time.monotonic()

    def finished(self, target: RemoteTarget) -> GenerationStats:
        """The figures of a stream that ended; one that ended without a finish is cut short.

        Raises:
            RemoteStreamInterruptedError: the stream ended before the server said it finished.
        """
        if self.finish_reason is None:
            raise errors.RemoteStreamInterruptedError(
                f"“{target.server.name}” ended the reply without finishing it. What arrived is "
                "kept, marked interrupted; press Regenerate to try again."
            )
        reason = StopReason.LENGTH if self.finish_reason == "length" else StopReason.EOS
        return self.stats(reason.value)

    def stats(self, stop_reason: str) -> GenerationStats:
        now = time.monotonic()
        generated = self.completion_tokens
        if generated is None:
            generated = self.text_pieces  # servers send about one token per chunk
        ttft = (self.first_token - self.started) if self.first_token is not None else 0.0
        decode_s = now - self.first_token if self.first_token is not None else 0.0
        prompt = self.prompt_tokens or 0
        return GenerationStats(
            prompt_tokens=prompt,
            evaluated_prompt_tokens=prompt,
            generated_tokens=generated,
            ttft_s=ttft,
            tokens_per_s=(generated - 1) / decode_s if generated > 1 and decode_s > 0 else 0.0,
            total_s=now - self.started,
            stop_reason=stop_reason,
            context_used=prompt + generated if self.prompt_tokens is not None else 0,
            context_size=0,  # the server's context is not known here
        )


class _Reader(threading.Thread):
    """Reads one streamed reply into :attr:`queue`: pieces, then ``None`` or the exception."""

    def __init__(
        self,
        *,
        target: RemoteTarget,
        api_key: str | None,
        messages: list[Any],
        sampling: SamplingSettings,
        timeouts: RemoteTimeouts,
    ) -> None:
        super().__init__(name="remote-reply", daemon=True)
        self.queue: queue.Queue[StreamPiece | BaseException | None] = queue.Queue()
        self.started = time.monotonic()  # just before the thread starts: TTFT counts from here
        self._target = target
        self._api_key = api_key
        self._messages = messages
        self._sampling = sampling
        self._timeouts = timeouts
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._aborted = False

    def abort(self) -> None:
        """Shut the connection down (wakes a blocked read; the server sees the client go)."""
        with self._lock:
            self._aborted = True
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _on_socket(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            aborted = self._aborted
        if aborted:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        import httpx2

        import autoglm_desktop.core.remote.openai_api as openai_api

        # The caller's stall deadline comes first; the client's read timeout only backs it up.
        backstop = self._timeouts.stall_s + READ_TIMEOUT_MARGIN_S
        timeout = httpx2.Timeout(
            connect=self._timeouts.connect_s,
            read=backstop,
            write=backstop,
            pool=self._timeouts.connect_s,
        )
        try:
            with openai_api.make_client(
                base_url=self._target.server.base_url,
                api_key=self._api_key,
                timeout=timeout,
                on_socket=self._on_socket,
            ) as client:
                pieces = openai_api.stream_chat(
                    client,
                    model=self._target.model,
                    messages=self._messages,
                    sampling=self._sampling,
                )
                for piece in pieces:
                    if self._aborted:
                        pieces.close()
                        return
                    self.queue.put(piece)
            self.queue.put(None)
        except BaseException as error:  # handed to the caller, who types it
            self.queue.put(error)
