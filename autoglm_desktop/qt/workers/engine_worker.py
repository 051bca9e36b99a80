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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, SamplingSettings, Thinking
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
from autoglm_desktop.core.remote.client import RemoteChatClient
from autoglm_desktop.core.remote.servers import RemoteTarget
from autoglm_desktop.qt.workers.background import WorkerThread

ENGINE_CHECK_MS = 1000
# Closing waits this long for the request in progress to stop, then kills the engine.
FORCE_CLOSE_MS = 2500


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

    @property
    def engine_pid(self) -> int | None:
        return self._client.pid

    def stop(self) -> None:
        """Interrupt the current load or reply. Safe to call from any thread."""
        self._client.request_stop()
        self._remote.request_stop()

    @Slot(object)
    def load(self, plan: LoadPlan) -> None:
        self._run(lambda: self._client.load(plan), failed=self.loadFailed.emit)

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
        return self._client.generate(
            turns=request.turns,
            system_prompt=request.system_prompt,
            sampling=request.sampling,
            thinking=request.thinking,
        )

    @Slot()
    def unload(self) -> None:
        self._client.unload()
        self.unloaded.emit()

    @Slot()
    def release_memory(self) -> None:
        """End the engine process but keep the model: the next reply reloads it."""
        self._client.unload(keep_plan=True)
        self.released.emit()

    @Slot()
    def shutdown(self) -> None:
        self._client.shutdown()

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
