"""The local server: the loaded model served to other programs through the OpenAI API.

``app`` builds the ASGI application (Starlette: routing, CORS; pydantic: request validation),
``runner`` runs it under uvicorn, in the foreground (``autoglm-desktop serve``) or on a thread
(the window's *Local server* switch, tests). The server holds no model and no path: it takes an
:class:`~autoglm_desktop.core.engine.request_queue.EngineQueue`, the same one the window may
share, and puts every request in it. Nothing here reads or writes files. May import
``core.engine`` and ``core.common``.
"""

from autoglm_desktop.core.server.app import build_app
from autoglm_desktop.core.server.config import ServerConfig, check_config
from autoglm_desktop.core.server.runner import ServerThread, serve_forever

__all__ = ["ServerConfig", "ServerThread", "build_app", "check_config", "serve_forever"]
