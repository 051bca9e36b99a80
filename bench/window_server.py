"""The window while its Local server answers many programs: its GUI thread and its own reply.

Runs the real MainWindow headless (QT_QPA_PLATFORM=offscreen unless set) in an isolated app
home, loads the model (the starter model unless ``--model``), turns the *Local server* switch
on at a free port, then starts ``--clients`` threads of the official ``openai`` client together
(one chat completion each) and, while they are queued, sends a message in the window. A 20 ms
heartbeat QTimer on the GUI thread measures how late each tick comes. Printed: how many clients
succeeded and in how long, how long the window's reply took from its send, and the heartbeat's
ticks, longest stall and 99th percentile lateness during the load.

    PYTHONPATH=$PWD .venv/bin/python bench/window_server.py [--clients 20] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["AUTOGLM_HOME"] = tempfile.mkdtemp(prefix="autoglm-window-server-")

import openai
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.types import SamplingSettings
from autoglm_desktop.core.engine.shared_engine import Unavailable
from autoglm_desktop.core.models.starter_model import ensure_starter_model
from autoglm_desktop.qt.main_window import MainWindow
from autoglm_desktop.qt.workers.local_server import ServerState

HEARTBEAT_MS = 20
WINDOW_REPLY = SamplingSettings(temperature=0.0, seed=1, max_tokens=40)


def wait(app: QApplication, done: Callable[[], bool], timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.002)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    model = args.model or ensure_starter_model(models_dir=paths.models_dir()).path
    app = QApplication.instance() or QApplication(sys.argv)
    window = MainWindow(autoload=False)
    window.show()
    window.load_model(model, confirm=False)
    wait(app, lambda: window.model_info is not None)
    window.server_page.port.setValue(free_port())
    window.server_page.switch.click()
    wait(
        app,
        lambda: (
            window.local_server.state is ServerState.ON
            and not isinstance(window.worker.shared.current(), Unavailable)
        ),
    )
    client = openai.OpenAI(
        base_url=window.local_server.base_url, api_key="unused", max_retries=0, timeout=600.0
    )
    tokens: list[int] = []
    failures: list[BaseException] = []

    def ask(index: int) -> None:
        try:
            reply = client.chat.completions.create(
                model=model.stem,
                messages=[{"role": "user", "content": f"Name {index + 2} colours."}],
                max_tokens=args.max_tokens,
            )
            tokens.append(reply.usage.completion_tokens if reply.usage else 0)
        except Exception as exc:  # counted and shown: the point is that none fails
            failures.append(exc)

    ticks: list[float] = []
    heartbeat = QTimer(interval=HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    heartbeat.start()
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    window.controller.new_conversation()
    conversation = window.controller.conversation_id
    assert conversation is not None
    window.store.update_conversation_settings(conversation, sampling=WINDOW_REPLY)
    sent = time.perf_counter()
    window.send_prompt("Write one sentence about rain.")
    wait(app, lambda: not window.controller.reply_running)
    replied = time.perf_counter()
    wait(app, lambda: not any(thread.is_alive() for thread in threads))
    ended = time.perf_counter()
    heartbeat.stop()
    during = [t for t in ticks if started <= t <= ended]
    gaps = [later - earlier for earlier, later in itertools.pairwise(during)]
    lateness = sorted(max(0.0, gap - HEARTBEAT_MS / 1000) for gap in gaps)
    print(
        f"{len(tokens)} of {args.clients} clients answered ({len(failures)} failed), "
        f"{sum(tokens)} tokens, in {ended - started:.2f} s"
    )
    print(f"the window's reply: {replied - sent:.2f} s from its send")
    print(
        f"GUI heartbeat ({HEARTBEAT_MS} ms): {len(during)} ticks, longest stall "
        f"{max(gaps) * 1000:.0f} ms, p99 lateness "
        f"{lateness[int(len(lateness) * 0.99)] * 1000:.0f} ms, "
        f"median gap {statistics.median(gaps) * 1000:.0f} ms"
    )
    client.close()
    window.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
