"""``autoglm-desktop serve``, run as a user would: a real subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import openai
from test_cli import CLI, run_cli

ADDRESS = re.compile(r"at (http://127\.0\.0\.1:\d+/v1)")


def test_serve_refuses_a_network_address_without_the_switch(tmp_path: Path) -> None:
    result = run_cli("serve", "x.gguf", "--host", "0.0.0.0", env_home=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "--allow-network" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_the_network_without_a_key(tmp_path: Path) -> None:
    result = run_cli(
        "serve", "x.gguf", "--host", "0.0.0.0", "--allow-network", env_home=tmp_path, timeout=60
    )
    assert result.returncode == 2
    assert "API key" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_a_missing_model_fails_clearly(tmp_path: Path) -> None:
    result = run_cli("serve", str(tmp_path / "nope.gguf"), "--port", "0", env_home=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_serve_answers_the_openai_client_then_stops_on_ctrl_c(
    starter_model: Path, tmp_path: Path
) -> None:
    env = dict(os.environ, AUTOGLM_HOME=str(tmp_path), AUTOGLM_API_KEY="k-1")
    process = subprocess.Popen(
        [*CLI, "serve", str(starter_model), "--port", "0", "--ctx", "1024"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if ADDRESS.search(line):
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert found.wait(180), "".join(lines)
        match = next(m for line in lines if (m := ADDRESS.search(line)))
        with openai.OpenAI(base_url=match.group(1), api_key="k-1", max_retries=0) as client:
            model = starter_model.stem
            assert [m.id for m in client.models.list().data] == [model]
            reply = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=8
            )
            assert reply.choices[0].message.content
        assert any("curl" in line and "Authorization: Bearer" in line for line in lines)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        reader.join(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
    assert code == 0, "".join(lines)
    assert "Traceback" not in "".join(lines)
