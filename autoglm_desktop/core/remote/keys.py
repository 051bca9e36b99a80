"""API keys in the OS keyring, or for this session only when there is none.

Remote servers' keys (by server id), and the key the window's own local server asks its
callers for (:data:`LOCAL_SERVER_SERVICE`).

The ``keyring`` package reaches the system's store (Windows Credential Manager, the macOS
Keychain, the Secret Service of GNOME or KDE). Where it finds no usable backend (a bare Linux
box, a session without D-Bus), keys are never written to a file: they stay in this process's
memory and the user is told they will be asked again after a restart. ``keyring`` is imported
on first use (it costs a tenth of a second at start-up otherwise).

Thread-safe: the settings pane stores keys from the GUI thread, the engine worker reads them
from its own.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

KEYRING_SERVICE = "AutoGLM Desktop remote server"
LOCAL_SERVER_SERVICE = "AutoGLM Desktop local server"  # the key the window's server asks for


@dataclass(frozen=True)
class KeyringStatus:
    """Where keys are kept."""

    persistent: bool  # True: in the OS keyring; False: in memory until the app closes
    backend: str  # the keyring backend's name; why it failed; "" when none was found


class ApiKeyStore:
    """Gets, stores and forgets API keys by server id."""

    def __init__(self, *, backend: Any | None = None, service: str = KEYRING_SERVICE) -> None:
        """Keys of ``service`` (``backend``: a ``keyring`` backend instead of the system's)."""
        self._service = service
        self._lock = threading.Lock()
        self._backend = backend
        self._resolved = backend is not None
        self._problem = ""
        self._session: dict[str, str] = {}

    def status(self) -> KeyringStatus:
        with self._lock:
            backend = self._usable_backend()
            if backend is None:
                return KeyringStatus(persistent=False, backend=self._problem)
            return KeyringStatus(persistent=True, backend=_backend_name(backend))

    def get(self, server_id: str) -> str | None:
        with self._lock:
            if server_id in self._session:
                return self._session[server_id]
            backend = self._usable_backend()
            if backend is None:
                return None
            try:
                value = backend.get_password(self._service, server_id)
            except Exception as error:  # any backend failure (locked, D-Bus gone...)
                self._give_up(error)
                return None
            return value if isinstance(value, str) and value else None

    def set(self, server_id: str, key: str) -> KeyringStatus:
        """Store ``key``; the answer says whether it outlives this session."""
        with self._lock:
            backend = self._usable_backend()
            if backend is not None:
                try:
                    backend.set_password(self._service, server_id, key)
                except Exception as error:
                    self._give_up(error)
                else:
                    self._session.pop(server_id, None)
                    return KeyringStatus(persistent=True, backend=_backend_name(backend))
            self._session[server_id] = key
            return KeyringStatus(persistent=False, backend=self._problem)

    def delete(self, server_id: str) -> None:
        with self._lock:
            self._session.pop(server_id, None)
            backend = self._usable_backend()
            if backend is None:
                return
            try:
                backend.delete_password(self._service, server_id)
            except Exception as error:  # not stored there (PasswordDeleteError), or failing
                log.debug("No key of %s deleted from the keyring: %s", server_id, error)

    def _usable_backend(self) -> Any | None:
        if not self._resolved:
            self._resolved = True
            self._backend = _system_backend()
        return self._backend

    def _give_up(self, error: Exception) -> None:
        """The keyring failed: keep keys in memory from now on, and say why."""
        log.warning("The system keyring failed (%s); API keys are kept for this session.", error)
        self._backend = None
        self._problem = str(error) or type(error).__name__


def _system_backend() -> Any | None:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        backend = keyring.get_keyring()
    except Exception as error:
        log.warning("No system keyring: %s", error)
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return backend


def _backend_name(backend: Any) -> str:
    return str(getattr(backend, "name", type(backend).__name__))
