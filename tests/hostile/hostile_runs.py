"""Run one corpus case through each way the app opens a model, and judge how the run ended.

A run is *clean* when it ends, within its time bound, with success or a typed error that the
user is shown as one line; *unclear* when that error is an exception nobody expected (the
engine's catch-all ``Engine error: ValueError(...)``) or says nothing; *noisy* when it ends but
leaves something else on the terminal (native backtraces, escape sequences); *crashed* when
the app's own process dies or prints a Python traceback; *hung* when it outlives its bound. A
crash of the engine *child*, reported as :class:`EngineCrashedError`, is clean: that is what the
engine process is for. A clean run is *wrong* (:func:`against_expectation`) when it loaded a case
that must be refused, or refused one that must load.

Used by the tests in this folder (a sample) and by ``scripts/red_team.py`` (everything).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from gguf_corpus import Case

from autoglm_desktop.cli import plan_command
from autoglm_desktop.cli.commands import run_command
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import AutoGLMError, EngineCrashedError
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings
from autoglm_desktop.core.engine import EngineClient, EngineEvent, GenerationFinished, ModelLoaded
from autoglm_desktop.core.engine.client import EngineDeadlines
from autoglm_desktop.core.models.library import (
    LibraryConfig,
    LibrarySources,
    OtherAppFolders,
    import_model_file,
    scan_library,
)

T = TypeVar("T")
Status = Literal["clean", "wrong", "unclear", "noisy", "crashed", "hung"]
STATUSES: tuple[Status, ...] = ("clean", "wrong", "unclear", "noisy", "crashed", "hung")
# How the engine words an exception it did not expect (core/engine/process.py).
UNEXPECTED = "Engine error:"
MEMORY_LIMIT_BYTES = 4 << 30  # the engine's address space (RLIMIT_AS), as on a small PC
ROOT = Path(__file__).resolve().parents[2]
# What the app may print on the terminal for a failed command: one line, this prefix.
ERROR_PREFIX = "autoglm-desktop"
# Bytes that change a terminal's state or what it shows (C0 controls but tab/newline, DEL, C1).
_TERMINAL_CONTROL = {*range(0, 9), *range(11, 32), 127, *range(0x80, 0xA0)} - {13}
SHORT = SamplingSettings(temperature=0.0, seed=1, max_tokens=2)
# Short limits so a hostile case costs seconds, not minutes; a stuck engine is still killed.
FAST_DEADLINES = EngineDeadlines(
    template_limit_s=1.0,
    template_s=8.0,
    load_silence_s=30.0,
    reply_silence_s=30.0,
    stop_grace_s=2.0,
)


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str  # the error shown, or what went wrong
    loaded: bool = False
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.status == "clean"


def against_expectation(case: Case, outcome: Outcome) -> Outcome:
    """``outcome``, marked *wrong* if it is clean but not what the case expects."""
    wrong = (case.expect == "refuse" and outcome.loaded) or (
        case.expect == "load" and not outcome.loaded
    )
    if outcome.clean and wrong:
        verb = "accepted" if outcome.loaded else "refused"
        return Outcome("wrong", f"{verb}: {outcome.detail}", outcome.loaded, outcome.seconds)
    return outcome


def has_terminal_controls(text: str) -> bool:
    return any(ord(ch) in _TERMINAL_CONTROL for ch in text)


def _judge_output(code: int, out: str, err: str, *, command: str) -> Outcome:
    """A CLI run's ending: 0 with its output, or 2 with one error line and nothing else."""
    if "Traceback (most recent call last)" in err or code not in (0, 2):
        return Outcome("crashed", f"exit {code}: {err[-2000:]}")
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 2:
        if len(lines) != 1 or not lines[0].startswith(f"{ERROR_PREFIX}"):
            return Outcome("noisy", f"{len(lines)} lines on stderr: {err[-2000:]!r}")
        if has_terminal_controls(lines[0]):
            return Outcome("noisy", f"control characters in the error: {lines[0][:300]!r}")
        return _judge_error(lines[0].split(": error: ", 1)[-1])
    if command == "plan":
        json.loads(out)
    if lines:  # the reply itself is the model's text, shown as the model wrote it
        return Outcome("noisy", f"exit 0 with stderr {err[-2000:]!r}", loaded=True)
    return Outcome("clean", "ok", loaded=True)


def _judge_error(message: str) -> Outcome:
    """A typed error's text: clean unless it is the catch-all's or empty."""
    if message.startswith(UNEXPECTED) or message.rstrip().endswith(":") or not message.strip():
        return Outcome("unclear", message[:2000])
    return Outcome("clean", message[:2000])


# -- plan: the CLI's code in this process ----------------------------------------------------


class Hung(BaseException):
    """Raised by :func:`_alarm` (not an ``OSError``, which the code under test may catch)."""


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    """Raise :class:`Hung` in the main thread after ``seconds`` (a blocking open is cut short)."""

    def ring(_signum: int, _frame: object) -> None:
        raise Hung

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_plan(case: Case, *, seconds: int = 20) -> Outcome:
    """``autoglm-desktop plan FILE --json`` in this process (a machine given, as CI has none)."""
    args = ["plan", str(case.path), "--json", "--ram-gb", "8", "--gpu", "none", "--cores", "2"]
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    sample_seconds = plan_command.CPU_SAMPLE_SECONDS
    plan_command.CPU_SAMPLE_SECONDS = 0.0  # the live CPU reading is not what is tested
    try:
        with _alarm(seconds), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_command(args)
    except Hung:
        return Outcome("hung", f"plan still running after {seconds} s")
    except BaseException as error:
        return Outcome("crashed", f"{type(error).__name__}: {error}"[:2000])
    finally:
        plan_command.CPU_SAMPLE_SECONDS = sample_seconds
    outcome = _judge_output(code, out.getvalue(), err.getvalue(), command="plan")
    return _timed(outcome, started)


def _timed(outcome: Outcome, started: float) -> Outcome:
    return Outcome(outcome.status, outcome.detail, outcome.loaded, time.monotonic() - started)


# -- plan and the library in a process under the memory limit --------------------------------


def limited_worker() -> ProcessPoolExecutor:
    """A spawned process with :data:`MEMORY_LIMIT_BYTES` of address space, for plan and import.

    A case that makes them allocate too much fails there, as on a small PC, not in the test.
    """
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_limit_memory,
    )


def run_in_worker(
    worker: ProcessPoolExecutor, run: Callable[..., Outcome], *args: object, home: Path
) -> Outcome:
    """``run(*args)`` in ``worker`` with ``home`` as the app's folder; a dead worker crashed."""
    try:
        return worker.submit(with_home, home, run, *args).result()
    except BrokenProcessPool as error:
        return Outcome("crashed", f"the process running it died: {error}"[:2000])


def with_home(home: Path, run: Callable[..., T], *args: object) -> T:
    """``run(*args)`` with ``home`` as the app's folder (in a worker: the test's is not there)."""
    paths.set_base_dir(home)
    try:
        return run(*args)
    finally:
        paths.set_base_dir(None)


def scan_listing(folder: Path) -> tuple[Outcome, list[Path]]:
    """:func:`run_library_scan` of ``folder``, with what it listed."""
    listed: list[Path] = []
    return run_library_scan(folder, listed=listed), listed


# -- the library: scanning a folder, importing a file ------------------------------------------


def run_library_import(case: Case, *, seconds: int = 20) -> Outcome:
    """The Models window's *Import*: a typed error or a model (needs an isolated app home)."""
    started = time.monotonic()
    try:
        with _alarm(seconds):
            model = import_model_file(case.path)
    except Hung:
        return Outcome("hung", f"import still running after {seconds} s")
    except AutoGLMError as error:
        return _timed(_judge_error(str(error)), started)
    except BaseException as error:
        return Outcome("crashed", f"{type(error).__name__}: {error}"[:2000])
    return _timed(Outcome("clean", model.name, loaded=True), started)


def run_library_scan(
    folder: Path, *, seconds: int = 60, listed: list[Path] | None = None
) -> Outcome:
    """The library's scan of a models folder that holds the corpus (``listed``: what it found)."""
    started = time.monotonic()
    sources = LibrarySources(
        app_dir=folder,
        hf_cache_dir=folder / "no-hf-cache",
        other_apps=OtherAppFolders(lm_studio=(), gpt4all=(), ollama=()),
        config=LibraryConfig(folders=(folder,), include_hf_cache=False, discover_other_apps=False),
    )
    try:
        with _alarm(seconds):
            models = scan_library(sources)
    except Hung:
        return Outcome("hung", f"scan still running after {seconds} s")
    except BaseException as error:
        return Outcome("crashed", f"{type(error).__name__}: {error}"[:2000])
    if listed is not None:
        listed.extend(model.path for model in models)
    return _timed(Outcome("clean", f"{len(models)} models", loaded=bool(models)), started)


# -- the engine: a real llama.cpp process under a memory limit --------------------------------


class LimitedEngineClient(EngineClient):
    """An engine client whose engines get at most ``memory_limit`` bytes of address space.

    The limit (RLIMIT_AS) is set by the parent right after the spawn, before any request.
    """

    def __init__(self, *, memory_limit: int = MEMORY_LIMIT_BYTES, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.memory_limit = memory_limit

    def _start_process(self, *, hide_gpus: bool = False) -> None:
        super()._start_process(hide_gpus=hide_gpus)
        assert self.pid is not None
        limit = (self.memory_limit, self.memory_limit)
        resource.prlimit(self.pid, resource.RLIMIT_AS, limit)


class SharedEngineClient(LimitedEngineClient):
    """A limited client whose loads reuse the idle engine process instead of starting one each.

    For the CI sample only (a spawn costs a second, a corpus case a few milliseconds): the app,
    and ``scripts/red_team.py``, start a fresh engine for every load. A hostile file that
    leaves the engine in a bad state shows up in the next case; a dead engine is replaced.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._reusing = False

    def load(self, plan: LoadPlan) -> Iterator[EngineEvent]:
        self._reusing = self.is_running
        try:
            yield from super().load(plan)
        finally:
            self._reusing = False

    def shutdown(self) -> None:
        if not self._reusing:
            super().shutdown()

    def _start_process(self, *, hide_gpus: bool = False) -> None:
        if not self._reusing:
            super()._start_process(hide_gpus=hide_gpus)


def run_engine(client: EngineClient, case: Case, *, seconds: float = 60.0) -> Outcome:
    """Load the case in the engine and, if it loads, ask for a two-token reply.

    The work runs on a thread: one that outlives ``seconds`` is a hang (the engine is killed).
    """
    result: list[Outcome] = []
    started = time.monotonic()

    def work() -> None:
        result.append(_engine_work(client, case))

    thread = threading.Thread(target=work, name=f"engine-{case.name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        client.request_stop()
        client.kill()
        thread.join(10)
        return Outcome("hung", f"the engine request did not end within {seconds:g} s")
    return _timed(result[0], started)


def _engine_work(client: EngineClient, case: Case) -> Outcome:
    try:
        events = list(
            client.load(LoadPlan(model_path=case.path, n_ctx=256, n_batch=64, n_ubatch=64))
        )
        if not isinstance(events[-1], ModelLoaded):
            return Outcome("crashed", f"the load ended with {events[-1]!r}")
        turns = [ChatTurn(Role.USER, "Hi")]
        reply = list(client.generate(turns=turns, sampling=SHORT))
        if not isinstance(reply[-1], GenerationFinished):
            return Outcome("crashed", f"the reply ended with {reply[-1]!r}")
    except EngineCrashedError as error:  # the child died; the parent says so: clean
        return Outcome("clean", f"engine crashed: {error}")
    except AutoGLMError as error:
        judged = _judge_error(str(error))
        return Outcome(judged.status, f"{type(error).__name__}: {judged.detail}")
    except BaseException as error:
        return Outcome("crashed", f"{type(error).__name__}: {error}"[:2000])
    return Outcome("clean", "loaded and replied", loaded=True)


# -- chat: the CLI in its own process, under the memory limit ---------------------------------


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def run_chat_cli(
    case: Case, *, seconds: float = 90.0, home: Path, extra_env: dict[str, str] | None = None
) -> Outcome:
    """``autoglm-desktop chat --model FILE "Hi"`` as a user runs it (its own app home)."""
    command = [
        sys.executable,
        "-m",
        "autoglm_desktop",
        "chat",
        "--model",
        os.fsdecode(case.path),
        "--ctx",
        "256",
        "--max-tokens",
        "2",
        "--temperature",
        "0",
        "Hi",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AUTOGLM_HOME": str(home),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        **(extra_env or {}),
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            timeout=seconds,
            env=env,
            preexec_fn=_limit_memory,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome("hung", f"chat still running after {seconds:g} s")
    out = done.stdout.decode("utf-8", errors="replace")
    err = done.stderr.decode("utf-8", errors="replace")
    outcome = _judge_output(done.returncode, out, err, command="chat")
    return _timed(outcome, started)
