"""Running the application under uvicorn: in the foreground, or on a thread of its own.

The listening socket is bound here, before uvicorn starts, so a port in use is a typed error
(uvicorn itself would log it and exit the process) and port 0 gives a free port that
:attr:`ServerThread.port` reports.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading

import uvicorn
from starlette.types import ASGIApp

from autoglm_desktop.core.common.errors import PortInUseError, ServerConfigError
from autoglm_desktop.core.server.config import ServerConfig, check_config

START_TIMEOUT_S = 30.0
KEEP_ALIVE_S = 5
# Stopping waits this long for the open requests to end, then cuts them off.
GRACEFUL_SHUTDOWN_S = 3


def bind_socket(config: ServerConfig) -> socket.socket:
    """The listening socket of ``config``'s address (checked for safety first).

    Raises:
        PortInUseError: another program listens on the port.
        ServerConfigError: unsafe settings, or the address cannot be used.
    """
    check_config(config)
    host = config.host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, config.port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise ServerConfigError(f"Cannot listen on {config.host}: {exc.strerror or exc}") from exc
    try:
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: SO_REUSEADDR would share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:  # a port just freed (TIME_WAIT) is usable at once; one in use still refuses
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"Cannot listen on {config.host}:{config.port}: another program is using this "
                "port. Choose another port (--port)."
            ) from exc
        raise ServerConfigError(
            f"Cannot listen on {config.host}:{config.port}: {exc.strerror or exc}. Is another "
            "server using this port? Choose another with --port."
        ) from exc
    return sock


def _server(app: ASGIApp, *, log_level: str, access_log: bool) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
        lifespan="off",
    )
    return uvicorn.Server(config)


def serve_forever(app: ASGIApp, *, sock: socket.socket, log_level: str = "info") -> None:
    """Serve on ``sock`` in this thread until Ctrl+C (or SIGTERM)."""
    server = _server(app, log_level=log_level, access_log=True)
    with contextlib.closing(sock):
        server.run(sockets=[sock])


class ServerThread:
    """The application served on a thread of its own, until :meth:`stop`."""

    def __init__(self, app: ASGIApp, *, config: ServerConfig, log_level: str = "warning"):
        self._sock = bind_socket(config)
        self._server = _server(app, log_level=log_level, access_log=False)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="local-server"
        )
        self._thread.daemon = True
        self.host = config.host
        self.port = int(self._sock.getsockname()[1])

    @property
    def base_url(self) -> str:
        """The OpenAI base URL clients use (``http://HOST:PORT/v1``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def start(self, *, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start serving; returns once the server accepts connections.

        Raises:
            ServerConfigError: the server did not start within ``timeout_s``.
        """
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive() or waited >= timeout_s:
                self.stop()
                raise ServerConfigError("The local server did not start.")
            self._thread.join(0.05)
            waited += 0.05

    def stop(self) -> None:
        """Stop accepting requests, end the open ones and wait for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join()
        self._sock.close()
