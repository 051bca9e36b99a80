"""The app's side of the engine: starts the engine process and talks to it over a pipe.

Use from one thread (the Qt worker thread); only :meth:`EngineClient.request_stop` may be
called from any thread: it sets a flag shared with the engine process, so stopping never waits
behind queued work.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import cast

from autoglm_desktop.core.common import errors, paths
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, ModelInfo, SamplingSettings
from autoglm_desktop.core.engine.events import EngineEvent, ModelLoaded
from autoglm_desktop.core.engine.process import engine_main
from autoglm_desktop.core.engine.protocol import (
    EngineFailure,
    GenerateRequest,
    LoadRequest,
    Request,
    RequestDone,
    ShutdownRequest,
)

POLL_SECONDS = 0.05
SHUTDOWN_GRACE_SECONDS = 5.0


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

    def __init__(self, *, log_path: Path | None = None, kv_cache_dir: Path | None = None) -> None:
        """``kv_cache_dir``: where conversations' KV states persist (default: the app's cache)."""
        self._mp = multiprocessing.get_context("spawn")
        self._stop_event = self._mp.Event()
        self._log_path = log_path
        self._kv_cache_dir = kv_cache_dir
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._plan: LoadPlan | None = None
        self._model_info: ModelInfo | None = None

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
    def model_info(self) -> ModelInfo | None:
        return self._model_info if self.is_running else None

    # -- requests ------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop the current load or generation as soon as possible. Safe from any thread."""
        self._stop_event.set()

    def load(self, plan: LoadPlan) -> Iterator[EngineEvent]:
        """Load a model in a fresh engine process, yielding progress, then ``ModelLoaded``."""
        self._stop_event.clear()
        self.shutdown()
        self._plan = None
        self._start_process(hide_gpus=not plan.use_gpu)
        kv_dir = self._kv_cache_dir or paths.cache_dir() / "kv"
        for event in self._request(LoadRequest(plan=plan, kv_cache_dir=kv_dir)):
            if isinstance(event, ModelLoaded):
                self._plan, self._model_info = plan, event.info
            yield event

    def generate(
        self,
        *,
        turns: Sequence[ChatTurn],
        system_prompt: str = "",
        sampling: SamplingSettings | None = None,
    ) -> Iterator[EngineEvent]:
        """Stream a reply to ``turns``. Reloads the model first if its engine is gone."""
        self._stop_event.clear()
        if self._plan is None:
            raise errors.NoModelLoadedError("No model is loaded. Choose a model first.")
        if not self.is_running:
            yield from self.load(self._plan)
            if self._stop_event.is_set():
                return
        yield from self._request(
            GenerateRequest(
                turns=tuple(turns),
                system_prompt=system_prompt,
                sampling=sampling or SamplingSettings(),
            )
        )

    def unload(self, *, keep_plan: bool = False) -> None:
        """End the engine process, so all its memory goes back to the OS.

        With ``keep_plan`` the next :meth:`generate` reloads the same model transparently.
        """
        self.shutdown()
        if not keep_plan:
            self._plan = None

    def shutdown(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None or conn is None:
            return
        with contextlib.suppress(OSError, ValueError):
            conn.send(ShutdownRequest())
        process.join(SHUTDOWN_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
        conn.close()

    # -- plumbing ------------------------------------------------------------------------

    def _start_process(self, *, hide_gpus: bool = False) -> None:
        parent_conn, child_conn = self._mp.Pipe(duplex=True)
        process = self._mp.Process(
            target=engine_main,
            args=(child_conn, self._stop_event, self._log_path, hide_gpus),
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
        done = False
        try:
            while True:
                message = self._receive(conn)
                if isinstance(message, RequestDone):
                    done = True
                    return
                if isinstance(message, EngineFailure):
                    self._drain_until_done(conn)
                    done = True
                    raise _failure_to_error(message)
                yield cast(EngineEvent, message)
        finally:
            if not done and self._conn is conn:
                # The caller abandoned the request: stop it and leave the pipe clean for the next.
                self._stop_event.set()
                self._drain_until_done(conn)

    def _drain_until_done(self, conn: Connection) -> None:
        while not isinstance(self._receive(conn), RequestDone):
            pass

    def _receive(self, conn: Connection) -> object:
        process = self._process
        while True:
            try:
                if conn.poll(POLL_SECONDS):
                    return conn.recv()
            except (EOFError, OSError):
                self._raise_crashed()
            if process is None or not process.is_alive():
                self._raise_crashed()

    def _raise_crashed(self) -> None:
        process = self._process
        exitcode = None
        if process is not None:
            process.join(1.0)
            exitcode = process.exitcode
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None  # the next request starts a fresh engine
        raise errors.EngineCrashedError(describe_exit(exitcode), exitcode=exitcode)


def _failure_to_error(failure: EngineFailure) -> errors.AutoGLMError:
    error_class = getattr(errors, failure.kind, None)
    if isinstance(error_class, type) and issubclass(error_class, errors.AutoGLMError):
        if error_class is errors.EngineCrashedError:
            return errors.EngineCrashedError(failure.message)
        return error_class(failure.message)
    return errors.EngineError(failure.message)
