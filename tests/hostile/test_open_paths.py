"""Every path that opens a model opens only ordinary files, and the library lists only models.

A named pipe called ``model.gguf`` used to hang ``plan`` and freeze the window (a plain
``open()`` waits for a writer); a device never ends; text files, empty files and programs named
``*.gguf`` were listed as models. Real files, pipes and devices; the real command line.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from core.synthetic_gguf import SyntheticModel, write_synthetic_gguf
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.common.errors import (
    GGUFFormatError,
    LibraryError,
    ModelFileError,
    NotRegularFileError,
)
from autoglm_desktop.core.engine.runtime import check_model_file
from autoglm_desktop.core.models.gguf_info import has_gguf_header, read_gguf_info
from autoglm_desktop.core.models.library import (
    find_local_models,
    find_ollama_models,
    import_model_file,
)
from autoglm_desktop.qt.main_window import MainWindow

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s result or exception; fails (instead of hanging the run) if it blocks."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s"
    if failure:
        raise failure[0]
    return outcome[0]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.gguf"
    os.mkfifo(path)
    return path


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "m.gguf"
    return write_synthetic_gguf(path, SyntheticModel()).read_bytes()


def test_the_header_reader_refuses_a_named_pipe_at_once(fifo: Path) -> None:
    with pytest.raises(NotRegularFileError, match=r"pipe\.gguf is not a model file: it is a named"):
        within(30, lambda: read_gguf_info(fifo))
    assert within(30, lambda: has_gguf_header(fifo)) is False


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_named_gguf_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.gguf"
    link.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFileError, match="it is a device"):
        within(30, lambda: read_gguf_info(link))


def test_a_folder_named_gguf_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "folder.gguf"
    folder.mkdir()
    with pytest.raises(ModelFileError, match="folder"):
        read_gguf_info(folder)


def test_the_engine_refuses_a_named_pipe_before_llama_cpp_sees_it(fifo: Path) -> None:
    with pytest.raises(ModelFileError, match="named pipe"):
        within(30, lambda: check_model_file(fifo))


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AUTOGLM_HOME=str(home), PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "autoglm_desktop", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("command", ["plan", "chat"])
def test_commands_on_a_named_pipe_fail_with_one_clear_line(
    fifo: Path, tmp_path: Path, command: str
) -> None:
    args = ["plan", str(fifo)] if command == "plan" else ["chat", "--model", str(fifo), "hi"]
    result = run_cli(*args, home=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "pipe.gguf is not a model file: it is a named pipe" in lines[0]


def test_importing_a_named_pipe_is_refused(fifo: Path, app_home: Path) -> None:
    with pytest.raises(LibraryError, match="named pipe"):
        within(30, lambda: import_model_file(fifo))


def test_loading_a_named_pipe_in_the_window_shows_why_at_once(
    qtbot: QtBot, app_home: Path, fifo: Path
) -> None:
    window = MainWindow(autoload=False)
    qtbot.addWidget(window)
    try:
        window.load_model(fifo)  # on the GUI thread: it used to block here forever
        assert not window.error_banner.isHidden()
        assert "it is a named pipe" in window.error_banner.label.text()
    finally:
        window.close()


# -- the library scan --------------------------------------------------------------------


def test_the_scan_lists_only_files_with_a_gguf_header(
    tmp_path: Path, model_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "Real-Q8_0.gguf").write_bytes(model_bytes)
    (folder / "notes.gguf").write_text("not a model, just notes\n", encoding="utf-8")
    (folder / "empty.gguf").write_bytes(b"")
    (folder / "program.gguf").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200))
    (folder / "short.gguf").write_bytes(b"GGUF")
    (folder / "future.gguf").write_bytes(b"GGUF" + (99).to_bytes(4, "little") + bytes(16))
    absurd = b"GGUF" + (3).to_bytes(4, "little") + (1 << 40).to_bytes(8, "little") + bytes(8)
    (folder / "absurd.gguf").write_bytes(absurd)
    os.mkfifo(folder / "pipe.gguf")
    with caplog.at_level(logging.INFO, logger="autoglm_desktop.core.models.library"):
        models = within(30, lambda: find_local_models(folders=[folder]))
    assert [m.name for m in models] == ["Real-Q8_0"]
    skipped = {r.getMessage().split()[1] for r in caplog.records if "Skipping" in r.message}
    names = {"notes", "empty", "program", "short", "future", "absurd"}
    assert {Path(p).stem for p in skipped} == names


def test_a_split_model_with_a_damaged_part_is_not_listed(
    tmp_path: Path, model_bytes: bytes
) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "Big-00001-of-00002.gguf").write_bytes(model_bytes)
    (folder / "Big-00002-of-00002.gguf").write_text("damaged", encoding="utf-8")
    assert find_local_models(folders=[folder]) == []


def test_an_ollama_blob_that_is_a_pipe_is_passed_over(tmp_path: Path) -> None:
    digest = "sha256-" + "0" * 64
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    os.mkfifo(blobs / digest)
    manifest = tmp_path / "manifests" / "registry.ollama.ai" / "library" / "pipe" / "latest"
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": digest.replace("-", ":")}
    manifest.write_text(json.dumps({"layers": [layer]}), encoding="utf-8")
    assert within(30, lambda: find_ollama_models(tmp_path)) == []


def test_a_damaged_file_says_it_looks_damaged(tmp_path: Path, model_bytes: bytes) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(model_bytes[:4000])
    with pytest.raises(GGUFFormatError, match=r"^cut\.gguf looks damaged or is not a model file"):
        read_gguf_info(path)
