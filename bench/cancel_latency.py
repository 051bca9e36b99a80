"""How fast Stop ends each kind of engine request, and how fast the main window closes.

Issue 10 asks that every engine request (load, template rendering, prompt evaluation,
generation) be cancellable within a second and bounded in time, that an engine that does not
answer be killed with a reason, and that closing the window always complete within a couple of
seconds. Real engine processes and an isolated app home (AUTOGLM_HOME in a temporary folder);
each phase runs ``--runs`` times:

1. load: Gemma 3 270M's weights; Stop on the first LoadProgress event, and (1b) on the last
   one, as the context, the chat template's checks and the 262k-token vocabulary scan follow;
2. load-template: a synthetic model whose chat template loops when the model loads (the
   client's deadlines are an hour: only Stop ends it); Stop 0.5 s after the weights are in;
3. reply-template: a reply whose chat template loops (the engine's template limit is an hour);
4. prompt-eval: the starter model reads a ~2,700-token prompt 32 tokens at a time; Stop halfway
   through (as timed by one uninterrupted run);
5. generation: the starter model's reply, Stop after its 10th piece of text;
6. an engine that ignores Stop, killed by the client after ``EngineDeadlines.stop_grace_s``
   (2 s): a chat template stuck in one call into C (a power of 7 of 84 million bits), and an
   engine frozen with SIGSTOP mid-reply;
7. closing the real MainWindow (offscreen) while its engine is idle with the starter model
   loaded, mid-reply, and stuck in the C-level template.

Stop comes from a thread of its own, as the GUI thread's Stop button would. The time runs from
``request_stop()`` to the end of the request's generator (after its finished event with stop
reason "stopped", or its OperationCancelledError / EngineHungError). *killed*: the engine process
that ran the request ended by SIGKILL; *next request ok*: the client's next request (a load for
phases 1 and 2, a short reply otherwise) succeeded. For closing, the time is that of
``MainWindow.close()``, which returns once the engine's thread and process have ended.

    PYTHONPATH=$PWD .venv/bin/python bench/cancel_latency.py [--runs 5] [--only load,close-idle]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import platformdirs

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.common.types import (
    ChatTurn,
    GenerationStats,
    LoadPlan,
    Role,
    SamplingSettings,
    StopReason,
)
from autoglm_desktop.core.engine import (
    EngineClient,
    EngineEvent,
    GenerationFinished,
    LoadProgress,
    ModelLoaded,
    TokenChunk,
)
from autoglm_desktop.core.engine.client import EngineDeadlines
from autoglm_desktop.core.models.synthetic_gguf import (
    CHATML_TEMPLATE,
    SyntheticModel,
    write_synthetic_gguf,
)

if TYPE_CHECKING:
    from autoglm_desktop.qt.main_window import MainWindow

TEST_MODELS = platformdirs.user_cache_path("autoglm-desktop-tests", appauthor=False) / "models"
STOPPED = StopReason.STOPPED.value
GOAL_STOP_MS = 1000.0  # issue 10: Stop ends any request within a second...
GOAL_CLOSE_MS = 2000.0  # ...and the window closes within a couple of seconds
TEMPLATE_DELAY_S = 0.5  # from the start of a template that loops to Stop: surely looping
STOP_AFTER_PIECES = 10  # pieces of the reply's text before Stop (about as many tokens)
# Nothing gives up on its own, except the client after an ignored Stop.
PATIENT = EngineDeadlines(template_limit_s=3600, template_s=3600, load_silence_s=3600)
SHORT = SamplingSettings(temperature=0.0, seed=1, max_tokens=4)
LONG = SamplingSettings(temperature=0.0, seed=1, max_tokens=600)
STORY = "Write a long story about a dragon who learns to sing."  # the starter: 600 tokens
FOX = "the quick brown fox jumps over the lazy dog " * 300

# Chat template code set off by the last message (as tests/core/synthetic_gguf.py's): 10^10
# iterations of Python, and powers of 84 million bits, each one call into C for about 40 s
# (the message count keeps Jinja from computing them when it compiles the template).
RUNAWAYS = {
    "loop": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "forever": (
        "{% for i in range(99999) %}{% set x = 7 ** (messages|length * 30000000) %}{% endfor %}"
    ),
}
HOSTILE_TEMPLATE = (
    "".join(
        f"{{% if messages[-1]['content'] == '{name}' %}}{body}{{% endif %}}"
        for name, body in RUNAWAYS.items()
    )
    + CHATML_TEMPLATE
)
# The engine renders a sample conversation ending with "c" when it loads a model: this loops then.
LOOP_ON_LOAD = "{% if messages[-1]['content'] == 'c' %}" + RUNAWAYS["loop"] + "{% endif %}"

Kind = Literal["stop", "ignored", "close"]


@dataclass
class Sample:
    """One run of a phase."""

    ms: float | None  # None: the request finished before Stop landed
    killed: bool
    next_ok: bool | None = None  # None: not asked (closing the window)
    outcome: str = ""  # how the request ended: its stop reason, or its error
    stats: GenerationStats | None = None  # a reply's figures
    despite_stop: bool = False  # it finished although Stop came before its end


@dataclass(frozen=True)
class Context:
    """What every phase uses."""

    runs: int
    starter: Path
    gemma: Path
    hostile: Path  # loops on the messages "loop" (Python) and "forever" (C)
    never_loads: Path  # loops when it loads


Phase = Callable[[Context], list[Sample]]


class RecordingClient(EngineClient):
    """An engine client that keeps each engine process it starts, to tell how each ended."""

    def __init__(self, *, deadlines: EngineDeadlines | None = None) -> None:
        """A client that logs to the app home's engine log."""
        super().__init__(log_path=paths.engine_log_path(), deadlines=deadlines)
        self.processes: list[BaseProcess] = []

    def _start_process(self, *, hide_gpus: bool = False) -> None:
        super()._start_process(hide_gpus=hide_gpus)
        assert self._process is not None
        self.processes.append(self._process)

    @property
    def last_killed(self) -> bool:
        """Whether the newest engine process ended by SIGKILL."""
        return bool(self.processes) and self.processes[-1].exitcode == -signal.SIGKILL


class Stopper:
    """Requests Stop from a thread of its own, once, and remembers when."""

    def __init__(self, stop: Callable[[], None]) -> None:
        """``stop``: the call that requests Stop (thread-safe)."""
        self._stop = stop
        self._timer: threading.Timer | None = None
        self._before: Callable[[], None] | None = None
        self.at: float | None = None

    def arm(self, delay_s: float, *, before: Callable[[], None] | None = None) -> None:
        """Stop after ``delay_s``, calling ``before`` first (once armed, later calls do nothing)."""
        if self._timer is None:
            self._before = before
            self._timer = threading.Timer(delay_s, self._fire)
            self._timer.start()

    def _fire(self) -> None:
        if self._before is not None:
            self._before()
        self.at = time.monotonic()
        self._stop()

    def disarm(self) -> float | None:
        """Cancel a Stop not yet requested; when it was requested (None: never)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()
        return self.at


def timed_request(
    client: RecordingClient,
    events: Iterator[EngineEvent],
    stopper: Stopper,
    on_event: Callable[[EngineEvent], None] = lambda _event: None,
) -> Sample:
    """Run a request to its end; the time from its Stop to that end.

    ``on_event`` sees each event as it arrives (and may arm ``stopper``).
    """
    outcome, stats = "no end event", None
    try:
        for event in events:
            on_event(event)
            if isinstance(event, GenerationFinished):
                outcome, stats = event.stats.stop_reason, event.stats
            elif isinstance(event, ModelLoaded):
                outcome = "loaded"
    except AutoGLMError as error:
        outcome = f"{type(error).__name__}: {error}"
    ended = time.monotonic()
    stop_at = stopper.disarm()
    finished = outcome == "loaded" or outcome in {r.value for r in StopReason} - {STOPPED}
    if stop_at is None or finished:  # not stopped: no time to report
        despite = stop_at is not None and stop_at < ended
        if stop_at is not None and despite:
            outcome += f", {(ended - stop_at) * 1000:.0f} ms after Stop"
        return Sample(None, client.last_killed, outcome=outcome, stats=stats, despite_stop=despite)
    return Sample((ended - stop_at) * 1000, client.last_killed, outcome=outcome, stats=stats)


def arm_when(
    stopper: Stopper,
    condition: Callable[[EngineEvent, int], bool],
    *,
    delay_s: float = 0.0,
    before: Callable[[], None] | None = None,
) -> Callable[[EngineEvent], None]:
    """An event hook that arms ``stopper`` once ``condition(event, events so far)`` holds."""
    seen = 0

    def on_event(event: EngineEvent) -> None:
        nonlocal seen
        seen += 1
        if condition(event, seen):
            stopper.arm(delay_s, before=before)

    return on_event


def tenth_piece() -> Callable[[EngineEvent, int], bool]:
    """A condition that holds at the reply's 10th piece of text."""
    pieces = 0

    def condition(event: EngineEvent, _seen: int) -> bool:
        nonlocal pieces
        pieces += isinstance(event, TokenChunk)
        return pieces >= STOP_AFTER_PIECES

    return condition


def replies(client: EngineClient, text: str = "Say hi.") -> bool:
    """Whether a short reply (after a reload, if need be) comes to its end."""
    try:
        events = list(client.generate(turns=[ChatTurn(Role.USER, text)], sampling=SHORT))
    except AutoGLMError:
        return False
    return bool(events) and _finished(events[-1]) not in (None, STOPPED)


def loads(client: EngineClient, plan: LoadPlan) -> bool:
    """Whether ``plan``'s model loads."""
    try:
        events = list(client.load(plan))
    except AutoGLMError:
        return False
    return bool(events) and isinstance(events[-1], ModelLoaded)


def _finished(event: EngineEvent) -> str | None:
    return event.stats.stop_reason if isinstance(event, GenerationFinished) else None


@contextlib.contextmanager
def engine(
    plan: LoadPlan | None = None, *, deadlines: EngineDeadlines | None = None
) -> Iterator[RecordingClient]:
    """A client, with ``plan``'s model loaded if given; shut down at the end."""
    client = RecordingClient(deadlines=deadlines)
    try:
        if plan is not None and not loads(client, plan):
            raise RuntimeError(f"{plan.model_path.name} did not load")
        yield client
    finally:
        client.shutdown()


# -- phases 1-6: the engine client on its own ----------------------------------------------------


def gemma_load_stopped_at(at_fraction: float) -> Phase:
    """Stop Gemma's load at its first LoadProgress event of at least ``at_fraction``.

    0: as the weights start to come in; 1: once they are in (the context, the chat template's
    checks and the 262k-token vocabulary scan follow).
    """

    def phase(ctx: Context) -> list[Sample]:
        plan = LoadPlan(model_path=ctx.gemma, n_ctx=2048)
        samples = []
        with engine() as client:
            for _ in range(ctx.runs):
                stopper = Stopper(client.request_stop)
                hook = arm_when(
                    stopper,
                    lambda event, _: (
                        isinstance(event, LoadProgress) and event.fraction >= at_fraction
                    ),
                )
                sample = timed_request(client, client.load(plan), stopper, hook)
                sample.next_ok = loads(client, plan)
                samples.append(sample)
        return samples

    return phase


def phase_load_template(ctx: Context) -> list[Sample]:
    """Stop a load looping in its chat template, 0.5 s after the weights are in."""
    plan = LoadPlan(model_path=ctx.never_loads, n_ctx=256)
    samples = []
    with engine(deadlines=PATIENT) as client:
        for _ in range(ctx.runs):
            stopper = Stopper(client.request_stop)
            hook = arm_when(
                stopper,
                lambda event, _: isinstance(event, LoadProgress) and event.fraction >= 1.0,
                delay_s=TEMPLATE_DELAY_S,
            )
            sample = timed_request(client, client.load(plan), stopper, hook)
            sample.next_ok = loads(client, LoadPlan(model_path=ctx.hostile, n_ctx=256))
            samples.append(sample)
    return samples


def stop_after_delay(
    client: RecordingClient, text: str, delay_s: float, sampling: SamplingSettings = SHORT
) -> Sample:
    """Ask for a reply to ``text``, with Stop ``delay_s`` after the request starts."""
    stopper = Stopper(client.request_stop)
    stopper.arm(delay_s)
    events = client.generate(turns=[ChatTurn(Role.USER, text)], sampling=sampling)
    return timed_request(client, events, stopper)


def phase_reply_template(ctx: Context) -> list[Sample]:
    """Stop a reply whose chat template loops (in Python), 0.5 s into it."""
    samples = []
    with engine(LoadPlan(model_path=ctx.hostile, n_ctx=256), deadlines=PATIENT) as client:
        for _ in range(ctx.runs):
            sample = stop_after_delay(client, "loop", TEMPLATE_DELAY_S)
            sample.next_ok = replies(client, "hello")
            samples.append(sample)
    return samples


def phase_prompt_eval(ctx: Context) -> list[Sample]:
    """Stop the starter model halfway through a long prompt (each run's prompt is new)."""
    plan = LoadPlan(model_path=ctx.starter, n_ctx=4096, n_batch=32, n_ubatch=32)
    sampling = SamplingSettings(temperature=0.0, seed=1, max_tokens=48)
    samples = []
    with engine(plan) as client:
        full = stop_after_delay(client, f"Text 0. Summarise: {FOX}", 3600, sampling)
        if full.stats is None:
            raise RuntimeError(f"the uninterrupted prompt failed: {full.outcome}")
        delay_s = full.stats.ttft_s / 2
        print(
            f"  a prompt of {full.stats.prompt_tokens} tokens is read in "
            f"{full.stats.ttft_s:.2f} s: Stop after {delay_s:.2f} s",
            file=sys.stderr,
        )
        for run in range(1, ctx.runs + 1):
            sample = stop_after_delay(client, f"Text {run}. Summarise: {FOX}", delay_s, sampling)
            if sample.stats is not None and sample.stats.generated_tokens:
                sample.outcome += f" after {sample.stats.generated_tokens} tokens (late Stop)"
            sample.next_ok = replies(client)
            samples.append(sample)
    return samples


def stop_mid_reply(client: RecordingClient, *, before: Callable[[], None] | None = None) -> Sample:
    """Ask for a long reply, with Stop at its 10th piece of text (``before`` it: ``before()``)."""
    stopper = Stopper(client.request_stop)
    hook = arm_when(stopper, tenth_piece(), before=before)
    events = client.generate(turns=[ChatTurn(Role.USER, STORY)], sampling=LONG)
    return timed_request(client, events, stopper, hook)


def phase_generation(ctx: Context) -> list[Sample]:
    """Stop the starter model's reply after its 10th piece of text."""
    samples = []
    with engine(LoadPlan(model_path=ctx.starter, n_ctx=2048)) as client:
        for _ in range(ctx.runs):
            sample = stop_mid_reply(client)
            sample.next_ok = replies(client)
            samples.append(sample)
    return samples


def phase_ignored_c(ctx: Context) -> list[Sample]:
    """Stop a chat template stuck in one call into C: the client kills the engine."""
    samples = []
    with engine(LoadPlan(model_path=ctx.hostile, n_ctx=256)) as client:
        for _ in range(ctx.runs):
            sample = stop_after_delay(client, "forever", TEMPLATE_DELAY_S)
            sample.next_ok = replies(client, "hello")
            samples.append(sample)
    return samples


def phase_ignored_frozen(ctx: Context) -> list[Sample]:
    """Freeze the engine (SIGSTOP) mid-reply, then Stop: the client kills it."""
    samples = []
    with engine(LoadPlan(model_path=ctx.starter, n_ctx=2048)) as client:
        for _ in range(ctx.runs):
            pid = client.pid
            assert pid is not None
            sample = stop_mid_reply(client, before=functools.partial(os.kill, pid, signal.SIGSTOP))
            sample.next_ok = replies(client)
            samples.append(sample)
    return samples


# -- phase 7: closing the real window -----------------------------------------------------------


def wait_until(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Process Qt events until ``condition()`` holds."""
    from PySide6.QtTest import QTest

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout_s:g} s")
        QTest.qWait(10)


def close_window(model: Path, busy: Callable[[MainWindow], None]) -> Sample:
    """Open a window with ``model`` loaded, make it ``busy``, and time its ``close()``."""
    from autoglm_desktop.qt.main_window import MainWindow

    client = RecordingClient()
    window = MainWindow(autoload=False, client=client)
    window.show()
    window.load_model(model, confirm=False)
    wait_until(lambda: window.model_info is not None, timeout_s=60, what="loading")
    busy(window)
    started = time.monotonic()
    window.close()
    ms = (time.monotonic() - started) * 1000
    problems = [
        *(["the engine thread still runs"] if window.engine.thread.isRunning() else []),
        *(["an engine still runs"] if any(p.is_alive() for p in client.processes) else []),
        *(["the window still shows"] if window.isVisible() else []),
    ]
    exitcode = client.processes[-1].exitcode
    window.deleteLater()
    pause(0.1)
    return Sample(
        ms=ms,
        killed=client.last_killed,
        outcome="; ".join(problems) or f"closed, engine exit code {exitcode}",
    )


def pause(seconds: float) -> None:
    """Process Qt events for ``seconds``."""
    until = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() >= until, timeout_s=seconds + 5, what="pausing")


def idle(_window: MainWindow) -> None:
    """Leave the loaded model idle a moment."""
    pause(0.2)


def send(window: MainWindow, text: str, sampling: SamplingSettings) -> None:
    """Send ``text`` in a new conversation with ``sampling``."""
    conversation = window.controller.new_conversation()
    assert conversation is not None
    window.store.update_conversation_settings(conversation, sampling=sampling)
    window.send_prompt(text)
    wait_until(lambda: window.controller.reply_running, timeout_s=5, what="sending")


def mid_reply(window: MainWindow) -> None:
    """Start a long reply and wait for its 10th piece of text."""
    from PySide6.QtCore import QObject, Slot

    class Counter(QObject):
        count = 0

        @Slot(str)
        def on_tokens(self, _text: str) -> None:
            self.count += 1

    counter = Counter()
    window.worker.tokens.connect(counter.on_tokens)
    send(window, STORY, LONG)
    wait_until(
        lambda: counter.count >= STOP_AFTER_PIECES, timeout_s=60, what="the reply's first text"
    )


def stuck_in_c(window: MainWindow) -> None:
    """Send the message that sets off the C-level template, and let it run 0.5 s."""
    send(window, "forever", SHORT)
    pause(TEMPLATE_DELAY_S)


def closing(model: Callable[[Context], Path], busy: Callable[[MainWindow], None]) -> Phase:
    """A phase that closes a window ``busy`` with ``model`` loaded, ``runs`` times."""

    def run(ctx: Context) -> list[Sample]:
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication(sys.argv[:1])
        samples = [close_window(model(ctx), busy) for _ in range(ctx.runs)]
        app.processEvents()
        return samples

    return run


# -- the table ----------------------------------------------------------------------------------

PHASES: dict[str, tuple[str, Kind, Phase]] = {
    "load": ("1. load: Gemma 270M's weights", "stop", gemma_load_stopped_at(0.0)),
    "load-late": ("1b. load: Stop as the weights are in", "stop", gemma_load_stopped_at(1.0)),
    "load-template": ("2. load: chat template loops", "stop", phase_load_template),
    "reply-template": ("3. reply: chat template loops", "stop", phase_reply_template),
    "prompt-eval": ("4. prompt evaluation (2.7k tokens)", "stop", phase_prompt_eval),
    "generation": ("5. generation, after 10 tokens", "stop", phase_generation),
    "ignored-c": ("6a. Stop ignored: template in C", "ignored", phase_ignored_c),
    "ignored-frozen": ("6b. Stop ignored: engine SIGSTOPped", "ignored", phase_ignored_frozen),
    "close-idle": (
        "7a. close window: engine idle",
        "close",
        closing(lambda ctx: ctx.starter, idle),
    ),
    "close-reply": (
        "7b. close window: mid-reply",
        "close",
        closing(lambda ctx: ctx.starter, mid_reply),
    ),
    "close-stuck": (
        "7c. close window: template in C",
        "close",
        closing(lambda ctx: ctx.hostile, stuck_in_c),
    ),
}


def row(title: str, samples: list[Sample]) -> str:
    """One Markdown table row."""
    times = [s.ms for s in samples if s.ms is not None]
    despite = sum(s.despite_stop for s in samples)
    first = len(samples) - len(times) - despite
    extra = [f"+{first} finished before Stop"] * bool(first)
    extra += [f"+{despite} finished despite Stop"] * bool(despite)
    runs = f"{len(times)} ({', '.join(extra)})" if extra else str(len(samples))
    median = f"{statistics.median(times):.0f}" if times else "-"
    worst = f"{max(times):.0f}" if times else "-"
    killed = f"{sum(s.killed for s in samples)}/{len(samples)}"
    asked = [s.next_ok for s in samples if s.next_ok is not None]
    next_ok = f"{sum(asked)}/{len(asked)}" if asked else "-"
    return f"| {title} | {runs} | {median} | {worst} | {killed} | {next_ok} |"


def worst(results: dict[str, list[Sample]], kind: Kind) -> str:
    """The worst time of the phases of ``kind``, and whose."""
    times = [
        (s.ms, key)
        for key, samples in results.items()
        if PHASES[key][1] == kind
        for s in samples
        if s.ms is not None
    ]
    if not times:
        return "-"
    ms, key = max(times)
    return f"{ms:.0f} ms ({PHASES[key][0].split(':')[0]})"


def make_models(folder: Path) -> tuple[Path, Path]:
    """The hostile synthetic model and the one that never loads."""
    hostile = write_synthetic_gguf(
        folder / "hostile.gguf", SyntheticModel(chat_template=HOSTILE_TEMPLATE)
    )
    never = write_synthetic_gguf(
        folder / "never-loads.gguf", SyntheticModel(chat_template=LOOP_ON_LOAD + HOSTILE_TEMPLATE)
    )
    return hostile, never


def main() -> int:
    """Run the phases asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", help=f"comma-separated of: {', '.join(PHASES)}")
    parser.add_argument(
        "--starter", type=Path, default=TEST_MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    parser.add_argument("--gemma", type=Path, default=TEST_MODELS / "gemma-3-270m-q4_k_m.gguf")
    args = parser.parse_args()
    wanted = [key for key in PHASES if not args.only or key in args.only.split(",")]
    home = Path(tempfile.mkdtemp(prefix="autoglm-cancel-"))
    os.environ["AUTOGLM_HOME"] = str(home)
    os.environ["AUTOGLM_MODELS_DIR"] = str(home / "no-models")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.monotonic()
    try:
        hostile, never = make_models(home / "synthetic")
        ctx = Context(args.runs, args.starter, args.gemma, hostile, never)
        results: dict[str, list[Sample]] = {}
        for key in wanted:
            title, _, phase = PHASES[key]
            print(f"{title}", file=sys.stderr)
            results[key] = phase(ctx)
            for i, sample in enumerate(results[key], 1):
                ms = f"{sample.ms:.0f} ms" if sample.ms is not None else "not stopped"
                print(f"  run {i}: {ms}, {sample.outcome[:200]}", file=sys.stderr)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(
        f"Stop and close latency, {args.runs} runs per phase; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {time.monotonic() - started:.0f} s"
    )
    print()
    print("| phase | runs | median ms | max ms | killed | next request ok |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, samples in results.items():
        print(row(PHASES[key][0], samples))
    for key, samples in results.items():
        if PHASES[key][1] == "ignored":
            for outcome in sorted({s.outcome for s in samples}):
                print(f"\n{PHASES[key][0].split('.')[0]} said: {outcome}")
    print()
    print(
        f"worst cooperative Stop (1-5): {worst(results, 'stop')} (goal <= {GOAL_STOP_MS:.0f} ms); "
        f"worst close: {worst(results, 'close')} (goal <= {GOAL_CLOSE_MS:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
