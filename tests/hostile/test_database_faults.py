"""A bad chat history never stops the app: each fault has its typed error, the window opens.

The real window opens with a dialog that offers what makes sense for the fault, and every
choice leaves a working window.

The faults are real: a garbage file, a file cut mid-page, a newer format, a read-only folder
(a read-only bind mount when run as root, who ignores permission bits), a lock held by another
connection, a full disk (a tiny tmpfs when run as root; else SQLite's max_page_count).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from autoglm_desktop import cli
from autoglm_desktop.cli.output import ERROR_EXIT
from autoglm_desktop.core.chat import store as store_module
from autoglm_desktop.core.chat.history_repair import (
    DAMAGED_MARK,
    SET_ASIDE_MARK,
    recover_history,
    set_aside,
)
from autoglm_desktop.core.chat.store import SCHEMA_VERSION, ChatStore
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import (
    HistoryDamagedError,
    HistoryDiskFullError,
    HistoryLockedError,
    HistoryReadOnlyError,
    HistoryTooNewError,
    StoreError,
)
from autoglm_desktop.core.common.types import MessageStatus, Role
from autoglm_desktop.qt.chat.controller import GUI_BUSY_TIMEOUT_S
from autoglm_desktop.qt.chat.history_dialog import HistoryChoice, HistoryProblemDialog
from autoglm_desktop.qt.main_window import MainWindow

CONVERSATIONS = 40
MESSAGES_EACH = 4
WAIT_MS = 30_000


def message_text(conversation: int, message: int) -> str:
    return f"conversation {conversation} message {message} " + "words " * 60


def fill_history(path: Path) -> None:
    """A history whose conversations all come first in the file, then their messages."""
    with ChatStore(path) as store:
        ids = [store.create_conversation(title=f"chat {i}").id for i in range(CONVERSATIONS)]
        for number, conversation_id in enumerate(ids):
            for message in range(MESSAGES_EACH):
                role = Role.USER if message % 2 == 0 else Role.ASSISTANT
                store.add_message(conversation_id, role=role, content=message_text(number, message))


ALL_TEXTS = {message_text(c, m) for c in range(CONVERSATIONS) for m in range(MESSAGES_EACH)}


# --- the faults ---------------------------------------------------------------------------------


def make_garbage(path: Path) -> None:
    path.write_bytes(b"\x00this is not a database\xff" * 500)


def make_truncated(path: Path) -> None:
    fill_history(path)
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(size * 2 // 3 + 1000)  # past the conversations, mid-page


def make_too_new(path: Path) -> None:
    fill_history(path)
    with contextlib.closing(sqlite3.connect(path)) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        raw.commit()


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """Make ``folder`` (and what it holds) unwritable, for root as well."""
    if os.geteuid() != 0:
        modes = {entry: entry.stat().st_mode for entry in [folder, *folder.iterdir()]}
        for entry in modes:
            entry.chmod(0o555 if entry.is_dir() else 0o444)
        try:
            yield
        finally:
            for entry, mode in modes.items():
                entry.chmod(mode)
        return
    try:
        subprocess.run(["mount", "--bind", folder, folder], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no bind mount here to make a folder read-only for root")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", folder], check=True)
        yield
    finally:
        subprocess.run(["umount", folder], check=True)


@contextlib.contextmanager
def read_only_file(path: Path) -> Iterator[None]:
    """Make the history file alone unwritable (its folder stays writable), for root as well."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    try:
        subprocess.run(["mount", "--bind", path, path], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no bind mount here to make a file read-only for root")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", path], check=True)
        yield
    finally:
        subprocess.run(["umount", path], check=True)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another connection holds the history exclusively (as a backup tool or a DB browser can)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("PRAGMA locking_mode = EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        other.close()


def streaming_history(path: Path) -> None:
    """A history whose last reply was still being written (opening it must write)."""
    with ChatStore(path) as store:
        conversation = store.create_conversation(title="before the disk filled")
        store.add_message(conversation.id, role=Role.USER, content="question")
        store.add_message(
            conversation.id,
            role=Role.ASSISTANT,
            content="half an answer",
            status=MessageStatus.STREAMING,
        )


def version_1_history(path: Path) -> None:
    """A history of the first schema version (opening it migrates it)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("PRAGMA journal_mode = WAL")
        store_module.MIGRATIONS[0](raw)
        raw.execute("INSERT INTO conversations VALUES (1, 'old', '', '{}', 1.0, 1.0)")
        raw.execute("PRAGMA user_version = 1")


@contextlib.contextmanager
def full_disk(folder: Path, prepare: Callable[[Path], None] = streaming_history) -> Iterator[Path]:
    """``folder`` on a tiny file system holding ``prepare``'s history, filled up.

    Yields the filler file (delete it: space again).
    """
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a tmpfs, which needs root")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", folder],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a tmpfs here")
    try:
        prepare(folder / "history.sqlite3")
        filler = folder / "filler"
        with filler.open("wb", buffering=0) as file, contextlib.suppress(OSError):
            while True:
                file.write(b"\0" * 4096)
        yield filler
    finally:
        subprocess.run(["umount", folder], check=True)


# --- the core: one typed error per fault -------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (make_garbage, HistoryDamagedError),
        (make_truncated, HistoryDamagedError),
        (make_too_new, HistoryTooNewError),
    ],
)
def test_a_bad_file_raises_its_typed_error(
    db: Path, make: Callable[[Path], None], error: type[StoreError]
) -> None:
    make(db)
    before = db.read_bytes()
    with pytest.raises(error, match="history"):
        ChatStore(db)
    assert db.read_bytes() == before  # opening never writes a bad file


def test_a_newer_format_opens_read_only_and_stays_untouched(db: Path) -> None:
    make_too_new(db)
    with ChatStore(db, read_only=True) as store:
        assert len(store.list_conversations()) == CONVERSATIONS
        with pytest.raises(HistoryReadOnlyError, match="read-only"):
            store.create_conversation()
    with contextlib.closing(sqlite3.connect(db)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_read_only_folder_raises_read_only_and_opens_read_only(db: Path) -> None:
    fill_history(db)
    with read_only_folder(db.parent):
        with pytest.raises(HistoryReadOnlyError):
            ChatStore(db)
        with ChatStore(db, read_only=True) as store:
            assert len(store.list_conversations()) == CONVERSATIONS
        with pytest.raises(HistoryReadOnlyError):
            ChatStore(db.parent / "new" / "history.sqlite3")  # nothing can be created there


def test_a_read_only_file_raises_read_only_and_opens_read_only(db: Path) -> None:
    fill_history(db)
    before = db.read_bytes()
    with read_only_file(db):
        with pytest.raises(HistoryReadOnlyError):
            ChatStore(db)
        with ChatStore(db, read_only=True) as store:
            assert len(store.list_conversations()) == CONVERSATIONS
    assert db.read_bytes() == before


def test_a_lock_held_elsewhere_raises_locked_then_opens_once_released(db: Path) -> None:
    fill_history(db)
    with locked(db), pytest.raises(HistoryLockedError, match="try again"):
        ChatStore(db, busy_timeout_s=GUI_BUSY_TIMEOUT_S)
    with ChatStore(db, busy_timeout_s=GUI_BUSY_TIMEOUT_S) as store:
        assert len(store.list_conversations()) == CONVERSATIONS


def test_a_write_that_finds_the_disk_full_raises_disk_full(db: Path) -> None:
    fill_history(db)
    with ChatStore(db) as store:
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL on growth
        conversation = store.list_conversations()[0]
        with pytest.raises(HistoryDiskFullError, match="full"):
            store.add_message(conversation.id, role=Role.USER, content="x" * 200_000)
        assert store.get_conversation(conversation.id).message_count == MESSAGES_EACH


def test_a_full_disk_at_start_raises_disk_full(tmp_path: Path) -> None:
    folder = tmp_path / "small"
    with full_disk(folder):
        with pytest.raises(HistoryDiskFullError, match="full"):
            ChatStore(folder / "history.sqlite3")
        with pytest.raises(HistoryDiskFullError, match="full"):
            ChatStore(folder / "new.sqlite3")


def test_a_migration_that_finds_the_disk_full_leaves_no_half_backup(tmp_path: Path) -> None:
    folder = tmp_path / "small"
    with full_disk(folder, version_1_history) as filler:
        with pytest.raises(HistoryDiskFullError, match="full"):
            ChatStore(folder / "history.sqlite3")
        assert list(folder.glob("*backup*")) == []
        filler.unlink()  # space again: the migration goes through, backup first
        with ChatStore(folder / "history.sqlite3") as store:
            assert [c.title for c in store.list_conversations()] == ["old"]
        assert len(list(folder.glob("*.v1-backup*"))) == 1


# --- the core: recovery ------------------------------------------------------------------------


def kept_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{DAMAGED_MARK}*"))


def test_recovery_keeps_the_damaged_file_and_saves_what_reads(db: Path) -> None:
    make_truncated(db)
    damaged = db.read_bytes()

    report = recover_history(path=db)

    assert kept_files(db.parent) == [report.kept_as]
    assert report.kept_as.read_bytes() == damaged  # kept as it was, never changed
    assert report.skipped_parts >= 1
    with ChatStore(db) as store:
        conversations = store.list_conversations()
        texts = [m.content for c in conversations for m in store.messages(c.id)]
    assert report.conversations == CONVERSATIONS  # they all sit before the cut
    assert 0 < len(texts) == report.messages < len(ALL_TEXTS)
    assert set(texts) <= ALL_TEXTS  # nothing garbled: the cut page's zeros are dropped


def test_recovery_of_garbage_starts_empty_and_keeps_the_file(db: Path) -> None:
    make_garbage(db)
    garbage = db.read_bytes()

    report = recover_history(path=db)

    assert (report.conversations, report.messages) == (0, 0)
    assert report.kept_as.read_bytes() == garbage
    with ChatStore(db) as store:
        assert store.list_conversations() == []


def test_set_aside_never_replaces_an_earlier_kept_file(db: Path) -> None:
    first_kept = []
    for attempt in range(3):
        make_garbage(db)
        db.write_bytes(db.read_bytes() + bytes([attempt]))
        first_kept.append(set_aside(path=db))
    assert len(set(first_kept)) == 3
    assert [kept.read_bytes()[-1] for kept in first_kept] == [0, 1, 2]


def test_a_failed_recovery_changes_nothing(db: Path) -> None:
    make_truncated(db)
    before = db.read_bytes()
    with read_only_folder(db.parent), pytest.raises(HistoryReadOnlyError):
        recover_history(path=db)
    assert db.read_bytes() == before
    assert kept_files(db.parent) == []


# --- the window ---------------------------------------------------------------------------------


def open_window(qtbot: QtBot) -> MainWindow:
    window = MainWindow(autoload=False)
    qtbot.addWidget(window)
    window.show()
    return window


def problem_dialog(qtbot: QtBot, window: MainWindow) -> HistoryProblemDialog:
    """The (newest) dialog about the history, once it shows."""

    def shown() -> HistoryProblemDialog | None:
        dialogs = [d for d in window.findChildren(HistoryProblemDialog) if d.isVisible()]
        return dialogs[-1] if dialogs else None

    qtbot.waitUntil(lambda: shown() is not None, timeout=WAIT_MS)
    dialog = shown()
    assert dialog is not None
    return dialog


def choose(qtbot: QtBot, dialog: HistoryProblemDialog, choice: HistoryChoice) -> None:
    dialog.buttons[choice].click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)


def chat_works(qtbot: QtBot, window: MainWindow) -> None:
    """A message can be sent (there is no model, so the reply fails) and is kept."""
    assert window.controller.send("still works?")
    qtbot.waitUntil(lambda: not window.controller.reply_running, timeout=WAIT_MS)
    conversation_id = window.controller.conversation_id
    assert conversation_id is not None
    kept = [m.content for m in window.store.messages(conversation_id)]
    assert "still works?" in kept
    assert kept == [m.content for m in window.controller.messages()]


@pytest.fixture
def history(app_home: Path) -> Path:
    return paths.history_db_path()


def test_window_opens_on_garbage_and_recovers(qtbot: QtBot, history: Path) -> None:
    make_garbage(history)
    garbage = history.read_bytes()
    window = open_window(qtbot)
    dialog = problem_dialog(qtbot, window)
    assert list(dialog.buttons)[:2] == [HistoryChoice.RECOVER, HistoryChoice.FRESH]
    assert window.store.in_memory  # meanwhile the window works without saving

    choose(qtbot, dialog, HistoryChoice.RECOVER)

    qtbot.waitUntil(lambda: not window.store.in_memory, timeout=WAIT_MS)
    [kept] = kept_files(history.parent)
    assert kept.read_bytes() == garbage
    assert "kept as" in window.error_banner.label.text()
    chat_works(qtbot, window)
    with ChatStore(history) as reopened:  # saved to the new history on disk
        [conversation] = reopened.list_conversations()
        assert reopened.messages(conversation.id)[0].content == "still works?"
    window.close()


def test_window_opens_on_a_truncated_file_and_recovers_its_rows(
    qtbot: QtBot, history: Path
) -> None:
    make_truncated(history)
    window = open_window(qtbot)
    choose(qtbot, problem_dialog(qtbot, window), HistoryChoice.RECOVER)

    qtbot.waitUntil(lambda: not window.store.in_memory, timeout=WAIT_MS)
    assert window.sidebar.model.rowCount() == CONVERSATIONS
    assert window.controller.conversation_id is not None  # the latest one is open
    assert len(kept_files(history.parent)) == 1
    chat_works(qtbot, window)


def test_window_starts_a_fresh_history_keeping_the_damaged_file(
    qtbot: QtBot, history: Path
) -> None:
    make_garbage(history)
    garbage = history.read_bytes()
    window = open_window(qtbot)
    choose(qtbot, problem_dialog(qtbot, window), HistoryChoice.FRESH)

    assert not window.store.in_memory
    assert window.sidebar.model.rowCount() == 0
    [kept] = kept_files(history.parent)
    assert kept.read_bytes() == garbage
    chat_works(qtbot, window)


def test_window_chats_without_saving_and_leaves_the_file_alone(qtbot: QtBot, history: Path) -> None:
    make_garbage(history)
    garbage = history.read_bytes()
    window = open_window(qtbot)
    dialog = problem_dialog(qtbot, window)
    dialog.reject()  # Esc or the title bar's close: chat without saving

    assert window.store.in_memory
    assert "not saved" in window.windowTitle()
    chat_works(qtbot, window)
    window.close()
    assert history.read_bytes() == garbage
    assert kept_files(history.parent) == []


def test_window_quits_when_asked(qtbot: QtBot, history: Path) -> None:
    make_garbage(history)
    window = open_window(qtbot)
    choose(qtbot, problem_dialog(qtbot, window), HistoryChoice.QUIT)
    assert not window.isVisible()


def test_window_opens_a_newer_history_read_only(qtbot: QtBot, history: Path) -> None:
    make_too_new(history)
    before = history.read_bytes()
    window = open_window(qtbot)
    dialog = problem_dialog(qtbot, window)
    assert next(iter(dialog.buttons)) is HistoryChoice.READ_ONLY

    choose(qtbot, dialog, HistoryChoice.READ_ONLY)

    assert window.store.read_only
    assert window.sidebar.model.rowCount() == CONVERSATIONS
    assert window.controller.messages()  # the latest conversation shows
    assert not window.controller.send("a new message")  # refused, with a message
    assert "read-only" in window.error_banner.label.text()
    window.close()
    assert history.read_bytes() == before


def test_window_sets_a_newer_history_aside_for_a_fresh_one(qtbot: QtBot, history: Path) -> None:
    make_too_new(history)
    before = history.read_bytes()
    window = open_window(qtbot)
    choose(qtbot, problem_dialog(qtbot, window), HistoryChoice.FRESH)

    assert window.sidebar.model.rowCount() == 0
    [kept] = history.parent.glob(f"*{SET_ASIDE_MARK}*")  # not called damaged: it is not
    assert kept.read_bytes() == before
    assert kept_files(history.parent) == []
    chat_works(qtbot, window)


def test_window_opens_on_a_read_only_folder(qtbot: QtBot, history: Path) -> None:
    fill_history(history)
    with read_only_folder(history.parent):
        window = open_window(qtbot)
        dialog = problem_dialog(qtbot, window)
        assert isinstance(dialog.error, HistoryReadOnlyError)
        choose(qtbot, dialog, HistoryChoice.READ_ONLY)
        assert window.sidebar.model.rowCount() == CONVERSATIONS
        window.close()


def test_window_opens_on_a_read_only_file(qtbot: QtBot, history: Path) -> None:
    fill_history(history)
    with read_only_file(history):
        window = open_window(qtbot)
        dialog = problem_dialog(qtbot, window)
        assert isinstance(dialog.error, HistoryReadOnlyError)
        assert next(iter(dialog.buttons)) is HistoryChoice.READ_ONLY
        choose(qtbot, dialog, HistoryChoice.READ_ONLY)
        assert window.store.read_only
        assert window.sidebar.model.rowCount() == CONVERSATIONS
        window.close()


def test_window_opens_on_a_locked_history_and_retries(qtbot: QtBot, history: Path) -> None:
    fill_history(history)
    with locked(history):
        window = open_window(qtbot)
        dialog = problem_dialog(qtbot, window)
        assert isinstance(dialog.error, HistoryLockedError)
        assert next(iter(dialog.buttons)) is HistoryChoice.RETRY
        choose(qtbot, dialog, HistoryChoice.RETRY)  # still locked: asked again
        dialog = problem_dialog(qtbot, window)
        assert isinstance(dialog.error, HistoryLockedError)
    choose(qtbot, dialog, HistoryChoice.RETRY)

    assert not window.store.in_memory
    assert window.sidebar.model.rowCount() == CONVERSATIONS
    # Store calls on the GUI thread never wait long for a lock held elsewhere.
    timeout_ms = window.store._conn.execute("PRAGMA busy_timeout").fetchone()[0]
    assert timeout_ms == GUI_BUSY_TIMEOUT_S * 1000
    chat_works(qtbot, window)


def test_window_opens_on_a_full_disk_and_retries_once_there_is_space(
    qtbot: QtBot, app_home: Path
) -> None:
    with full_disk(paths.data_dir()) as filler:
        window = open_window(qtbot)
        dialog = problem_dialog(qtbot, window)
        assert isinstance(dialog.error, HistoryDiskFullError)
        assert HistoryChoice.RETRY in dialog.buttons
        filler.unlink()  # the user frees some space
        choose(qtbot, dialog, HistoryChoice.RETRY)
        assert not window.store.in_memory
        [conversation] = window.store.list_conversations()
        assert window.controller.messages()[-1].status is MessageStatus.INTERRUPTED
        window.close()
        assert conversation.title == "before the disk filled"


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", [make_garbage, make_truncated, make_too_new])
def test_the_command_line_says_what_is_wrong_in_one_line(
    history: Path, make: Callable[[Path], None], capsys: pytest.CaptureFixture[str]
) -> None:
    make(history)

    status = cli.main(["history"])

    out, err = capsys.readouterr()
    assert status == ERROR_EXIT
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("autoglm-desktop history: error: The chat history file")
    assert "Traceback" not in err


def test_the_command_line_recovers_a_damaged_history(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_truncated(history)
    assert cli.main(["history"]) == ERROR_EXIT
    assert "--recover" in capsys.readouterr().err

    assert cli.main(["history", "--recover"]) == 0
    assert "The damaged file is kept as" in capsys.readouterr().out
    assert len(kept_files(history.parent)) == 1

    assert cli.main(["history"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["ID", "MESSAGES", "TITLE"]
    assert len(listed) == 1 + CONVERSATIONS


def test_the_command_line_starts_a_fresh_history(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_garbage(history)
    assert cli.main(["history", "--fresh"]) == 0
    assert "The old file is kept as" in capsys.readouterr().out
    [kept] = history.parent.glob(f"*{SET_ASIDE_MARK}*")
    assert kept.read_bytes().startswith(b"\x00this is not a database")
    assert cli.main(["history"]) == 0
    assert capsys.readouterr().out == "No conversations yet.\n"
