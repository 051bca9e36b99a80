"""The engine queue the window shares with its local server, while the model behind it changes.

The window loads, unloads and changes models; its local server outlives all of that. The server
asks :class:`SharedEngine` for the queue in use at each request and gets either the queue or
why there is none (no model, or one loading) to tell its caller. The window's engine worker
puts a queue in (:meth:`SharedEngine.use`) once a model is loaded, and takes it out
(:meth:`SharedEngine.withdraw`) before it changes the model. Thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from autoglm_desktop.core.engine.request_queue import EngineQueue, QueueSnapshot

NO_MODEL = "No model is loaded in AutoGLM Desktop. Load one in its window, then try again."
LOADING = "AutoGLM Desktop is loading a model; try again in a moment."


@dataclass(frozen=True)
class Unavailable:
    """Why no engine takes requests now."""

    reason: str = NO_MODEL
    loading: bool = False  # a model is on its way: worth trying again soon


class SharedEngine:
    """Holds the engine queue in use, or why there is none."""

    def __init__(self, queue: EngineQueue | None = None) -> None:
        self._lock = threading.Lock()
        self._queue = queue
        self._unavailable = Unavailable()

    def current(self) -> EngineQueue | Unavailable:
        """The queue to put a request in, or why there is none now."""
        with self._lock:
            return self._queue if self._queue is not None else self._unavailable

    def use(self, queue: EngineQueue) -> None:
        """Requests go to ``queue`` from now on."""
        with self._lock:
            self._queue = queue

    def withdraw(self, unavailable: Unavailable) -> EngineQueue | None:
        """No queue from now on, for the reason given; the one in use, for its owner to close."""
        with self._lock:
            queue, self._queue = self._queue, None
            self._unavailable = unavailable
        return queue

    def snapshot(self) -> QueueSnapshot | None:
        """Whose requests run and wait (None: no queue)."""
        with self._lock:
            queue = self._queue
        return queue.snapshot() if queue is not None else None
