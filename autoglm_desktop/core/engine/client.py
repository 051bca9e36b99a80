"""The app's side of the engine: starts the engine process and talks to it over a pipe.

Use from one thread (the Qt worker thread); only :meth:`EngineClient.request_stop` and
:meth:`EngineClient.kill` may be called from any thread: stopping sets a flag shared with the
engine process, so it never waits behind queued work.

Every request has deadlines (:class:`EngineDeadlines`): the engine announces each stage of its
work and beats while it works; an engine that goes silent for longer than its stage allows, or
that has not ended the request soon after Stop, is killed and the request fails with
:class:`~autoglm_desktop.core.common.errors.EngineHungError` (or, for a cancelled load,
:class:`~autoglm_desktop.core.common.errors.OperationCancelledError`). As after a crash, the next
request starts a fresh engine, and a generation reloads the model first; but a model whose load
hung (its chat template never ended, or no progress) is not loaded again by itself: replies fail
at once with :class:`~autoglm_desktop.core.common.errors.ModelLoadHungError` until the user loads
it again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import cast

from autoglm_desktop.core.common import errors, paths
from autoglm_desktop.core.common.types import (
    ChatTurn,
    LoadPlan,
    ModelInfo,
    SamplingSettings,
    Thinking,
)
from autoglm_desktop.core.common.untrusted_text import plain_message
from autoglm_desktop.core.engine.events import (
    Embeddings,
    EngineEvent,
    GenerationFinished,
    ModelLoaded,
)
from autoglm_desktop.core.engine.process import engine_main
from autoglm_desktop.core.engine.protocol import (
    BatchEvent,
    BatchMessage,
    BatchOpen,
    Busy,
    EmbedRequest,
    EngineFailure,
    GenerateRequest,
    LoadRequest,
    Request,
    RequestDone,
    ShutdownRequest,
    Stage,
)

POLL_SECONDS = 0.05
SHUTDOWN_GRACE_SECONDS = 2.0
KILL_WAIT_SECONDS = 5.0


@dataclass(frozen=True, kw_only=True)
class EngineDeadlines:
    """How long the client waits on the engine before it kills the process.

    The silences are between two messages of the engine (it beats at least twice a second while
    llama.cpp works); the template's is one run of the model's chat template.
    """

    stop_grace_s: float = 2.0  # from Stop to the end of the request
    load_silence_s: float = 300.0
    template_s: float = 20.0  # above the engine's own limit: the kill is the last resort
    reply_silence_s: float = 120.0  # prompt evaluation, one token, storing the KV state
    # The engine's own limit on one run of the chat template (None: the runtime's, 10 s).
    template_limit_s: float | None = None

    def silence_for(self, stage: Stage) -> float:
        if stage is Stage.LOAD:
            return self.load_silence_s
        if stage is Stage.TEMPLATE:
            return self.template_s
        return self.reply_silence_s


def describe_exit(exitcode: int | None) -> str:
    """Explain in plain words how the engine process ended."""
    if exitcode is None:
        return "The model engine stopped responding."
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGKILL":
            return (
                "The model engine was killed (SIGKILL), most likely because the computer ran "
                "out of memory. Try a smaller model or a shorter context."
            )
        if name == "SIGSEGV":
            return "The model engine crashed inside llama.cpp (segmentation fault)."
        if name == "SIGABRT":
            return "The model engine aborted inside llama.cpp."
        return f"The model engine stopped unexpectedly ({name})."
    return f"The model engine exited unexpectedly (exit code {exitcode})."


class EngineClient:
    """Drives one engine process; restarts it on demand after a crash or an unload."""

    def __init__(
        self,
        *,
        log_path: Path | None = None,
        kv_cache_dir: Path | None = None,
        deadlines: EngineDeadlines | None = None,
    ) -> None:
        """``kv_cache_dir``: where conversations' KV states persist (default: the app's cache)."""
        self._mp = multiprocessing.get_context("spawn")
        self._stop_event = self._mp.Event()
        self._deadlines = deadlines or EngineDeadlines()
        self._log_path = log_path
        self._kv_cache_dir = kv_cache_dir
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._plan: LoadPlan | None = None
        self._hung_plan: LoadPlan | None = None  # a plan whose load hung: not loaded by itself
        self._model_info: ModelInfo | None = None
        self._parallel = 1
        self._outbox: Callable[[], Sequence[BatchMessage]] | None = None

    # -- state ---------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def plan(self) -> LoadPlan | None:
        """The plan of the model in use (kept across crashes and idle unloads)."""
        return self._plan

    @property
    def parallel(self) -> int:
        """How many replies the loaded engine decodes together (see :meth:`run_batch`)."""
        return self._parallel

    @property
    def model_info(self) -> ModelInfo | None:
        return self._model_info if self.is_running else None

    # -- requests ------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop the current load or generation as soon as possible. Safe from any thread."""
        self._stop_event.set()

    def load(self, plan: LoadPlan, *, parallel: int = 1) -> Iterator[EngineEvent]:
        """Load a model in a fresh engine process, yielding progress, then ``ModelLoaded``.

        ``parallel`` > 1 lets :meth:`run_batch` decode that many replies together.

        If the engine dies meanwhile, the plan is kept: the next :meth:`generate` tries it
        again (a plan the engine refused, or a cancelled load, is not kept). If the load hangs
        (``EngineHungError``), the plan is kept but not tried by itself: the next replies fail
        at once with ``ModelLoadHungError``, until this method is called again.
        """
        self._hung_plan = None  # the user asks for it: try again
        return self._load(plan, parallel=parallel)

    def _load(self, plan: LoadPlan, *, parallel: int) -> Iterator[EngineEvent]:
        self._stop_event.clear()
        self.shutdown()
        self._plan = None
        self._start_process(hide_gpus=not plan.use_gpu)
        kv_dir = self._kv_cache_dir or paths.cache_dir() / "kv"
        try:
            self._parallel = parallel
            load = LoadRequest(plan=plan, kv_cache_dir=kv_dir, parallel=parallel)
            for event in self._request(load):
                if isinstance(event, ModelLoaded):
                    self._plan, self._model_info = plan, event.info
                yield event
        except errors.EngineCrashedError:
            self._plan = plan
            raise
        except errors.EngineHungError:
            self._plan = self._hung_plan = plan
            raise

    def generate(
        self,
        *,
        turns: Sequence[ChatTurn],
        system_prompt: str = "",
        sampling: SamplingSettings | None = None,
        thinking: Thinking = Thinking.DEFAULT,
    ) -> Iterator[EngineEvent]:
        """Stream a reply to ``turns``. Reloads the model first if its engine is gone.

        ``thinking``: the conversation's Think setting (the model's own where it has no switch).
        """
        return self.run(
            GenerateRequest(
                turns=tuple(turns),
                system_prompt=system_prompt,
                sampling=sampling or SamplingSettings(),
                thinking=thinking,
            )
        )

    def run(self, request: GenerateRequest) -> Iterator[EngineEvent]:
        """Stream the reply to ``request`` (the server's, with its options and id).

        Reloads the model first if its engine is gone.
        """
        self._stop_event.clear()
        if self._plan is None:
            raise errors.NoModelLoadedError("No model is loaded. Choose a model first.")
        if not self.is_running:
            plan = self._plan
            self._refuse_hung_plan()
            try:
                yield from self._load(plan, parallel=self._parallel)
            except errors.OperationCancelledError:
                self._plan = plan  # stopped during the reload: the model is still the one in use
                raise
            if self._stop_event.is_set():
                return
        yield from self._request(request)

    def embed(self, request: EmbedRequest) -> Iterator[EngineEvent]:
        """Embeddings of ``request``'s texts: one ``Embeddings`` event (after a reload, if any)."""
        self._stop_event.clear()
        if self._plan is None:
            raise errors.NoModelLoadedError("No model is loaded. Choose a model first.")
        if not self.is_running:
            self._refuse_hung_plan()
            yield from self._load(self._plan, parallel=self._parallel)
        yield from self._request(request)

    def run_batch(
        self, outbox: Callable[[], Sequence[BatchMessage]]
    ) -> Iterator[BatchEvent | EngineEvent]:
        """Batch mode: the replies ``outbox`` hands over are decoded together.

        ``outbox`` is asked, between the engine's messages and at least every
        ``POLL_SECONDS``, for what to send: ``BatchAdd``, ``BatchCancel``, and at last
        ``BatchClose``, after which the engine ends batch mode once its replies are over.
        Each reply's events come as :class:`BatchEvent`; a reload after a crash comes first.
        Needs a model loaded with ``parallel`` > 1.
        """
        self._stop_event.clear()
        if self._plan is None:
            raise errors.NoModelLoadedError("No model is loaded. Choose a model first.")
        if not self.is_running:
            self._refuse_hung_plan()
            yield from self._load(self._plan, parallel=self._parallel)
        self._outbox = outbox
        try:
            for message in self._request(BatchOpen()):
                yield cast(BatchEvent | EngineEvent, message)
        finally:
            self._outbox = None

    def unload(self, *, keep_plan: bool = False) -> None:
        """End the engine process, so all its memory goes back to the OS.

        With ``keep_plan`` the next :meth:`generate` reloads the same model transparently.
        """
        self.shutdown()
        if not keep_plan:
            self._plan = self._hung_plan = None

    def shutdown(self) -> None:
        """End the engine process: politely, then, after a short grace, by force."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None or conn is None:
            return
        with contextlib.suppress(OSError, ValueError):
            conn.send(ShutdownRequest())
        process.join(SHUTDOWN_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join(KILL_WAIT_SECONDS)
        conn.close()

    def kill(self) -> None:
        """Kill the engine process now. Safe from any thread.

        The request in progress, if any, ends with ``EngineCrashedError``; the next one starts
        a fresh engine.
        """
        process = self._process
        if process is not None and process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                process.kill()

    def check_engine(self) -> errors.EngineCrashedError | None:
        """Between requests: the error that says how the engine died, once, if it did.

        A dead engine is forgotten (the model's plan is kept), so the next :meth:`generate`
        starts a fresh one and reloads the model.
        """
        process = self._process
        if process is None or process.is_alive():
            return None
        try:
            self._raise_crashed()
        except errors.EngineCrashedError as error:
            return error
        return None  # pragma: no cover - _raise_crashed always raises

    # -- plumbing ------------------------------------------------------------------------

    def _refuse_hung_plan(self) -> None:
        """Before a reload: fail at once if the model's load hung the last time."""
        plan = self._plan
        if plan is not None and plan == self._hung_plan:
            name = plan.model_path.stem
            raise errors.ModelLoadHungError(
                f"Loading {name} hung the last time (the model engine had to be stopped), so it "
                "is not tried again with every message. Load it again to retry, or choose "
                "another model.",
                model_name=name,
            )

    def _start_process(self, *, hide_gpus: bool = False) -> None:
        parent_conn, child_conn = self._mp.Pipe(duplex=True)
        process = self._mp.Process(
            target=engine_main,
            args=(
                child_conn,
                self._stop_event,
                self._log_path,
                hide_gpus,
                self._deadlines.template_limit_s,
            ),
            name="autoglm-engine",
            daemon=True,
        )
        process.start()
        child_conn.close()
        self._process, self._conn = process, parent_conn

    def _request(self, request: Request) -> Iterator[EngineEvent]:
        conn = self._conn
        assert conn is not None
        try:
            conn.send(request)
        except (OSError, ValueError):
            self._raise_crashed()
        watch = _Watch(
            deadlines=self._deadlines,
            stop_requested=self._stop_event.is_set,
            is_load=isinstance(request, LoadRequest),
        )
        done = False
        try:
            while True:
                message = self._receive(conn, watch)
                if isinstance(message, RequestDone):
                    done = True
                    return
                if isinstance(message, EngineFailure):
                    self._drain_until_done(conn, watch)
                    done = True
                    raise error_from_failure(message)
                yield cast(EngineEvent, message)
        finally:
            if not done and self._conn is conn:
                # The caller abandoned the request: stop it and leave the pipe clean for the next
                # (or, if the engine does not stop in time, end it).
                self._stop_event.set()
                with contextlib.suppress(errors.AutoGLMError):
                    self._drain_until_done(conn, watch)

    def _drain_until_done(self, conn: Connection, watch: _Watch) -> None:
        while not isinstance(self._receive(conn, watch), RequestDone):
            pass

    def _receive(self, conn: Connection, watch: _Watch) -> object:
        """The engine's next message other than a beat; kills an engine past its deadline."""
        process = self._process
        while True:
            try:
                for outgoing in self._outbox() if self._outbox is not None else ():
                    conn.send(outgoing)
                if conn.poll(POLL_SECONDS):
                    message = conn.recv()
                    watch.heard(message)
                    if not isinstance(message, Busy):
                        return message
                    continue
            except (EOFError, OSError):
                self._raise_crashed()
            if process is None or not process.is_alive():
                self._raise_crashed()
            overdue = watch.overdue()
            if overdue is not None:
                self._kill_overdue(overdue)

    def _kill_overdue(self, error: errors.AutoGLMError) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None  # the next request starts a fresh engine
        if process is not None:
            process.kill()
            process.join(KILL_WAIT_SECONDS)
        if conn is not None:
            conn.close()
        raise error

    def _raise_crashed(self) -> None:
        process = self._process
        exitcode = None
        if process is not None:
            process.join(1.0)
            exitcode = process.exitcode
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None  # the next request starts a fresh engine
        message = describe_exit(exitcode)
        if self._log_path is not None and exitcode is not None and exitcode < 0:
            message += f" llama.cpp's last messages are in {self._log_path}."
        raise errors.EngineCrashedError(message, exitcode=exitcode)


def error_from_failure(failure: EngineFailure) -> errors.AutoGLMError:
    """The typed error an engine's failure report names."""
    message = plain_message(failure.message)  # the engine cleans it too; this side trusts none
    error_class = getattr(errors, failure.kind, None)
    if isinstance(error_class, type) and issubclass(error_class, errors.AutoGLMError):
        if error_class is errors.EngineCrashedError:
            return errors.EngineCrashedError(message)
        try:
            return error_class(message)
        except TypeError:  # a class with required keyword arguments (GatedModelError...)
            return errors.EngineError(message)
    return errors.EngineError(message)


class _Watch:
    """The deadlines of one request, as its messages arrive."""

    def __init__(
        self, *, deadlines: EngineDeadlines, stop_requested: Callable[[], bool], is_load: bool
    ) -> None:
        self._deadlines = deadlines
        self._stop_requested = stop_requested
        self._is_load = is_load
        self._stage = Stage.LOAD if is_load else Stage.REPLY
        self._last_heard = time.monotonic()
        self._stop_seen: float | None = None
        self._answered = False  # the reply or the model is out: Stop has nothing left to stop

    def heard(self, message: object) -> None:
        self._last_heard = time.monotonic()
        if isinstance(message, Busy):
            self._stage = message.stage
        elif isinstance(message, GenerationFinished | ModelLoaded | Embeddings):
            self._answered = True

    def overdue(self) -> errors.AutoGLMError | None:
        """The error to end the request with, once the engine is past a deadline."""
        now = time.monotonic()
        if self._stop_requested() and not self._answered:
            if self._stop_seen is None:
                self._stop_seen = now
            elif now - self._stop_seen > self._deadlines.stop_grace_s:
                return self._ignored_stop()
        silence = self._deadlines.silence_for(self._stage)
        if now - self._last_heard > silence:
            return self._silent(silence)
        return None

    def _ignored_stop(self) -> errors.AutoGLMError:
        if self._is_load:
            return errors.OperationCancelledError("Loading the model was cancelled.")
        doing = " (it was running the model's chat template)" if self._template else ""
        return errors.EngineHungError(
            f"The model engine did not stop within {self._deadlines.stop_grace_s:g} seconds"
            f"{doing}, so it was restarted. Your next message reloads the model.",
            restarted=True,
        )

    def _silent(self, seconds: float) -> errors.AutoGLMError:
        if self._stage is Stage.LOAD:
            text = (
                f"Loading the model made no progress for {seconds:g} seconds, so the model engine "
                "was restarted. Load it again to retry, or choose another model."
            )
        elif self._template:
            text = (
                f"The model's chat template did not finish within {seconds:g} seconds (it seems "
                "to loop forever), so the model engine was restarted. Choose another model."
            )
        else:
            text = (
                f"The model engine stopped responding for {seconds:g} seconds while writing the "
                "reply, so it was restarted. Your next message reloads the model."
            )
        return errors.EngineHungError(text, restarted=True)

    @property
    def _template(self) -> bool:
        return self._stage is Stage.TEMPLATE
