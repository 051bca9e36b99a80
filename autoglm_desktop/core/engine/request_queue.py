"""One engine shared by many callers: a fair first-come, first-served queue of replies.

:class:`EngineQueue` owns an :class:`EngineClient` (whose model is already loaded) and a thread
that runs the queued requests one after another, in the order they came. Each caller gets a
:class:`Ticket`: the events of its reply reach the ``sink`` it gave (from the queue's thread, so
a sink must only hand them on: put them in a queue, or schedule them on an event loop), then
one :class:`Ended`. :meth:`Ticket.cancel` takes a waiting request out of the queue, or stops the
running one within the engine's stop latency (one token or one graph node).

The local server and the window can share the same queue, so neither starves the other.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from autoglm_desktop.core.common.errors import AutoGLMError, ServerBusyError
from autoglm_desktop.core.engine.client import EngineClient
from autoglm_desktop.core.engine.events import EngineEvent, GenerationFinished
from autoglm_desktop.core.engine.protocol import GenerateRequest

# Outcomes kept for :meth:`EngineQueue.outcome` (the newest ones).
OUTCOMES_KEPT = 512
CANCELLED_WAITING = "cancelled"  # the stop reason of a request cancelled before it ran


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


@dataclass(eq=False)
class _Job:
    request: GenerateRequest
    sink: Sink
    cancelled: threading.Event = field(default_factory=threading.Event)


class Ticket:
    """A caller's handle on one queued request."""

    def __init__(self, queue: EngineQueue, job: _Job) -> None:
        self._queue = queue
        self._job = job

    @property
    def request_id(self) -> str:
        return self._job.request.request_id

    def cancel(self) -> None:
        """Drop the request if it waits; stop it if it runs. Safe from any thread, idempotent."""
        self._queue._cancel(self._job)


class EngineQueue:
    """Runs the replies of every caller on one engine, one at a time, in arrival order."""

    def __init__(self, client: EngineClient, *, max_waiting: int = 64) -> None:
        """``client``: the engine, with its model loaded; ``max_waiting``: queue length limit."""
        self._client = client
        self._max_waiting = max_waiting
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: collections.deque[_Job] = collections.deque()
        self._current: _Job | None = None
        self._closing = False
        self._outcomes: collections.OrderedDict[str, RequestOutcome] = collections.OrderedDict()
        self._thread = threading.Thread(target=self._work, name="engine-queue", daemon=True)
        self._thread.start()

    @property
    def client(self) -> EngineClient:
        return self._client

    def submit(self, request: GenerateRequest, *, sink: Sink) -> Ticket:
        """Queue ``request``; its events go to ``sink``. Gives it an id if it has none.

        Raises:
            ServerBusyError: ``max_waiting`` requests already wait, or the queue is closed.
        """
        if not request.request_id:
            request = _with_id(request, uuid.uuid4().hex)
        job = _Job(request=request, sink=sink)
        with self._lock:
            if self._closing:
                raise ServerBusyError("The model engine is shutting down.")
            if len(self._waiting) >= self._max_waiting:
                raise ServerBusyError(
                    f"{len(self._waiting)} requests are already waiting for the model; "
                    "try again in a moment."
                )
            self._waiting.append(job)
            self._wake.notify()
        return Ticket(self, job)

    def waiting(self) -> int:
        """How many requests wait (the running one not counted)."""
        with self._lock:
            return len(self._waiting)

    def outcome(self, request_id: str) -> RequestOutcome | None:
        """How a recent request ended; None while it waits or runs (or if long forgotten)."""
        with self._lock:
            return self._outcomes.get(request_id)

    def close(self) -> None:
        """Cancel everything queued or running and end the queue's thread (not the engine)."""
        with self._lock:
            self._closing = True
            jobs = [*self._waiting, *([self._current] if self._current else [])]
            self._wake.notify()
        for job in jobs:
            self._cancel(job)
        self._thread.join()

    # -- the queue's thread ---------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
                job = self._current = self._waiting.popleft()
            try:
                self._run(job)
            finally:
                with self._lock:
                    self._current = None

    def _run(self, job: _Job) -> None:
        request_id = job.request.request_id
        outcome = RequestOutcome(request_id=request_id, stop_reason="error")
        error: AutoGLMError | None = None
        try:
            for event in self._client.run(job.request):
                if job.cancelled.is_set():  # cancelled before the engine cleared its stop flag
                    self._client.request_stop()
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
        _deliver(job, Ended(error=error))

    def _cancel(self, job: _Job) -> None:
        with self._lock:
            job.cancelled.set()
            waiting = job in self._waiting
            if waiting:
                self._waiting.remove(job)
            elif self._current is job:
                self._client.request_stop()
        if waiting:
            self._record(
                RequestOutcome(request_id=job.request.request_id, stop_reason=CANCELLED_WAITING)
            )
            _deliver(job, Ended())

    def _record(self, outcome: RequestOutcome) -> None:
        with self._lock:
            self._outcomes[outcome.request_id] = outcome
            while len(self._outcomes) > OUTCOMES_KEPT:
                self._outcomes.popitem(last=False)


def _deliver(job: _Job, item: Delivery) -> None:
    with contextlib.suppress(Exception):  # a caller that went away cannot stop the queue
        job.sink(item)


def _with_id(request: GenerateRequest, request_id: str) -> GenerateRequest:
    return dataclasses.replace(request, request_id=request_id)


__all__ = [
    "CANCELLED_WAITING",
    "Delivery",
    "Ended",
    "EngineQueue",
    "RequestOutcome",
    "Ticket",
]
