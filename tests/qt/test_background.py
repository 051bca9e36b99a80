"""The runners for work off the GUI thread: CallRunner (one-off calls) and WorkerThread.

Every call here blocks on a threading.Event the test controls; where a result must be shown
not to arrive, the test joins the call's thread (its answer is then posted) and delivers the
posted events before looking.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.common.errors import AutoGLMError, HubNotFoundError
from autoglm_desktop.qt.workers.background import CallRunner, WorkerThread

WAIT_MS = 20_000
JOIN_S = 20.0


def gui_thread() -> QThread:
    app = QCoreApplication.instance()
    assert app is not None
    return app.thread()


class Answers:
    """What the runner delivered, and on which thread."""

    def __init__(self) -> None:
        self.values: list[object] = []
        self.errors: list[AutoGLMError] = []
        self.on_gui_thread: list[bool] = []

    def success(self, value: object) -> None:
        self.values.append(value)
        self.on_gui_thread.append(QThread.currentThread() is gui_thread())

    def failure(self, error: AutoGLMError) -> None:
        self.errors.append(error)
        self.on_gui_thread.append(QThread.currentThread() is gui_thread())

    @property
    def count(self) -> int:
        return len(self.values) + len(self.errors)


class HeldCall:
    """An op that records its thread and returns ``value`` only once released."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.release = threading.Event()
        self.thread: threading.Thread | None = None
        self.started = threading.Event()

    def __call__(self) -> object:
        self.thread = threading.current_thread()
        self.started.set()
        assert self.release.wait(JOIN_S)
        return self.value

    def finish(self) -> None:
        """Release the op, wait until its answer is posted, and deliver what was posted."""
        assert self.started.wait(JOIN_S)
        self.release.set()
        assert self.thread is not None
        self.thread.join(JOIN_S)
        assert not self.thread.is_alive()
        QCoreApplication.sendPostedEvents()


@pytest.fixture
def owner(qtbot: QtBot) -> Iterator[QObject]:
    page = QObject()
    yield page
    page.deleteLater()


@pytest.fixture
def runner(owner: QObject) -> Iterator[CallRunner]:
    calls = CallRunner(owner, name="test")
    yield calls
    calls.close()


def run(runner: CallRunner, op: Callable[[], object], answers: Answers) -> None:
    runner.run(op, on_success=answers.success, on_failure=answers.failure)


def test_the_result_is_delivered_on_the_gui_thread(qtbot: QtBot, runner: CallRunner) -> None:
    answers = Answers()
    call = HeldCall(42)
    run(runner, call, answers)
    assert runner.busy
    call.release.set()
    qtbot.waitUntil(lambda: answers.count == 1, timeout=WAIT_MS)
    assert answers.values == [42] and answers.on_gui_thread == [True]
    assert call.thread is not threading.main_thread()
    assert not runner.busy


def test_a_typed_error_arrives_as_it_was_raised(qtbot: QtBot, runner: CallRunner) -> None:
    answers = Answers()
    error = HubNotFoundError("No model acme/missing on the hub.")

    def fail() -> object:
        raise error

    run(runner, fail, answers)
    qtbot.waitUntil(lambda: answers.count == 1, timeout=WAIT_MS)
    assert answers.errors == [error] and answers.on_gui_thread == [True]
    assert answers.values == []


def test_an_unexpected_exception_is_logged_and_arrives_as_a_plain_error(
    qtbot: QtBot, runner: CallRunner, caplog: pytest.LogCaptureFixture
) -> None:
    answers = Answers()

    def bug() -> object:
        raise ValueError("bad value")

    with caplog.at_level(logging.ERROR, logger="autoglm_desktop.qt.workers.background"):
        run(runner, bug, answers)
        qtbot.waitUntil(lambda: answers.count == 1, timeout=WAIT_MS)
    (error,) = answers.errors
    assert type(error) is AutoGLMError
    assert str(error) == "Something went wrong: bad value."
    (record,) = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is ValueError


def test_a_newer_call_supersedes_the_pending_one(qtbot: QtBot, runner: CallRunner) -> None:
    answers = Answers()
    older, newer = HeldCall("older"), HeldCall("newer")
    run(runner, older, answers)
    run(runner, newer, answers)

    older.finish()  # the stale answer comes first: it is dropped
    assert answers.count == 0 and runner.busy

    newer.release.set()
    qtbot.waitUntil(lambda: answers.count == 1, timeout=WAIT_MS)
    assert answers.values == ["newer"]
    assert not runner.busy


def test_a_callback_may_start_the_next_call_on_the_same_runner(
    qtbot: QtBot, runner: CallRunner
) -> None:
    answers = Answers()

    def then_more(value: int) -> None:
        answers.success(value)
        if value < 3:
            runner.run(lambda: value + 1, on_success=then_more, on_failure=answers.failure)

    runner.run(lambda: 1, on_success=then_more, on_failure=answers.failure)
    qtbot.waitUntil(lambda: answers.count == 3, timeout=WAIT_MS)
    assert answers.values == [1, 2, 3]


def test_cancel_drops_the_answer_in_flight(runner: CallRunner) -> None:
    answers = Answers()
    call = HeldCall("dropped")
    run(runner, call, answers)
    runner.cancel()
    assert not runner.busy
    call.finish()
    assert answers.count == 0


def test_close_returns_at_once_and_drops_the_answer(owner: QObject) -> None:
    answers = Answers()
    runner = CallRunner(owner, name="closing")
    call = HeldCall("too late")
    run(runner, call, answers)
    assert call.started.wait(JOIN_S)

    runner.close()  # the call is still held: returning proves close does not wait for it
    assert call.thread is not None and call.thread.is_alive()

    call.finish()
    assert answers.count == 0
    run(runner, lambda: "after close", answers)  # a closed runner starts nothing
    assert not runner.busy


def test_the_answer_of_a_call_whose_owner_was_deleted_is_dropped(qtbot: QtBot) -> None:
    owner = QObject()
    answers = Answers()
    runner = CallRunner(owner, name="orphan")
    call = HeldCall("nobody listens")
    run(runner, call, answers)
    with qtbot.waitSignal(owner.destroyed, timeout=WAIT_MS):
        owner.deleteLater()
    call.finish()
    assert answers.count == 0


def test_owners_deleted_while_their_calls_post_answers_nothing_and_nothing_crashes() -> None:
    # Posting raced a page's deletion once and crashed the suite: a signal emitted from a call
    # thread while its sender, a child of the page, was being deleted.
    answers = Answers()
    calls = [HeldCall(index) for index in range(64)]
    owners = [QObject() for _ in calls]
    runners = [CallRunner(owner, name="racing") for owner in owners]
    for runner, call in zip(runners, calls, strict=True):
        run(runner, call, answers)
    for call in calls:
        assert call.started.wait(JOIN_S)
    for owner, call in zip(owners, calls, strict=True):
        call.release.set()  # its thread posts while the owner goes
        shiboken6.delete(owner)
    for call in calls:
        assert call.thread is not None
        call.thread.join(JOIN_S)
        assert not call.thread.is_alive()
    QCoreApplication.sendPostedEvents()
    assert answers.count == 0


# --------------------------------------------------------------------------- WorkerThread


class Worker(QObject):
    answered = Signal(str)  # the name of the thread that answered

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str]] = []
        self.interrupted = threading.Event()
        self.in_slot = threading.Event()

    def _record(self, what: str) -> None:
        self.log.append((what, QThread.currentThread().objectName()))

    @Slot()
    def start(self) -> None:
        self._record("start")

    @Slot()
    def finish(self) -> None:
        self._record("finish")

    @Slot()
    def answer(self) -> None:
        self.answered.emit(QThread.currentThread().objectName())

    @Slot()
    def block_until_interrupted(self) -> None:
        self.in_slot.set()
        assert self.interrupted.wait(JOIN_S)
        self._record("slot ended")

    def interrupt(self) -> None:
        self._record("interrupt")
        self.interrupted.set()

    def after_finish(self) -> None:
        self._record("after finish")


class Requester(QObject):
    """Lives on the GUI thread: asks the worker through queued signals and keeps its answers."""

    ask = Signal()
    block = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[tuple[str, str]] = []

    @Slot(str)
    def take(self, worker_thread: str) -> None:
        self.answers.append((worker_thread, QThread.currentThread().objectName()))


def test_a_worker_runs_its_slots_on_its_own_thread_until_closed(qtbot: QtBot) -> None:
    gui = gui_thread().objectName()
    worker = Worker()
    thread = WorkerThread(
        worker,
        name="test-worker",
        on_start=worker.start,
        on_finish=worker.finish,
        interrupt=worker.interrupt,
        after_finish=worker.after_finish,
    )
    requester = Requester()
    requester.ask.connect(worker.answer)
    requester.block.connect(worker.block_until_interrupted)
    try:
        worker.answered.connect(requester.take)
        requester.ask.emit()
        qtbot.waitUntil(lambda: bool(requester.answers), timeout=WAIT_MS)
        assert requester.answers == [("test-worker", gui)]

        requester.block.emit()
        assert worker.in_slot.wait(JOIN_S)
    finally:
        thread.close()  # interrupts the slot in progress, then waits for the thread
    assert not thread.thread.isRunning()
    assert worker.log == [
        ("start", "test-worker"),
        ("interrupt", gui),  # from the closing thread, while the slot still runs
        ("slot ended", "test-worker"),
        ("finish", "test-worker"),
        ("after finish", gui),
    ]
    thread.close()  # a second close does nothing
    assert len(worker.log) == 5
