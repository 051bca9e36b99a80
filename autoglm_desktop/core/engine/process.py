"""The engine process's main loop: receive a request, run it, stream events back.

This is the target of a ``spawn``-ed process. It imports llama.cpp only once it runs, so the
parent never loads native inference code.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import TYPE_CHECKING

from autoglm_desktop.core.common.error_text import describe_exception, sentence
from autoglm_desktop.core.common.errors import AutoGLMError, OperationCancelledError
from autoglm_desktop.core.common.types import GenerationStats, StopReason
from autoglm_desktop.core.common.untrusted_text import plain_message
from autoglm_desktop.core.engine.events import Embeddings, GenerationFinished, ModelLoaded
from autoglm_desktop.core.engine.protocol import (
    BatchAdd,
    BatchCancel,
    BatchClose,
    BatchEvent,
    BatchOpen,
    Busy,
    EmbedRequest,
    EngineFailure,
    GenerateRequest,
    LoadRequest,
    RequestDone,
    ShutdownRequest,
    Stage,
)

if TYPE_CHECKING:
    from autoglm_desktop.core.engine.batch import BatchDecoder
    from autoglm_desktop.core.engine.runtime import LlamaRuntime

# The engine log is moved aside once it grows past this (one older copy is kept).
MAX_LOG_BYTES = 4 << 20
# At most one beat per this many seconds (the client's deadlines are many times longer).
BEAT_SECONDS = 0.5


def _redirect_native_output(log_path: Path | None) -> None:
    """Send everything written to fd 1 and fd 2 (llama.cpp's logs, an abort's backtrace) to a log.

    Native code writes to the file descriptors directly, so they are replaced at the OS level;
    the requests and replies travel on their own pipe. A crash leaves its last words in the log.
    """
    if log_path is None:
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # keep one older log: each engine start appends
        if log_path.stat().st_size > MAX_LOG_BYTES:
            log_path.replace(log_path.with_name(log_path.name + ".1"))
    log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    log.write(f"--- engine process {os.getpid()} started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    for fd in (1, 2):
        os.dup2(log.fileno(), fd)
    sys.stdout = sys.stderr = log


# Environment variables that make each GPU backend of llama.cpp see no device.
GPU_HIDING_ENV = {
    "CUDA_VISIBLE_DEVICES": "",
    "HIP_VISIBLE_DEVICES": "",
    "ROCR_VISIBLE_DEVICES": "",
    "GGML_VK_VISIBLE_DEVICES": "",
}


def prepare_native_process(*, hide_gpus: bool) -> None:
    """Settle, before llama.cpp loads in this process, that a native crash ends it at once.

    On an assertion ggml forks a debugger (gdb, else lldb) to print a backtrace and waits for
    it: a debugger that is slow or stuck (one that looks for symbols on a network it cannot
    reach) keeps the dead engine alive while its heartbeat thread still beats, and the reply
    hangs. ``GGML_NO_BACKTRACE`` skips that; the assertion's own message still reaches the log.
    Nor does a crash leave a core file of the model's size in the user's working folder.

    With ``hide_gpus`` llama.cpp finds no GPU, so it puts nothing at all in GPU memory.
    """
    os.environ["GGML_NO_BACKTRACE"] = "1"
    if sys.platform != "win32":
        import resource

        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if hide_gpus:
        os.environ.update(GPU_HIDING_ENV)  # before llama.cpp initialises its backends


class _Beacon:
    """Tells the client which stage the engine is in, and beats while the work goes on.

    The beats ride on llama.cpp's own callbacks (load progress, the abort check of each graph
    node, the stopping check of each token), which all ask whether to stop: a beat is sent at
    most every ``BEAT_SECONDS`` from those calls, and only from the main thread (the chat
    template's watchdog asks too, from its own thread: a stuck template must stay silent).
    """

    def __init__(self, conn: Connection, stop_event: Event) -> None:
        self._conn = conn
        self._stop_event = stop_event
        self._stage = Stage.LOAD
        self._last_beat = 0.0

    def stop_requested(self) -> bool:
        main = threading.current_thread() is threading.main_thread()
        if main and time.monotonic() - self._last_beat >= BEAT_SECONDS:
            self._beat()
        return self._stop_event.is_set()

    def enter(self, stage: Stage) -> None:
        self._stage = stage
        self._beat()

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        with contextlib.suppress(OSError, ValueError):  # the app went away; recv() will tell
            self._conn.send(Busy(stage=self._stage))


def engine_main(
    conn: Connection,
    stop_event: Event,
    log_path: Path | None = None,
    hide_gpus: bool = False,
    template_limit_s: float | None = None,
) -> None:
    """Serve requests from ``conn`` until it closes or a shutdown arrives.

    With ``hide_gpus`` llama.cpp finds no GPU, so it puts nothing at all in GPU memory.
    ``template_limit_s``: the chat template's time limit (None: the runtime's default).
    """
    _redirect_native_output(log_path)
    prepare_native_process(hide_gpus=hide_gpus)
    from autoglm_desktop.core.engine.runtime import (  # heavy: llama.cpp
        TEMPLATE_LIMIT_SECONDS,
        LlamaRuntime,
    )

    beacon = _Beacon(conn, stop_event)
    batches = _Batches(conn)
    runtime = LlamaRuntime(
        stop_requested=beacon.stop_requested,
        emit=conn.send,
        template_limit_s=TEMPLATE_LIMIT_SECONDS if template_limit_s is None else template_limit_s,
        report_stage=beacon.enter,
    )
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                break  # the app went away: nothing left to serve
            if isinstance(request, ShutdownRequest):
                break
            try:
                if isinstance(request, BatchOpen):
                    _serve_batch(batches.decoder(runtime), conn=conn, beacon=beacon)
                else:
                    batches.forget()  # the single-reply path clears other sequences' cells
                    _serve(runtime, request, conn=conn, beacon=beacon)
            except Exception as exc:  # report anything, in plain words, instead of dying
                batches.forget()
                conn.send(failure_of(exc, request))
            conn.send(RequestDone())
    finally:
        batches.forget()
        runtime.close()


def failure_of(error: Exception, request: object) -> EngineFailure:
    """The reply that reports ``error``: a typed kind and a short, plain, printable message.

    The message is cut and cleaned here, in the engine, so a 100 MB message from a model never
    crosses the pipe. An unexpected exception is told in plain words for what was being done.
    """
    if isinstance(error, AutoGLMError):
        return EngineFailure(kind=type(error).__name__, message=plain_message(error))
    print(f"Unexpected engine error: {error!r:.2000}", file=sys.stderr)  # to the engine log
    detail = describe_exception(error)
    if isinstance(request, LoadRequest):
        name = plain_message(request.plan.model_path.name, limit=120)
        return EngineFailure(
            kind="ModelLoadError",
            message=f"{name} could not be loaded: the file looks damaged or is not a model "
            f"({detail}).",
        )
    return EngineFailure(
        kind="EngineError", message=sentence("The model engine failed while replying", detail)
    )


def _serve(
    runtime: LlamaRuntime,
    request: LoadRequest | GenerateRequest | EmbedRequest,
    *,
    conn: Connection,
    beacon: _Beacon,
) -> None:
    if isinstance(request, LoadRequest):
        beacon.enter(Stage.LOAD)
        info = runtime.load(
            request.plan, kv_cache_dir=request.kv_cache_dir, parallel=request.parallel
        )
        conn.send(ModelLoaded(info=info))
        return
    if isinstance(request, EmbedRequest):
        beacon.enter(Stage.REPLY)
        vectors, tokens = runtime.embed(list(request.texts))
        conn.send(Embeddings(vectors=tuple(tuple(v) for v in vectors), prompt_tokens=tokens))
        return
    beacon.enter(Stage.REPLY)
    try:
        stats = runtime.generate(request)
    except OperationCancelledError:  # stopped before the prompt was even evaluated
        stats = GenerationStats(stop_reason=StopReason.STOPPED.value)
    conn.send(GenerationFinished(stats=stats, request_id=request.request_id))
    try:
        runtime.remember_state()  # after the reply is out; disk writes go on aside
    except Exception as exc:  # only a speed-up is lost: the reply the user has is complete
        print(f"The conversation's KV state was not kept: {exc!r:.2000}", file=sys.stderr)


class _Batches:
    """The batch decoder, kept from one batch-mode stay to the next.

    Its parked cells (finished replies' prompts) serve the next requests that start the same
    way; it is forgotten when anything else uses the context.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._decoder: BatchDecoder | None = None

    def decoder(self, runtime: LlamaRuntime) -> BatchDecoder:
        from autoglm_desktop.core.engine.batch import BatchDecoder  # heavy: llama.cpp

        if self._decoder is None:
            self._decoder = BatchDecoder(runtime, emit=self._emit, fail=self._fail)
        return self._decoder

    def forget(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None

    def _emit(self, request_id: str, event: object) -> None:
        self._conn.send(BatchEvent(request_id=request_id, event=event))

    def _fail(self, request_id: str, error: AutoGLMError) -> None:
        self._emit(request_id, failure_of(error, None))


def _serve_batch(decoder: BatchDecoder, *, conn: Connection, beacon: _Beacon) -> None:
    """Batch mode: decode the replies the client adds, together, until it closes the batch.

    Between two steps the pipe is read for new replies and cancellations; with nothing to
    decode the engine waits on it (beating, so the client knows it is alive). Stop ends every
    reply of the batch.
    """
    beacon.enter(Stage.REPLY)
    closing = False
    while not (closing and not decoder.busy):
        wait = 0.0 if decoder.busy else BEAT_SECONDS
        while conn.poll(wait):
            message = conn.recv()
            if isinstance(message, BatchAdd):
                decoder.add(message.request)
            elif isinstance(message, BatchCancel):
                decoder.cancel(message.request_id)
            elif isinstance(message, BatchClose):
                closing = True
            wait = 0.0
        if beacon.stop_requested():
            decoder.cancel_all()
        decoder.step()
