"""``autoglm-desktop serve`` as a subprocess on 127.0.0.1, for the API benchmarks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ADDRESS = re.compile(r"at (http://127\.0\.0\.1:\d+/v1)")
START_TIMEOUT_S = 300.0
API_KEY = "bench-key"


@contextmanager
def serve(model: Path, *options: str, home: Path) -> Iterator[str]:
    """Run ``serve MODEL OPTIONS`` on a free port until the block ends; yields its base URL."""
    with serve_process(model, *options, home=home) as (url, _pid):
        yield url


@contextmanager
def serve_process(model: Path, *options: str, home: Path) -> Iterator[tuple[str, int]]:
    """As :func:`serve`; yields the base URL and the serve process's id."""
    env = dict(os.environ, AUTOGLM_HOME=str(home), AUTOGLM_API_KEY=API_KEY)
    command: Sequence[str] = [
        sys.executable,
        "-m",
        "autoglm_desktop",
        "serve",
        str(model),
        "--port",
        "0",
        *options,
    ]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
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
        if not found.wait(START_TIMEOUT_S):
            raise RuntimeError("serve did not start:\n" + "".join(lines))
        yield next(m.group(1) for line in lines if (m := ADDRESS.search(line))), process.pid
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        reader.join(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
