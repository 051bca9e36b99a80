"""The window's local server: started and stopped off the GUI thread, its log as signals.

:class:`LocalServer` runs :class:`~autoglm_desktop.core.server.runner.ServerThread` over the
engine worker's :class:`~autoglm_desktop.core.engine.shared_engine.SharedEngine`. Starting binds
the port and waits for uvicorn; stopping ends the server's requests in the queue (with a clear
error for their callers), then waits for uvicorn to close: both on a thread of their own,
never on the GUI thread. Starlette, pydantic and uvicorn are imported the first time the server
starts, so a window that never serves never loads them.

Each answered request comes from the server's thread as a
:class:`~autoglm_desktop.core.server.request_log.RequestRecord` and is re-emitted on the GUI
thread as ``requestLogged``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot

from autoglm_desktop.core.common.errors import AutoGLMError, NoModelLoadedError
from autoglm_desktop.core.engine.request_queue import SOURCE_API, EngineQueue
from autoglm_desktop.core.engine.shared_engine import SharedEngine
from autoglm_desktop.core.server.config import DEFAULT_HOST, NETWORK_HOST, ServerConfig
from autoglm_desktop.core.server.request_log import RequestRecord, RequestSink
from autoglm_desktop.qt.workers.background import CallRunner

if TYPE_CHECKING:
    from autoglm_desktop.core.server.runner import ServerThread

TURNED_OFF = "The local server of AutoGLM Desktop was turned off."


class ServerState(enum.Enum):
    OFF = "off"
    STARTING = "starting"
    ON = "on"
    STOPPING = "stopping"


class LocalServer(QObject):
    """Runs the window's server; its state, failures and requests come as signals.

    Signals: ``stateChanged(ServerState)``; ``failed(AutoGLMError)``: it could not start (or
    stop cleanly); ``requestLogged(RequestRecord)``.
    """

    stateChanged = Signal(object)
    failed = Signal(object)
    requestLogged = Signal(object)
    _logged = Signal(object)  # emitted on the server's thread, delivered on the GUI thread

    def __init__(self, engine: SharedEngine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine = engine
        self._calls = CallRunner(self, name="local server")
        self._server: ServerThread | None = None
        self.state = ServerState.OFF
        self.config: ServerConfig | None = None  # of the server running
        self._logged.connect(self._on_logged, Qt.ConnectionType.QueuedConnection)

    @property
    def base_url(self) -> str:
        """The address programs on this computer use while on (``http://HOST:PORT/v1``); "" off."""
        server = self._server
        if server is None:
            return ""
        if server.host == NETWORK_HOST:  # every interface: this computer's own among them
            return f"http://{DEFAULT_HOST}:{server.port}/v1"
        return server.base_url

    @property
    def port(self) -> int | None:
        return self._server.port if self._server is not None else None

    def start(self, make_config: Callable[[], ServerConfig]) -> None:
        """Start serving; the answer comes as ``stateChanged`` (ON or OFF) and ``failed``.

        Args:
            make_config: gives the settings, off the GUI thread (it may ask the keyring);
                raises ``AutoGLMError`` for settings that cannot be served.
        """
        if self.state is not ServerState.OFF:
            return
        self._set_state(ServerState.STARTING)
        engine, sink = self._engine, self._logged.emit

        def start() -> tuple[ServerThread, ServerConfig]:
            config = make_config()
            return _start_server(engine=engine, config=config, on_request=sink), config

        self._calls.run(start, on_success=self._on_started, on_failure=self._on_start_failed)

    def stop(self) -> None:
        """Stop serving: the server's requests end, the port closes (off the GUI thread)."""
        server = self._server
        if self.state is not ServerState.ON or server is None:
            return
        self._set_state(ServerState.STOPPING)
        engine = self._engine
        self._calls.run(
            lambda: _stop_server(server, engine),
            on_success=lambda _none: self._on_stopped(),
            on_failure=self._on_stop_failed,
        )

    def close(self) -> None:
        """The window closes: stop now, on this thread (the requests are cut short)."""
        self._calls.close()
        server, self._server = self._server, None
        if server is not None:
            _stop_server(server, self._engine)
        self.state = ServerState.OFF

    # -- answers -------------------------------------------------------------------------

    def _on_started(self, started: tuple[ServerThread, ServerConfig]) -> None:
        self._server, self.config = started
        self._set_state(ServerState.ON)

    def _on_start_failed(self, error: AutoGLMError) -> None:
        self.config = None
        self._set_state(ServerState.OFF)
        self.failed.emit(error)

    def _on_stopped(self) -> None:
        self._server = None
        self.config = None
        self._set_state(ServerState.OFF)

    def _on_stop_failed(self, error: AutoGLMError) -> None:
        self._on_stopped()  # its thread is a daemon: the app still closes
        self.failed.emit(error)

    def _set_state(self, state: ServerState) -> None:
        self.state = state
        self.stateChanged.emit(state)

    @Slot(object)
    def _on_logged(self, record: RequestRecord) -> None:
        self.requestLogged.emit(record)


def _start_server(
    *, engine: SharedEngine, config: ServerConfig, on_request: RequestSink
) -> ServerThread:
    # Starlette, pydantic and uvicorn (about half a second of imports): only once switched on.
    from autoglm_desktop.core.server.app import build_app
    from autoglm_desktop.core.server.runner import ServerThread

    server = ServerThread(
        build_app(engine=engine, config=config, on_request=on_request), config=config
    )
    server.start()
    return server


def _stop_server(server: ServerThread, engine: SharedEngine) -> None:
    """End the server's requests with a clear error, then stop it (the port closes)."""
    current = engine.current()
    if isinstance(current, EngineQueue):
        current.cancel_source(SOURCE_API, error=NoModelLoadedError(TURNED_OFF))
    server.stop()
