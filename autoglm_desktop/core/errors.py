"""Typed errors raised by the core. Callers handle cases, not strings.

Every error carries a message a non-programmer can read; the Qt layer shows ``str(error)``.
"""

from __future__ import annotations


class AutoGLMError(Exception):
    """Base class of every error the core raises on purpose."""


class ModelFileError(AutoGLMError):
    """A model file is missing, unreadable or not a GGUF model llama.cpp can load."""


class ModelLoadError(AutoGLMError):
    """llama.cpp could not load the model with the requested plan (memory, format...)."""


class EngineCrashedError(AutoGLMError):
    """The engine process died (native crash, abort, out-of-memory kill)."""

    def __init__(self, message: str, *, exitcode: int | None = None) -> None:
        super().__init__(message)
        self.exitcode = exitcode


class EngineError(AutoGLMError):
    """The engine reported an error while handling a request."""


class NoModelLoadedError(AutoGLMError):
    """A generation was requested before any model was loaded."""


class PromptTooLongError(AutoGLMError):
    """Even the newest message alone does not fit in the context window."""


class StoreError(AutoGLMError):
    """The chat history database could not be read or written."""


class ConversationNotFoundError(StoreError):
    """No conversation with that id."""


class MessageNotFoundError(StoreError):
    """No message with that id."""


class StarterModelError(AutoGLMError):
    """The embedded starter model could not be obtained."""


class ExportError(AutoGLMError):
    """A conversation could not be exported (unsupported file type, unwritable file)."""


class OperationCancelledError(AutoGLMError):
    """The user cancelled the operation (loading a model, for instance)."""


class GGUFFormatError(ModelFileError):
    """A file is not a GGUF model, or its GGUF structure is truncated or damaged."""
