"""The engine: llama.cpp in a process of its own, driven through :class:`EngineClient`.

A crash in native code (segfault, abort, out-of-memory kill) ends only the engine process;
the client reports it as :class:`~autoglm_desktop.core.common.errors.EngineCrashedError` and the
next request starts a fresh process. Also here: which backends the installed llama.cpp has
(``build``, ``ggml_backends``). The only package that imports ``llama_cpp``; may import
``core.common``, ``core.models`` and ``core.machine``.
"""

from autoglm_desktop.core.engine.client import EngineClient
from autoglm_desktop.core.engine.events import (
    ContextTrimmed,
    EngineEvent,
    GenerationFinished,
    LoadProgress,
    ModelLoaded,
    ReasoningChunk,
    TokenChunk,
)

__all__ = [
    "ContextTrimmed",
    "EngineClient",
    "EngineEvent",
    "GenerationFinished",
    "LoadProgress",
    "ModelLoaded",
    "ReasoningChunk",
    "TokenChunk",
]
