"""One engine shared by many callers: a fair first-come, first-served queue of replies.

:class:`EngineQueue` owns an :class:`EngineClient` (whose model is already loaded) and a thread
that runs the queued requests in the order they came: one after another, or, when the engine
was loaded with ``parallel`` > 1, together in its batch mode (continuous batching: a request
joins the replies being decoded as soon as it arrives and the cache has room). Each caller gets a
:class:`Ticket`: the events of its reply reach the ``sink`` it gave (from the queue's thread, so
a sink must only hand them on: put them in a queue, or schedule them on an event loop), then
one :class:`Ended`. :meth:`Ticket.cancel` takes a waiting request out of the queue, or stops the
running one within the engine's stop latency (one token or one graph node).

The local server and the window can share the same queue, so neither starves the other. Each
request names its ``source`` (:data:`SOURCE_API`, :data:`SOURCE_WINDOW`), so :meth:`EngineQueue.
snapshot` can say whose requests run and wait, and :meth:`EngineQueue.cancel_source` can end
one caller's requests (the server being turned off) and leave the other's alone.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from autoglm_desktop.core.common.errors import AutoGLMError, ServerBusyError
from autoglm_desktop.core.engine.client import EngineClient, error_from_failure
from autoglm_desktop.core.engine.events import (
    ContextTrimmed,
    Embeddings,
    EngineEvent,
    GenerationFinished,
    ReasoningChunk,
    TokenChunk,
)
from autoglm_desktop.core.engine.protocol import (
    BatchAdd,
    BatchCancel,
    BatchClose,
    BatchEvent,
    BatchMessage,
    EmbedRequest,
    EngineFailure,
    GenerateRequest,
)

# Outcomes kept for :meth:`EngineQueue.outcome` (the newest ones).
OUTCOMES_KEPT = 512
CANCELLED_WAITING = "cancelled"  # the stop reason of a request cancelled before it ran
SOURCE_API = "api"  # a request of the local server's clients
SOURCE_WINDOW = "window"  # the window's own conversation


@dataclass(frozen=True)
class Ended:
    """The last thing a ticket's sink receives: the request is over (``error``: it failed)."""

    error: AutoGLMError | None = None


Delivery = EngineEvent | Ended
Sink = Callable[[Delivery], None]


@dataclass(frozen=True)
class RequestOutcome:
    """How a request ended, as the engine reported it (for logs and tests)."""

    request_id: str
    stop_reason: str  # a StopReason value, or CANCELLED_WAITING, or "error"
    generated_tokens: int = 0
    error: str = ""


@dataclass(frozen=True)
class QueueSnapshot:
    """Whose requests the queue holds now: the source of each, in arrival order."""

    running: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()


@dataclass(eq=False)
class _Job:
    request: GenerateRequest | EmbedRequest
    sink: Sink
    exclusive: bool = False  # runs alone, never in a batch (the window's conversation)
    source: str = SOURCE_API
    cancelled: threading.Event = field(default_factory=threading.Event)
    cancel_sent: bool = False  # batch mode: the engine was told
    # Why it was cancelled, when that is an error for its caller (the queue closed under it).
    end_error: AutoGLMError | None = None


class Ticket:
    """A caller's handle on one queued request."""

    def __init__(self, owner: EngineQueue, job: _Job) -> None:
        self._queue = owner
        self._job = job

    @property
    def request_id(self) -> str:
        return self._job.request.request_id

    def cancel(self) -> None:
        """Drop the request if it waits; stop it if it runs. Safe from any thread, idempotent."""
        self._queue._cancel(self._job)


class QueuedReply:
    """A request put in the queue whose events its caller reads on its own thread."""

    def __init__(
        self,
        owner: EngineQueue,
        request: GenerateRequest,
        *,
        exclusive: bool = True,
        source: str = SOURCE_WINDOW,
    ) -> None:
        """Queue ``request`` (raises as :meth:`EngineQueue.submit` does)."""
        self._items: queue.Queue[Delivery] = queue.Queue()
        self.ticket = owner.submit(
            request, sink=self._items.put, exclusive=exclusive, source=source
        )

    def events(self) -> Iterator[EngineEvent]:
        """The reply's events as they come; leaving the loop early cancels the request.

        Raises:
            AutoGLMError: the engine's error for this request, or why the queue dropped it.
        """
        try:
            while not isinstance(item := self._items.get(), Ended):
                yield item
            if item.error is not None:
                raise item.error
        finally:
            self.ticket.cancel()


class EngineQueue:
    """Runs the replies of every caller on one engine, one at a time, in arrival order."""

    def __init__(
        self,
        client: EngineClient,
        *,
        max_waiting: int = 64,
        on_outcome: Callable[[RequestOutcome], None] | None = None,
    ) -> None:
        """Start the queue's thread.

        Args:
            client: the engine, with its model loaded (load another only after :meth:`close`).
            max_waiting: how many requests may wait; more are refused.
            on_outcome: hears how each request ended, from the queue's thread (a request log).
        """
        self._client = client
        self._max_waiting = max_waiting
        self._on_outcome = on_outcome
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: collections.deque[_Job] = collections.deque()
        self._running: set[_Job] = set()
        self._batching = False
        self._closing = False
        self._close_error: AutoGLMError | None = None
        self._outcomes: collections.OrderedDict[str, RequestOutcome] = collections.OrderedDict()
        self._thread = threading.Thread(target=self._work, name="engine-queue", daemon=True)
        self._thread.start()

    @property
    def client(self) -> EngineClient:
        return self._client

    def submit(
        self,
        request: GenerateRequest | EmbedRequest,
        *,
        sink: Sink,
        exclusive: bool = False,
        source: str = SOURCE_API,
    ) -> Ticket:
        """Queue ``request``; its events go to ``sink``. Gives it an id if it has none.

        When the engine decodes several replies together (loaded with ``parallel`` > 1), a
        request joins the batch in progress unless ``exclusive`` (it then waits for the batch
        to end and runs alone, as the window's conversation with its KV state does).
        ``source`` names the caller (:meth:`snapshot`, :meth:`cancel_source`); the window's
        own requests are never refused for a full queue.

        Raises:
            ServerBusyError: ``max_waiting`` requests already wait, or the queue is closed.
            AutoGLMError: the queue was closed with a reason (:meth:`close`); that reason.
        """
        if not request.request_id:
            request = _with_id(request, uuid.uuid4().hex)
        exclusive = exclusive or isinstance(request, EmbedRequest)  # never in a batch
        job = _Job(request=request, sink=sink, exclusive=exclusive, source=source)
        with self._lock:
            if self._closing:
                if self._close_error is not None:
                    raise self._close_error
                raise ServerBusyError("The model engine is shutting down.")
            if source != SOURCE_WINDOW and len(self._waiting) >= self._max_waiting:
                raise ServerBusyError(
                    f"{len(self._waiting)} requests are already waiting for the model; "
                    "try again in a moment."
                )
            self._waiting.append(job)
            self._wake.notify()
        return Ticket(self, job)

    def stream(
        self, request: GenerateRequest, *, exclusive: bool = True, source: str = SOURCE_WINDOW
    ) -> Iterator[EngineEvent]:
        """Queue ``request`` and yield its events here, for a caller on a thread of its own.

        This is how the window's worker shares the engine with the server: its replies wait
        their turn (alone, with its KV state: ``exclusive``). Leaving the loop early cancels
        the request. (:class:`QueuedReply` does the same and keeps the ticket at hand.)

        Raises:
            ServerBusyError: the queue is full or closed.
            AutoGLMError: the engine's error for this request.
        """
        yield from QueuedReply(self, request, exclusive=exclusive, source=source).events()

    def waiting(self) -> int:
        """How many requests wait (the running one not counted)."""
        with self._lock:
            return len(self._waiting)

    def snapshot(self) -> QueueSnapshot:
        """The sources of the requests running and waiting now."""
        with self._lock:
            return QueueSnapshot(
                running=tuple(job.source for job in self._running),
                waiting=tuple(job.source for job in self._waiting),
            )

    def cancel_source(self, source: str, *, error: AutoGLMError | None = None) -> None:
        """Cancel every request of ``source``, waiting or running; ``error``: what they end with."""
        with self._lock:
            jobs = [job for job in (*self._waiting, *self._running) if job.source == source]
        for job in jobs:
            self._cancel(job, error=error)

    def outcome(self, request_id: str) -> RequestOutcome | None:
        """How a recent request ended; None while it waits or runs (or if long forgotten)."""
        with self._lock:
            return self._outcomes.get(request_id)

    def close(self, *, error: AutoGLMError | None = None) -> None:
        """Cancel everything queued or running and end the queue's thread (not the engine).

        ``error``: why (the model is being changed...): the requests cancelled end with it,
        and so does any request submitted from now on.
        """
        with self._lock:
            self._closing = True
            self._close_error = error
            jobs = [*self._waiting, *self._running]
            self._wake.notify()
        for job in jobs:
            self._cancel(job, error=error)
        self._thread.join()

    # -- the queue's thread ---------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
                job = self._waiting.popleft()
                self._running.add(job)
                self._batching = self._client.parallel > 1 and not job.exclusive
            try:
                if self._batching:
                    _Batch(self, job).run()
                else:
                    self._run(job)
            finally:
                with self._lock:
                    self._running.clear()
                    self._batching = False

    def _run(self, job: _Job) -> None:
        request_id = job.request.request_id
        outcome = RequestOutcome(request_id=request_id, stop_reason="error")
        error: AutoGLMError | None = None
        if job.cancelled.is_set():  # cancelled as it left the queue: the engine is not asked
            self._record(RequestOutcome(request_id=request_id, stop_reason=CANCELLED_WAITING))
            _deliver(job, Ended(error=job.end_error))
            return
        try:
            request = job.request
            events = (
                self._client.embed(request)
                if isinstance(request, EmbedRequest)
                else self._client.run(request)
            )
            for event in events:
                if job.cancelled.is_set():  # cancelled before the engine cleared its stop flag
                    self._client.request_stop()
                if isinstance(event, Embeddings):
                    outcome = RequestOutcome(request_id=request_id, stop_reason="eos")
                if isinstance(event, GenerationFinished):
                    outcome = RequestOutcome(
                        request_id=request_id,
                        stop_reason=event.stats.stop_reason,
                        generated_tokens=event.stats.generated_tokens,
                    )
                _deliver(job, event)
        except AutoGLMError as exc:
            error = exc
            outcome = RequestOutcome(request_id=request_id, stop_reason="error", error=str(exc))
        except Exception as exc:  # a sink's bug must not end the queue for everyone
            error = AutoGLMError(f"The request failed: {exc!r}")
            outcome = RequestOutcome(request_id=request_id, stop_reason="error", error=str(exc))
        self._record(outcome)
        _deliver(job, Ended(error=error or job.end_error))

    def _cancel(self, job: _Job, *, error: AutoGLMError | None = None) -> None:
        with self._lock:
            if error is not None and not job.cancelled.is_set():
                job.end_error = error
            job.cancelled.set()
            waiting = job in self._waiting
            if waiting:
                self._waiting.remove(job)
            elif job in self._running and not self._batching:
                self._client.request_stop()  # (a batch tells the engine itself, see _Batch)
        if waiting:
            self._record(
                RequestOutcome(request_id=job.request.request_id, stop_reason=CANCELLED_WAITING)
            )
            _deliver(job, Ended(error=job.end_error))

    def _record(self, outcome: RequestOutcome) -> None:
        with self._lock:
            self._outcomes[outcome.request_id] = outcome
            while len(self._outcomes) > OUTCOMES_KEPT:
                self._outcomes.popitem(last=False)
        if self._on_outcome is not None:
            with contextlib.suppress(Exception):  # a listener's bug must not stop the queue
                self._on_outcome(outcome)


class _Batch:
    """One stay of the engine in batch mode, on the queue's thread.

    Waiting requests join in arrival order (up to the first exclusive one); the batch closes
    once none is left in it.
    """

    def __init__(self, owner: EngineQueue, first: _Job) -> None:
        self._queue = owner
        self._in_flight: dict[str, _Job] = {first.request.request_id: first}
        assert isinstance(first.request, GenerateRequest)  # others are exclusive
        self._outbox: list[BatchMessage] = [BatchAdd(request=first.request)]
        self._closed = False

    def run(self) -> None:
        try:
            for item in self._queue._client.run_batch(self._take):
                if isinstance(item, BatchEvent):
                    self._route(item)
        except AutoGLMError as exc:  # the engine died or hung: every reply in it fails
            for job in list(self._in_flight.values()):
                self._end(job, RequestOutcome(job.request.request_id, "error", error=str(exc)), exc)

    def _take(self) -> list[BatchMessage]:
        """What to send the engine now (asked by the client between messages)."""
        owner = self._queue
        with owner._lock:
            room = owner._client.parallel - len(self._in_flight)  # the rest wait here, counted
            while room > 0 and not self._closed and owner._waiting:
                if owner._waiting[0].exclusive:
                    break
                room -= 1
                job = owner._waiting.popleft()
                owner._running.add(job)
                self._in_flight[job.request.request_id] = job
                assert isinstance(job.request, GenerateRequest)  # others are exclusive
                self._outbox.append(BatchAdd(request=job.request))
            for job in self._in_flight.values():
                if job.cancelled.is_set() and not job.cancel_sent:
                    job.cancel_sent = True
                    self._outbox.append(BatchCancel(request_id=job.request.request_id))
            if not self._in_flight and not self._closed:
                self._closed = True
                self._outbox.append(BatchClose())
            messages, self._outbox = self._outbox, []
        return messages

    def _route(self, item: BatchEvent) -> None:
        job = self._in_flight.get(item.request_id)
        if job is None:
            return
        event = item.event
        if isinstance(event, EngineFailure):
            error = error_from_failure(event)
            self._end(job, RequestOutcome(item.request_id, "error", error=str(error)), error)
        elif isinstance(event, GenerationFinished):
            _deliver(job, event)
            stats = event.stats
            self._end(
                job, RequestOutcome(item.request_id, stats.stop_reason, stats.generated_tokens)
            )
        elif isinstance(event, TokenChunk | ReasoningChunk | ContextTrimmed):
            _deliver(job, event)

    def _end(self, job: _Job, outcome: RequestOutcome, error: AutoGLMError | None = None) -> None:
        self._in_flight.pop(job.request.request_id, None)
        with self._queue._lock:
            self._queue._running.discard(job)
        self._queue._record(outcome)
        _deliver(job, Ended(error=error or job.end_error))


def _deliver(job: _Job, item: Delivery) -> None:
    with contextlib.suppress(Exception):  # a caller that went away cannot stop the queue
        job.sink(item)


def _with_id(
    request: GenerateRequest | EmbedRequest, request_id: str
) -> GenerateRequest | EmbedRequest:
    return dataclasses.replace(request, request_id=request_id)


__all__ = [
    "CANCELLED_WAITING",
    "SOURCE_API",
    "SOURCE_WINDOW",
    "Delivery",
    "Ended",
    "EngineQueue",
    "QueueSnapshot",
    "QueuedReply",
    "RequestOutcome",
    "Ticket",
]
