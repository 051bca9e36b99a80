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


class ModelTooBigError(ModelLoadError):
    """The model's plan does not fit this PC's memory, so it was not loaded."""


class EngineCrashedError(AutoGLMError):
    """The engine process died (native crash, abort, out-of-memory kill)."""

    def __init__(self, message: str, *, exitcode: int | None = None) -> None:
        super().__init__(message)
        self.exitcode = exitcode


class EngineError(AutoGLMError):
    """The engine reported an error while handling a request."""


class EngineHungError(EngineError):
    """The engine did not finish a request in time (or did not honour Stop) and was ended.

    ``restarted`` is true when the client killed the engine process: the next request starts a
    fresh one (and reloads the model), as after a crash.
    """

    def __init__(self, message: str, *, restarted: bool = False) -> None:
        super().__init__(message)
        self.restarted = restarted


class ModelLoadHungError(EngineHungError):
    """Loading this model hung before, so it is not loaded again by itself.

    A reply that would reload it fails at once with this error, until the user loads the model
    again (an explicit load tries it again). ``model_name`` names it.
    """

    def __init__(self, message: str, *, model_name: str = "") -> None:
        super().__init__(message)
        self.model_name = model_name


class ChatTemplateTimeoutError(EngineHungError):
    """The model's chat template ran past its time limit (it loops); the engine cut it short."""


class ChatTemplateMemoryError(EngineError):
    """The model's chat template tried to use more memory than its sandbox allows."""


class NoModelLoadedError(AutoGLMError):
    """A generation was requested before any model was loaded."""


class PromptTooLongError(AutoGLMError):
    """Even the newest message alone does not fit in the context window."""


class RequestError(AutoGLMError):
    """A request the engine cannot serve as asked (an invalid JSON schema or grammar...)."""


class ServerBusyError(AutoGLMError):
    """Too many requests already wait for the model engine (or it is shutting down)."""


class ServerConfigError(AutoGLMError):
    """The local server's settings are unsafe or invalid (a network address without a key...)."""


class PortInUseError(ServerConfigError):
    """The local server's port is taken by another program."""


class StoreError(AutoGLMError):
    """The chat history database could not be read or written."""


class HistoryDamagedError(StoreError):
    """The chat history file is not a SQLite database, or part of it is damaged (truncated...)."""


class HistoryTooNewError(StoreError):
    """The chat history was written by a newer version of the app (a format this one lacks).

    It can still be opened read-only.
    """

    def __init__(self, message: str, *, version: int) -> None:
        super().__init__(message)
        self.version = version


class HistoryReadOnlyError(StoreError):
    """The chat history file, or its folder, cannot be written (permissions, read-only disk)."""


class HistoryLockedError(StoreError):
    """Another program (or another window of the app) holds the chat history; try again."""


class HistoryDiskFullError(StoreError):
    """The disk holding the chat history is full."""


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


class NotRegularFileError(ModelFileError):
    """The path names a folder, a named pipe, a device or a socket, not an ordinary file."""


class DependencyError(AutoGLMError):
    """An installed library is missing or too old for the app to run safely."""


class HubError(AutoGLMError):
    """The model hub could not be used (no network, refused access, missing model...)."""


class NetworkError(HubError):
    """The hub or its download server could not be reached, or the connection kept failing."""


class OfflineModeError(HubError):
    """Offline mode is on, so nothing is fetched from the network."""


class GatedModelError(HubError):
    """The model's authors require an access token (and accepting their terms) to download it."""

    def __init__(self, message: str, *, repo_id: str) -> None:
        super().__init__(message)
        self.repo_id = repo_id


class AccessTokenError(HubError):
    """The hub refused the access token (mistyped, expired or revoked)."""


class HubNotFoundError(HubError):
    """No such model, revision or file on the hub (or it is private)."""


class HubSettingsError(HubError):
    """A hub setting (endpoint address, proxy) is not valid."""


class DownloadError(AutoGLMError):
    """A model download could not finish."""


class DiskFullError(DownloadError):
    """There is not enough free disk space for the download."""


class HashMismatchError(DownloadError):
    """The downloaded file differs from the hub's copy (damaged in transit); it was discarded."""


class NothingFitsError(DownloadError):
    """No model file of a repository fits this PC (or it has no chat model file at all)."""


class LibraryError(AutoGLMError):
    """A model could not be added to, found in, or removed from the local library."""


class SettingsFileError(AutoGLMError):
    """A settings or state file could not be saved (read-only folder, full disk...)."""


class RemoteError(AutoGLMError):
    """A remote (OpenAI-compatible) server could not be used."""


class RemoteSettingsError(RemoteError):
    """A remote server's settings (name, address) are not valid."""


class RemoteUnreachableError(RemoteError):
    """The remote server could not be reached (wrong address, server down, no network)."""


class RemoteAuthError(RemoteError):
    """The remote server refused the API key (401/403)."""


class RemoteKeyMissingError(RemoteAuthError):
    """The server needs an API key that is not stored (no system keyring, a new session)."""


class RemoteModelNotFoundError(RemoteError):
    """The remote server has no such model (404)."""


class RemoteRateLimitError(RemoteError):
    """The remote server asked to slow down (429); ``retry_after_s`` when it said how long."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RemoteRequestError(RemoteError):
    """The remote server refused the request (400, 422...), e.g. a prompt too long for it."""


class RemoteServerError(RemoteError):
    """The remote server failed (5xx) before the reply began."""


class RemoteStreamInterruptedError(RemoteError):
    """The reply broke off mid-stream (server error, dropped connection); the part kept."""


class RemoteStalledError(RemoteError):
    """The remote server sent nothing for too long; the reply was stopped."""
