"""The two ways to run work off the GUI thread.

* :class:`CallRunner`, for one-off blocking calls (a hub search, a model card, a ranking): each
  call runs on a daemon thread of its own and its result, or its typed error, reaches the GUI
  thread through a queued signal. A page owns one runner per kind of call, so a newer call of a
  kind supersedes the pending one. A call in flight is never waited for: huggingface_hub's
  ``list_models`` has no timeout, so a call may hang on a bad network, and it is simply
  abandoned (its result dropped). A QThread or a QThreadPool could not be abandoned so: Qt waits
  for them when the application ends.
* :class:`WorkerThread`, for long-lived workers (the engine, the hardware monitor, the library,
  the thread probe): a QObject whose slots, invoked through queued signals, run one after another
  on a QThread of its own until :meth:`WorkerThread.close`.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

from autoglm_desktop.core.common.error_text import describe_exception, sentence
from autoglm_desktop.core.common.errors import AutoGLMError

log = logging.getLogger(__name__)

T = TypeVar("T")
W = TypeVar("W", bound=QObject)


@dataclass(frozen=True)
class _Outcome:
    ticket: int
    deliver: Callable[[], None]  # hands the result or the error to the caller's callback


def _execute(
    name: str,
    op: Callable[[], T],
    on_success: Callable[[T], None],
    on_failure: Callable[[AutoGLMError], None],
) -> Callable[[], None]:
    """Run ``op`` (on its own thread); what to call with the answer, any exception typed."""
    try:
        value = op()
    except AutoGLMError as error:
        return functools.partial(on_failure, error)
    except Exception as error:  # a bug must not end silently in a thread nobody watches
        log.exception("Background call %r failed", name)
        message = sentence("Something went wrong", describe_exception(error))
        return functools.partial(on_failure, AutoGLMError(message))
    return functools.partial(on_success, value)


class _Mailbox(QObject):
    """Runs callables posted from any thread on the thread it was made on, in order.

    One per thread that makes a runner or a bridge, made on first use and never deleted: a
    signal emitted from another thread while its sender is being deleted is undefined behaviour
    (it crashed the test suite once, a call thread posting while a page was deleted), so the
    object that call threads emit through must outlive them all. Whether the posted work still
    has an owner to report to is decided on the receiving thread, by :func:`post_to_owner`.
    """

    _arrived = Signal(object)  # Callable[[], None]

    def __init__(self) -> None:
        super().__init__()
        self._arrived.connect(self._on_arrived)  # queued from other threads

    def post(self, call: Callable[[], None]) -> None:
        """Safe from any thread."""
        self._arrived.emit(call)

    @Slot(object)
    def _on_arrived(self, call: Callable[[], None]) -> None:
        call()


_mailboxes: dict[int, _Mailbox] = {}
_mailboxes_lock = threading.Lock()


def _mailbox_of_this_thread() -> _Mailbox:
    with _mailboxes_lock:
        mailbox = _mailboxes.get(threading.get_ident())
        if mailbox is None or mailbox.thread() is not QThread.currentThread():  # an ident reused
            mailbox = _mailboxes[threading.get_ident()] = _Mailbox()
        return mailbox


class OwnerPost:
    """Posts callables from any thread to the thread ``owner`` was made on, while it lives.

    Make it on the owner's thread. A callable posted after the owner was deleted, or while it
    was being deleted, is dropped there, never run.
    """

    def __init__(self, owner: QObject) -> None:
        self._owner = owner
        self._mailbox = _mailbox_of_this_thread()

    def __call__(self, call: Callable[[], None]) -> None:
        """Safe from any thread."""
        owner = self._owner

        def if_owner_lives() -> None:
            if shiboken6.isValid(owner):
                call()

        self._mailbox.post(if_owner_lives)


class CallRunner:
    """Runs blocking calls off the GUI thread; only the newest call's answer is delivered.

    Example::

        self.search_call = CallRunner(self, name="search")
        self.search_call.run(search.next_page, on_success=self._fill, on_failure=self._failed)

    The callbacks run on the owner's thread (the GUI thread), once :attr:`busy` has turned
    false, so they may start the next call on the same runner. Errors arrive as the core's
    :class:`AutoGLMError` subclasses; any other exception is logged and arrives wrapped in a
    plain :class:`AutoGLMError`.
    """

    def __init__(self, owner: QObject, *, name: str) -> None:
        self.name = name
        self._post = OwnerPost(owner)
        self._tickets = itertools.count(1)
        self._pending: int | None = None  # the ticket of the call whose answer is awaited
        self._closed = False

    @property
    def busy(self) -> bool:
        """Whether a call was started and its answer is still awaited."""
        return self._pending is not None

    def run(
        self,
        op: Callable[[], T],
        *,
        on_success: Callable[[T], None],
        on_failure: Callable[[AutoGLMError], None],
    ) -> None:
        """Start ``op`` on a new thread at once; the call pending before is abandoned.

        Does nothing once the runner is closed.
        """
        if self._closed:
            return
        ticket = next(self._tickets)
        self._pending = ticket
        name, post, receive = self.name, self._post, self._receive

        def work() -> None:
            outcome = _Outcome(ticket, _execute(name, op, on_success, on_failure))
            post(functools.partial(receive, outcome))

        threading.Thread(target=work, name=f"call-{name}", daemon=True).start()

    def cancel(self) -> None:
        """Abandon the call in flight, if any: its answer will be dropped."""
        self._pending = None

    def close(self) -> None:
        """Abandon the call in flight and start no more. Returns at once."""
        self._closed = True
        self.cancel()

    def _receive(self, outcome: _Outcome) -> None:
        if outcome.ticket != self._pending:
            return  # superseded, cancelled or closed
        self._pending = None
        outcome.deliver()


class WorkerThread(Generic[W]):
    """A QObject worker moved to a QThread of its own, started at once and ended by :meth:`close`.

    Args:
        worker: has no parent; from now on it lives on the new thread.
        name: the thread's name (seen in debuggers and crash reports).
        on_start: runs on the worker's thread when it starts (a worker's bound slot).
        on_finish: runs on the worker's thread as it ends, e.g. to stop the worker's timers.
        interrupt: called by :meth:`close` from the closing thread before the thread is asked to
            quit, to cut short the slot in progress; it must be thread-safe.
        after_finish: called by :meth:`close` once the thread has ended.
        force: called by :meth:`close` from the closing thread when the slot in progress has not
            returned ``force_after_ms`` after ``interrupt``; it must make the slot return soon
            (the engine worker kills its engine process). Thread-safe.
    """

    def __init__(
        self,
        worker: W,
        *,
        name: str,
        on_start: Callable[[], None] | None = None,
        on_finish: Callable[[], None] | None = None,
        interrupt: Callable[[], None] | None = None,
        after_finish: Callable[[], None] | None = None,
        force: Callable[[], None] | None = None,
        force_after_ms: int = 2500,
    ) -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        self._interrupt = interrupt
        self._after_finish = after_finish
        self._force = force
        self._force_after_ms = force_after_ms
        self._closed = False
        worker.moveToThread(self.thread)
        if on_start is not None:
            self.thread.started.connect(on_start)
        if on_finish is not None:
            self.thread.finished.connect(on_finish)
        self.thread.start()

    def close(self) -> None:
        """Interrupt the worker, let it finish its current slot, and end the thread. Idempotent.

        Slots still queued for the worker are not run.
        """
        if self._closed:
            return
        self._closed = True
        if self._interrupt is not None:
            self._interrupt()
        self.thread.quit()
        if self._force is not None and not self.thread.wait(self._force_after_ms):
            log.warning("%s did not finish in time; forcing it", self.thread.objectName())
            self._force()
        self.thread.wait()
        if self._after_finish is not None:
            self._after_finish()
