"""The command line, run as a user would: a real subprocess of the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.gguf_copy import THINKING_CHATML, copy_with_chat_template

CLI = [sys.executable, "-m", "autoglm_desktop"]


def run_cli(*args: str, env_home: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AUTOGLM_HOME=str(env_home), QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_chat_streams_a_reply(starter_model: Path, tmp_path: Path) -> None:
    result = run_cli(
        "chat",
        "--model",
        str(starter_model),
        "--temperature",
        "0",
        "--max-tokens",
        "30",
        "Say hello.",
        env_home=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_chat_with_a_bad_model_path_fails_clearly(tmp_path: Path) -> None:
    result = run_cli("chat", "--model", str(tmp_path / "nope.gguf"), "hi", env_home=tmp_path)
    assert result.returncode != 0
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_with_a_non_model_file_fails_clearly(tmp_path: Path) -> None:
    fake = tmp_path / "photo.gguf"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    result = run_cli("chat", "--model", str(fake), "hi", env_home=tmp_path)
    assert result.returncode != 0
    assert "not a GGUF model file" in result.stderr
    assert "Traceback" not in result.stderr


def test_self_test_prints_one_json_line(starter_model: Path, tmp_path: Path) -> None:
    result = run_cli("self-test", "--model", str(starter_model), env_home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["ok"] is True
    assert report["tokens"] > 0 and report["tokens_per_s"] > 0 and report["ttft_s"] > 0


def test_self_test_without_any_model_reports_why(tmp_path: Path) -> None:
    result = run_cli("self-test", env_home=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout.strip())
    assert report["ok"] is False and "no model" in report["reason"]


def test_chat_sends_a_thinking_models_reasoning_to_stderr(
    starter_model: Path, tmp_path: Path
) -> None:
    model = copy_with_chat_template(
        starter_model, tmp_path / "thinking.gguf", template=THINKING_CHATML
    )
    args = ("chat", "--model", str(model), "--temperature", "0", "--max-tokens", "20", "Hi.")
    thinking = run_cli(*args, env_home=tmp_path)
    assert thinking.returncode == 0, thinking.stderr
    assert thinking.stderr.strip() and not thinking.stdout.strip()  # SmolLM2 never closes it
    answering = run_cli(*args, "--think", "off", env_home=tmp_path)
    assert answering.returncode == 0, answering.stderr
    assert answering.stdout.strip() and "<think>" not in answering.stdout
