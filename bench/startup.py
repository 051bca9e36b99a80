"""Start-up and idle: time to the first shown window, and memory with no model loaded.

Starts the app from source on a private Xvfb display (xcb, as a user's desktop would) with a
fresh app home each run, and measures:

* the time from process start until its main window is mapped, with no model on the PC and
  with the starter model in the app's models folder (then the window must not wait for the
  model: it loads in the engine process after the window shows);
* the window process's resident memory once it is idle with no model loaded (the engine
  process, which holds llama.cpp, is not started then);
* with the model: the time until the engine process holds the model (its RSS passes the
  model file's size), to show that loading goes on after the window is up.

    python bench/startup.py [--runs 7]

Targets (issue "Long chats on weak machines stay instant"): first window <= 1.0 s median,
idle resident memory with no model <= 150 MB.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from smoke_test_bundle import clean_env, start_xvfb, window_is_mapped  # noqa: E402

from autoglm_desktop.core.models.starter_model import ensure_starter_model  # noqa: E402

APP = ROOT / ".venv" / "bin" / "autoglm-desktop"
WINDOW_TARGET_S = 1.0
IDLE_RSS_TARGET_MB = 150.0
IDLE_SETTLE_S = 3.0  # the window finishes its start-up work (library scan, first reading)


@dataclass
class Run:
    window_s: float
    idle_rss_mb: float | None = None
    model_in_engine_s: float | None = None


def wait_until(condition: object, *, timeout_s: float) -> float | None:
    """Seconds until ``condition()`` holds (polled every 10 ms), or None at the timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.01)
    return None


def engine_holds_model(process: psutil.Process, model_bytes: int) -> bool:
    try:
        children = process.children(recursive=True)
        return any(child.memory_info().rss > model_bytes for child in children)
    except psutil.Error:
        return False


def one_run(home: Path, display: str, *, model: Path | None) -> Run:
    if home.exists():
        shutil.rmtree(home)
    if model is not None:
        models = home / "data" / "models"
        models.mkdir(parents=True)
        shutil.copy(model, models / model.name)
    env = clean_env(home, DISPLAY=display, AUTOGLM_HOME=str(home))
    started = time.monotonic()
    app = subprocess.Popen(
        [str(APP)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        shown = wait_until(lambda: window_is_mapped(env), timeout_s=60)
        if shown is None:
            raise RuntimeError("the window did not show within 60 s")
        run = Run(window_s=time.monotonic() - started)
        process = psutil.Process(app.pid)
        if model is None:
            time.sleep(IDLE_SETTLE_S)
            run.idle_rss_mb = process.memory_info().rss / 1e6
        else:
            size = model.stat().st_size
            loaded = wait_until(lambda: engine_holds_model(process, size), timeout_s=60)
            if loaded is not None:
                run.model_in_engine_s = time.monotonic() - started
        return run
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    models = platformdirs.user_cache_path("autoglm-desktop-tests", appauthor=False) / "models"
    model = ensure_starter_model(models_dir=models).path
    scratch = Path(tempfile.mkdtemp(prefix="autoglm-startup-"))
    server, display = start_xvfb(scratch / "xvfb.log")
    try:
        subprocess.run([str(APP), "--version"], check=True, capture_output=True)  # warm caches
        empty = [one_run(scratch / "home", display, model=None) for _ in range(args.runs)]
        with_model = [one_run(scratch / "home", display, model=model) for _ in range(args.runs)]
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    window_empty = statistics.median(r.window_s for r in empty)
    window_model = statistics.median(r.window_s for r in with_model)
    rss = statistics.median(r.idle_rss_mb for r in empty if r.idle_rss_mb is not None)
    loaded = [r.model_in_engine_s for r in with_model if r.model_in_engine_s is not None]
    print(f"start-up from source on Xvfb, median of {args.runs} runs")
    print(f"{'case':34} {'window shown':>13} {'idle RSS':>10} {'model in engine':>16}")
    print(f"{'no model on the PC':34} {window_empty:>12.2f}s {rss:>8.0f}MB {'-':>16}")
    model_text = f"{statistics.median(loaded):.2f}s" if loaded else "not seen"
    print(
        f"{'starter model, loaded at start':34} {window_model:>12.2f}s {'-':>10} {model_text:>16}"
    )
    ok = max(window_empty, window_model) <= WINDOW_TARGET_S and rss <= IDLE_RSS_TARGET_MB
    print(
        f"targets: window <= {WINDOW_TARGET_S:.1f} s, idle RSS <= {IDLE_RSS_TARGET_MB:.0f} MB: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
