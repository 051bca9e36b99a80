"""The local server: the loaded model served to other programs through the OpenAI API.

``app`` builds the ASGI application (Starlette: routing, CORS; pydantic: request validation),
``runner`` runs it under uvicorn, in the foreground (``autoglm-desktop serve``) or on a thread
(the window's *Local server* switch, tests); ``request_log`` records each request for a log.
The server holds no model and no path: it takes an
:class:`~autoglm_desktop.core.engine.request_queue.EngineQueue`, or the window's
:class:`~autoglm_desktop.core.engine.shared_engine.SharedEngine`, and puts every request in it.
Nothing here reads or writes files. May import ``core.engine`` and ``core.common``.

The names below load their modules on first use: ``config`` alone (the window's settings)
costs nothing, while ``app`` and ``runner`` bring Starlette, pydantic and uvicorn, which the
window imports only when the server is switched on.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoglm_desktop.core.server.app import build_app
    from autoglm_desktop.core.server.config import ServerConfig, check_config
    from autoglm_desktop.core.server.runner import ServerThread, serve_forever

_HOMES = {
    "build_app": "app",
    "ServerConfig": "config",
    "check_config": "config",
    "ServerThread": "runner",
    "serve_forever": "runner",
}

__all__ = ["ServerConfig", "ServerThread", "build_app", "check_config", "serve_forever"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
