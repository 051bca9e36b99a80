"""The engine process's main loop: receive a request, run it, stream events back.

This is the target of a ``spawn``-ed process. It imports llama.cpp only once it runs, so the
parent never loads native inference code.
"""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.engine.events import GenerationFinished, ModelLoaded
from autoglm_desktop.core.engine.protocol import (
    EngineFailure,
    GenerateRequest,
    LoadRequest,
    RequestDone,
    ShutdownRequest,
)


def _redirect_stderr(log_path: Path | None) -> None:
    """Send llama.cpp's native stderr to a log file, so a crash leaves its last words there."""
    if log_path is None:
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    os.dup2(log.fileno(), 2)
    sys.stderr = log


# Environment variables that make each GPU backend of llama.cpp see no device.
GPU_HIDING_ENV = {
    "CUDA_VISIBLE_DEVICES": "",
    "HIP_VISIBLE_DEVICES": "",
    "ROCR_VISIBLE_DEVICES": "",
    "GGML_VK_VISIBLE_DEVICES": "",
}


def engine_main(
    conn: Connection, stop_event: Event, log_path: Path | None = None, hide_gpus: bool = False
) -> None:
    """Serve requests from ``conn`` until it closes or a shutdown arrives.

    With ``hide_gpus`` llama.cpp finds no GPU, so it puts nothing at all in GPU memory.
    """
    _redirect_stderr(log_path)
    if hide_gpus:
        os.environ.update(GPU_HIDING_ENV)  # before llama.cpp initialises its backends
    from autoglm_desktop.core.engine.runtime import LlamaRuntime  # heavy: llama.cpp

    runtime = LlamaRuntime(stop_requested=stop_event.is_set, emit=conn.send)
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                break  # the app went away: nothing left to serve
            if isinstance(request, ShutdownRequest):
                break
            try:
                if isinstance(request, LoadRequest):
                    info = runtime.load(request.plan, kv_cache_dir=request.kv_cache_dir)
                    conn.send(ModelLoaded(info=info))
                elif isinstance(request, GenerateRequest):
                    conn.send(GenerationFinished(stats=runtime.generate(request)))
                    runtime.remember_state()  # after the reply is out; disk writes go on aside
            except AutoGLMError as exc:
                conn.send(EngineFailure(kind=type(exc).__name__, message=str(exc)))
            except Exception as exc:  # report anything else instead of dying silently
                conn.send(EngineFailure(kind="EngineError", message=f"Engine error: {exc!r}"))
            conn.send(RequestDone())
    finally:
        runtime.close()
