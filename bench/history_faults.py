"""Open the real window on each chat-history fault; count clean / crashed / hung starts.

    sudo .venv/bin/python bench/history_faults.py [--tree PATH] [--runs N]

Each run makes the fault in a fresh ``AUTOGLM_HOME``, then starts a child Python (the code of
``--tree``, this checkout by default) that builds ``MainWindow`` offscreen and reports whether a
dialog about the history showed, and how long the window took to build. A child that raises is
*crashed*, one still running after 60 s *hung*. Run as root: a read-only file or folder is a
read-only bind mount (root ignores permission bits) and a full disk is a tiny tmpfs.

Point ``--tree`` at a checkout of an earlier commit to get the "before" column.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREE = REPO  # the checkout under test (--tree)
HANG_S = 60
CHILD = """
import json, time
from PySide6.QtWidgets import QDialog
from autoglm_desktop.qt.app import create_application
from autoglm_desktop.qt.main_window import MainWindow
app = create_application()
began = time.perf_counter()
window = MainWindow(autoload=False)
built_s = time.perf_counter() - began
window.show()
app.processEvents()
dialogs = [d.windowTitle() for d in window.findChildren(QDialog) if d.isVisible()]
print("RESULT " + json.dumps({"dialogs": dialogs, "built_s": round(built_s, 3)}))
window.close()
"""


def _fill(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    code = (
        "import sys; from pathlib import Path; from autoglm_desktop.core.chat.store import "
        "ChatStore; from autoglm_desktop.core.common.types import Role\n"
        "with ChatStore(Path(sys.argv[1])) as s:\n"
        "    for i in range(30):\n"
        "        c = s.create_conversation(title=f'chat {i}')\n"
        "        for j in range(4): s.add_message(c.id, role=Role.USER, content='w ' * 300)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(TREE)}  # the schema of the code under test
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, env=env, cwd=TREE)


@contextlib.contextmanager
def _mount(*args: str | Path, target: Path) -> Iterator[None]:
    subprocess.run(["mount", *args, target], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", target], check=True)


@contextlib.contextmanager
def _read_only(target: Path) -> Iterator[None]:
    with _mount("--bind", target, target=target):
        subprocess.run(["mount", "-o", "remount,ro,bind", target], check=True)
        yield


@contextlib.contextmanager
def garbage(db: Path) -> Iterator[None]:
    db.write_bytes(b"\x00not a database\xff" * 500)
    yield


@contextlib.contextmanager
def truncated(db: Path) -> Iterator[None]:
    _fill(db)
    with db.open("r+b") as file:
        file.truncate(db.stat().st_size * 2 // 3 + 1000)
    yield


@contextlib.contextmanager
def future_version(db: Path) -> Iterator[None]:
    _fill(db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    yield


@contextlib.contextmanager
def read_only_file(db: Path) -> Iterator[None]:
    _fill(db)
    with _read_only(db):
        yield


@contextlib.contextmanager
def read_only_folder(db: Path) -> Iterator[None]:
    _fill(db)
    (db.parent / "logs").mkdir(exist_ok=True)
    with _read_only(db.parent):
        yield


@contextlib.contextmanager
def locked(db: Path) -> Iterator[None]:
    _fill(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.close()


@contextlib.contextmanager
def full_disk(db: Path) -> Iterator[None]:
    with _mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", target=db.parent):
        (db.parent / "logs").mkdir()
        _fill(db)
        conn = sqlite3.connect(db, isolation_level=None)  # a reply was streaming at the end
        conn.execute("UPDATE messages SET status = 'streaming' WHERE id = 1")
        conn.close()
        with (db.parent / "filler").open("wb", buffering=0) as file, contextlib.suppress(OSError):
            while True:
                file.write(b"\0" * 4096)
        yield


FAULTS: dict[str, Callable[[Path], contextlib.AbstractContextManager[None]]] = {
    "garbage": garbage,
    "truncated mid-page": truncated,
    "future version": future_version,
    "read-only file": read_only_file,
    "read-only folder": read_only_folder,
    "locked": locked,
    "full disk": full_disk,
}


def run_once(fault: str, tree: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="autoglm-fault-") as home:
        db = Path(home) / "data" / "history.sqlite3"
        db.parent.mkdir(parents=True)
        with FAULTS[fault](db):
            env = {**os.environ, "AUTOGLM_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
            env["PYTHONPATH"] = str(tree)
            try:
                child = subprocess.run(
                    [sys.executable, "-c", CHILD],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=HANG_S,
                    check=False,
                    cwd=tree,  # `python -c` puts the current folder first on sys.path
                )
            except subprocess.TimeoutExpired:
                return {"outcome": "hung"}
    lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
    if child.returncode != 0 or not lines:
        last = (child.stderr.strip().splitlines() or ["?"])[-1]
        return {"outcome": "crashed", "error": last[:200]}
    result = json.loads(lines[-1].removeprefix("RESULT "))
    return {"outcome": "clean", **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout to run")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    global TREE
    TREE = args.tree.resolve()
    if os.geteuid() != 0:
        print("run as root (bind mounts and tmpfs)", file=sys.stderr)
        return 2
    for fault in FAULTS:
        results = [run_once(fault, TREE) for _ in range(args.runs)]
        print(json.dumps({"fault": fault, "runs": results}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
