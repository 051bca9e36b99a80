"""Cut short runaway Python code on the calling thread: a chat template that loops forever.

A model's Jinja chat template runs as Python code (``range(99999)`` nested twice, a macro that
calls itself twice per level, ``lipsum(n=10**6)``): it cannot be given a time budget from the
inside. :func:`time_limit` starts a watchdog thread that, once the time is up or a stop is
requested, raises an exception *in the calling thread* (``PyThreadState_SetAsyncExc``). Python
delivers it between two bytecodes, so it ends any loop of Python code within milliseconds; a
single long call into C code ends only when that call returns (the engine's client bounds those
by killing the process).
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from collections.abc import Callable, Iterator

POLL_SECONDS = 0.05


class Interrupted(BaseException):
    """Raised in the limited thread. A ``BaseException``, so the code it ends cannot catch it."""


class TimeLimitExpired(Interrupted):
    """The time limit passed."""


class StopRequested(Interrupted):
    """``stop_requested()`` became true."""


class _Watchdog:
    def __init__(
        self, *, seconds: float, stop_requested: Callable[[], bool], poll_seconds: float
    ) -> None:
        self._target = threading.get_ident()
        self._deadline = time.monotonic() + seconds
        self._stop_requested = stop_requested
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._armed = True
        self._fired = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="time-limit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(self._poll_seconds):
            if time.monotonic() >= self._deadline:
                self._fire(TimeLimitExpired)
                return
            if self._stop_requested():
                self._fire(StopRequested)
                return

    def _fire(self, exception: type[Interrupted]) -> None:
        with self._lock:
            if self._armed:
                _set_async_exception(self._target, exception)
                self._armed, self._fired = False, True

    def disarm(self) -> None:
        """End the watch; an exception sent but not yet raised is withdrawn."""
        self._done.set()
        with self._lock:
            self._armed = False
            if self._fired:
                _set_async_exception(self._target, None)
        self._thread.join()


def _set_async_exception(thread_id: int, exception: type[BaseException] | None) -> None:
    value = ctypes.py_object(exception) if exception is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), value)


@contextlib.contextmanager
def time_limit(
    *,
    seconds: float,
    stop_requested: Callable[[], bool],
    poll_seconds: float = POLL_SECONDS,
) -> Iterator[None]:
    """Run the ``with`` body for at most ``seconds``, or until ``stop_requested()``.

    Raises:
        TimeLimitExpired: the body ran past ``seconds``.
        StopRequested: ``stop_requested()`` became true while the body ran.
    """
    watchdog = _Watchdog(seconds=seconds, stop_requested=stop_requested, poll_seconds=poll_seconds)
    watchdog.start()
    try:
        yield
    finally:
        watchdog.disarm()
