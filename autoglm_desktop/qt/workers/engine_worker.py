"""The one QObject that talks to the engine, living on its own QThread.

Slots are invoked through queued signals and loop over the core engine generators,
re-emitting each event as a Qt signal. :meth:`EngineWorker.stop` is the exception: it is
called directly from the GUI thread and only sets an atomic flag shared with the engine
process, so a stop never waits behind the work it is meant to interrupt.

A failed request emits the core's typed error once, on the signal of its kind, before
``busyChanged(False)``: ``loadFailed`` (the main window reports it) or ``replyFailed`` (the
chat controller reports it).

A request with ``remote`` set goes to that remote server's model through
:class:`~autoglm_desktop.core.remote.client.RemoteChatClient` instead of the engine process; its
events and typed errors reach the same signals, and Stop closes its stream.

Between requests the worker checks every second that the engine process is still alive; one
that died (killed for memory, crashed) is reported once with ``engineDied``, and the next reply
reloads the model in a fresh engine, as after a crash mid-request.

While the window's local server is on (:meth:`EngineWorker.set_serving`), the engine is shared:
an :class:`~autoglm_desktop.core.engine.request_queue.EngineQueue` owns the client, the server
puts its requests in it through :attr:`EngineWorker.shared`, and the window's replies wait their
turn in the same queue (alone, keeping the conversation's KV state). Stop then cancels the
window's own request in the queue, never the server's. Before a load or an unload the worker
takes the queue back (requests in it end with a clear error); a model loaded while serving
decodes up to :data:`SERVER_PARALLEL` replies together. With the server off, replies go straight
to the engine, as they always did.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import AutoGLMError, NoModelLoadedError
from autoglm_desktop.core.common.types import (
    ChatTurn,
    GenerationStats,
    LoadPlan,
    SamplingSettings,
    StopReason,
    Thinking,
)
from autoglm_desktop.core.engine import (
    ContextTrimmed,
    EngineClient,
    EngineEvent,
    GenerationFinished,
    LoadProgress,
    ModelLoaded,
    ReasoningChunk,
    TokenChunk,
)
from autoglm_desktop.core.engine.protocol import GenerateRequest
from autoglm_desktop.core.engine.request_queue import EngineQueue, QueuedReply
from autoglm_desktop.core.engine.shared_engine import LOADING, SharedEngine, Unavailable
from autoglm_desktop.core.remote.client import RemoteChatClient
from autoglm_desktop.core.remote.servers import RemoteTarget
from autoglm_desktop.qt.workers.background import WorkerThread

ENGINE_CHECK_MS = 1000
# Closing waits this long for the request in progress to stop, then kills the engine: a
# cooperative Stop takes well under 100 ms, and nothing the engine holds outlives it (its KV
# state files are written whole or not at all).
FORCE_CLOSE_MS = 1000
# Replies decoded together by a model loaded while the local server is on.
SERVER_PARALLEL = 4


@dataclass(frozen=True)
class ChatRequest:
    turns: tuple[ChatTurn, ...]
    system_prompt: str = ""
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    thinking: Thinking = Thinking.DEFAULT
    remote: RemoteTarget | None = None  # None: the local engine's model


class EngineWorker(QObject):
    loadStarted = Signal()
    loadProgress = Signal(float)
    modelLoaded = Signal(object)  # ModelInfo
    unloaded = Signal()
    released = Signal()  # engine ended to free memory; the next reply reloads the model
    contextTrimmed = Signal(int)  # messages left out
    tokens = Signal(str)  # the answer's text
    reasoning = Signal(str)  # the text a thinking model writes before its answer
    generationFinished = Signal(object)  # GenerationStats
    # AutoGLMError (str() is the plain-language message; EngineCrashedError: the engine died)
    loadFailed = Signal(object)  # a model load requested with load()
    replyFailed = Signal(object)  # a reply, including the reload of a model unloaded while idle
    busyChanged = Signal(bool)
    # EngineCrashedError: the engine died while idle; the next reply reloads the model
    engineDied = Signal(object)

    def __init__(
        self, client: EngineClient | None = None, *, remote: RemoteChatClient | None = None
    ) -> None:
        super().__init__()
        self._client = client or EngineClient(log_path=paths.engine_log_path())
        self._remote = remote or RemoteChatClient()
        self._watch = QTimer(self)  # moves to the worker's thread with it
        self._watch.setInterval(ENGINE_CHECK_MS)
        self._watch.timeout.connect(self._check_engine)
        self.shared = SharedEngine()  # what the local server puts its requests in
        self._serving = False
        self._queue: EngineQueue | None = None  # owns the client while sharing (worker thread)
        # Read by stop() from any thread: the window's request in the queue, and whether a
        # queue owns the client (then the client's own stop would stop the server's replies).
        self._lock = threading.Lock()
        self._reply: QueuedReply | None = None
        self._sharing = False

    @property
    def engine_pid(self) -> int | None:
        return self._client.pid

    def stop(self) -> None:
        """Interrupt the current load or reply. Safe to call from any thread."""
        with self._lock:
            reply, sharing = self._reply, self._sharing
        if reply is not None:
            reply.ticket.cancel()  # the window's request only; the server's go on
        elif not sharing:
            self._client.request_stop()
        self._remote.request_stop()

    @Slot(object)
    def load(self, plan: LoadPlan) -> None:
        self._withdraw_queue(Unavailable(LOADING, loading=True))
        parallel = SERVER_PARALLEL if self._serving else 1
        self._run(lambda: self._client.load(plan, parallel=parallel), failed=self.loadFailed.emit)
        self._share_if_serving()

    @Slot(bool)
    def set_serving(self, on: bool) -> None:
        """Share the engine with the local server (on), or take it back (off).

        A model loaded for the window alone (or released while idle) is loaded again, once, to
        decode the server's requests together.
        """
        self._serving = on
        if not on:
            self._withdraw_queue(Unavailable())
            return
        plan = self._client.plan
        if self._queue is None and plan is not None and self._client.parallel < SERVER_PARALLEL:
            self.load(plan)
            return
        self._share_if_serving()

    @Slot(object)
    def generate(self, request: ChatRequest) -> None:
        self._run(lambda: self._reply_events(request), failed=self.replyFailed.emit)

    def _reply_events(self, request: ChatRequest) -> Iterator[EngineEvent]:
        if request.remote is not None:
            return self._remote.generate(
                target=request.remote,
                turns=request.turns,
                system_prompt=request.system_prompt,
                sampling=request.sampling,
            )
        if self._queue is not None:
            return self._queued_reply(self._queue, request)
        return self._client.generate(
            turns=request.turns,
            system_prompt=request.system_prompt,
            sampling=request.sampling,
            thinking=request.thinking,
        )

    def _queued_reply(self, queue: EngineQueue, request: ChatRequest) -> Iterator[EngineEvent]:
        """The reply through the queue shared with the server; it ends with its figures."""
        engine_request = GenerateRequest(
            turns=request.turns,
            system_prompt=request.system_prompt,
            sampling=request.sampling,
            thinking=request.thinking,
        )
        with self._lock:  # so that a Stop from now on finds the ticket
            reply = QueuedReply(queue, engine_request)
            self._reply = reply
        finished = False
        try:
            for event in reply.events():
                finished = finished or isinstance(event, GenerationFinished)
                yield event
        finally:
            with self._lock:
                self._reply = None
        if not finished:  # stopped while it waited its turn
            yield GenerationFinished(stats=GenerationStats(stop_reason=StopReason.STOPPED.value))

    @Slot()
    def unload(self) -> None:
        self._withdraw_queue(Unavailable())
        self._client.unload()
        self.unloaded.emit()

    @Slot()
    def release_memory(self) -> None:
        """End the engine process but keep the model: the next reply reloads it."""
        self._withdraw_queue(Unavailable(LOADING, loading=True))
        self._client.unload(keep_plan=True)
        self.released.emit()
        self._share_if_serving()

    @Slot()
    def shutdown(self) -> None:
        self._serving = False
        self._withdraw_queue(Unavailable())
        self._client.shutdown()

    def _share_if_serving(self) -> None:
        """While serving, a loaded model's engine goes into a queue the server shares."""
        if self._queue is not None:
            return
        if not self._serving or self._client.plan is None:
            self.shared.withdraw(Unavailable())
            return
        with self._lock:
            self._sharing = True
        self._queue = EngineQueue(self._client)
        self.shared.use(self._queue)

    def _withdraw_queue(self, unavailable: Unavailable) -> None:
        """Take the engine back from the queue; requests in it end with ``unavailable``."""
        queue = self.shared.withdraw(unavailable)
        self._queue = None
        if queue is not None:
            queue.close(error=NoModelLoadedError(unavailable.reason))
        with self._lock:
            self._sharing = False

    def kill_engine(self) -> None:
        """Kill the engine process at once (closing the app). Safe to call from any thread."""
        self._client.kill()

    @Slot()
    def start_watching(self) -> None:
        """Check the idle engine every second (on the worker's thread)."""
        self._watch.start()

    @Slot()
    def stop_watching(self) -> None:
        self._watch.stop()

    @Slot()
    def _check_engine(self) -> None:
        if self._queue is not None:
            return  # the queue's thread uses the client; its next request finds a dead engine
        error = self._client.check_engine()
        if error is not None:
            self.engineDied.emit(error)

    def _run(
        self,
        start: Callable[[], Iterator[EngineEvent]],
        *,
        failed: Callable[[AutoGLMError], object],
    ) -> None:
        self.busyChanged.emit(True)
        try:
            for event in start():
                self._emit(event)
        except AutoGLMError as exc:
            failed(exc)
        finally:
            self.busyChanged.emit(False)

    def _emit(self, event: EngineEvent) -> None:
        if isinstance(event, TokenChunk):
            self.tokens.emit(event.text)
        elif isinstance(event, ReasoningChunk):
            self.reasoning.emit(event.text)
        elif isinstance(event, LoadProgress):
            if event.fraction == 0.0:
                self.loadStarted.emit()
            self.loadProgress.emit(event.fraction)
        elif isinstance(event, ModelLoaded):
            self.modelLoaded.emit(event.info)
        elif isinstance(event, ContextTrimmed):
            self.contextTrimmed.emit(event.dropped_messages)
        elif isinstance(event, GenerationFinished):
            self.generationFinished.emit(event.stats)


def start_engine_thread(worker: EngineWorker) -> WorkerThread[EngineWorker]:
    """Run ``worker`` on its own thread until the result's ``close()``.

    ``close()`` stops the current load or reply and waits for the worker's slot to return (an
    engine that does not stop within ``FORCE_CLOSE_MS`` is killed), then ends the engine
    process from the closing thread.
    """
    return WorkerThread(
        worker,
        name="engine-worker",
        on_start=worker.start_watching,
        on_finish=worker.stop_watching,
        interrupt=worker.stop,
        after_finish=worker.shutdown,
        force=worker.kill_engine,
        force_after_ms=FORCE_CLOSE_MS,
    )
