"""Outside text is cut short, cleaned and shown as plain text: in the engine, the CLI and Qt.

A model's chat template controls the message of the error it raises (100 MB of it, terminal
escape sequences, HTML); file and repository names are outside text too. Real engine processes
on synthetic models, the real command line in a subprocess, offscreen Qt widgets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from core.synthetic_gguf import CHATML_TEMPLATE, SyntheticModel, write_synthetic_gguf
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtWidgets import QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from autoglm_desktop.cli.output import write_stream
from autoglm_desktop.core.common.error_text import describe_exception
from autoglm_desktop.core.common.errors import EngineError, ModelLoadError, StoreError
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings
from autoglm_desktop.core.common.untrusted_text import (
    DEFAULT_LIMIT,
    ELLIPSIS,
    plain_message,
    plain_text_stream,
)
from autoglm_desktop.core.engine import EngineClient, GenerationFinished, ModelLoaded
from autoglm_desktop.core.engine.client import error_from_failure
from autoglm_desktop.core.engine.process import failure_of
from autoglm_desktop.core.engine.protocol import EngineFailure, GenerateRequest, LoadRequest
from autoglm_desktop.qt.common.plain_text import plain_message_box, plain_tooltip
from autoglm_desktop.qt.fatal_error import fatal_error_box
from autoglm_desktop.qt.main_window import ErrorBanner
from autoglm_desktop.qt.models.widgets import NoticeBar

pytestmark = pytest.mark.timeout(120)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHORT = SamplingSettings(temperature=0.0, seed=1, max_tokens=4)
# What a terminal obeys: set the window title, clear the screen, move the cursor, ring the bell.
TERMINAL_ATTACK = "\x1b]0;pwned\x07\x1b[2J\x1b[H\x1b[31;1m\x07"
HTML_ATTACK = "<img src='{image}'><font size=7>BIG</font>"
# Characters that must never reach a terminal or a label: C0 but tab and newline, DEL, C1,
# and the invisible ones that reorder text.
FORBIDDEN = {chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]} | {
    "\u202e",
    "\u2066",
    "\u200b",
}


# -- plain_message ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07Hello", "Hello"),  # window title, ended by BEL
        ("\x1b]2;pwned\x1b\\Hello", "Hello"),  # window title, ended by ST
        ("\x1b[2J\x1b[HHello", "Hello"),  # clear the screen, cursor home
        ("\x1b[31;1mred\x1b[0m text", "red text"),  # colours
        ("\x9b2JHello", "Hello"),  # the C1 form of CSI
        ("\x1bPq#0;2;0;0;0\x1b\\Hello", "Hello"),  # a DCS (sixel) string
        ("Hel\x08\x08lo\x07", "Hello"),  # backspaces and a bell
        ("safe\roverwritten", "safeoverwritten"),  # a carriage return cannot rewrite the line
        ("evil\u202etxt.exe", "eviltxt.exe"),  # a bidirectional override
        ("line one\r\nline\ttwo\n", "line one\nline\ttwo\n"),  # newlines and tabs stay
        ("\x1b7\x1b8\x1bcHello", "Hello"),  # save/restore cursor, full reset
    ],
)
def test_escape_sequences_and_control_characters_are_removed(raw: str, shown: str) -> None:
    assert plain_message(raw) == shown


def test_a_100_mb_message_is_cut_to_the_limit_with_a_marker() -> None:
    huge = TERMINAL_ATTACK + "<b>x</b>" * (100_000_000 // 8)
    shown = plain_message(huge)
    assert shown.endswith(ELLIPSIS)
    assert len(shown) <= DEFAULT_LIMIT + len(ELLIPSIS)
    assert not FORBIDDEN & set(shown)
    assert plain_message("short", limit=10) == "short"
    assert plain_message("0123456789ab", limit=10) == "0123456789" + ELLIPSIS


def test_one_line_folds_newlines_and_blanks() -> None:
    assert plain_message("a\n\n  b\tc ", one_line=True) == "a b c"


@given(st.text(max_size=3000), st.integers(min_value=1, max_value=1000))
def test_any_text_comes_out_printable_and_bounded(text: str, limit: int) -> None:
    shown = plain_message(text, limit=limit)
    assert not FORBIDDEN & set(shown)
    assert len(shown) <= limit + len(ELLIPSIS)
    streamed = plain_text_stream(text)
    assert not FORBIDDEN & set(streamed)


# -- plain words for unexpected exceptions -------------------------------------------------


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (AssertionError(), "an internal consistency check failed"),
        (ValueError(""), "a value is not valid"),
        (
            ValueError("Array length must be >= 0, not -1"),
            "Array length must be >= 0, not -1",
        ),
        (KeyError("messages"), "a required entry is missing ('messages')"),
        (MemoryError(), "there was not enough memory"),
        (type("OddError", (Exception,), {})(), "an unexpected error happened (OddError)"),
        (RuntimeError("\x1b[2Jbad\nthing."), "bad thing"),
    ],
)
def test_exceptions_are_told_in_plain_words(error: BaseException, words: str) -> None:
    assert describe_exception(error) == words


def test_unexpected_errors_while_loading_say_the_file_looks_damaged(tmp_path: Path) -> None:
    load = LoadRequest(plan=LoadPlan(model_path=tmp_path / "model.gguf"))
    for error in (AssertionError(), ValueError("Array length must be >= 0, not -1")):
        failure = failure_of(error, load)
        assert failure.kind == "ModelLoadError"
        assert failure.message.startswith(
            "model.gguf could not be loaded: the file looks damaged or is not a model ("
        )
        assert "Error(" not in failure.message  # no repr of the exception
    reply = GenerateRequest(turns=(), system_prompt="", sampling=SHORT)
    failure = failure_of(RuntimeError(), reply)
    assert failure == EngineFailure(
        kind="EngineError",
        message="The model engine failed while replying: an unexpected error happened "
        "(RuntimeError).",
    )


def test_typed_errors_are_cut_in_the_engine_and_again_by_the_client() -> None:
    reply = GenerateRequest(turns=(), system_prompt="", sampling=SHORT)
    failure = failure_of(StoreError(TERMINAL_ATTACK + "y" * 10_000_000), reply)
    assert failure.kind == "StoreError"
    assert len(failure.message) <= DEFAULT_LIMIT + len(ELLIPSIS)
    assert "\x1b" not in failure.message
    # An engine of another version (or a damaged reply) is not trusted either.
    error = error_from_failure(
        EngineFailure(kind="ModelLoadError", message="\x1b[2J" + "z" * 10**6)
    )
    assert isinstance(error, ModelLoadError)
    assert "\x1b" not in str(error) and len(str(error)) <= DEFAULT_LIMIT + len(ELLIPSIS)
    gated = error_from_failure(EngineFailure(kind="GatedModelError", message="needs a token"))
    assert isinstance(gated, EngineError)  # a kind the client cannot build is still an error


# -- the engine: a chat template that raises a hostile message ---------------------------


def raising_template(triggers: dict[str, str]) -> str:
    """ChatML, except that a last message equal to a key raises the value's expression."""
    return (
        "".join(
            f"{{% if messages[-1]['content'] == '{name}' %}}{{{{ raise_exception({expr}) }}}}"
            "{% endif %}"
            for name, expr in triggers.items()
        )
        + CHATML_TEMPLATE
    )


HOSTILE_TRIGGERS = {
    # 60 MB of HTML after terminal escapes (the sandbox refuses to make much larger values).
    "huge": "'\\x1b]0;pwned\\x07\\x1b[2J' ~ ('<img src=x>' * 5500000)",
    "empty": "''",
}


@pytest.fixture(scope="module")
def raising_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("raising") / "raising.gguf"
    spec = SyntheticModel(chat_template=raising_template(HOSTILE_TRIGGERS))
    return write_synthetic_gguf(path, spec)


@pytest.fixture
def engine(raising_model: Path, app_home: Path) -> Iterator[EngineClient]:
    client = EngineClient(log_path=app_home / "engine.log")
    try:
        events = list(client.load(LoadPlan(model_path=raising_model, n_ctx=256)))
        assert isinstance(events[-1], ModelLoaded)
        yield client
    finally:
        client.shutdown()


def say(client: EngineClient, text: str) -> list[object]:
    return list(client.generate(turns=[ChatTurn(Role.USER, text)], sampling=SHORT))


def test_a_100_mb_template_error_arrives_short_and_clean(engine: EngineClient) -> None:
    with pytest.raises(EngineError) as caught:
        say(engine, "huge")
    message = str(caught.value)
    assert message.startswith("The model's chat template failed: <img src=x><img src=x>")
    assert message.endswith(ELLIPSIS + ".")
    assert len(message) <= DEFAULT_LIMIT + len(ELLIPSIS) + 1
    assert not FORBIDDEN & set(message)
    events = say(engine, "Hello")  # the same engine answers the next message
    assert isinstance(events[-1], GenerationFinished)


def test_an_empty_template_error_still_says_what_happened(engine: EngineClient) -> None:
    with pytest.raises(EngineError) as caught:
        say(engine, "empty")
    assert str(caught.value) == "The model's chat template failed: a value is not valid."


def test_a_template_jinja_cannot_compile_is_named_as_the_problem(
    tmp_path: Path, app_home: Path
) -> None:
    spec = SyntheticModel(chat_template="{% if \x1b[2J <b> %}" + CHATML_TEMPLATE)
    model = write_synthetic_gguf(tmp_path / "broken.gguf", spec)
    client = EngineClient()
    try:
        with pytest.raises(ModelLoadError) as caught:
            list(client.load(LoadPlan(model_path=model, n_ctx=256)))
    finally:
        client.shutdown()
    message = str(caught.value)
    assert message.startswith("The chat template of broken.gguf is broken: ")
    assert "\x1b" not in message


# -- the command line ---------------------------------------------------------------------


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, AUTOGLM_HOME=str(home), PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "autoglm_desktop", *args],
        capture_output=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_chat_prints_one_clean_line_for_a_hostile_template_error(
    raising_model: Path, tmp_path: Path
) -> None:
    result = run_cli("chat", "--model", str(raising_model), "huge", home=tmp_path)
    assert result.returncode == 2
    assert b"\x1b" not in result.stdout + result.stderr
    assert b"\x07" not in result.stdout + result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("autoglm-desktop chat: error: The model's chat template failed: ")
    assert len(lines[0]) < DEFAULT_LIMIT + 100
    assert (tmp_path / "data" / "logs" / "engine.log").is_file()  # llama.cpp's output went there


def test_chat_on_a_working_model_keeps_the_terminal_clean(tmp_path: Path) -> None:
    model = write_synthetic_gguf(tmp_path / "plain.gguf", SyntheticModel())
    result = run_cli("chat", "--model", str(model), "--max-tokens", "8", "hi", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""  # llama.cpp's output went to the engine log
    assert b"\x1b" not in result.stdout


def test_a_streamed_reply_loses_its_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for chunk in ("Hi \x1b]0;pw", "ned\x07 there\x1b[2J", "\r\n\u202eend\t."):
        write_stream(chunk)
    out = capsys.readouterr().out
    assert out == "Hi ]0;pwned there[2J\nend\t."  # inert: without ESC nothing is obeyed


def test_plan_and_models_print_a_hostile_file_name_cleaned(tmp_path: Path) -> None:
    home = tmp_path / "home"
    model = write_synthetic_gguf(
        home / "data" / "models" / "evil\x1b]0;pwned\x07\x1b[2J.gguf", SyntheticModel()
    )
    plan = run_cli("plan", str(model), home=home)
    assert plan.returncode == 0, plan.stderr
    assert b"Model:        evil.gguf\n" in plan.stdout
    listed = run_cli("models", home=home)
    assert listed.returncode == 0, listed.stderr
    assert b"\x1b" not in plan.stdout + listed.stdout
    assert b"\nevil " in listed.stdout


def test_chat_on_a_model_that_makes_llama_cpp_abort_prints_one_line(tmp_path: Path) -> None:
    """4 query heads over 3 key/value heads: llama.cpp's GGML_ASSERT aborts the engine."""
    model = write_synthetic_gguf(tmp_path / "abort.gguf", SyntheticModel(n_head=4, n_head_kv=3))
    home = tmp_path / "home"
    result = run_cli("chat", "--model", str(model), "hi", home=home)
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert lines == [
        "autoglm-desktop chat: error: The model engine aborted inside llama.cpp. llama.cpp's "
        f"last messages are in {home / 'data' / 'logs' / 'engine.log'}."
    ]
    log = (home / "data" / "logs" / "engine.log").read_text(encoding="utf-8", errors="replace")
    assert "GGML_ASSERT(" in log  # the assertion and its backtrace are kept for a bug report


ABORTING_ENGINE = textwrap.dedent(
    """
    import ctypes, pathlib, sys
    import llama_cpp
    from autoglm_desktop.core.engine.process import _redirect_native_output

    _redirect_native_output(pathlib.Path(sys.argv[1]))
    print("python output", flush=True)
    lib = pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"
    ggml = ctypes.CDLL(str(lib))
    ggml.ggml_abort(b"hostile.c", 42, b"GGML_ASSERT(%s) failed", b"n_tokens >= 0")
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="calls libggml-base.so directly")
def test_llama_cpp_aborting_writes_its_backtrace_to_the_engine_log_only(tmp_path: Path) -> None:
    """What the engine process does first: a GGML_ASSERT's message and backtrace go to the log."""
    log = tmp_path / "logs" / "engine.log"
    result = subprocess.run(
        [sys.executable, "-c", ABORTING_ENGINE, str(log)],
        capture_output=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        check=False,
    )
    assert result.returncode == -signal.SIGABRT
    assert result.stdout == b"" and result.stderr == b""  # nothing reached the terminal
    written = log.read_text(encoding="utf-8", errors="replace")
    assert "GGML_ASSERT(n_tokens >= 0) failed" in written
    assert "python output" in written


# -- Qt: plain text only ------------------------------------------------------------------


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """A 300 x 300 PNG on disk: a label that renders HTML would show it."""
    path = tmp_path / "tall.png"
    picture = QImage(300, 300, QImage.Format.Format_RGB32)
    picture.fill(QColor("red"))
    assert picture.save(str(path))
    return path


def test_the_error_banner_shows_html_as_text(qtbot: QtBot, image: Path) -> None:
    text = HTML_ATTACK.format(image=image)
    rich = QLabel(text)  # what the banner did: Qt took the text for HTML
    assert rich.sizeHint().height() >= 300
    banner = ErrorBanner()
    qtbot.addWidget(banner)
    banner.show_message(text + TERMINAL_ATTACK)
    assert banner.label.textFormat() is Qt.TextFormat.PlainText
    assert banner.label.text() == text  # the tags shown literally, the escapes gone
    assert banner.label.sizeHint().height() < 100  # no image, no huge font


def test_the_banner_cuts_a_huge_message(qtbot: QtBot) -> None:
    banner = ErrorBanner()
    qtbot.addWidget(banner)
    banner.show_message("<b>" * 30_000_000)
    assert len(banner.label.text()) <= DEFAULT_LIMIT + len(ELLIPSIS)


def test_the_models_windows_notice_bar_shows_html_as_text(qtbot: QtBot, image: Path) -> None:
    bar = NoticeBar()
    qtbot.addWidget(bar)
    text = HTML_ATTACK.format(image=image)
    bar.show_message(text)
    assert bar.label.textFormat() is Qt.TextFormat.PlainText
    assert bar.label.text() == text
    assert bar.label.sizeHint().height() < 100


def test_tooltips_and_message_boxes_show_names_as_text(qtbot: QtBot, image: Path) -> None:
    name = HTML_ATTACK.format(image=image) + "\nsecond line"
    document = QTextDocument()
    document.setHtml(plain_tooltip(name))
    assert document.toPlainText() == name
    box = plain_message_box(None, QMessageBox.Icon.Question, "Delete chat", f"Delete “{name}”?")
    qtbot.addWidget(box)
    assert box.textFormat() is Qt.TextFormat.PlainText
    assert box.text() == f"Delete “{name}”?"
    fatal = fatal_error_box(TERMINAL_ATTACK + name)
    qtbot.addWidget(fatal)
    assert fatal.textFormat() is Qt.TextFormat.PlainText
    assert fatal.text() == name
