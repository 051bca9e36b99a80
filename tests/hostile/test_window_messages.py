"""The real window facing hostile models: short plain banners, no native noise, no freeze.

A chat template that raises a 100 MB error used to freeze the window for minutes (the whole
message crossed the pipe and went into a rich-text label); llama.cpp's abort wrote its backtrace
to the terminal. Real engine processes on synthetic models, offscreen Qt.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from core.synthetic_gguf import CHATML_TEMPLATE, SyntheticModel, write_synthetic_gguf
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.untrusted_text import DEFAULT_LIMIT, ELLIPSIS
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.engine.client import EngineDeadlines
from autoglm_desktop.qt.main_window import MainWindow

pytestmark = pytest.mark.timeout(120)

WAIT_MS = 60_000
# 60 MB of error (the sandbox refuses to make a value much larger: see template_sandbox.py).
HUGE_ERROR = (
    "{% if messages[-1]['content'] == 'huge' %}"
    "{{ raise_exception('\\x1b]0;pwned\\x07<font size=7>' ~ ('<img src=x>' * 5500000)) }}"
    "{% endif %}"
)

# One call into C (minutes) while the model loads: only the client's kill ends it.
HANGS_WHILE_LOADING = "{% set x = 7 ** (messages|length * 30000000) %}"


@pytest.fixture
def window(qtbot: QtBot, app_home: Path) -> MainWindow:
    win = MainWindow(autoload=False)
    qtbot.addWidget(win)
    win.show()
    return win


def test_a_100_mb_template_error_is_a_short_plain_banner(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    spec = SyntheticModel(chat_template=HUGE_ERROR + CHATML_TEMPLATE)
    model = write_synthetic_gguf(tmp_path / "huge-error.gguf", spec)
    try:
        window.load_model(model, confirm=False)
        qtbot.waitUntil(lambda: window.model_info is not None, timeout=WAIT_MS)
        window.controller.new_conversation()
        window.prompt.setPlainText("huge")
        qtbot.keyClick(window.prompt, Qt.Key.Key_Return)
        label = window.error_banner.label
        qtbot.waitUntil(lambda: "chat template" in label.text(), timeout=WAIT_MS)
        assert label.textFormat() is Qt.TextFormat.PlainText
        assert label.text().startswith("The model's chat template failed: <font size=7><img")
        assert len(label.text()) <= DEFAULT_LIMIT + len(ELLIPSIS) + 1
        assert "\x1b" not in label.text()
        assert label.sizeHint().height() < 400  # a few wrapped lines, no huge font
    finally:
        window.close()


def test_llama_cpp_aborting_is_one_plain_sentence_and_the_backtrace_goes_to_the_log(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    """4 query heads over 3 key/value heads: llama.cpp's GGML_ASSERT aborts the engine."""
    model = write_synthetic_gguf(tmp_path / "abort.gguf", SyntheticModel(n_head=4, n_head_kv=3))
    try:
        window.load_model(model, confirm=False)
        label = window.error_banner.label
        qtbot.waitUntil(lambda: "aborted" in label.text(), timeout=WAIT_MS)
        assert window.error_banner.isVisible()
        log = paths.engine_log_path()
        assert label.text() == (
            f"The model engine aborted inside llama.cpp. llama.cpp's last messages are in {log}."
        )
        assert "GGML_ASSERT(" in log.read_text(encoding="utf-8", errors="replace")
    finally:
        window.close()


def test_a_model_whose_load_hung_is_named_and_not_loaded_by_each_message(
    qtbot: QtBot, app_home: Path, tmp_path: Path
) -> None:
    spec = SyntheticModel(chat_template=HANGS_WHILE_LOADING + CHATML_TEMPLATE)
    model = write_synthetic_gguf(tmp_path / "hangs.gguf", spec)
    client = EngineClient(deadlines=EngineDeadlines(template_s=2.0))
    window = MainWindow(autoload=False, client=client)
    qtbot.addWidget(window)
    window.show()
    try:
        window.load_model(model, confirm=False)
        label = window.error_banner.label
        qtbot.waitUntil(lambda: "chat template did not finish" in label.text(), timeout=WAIT_MS)
        assert "hangs (hung while loading" in window.model_label.text()
        window.controller.new_conversation()
        window.prompt.setPlainText("hello")
        qtbot.keyClick(window.prompt, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: "Load it again to retry" in label.text(), timeout=WAIT_MS)
        assert "hangs (hung while loading" in window.model_label.text()
        assert window.worker.engine_pid is None  # no engine started for the message
    finally:
        window.close()
