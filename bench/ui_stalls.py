"""How long the GUI thread stalls while the user opens, scrolls, sends, streams and switches.

Runs the real MainWindow headless (QT_QPA_PLATFORM=offscreen unless set), with an isolated app
home (AUTOGLM_HOME in a temporary folder) holding two stored conversations written through
ChatStore: a long one (~1,100 messages, ~300k tokens of Markdown paragraphs, lists, tables and
fenced code) and a 50-message one. A 5 ms heartbeat QTimer on the GUI thread measures how late
each tick comes; per action the table gives the time until the action's result was shown, the
longest stall and the 99th percentile of lateness.

No model is loaded: the reply is faked by emitting the engine worker's own signals (``tokens``,
then ``generationFinished``) on the GUI thread at a steady rate, so the controller, the store
and the view do exactly what they do for a real reply.

    PYTHONPATH=$PWD .venv/bin/python bench/ui_stalls.py [--messages 1100] [--rate 100]

Targets: open <= 0.5 s, no stall over 50 ms, p99 lateness <= 16 ms.
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["AUTOGLM_HOME"] = tempfile.mkdtemp(prefix="autoglm-ui-stalls-")
os.environ["AUTOGLM_MODELS_DIR"] = os.environ["AUTOGLM_HOME"] + "/no-models"

from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtWidgets import QApplication, QScrollBar

from autoglm_desktop.core.chat.store import ChatStore
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.types import GenerationStats, Role
from autoglm_desktop.qt.main_window import MainWindow

HEARTBEAT_MS = 5
FIRST_SECOND_S = 1.0  # from the window showing to the user's first action
SETTLE_MS = 400  # after an action's result shows, deferred work (layout, lazy loading) still runs
TOKEN_CHARS = 4
WORDS = [
    "model",
    "context",
    "token",
    "thread",
    "memory",
    "window",
    "layout",
    "render",
    "stream",
    "cache",
    "engine",
    "prompt",
    "reply",
    "history",
    "scroll",
    "budget",
    "paragraph",
    "table",
    "column",
    "value",
    "result",
    "weight",
    "layer",
    "batch",
]

# --- the stored conversations -----------------------------------------------------------------


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 16))
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    text = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))
    return text.replace("cache", "**cache**", 1).replace("thread", "`thread`", 1)


def _list(rng: random.Random) -> str:
    return "\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(3, 6)))


def _table(rng: random.Random) -> str:
    rows = ["| name | value | note |", "| --- | ---: | --- |"]
    rows += [
        f"| {rng.choice(WORDS)} | {rng.randint(1, 9999)} | {rng.choice(WORDS)} |"
        for _ in range(rng.randint(3, 6))
    ]
    return "\n".join(rows)


def _code(rng: random.Random) -> str:
    lines = [f"def step_{rng.randint(0, 999)}(values):"]
    lines += [
        f"    {rng.choice(WORDS)}_{i} = sum(v * {i} for v in values)  # {rng.choice(WORDS)}"
        for i in range(rng.randint(4, 12))
    ]
    return "```python\n" + "\n".join(lines) + "\n    return values\n```"


def assistant_text(rng: random.Random, parts: int) -> str:
    makers = (_paragraph, _paragraph, _list, _table, _code)
    return "\n\n".join(rng.choice(makers)(rng) for _ in range(parts))


def fill_store(store: ChatStore, *, messages: int, parts: int, title: str, seed: int) -> int:
    """A conversation of `messages` alternating user/assistant messages; returns its id."""
    rng = random.Random(seed)
    conversation = store.create_conversation(title=title)
    for i in range(messages):
        if i % 2 == 0:
            store.add_message(conversation.id, role=Role.USER, content=f"{i}: {_sentence(rng)}")
        else:
            text = assistant_text(rng, parts) + f"\n\nEnd of answer {i}."
            store.add_message(conversation.id, role=Role.ASSISTANT, content=text, model_name="M")
    return conversation.id


# --- measuring --------------------------------------------------------------------------------


class CollectorLog:
    """The cyclic garbage collector's passes that took long (to tell them from other stalls)."""

    def __init__(self, *, at_least_ms: float = 5.0) -> None:
        self.at_least_ms = at_least_ms
        self.passes: list[tuple[int, float]] = []  # (generation, ms)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took_ms = (time.perf_counter() - self._started) * 1000
        if took_ms >= self.at_least_ms:
            self.passes.append((info["generation"], took_ms))

    def take(self) -> str:
        """The long passes since the last call, as text (empty: none)."""
        passes, self.passes = self.passes, []
        return ", ".join(f"gen{g} {ms:.0f} ms" for g, ms in passes)


@dataclass
class Result:
    action: str
    shown_s: float | None  # time until the action's result was on screen (None: not asked)
    lateness_ms: list[float] = field(default_factory=list)
    collector_passes: str = ""  # long garbage-collector passes during the action (--gc-log)

    @property
    def max_stall_ms(self) -> float:
        return max(self.lateness_ms, default=0.0)

    @property
    def p99_ms(self) -> float:
        if len(self.lateness_ms) < 2:
            return self.max_stall_ms
        return statistics.quantiles(self.lateness_ms, n=100, method="inclusive")[-1]


class Heartbeat:
    """A 5 ms timer on the GUI thread; lateness of each tick is what the user would feel."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.clock.start()
        self.last_ms = 0.0
        self.lateness: list[float] = []
        self.on_tick: Callable[[], None] | None = None
        self.collector: CollectorLog | None = None
        self.timer = QTimer(interval=HEARTBEAT_MS, timerType=Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def now_ms(self) -> float:
        return self.clock.nsecsElapsed() / 1e6

    def _tick(self) -> None:
        now = self.now_ms()
        self.lateness.append(max(0.0, now - self.last_ms - HEARTBEAT_MS))
        self.last_ms = now
        if self.on_tick is not None:
            self.on_tick()

    def measure(
        self,
        app: QApplication,
        name: str,
        start: Callable[[], None],
        done: Callable[[], bool],
        *,
        timeout_s: float = 300.0,
    ) -> Result:
        """Run `start` from the event loop, then the loop until `done()`, then SETTLE_MS more."""
        app.processEvents()
        self.lateness = []
        if self.collector is not None:
            self.collector.take()
        started = [0.0]
        shown: list[float] = []

        def begin() -> None:
            started[0] = time.perf_counter()
            self.last_ms = self.now_ms()
            start()
            if done():
                shown.append(time.perf_counter())

        QTimer.singleShot(0, begin)
        deadline = time.perf_counter() + timeout_s
        while not started[0] or not shown:
            app.processEvents()
            if started[0] and not shown and done():
                shown.append(time.perf_counter())
            if time.perf_counter() > deadline:
                raise TimeoutError(name)
            time.sleep(0.0005)
        settle_until = time.perf_counter() + SETTLE_MS / 1000
        while time.perf_counter() < settle_until:
            app.processEvents()
            time.sleep(0.0005)
        result = Result(name, shown[0] - started[0], list(self.lateness))
        if self.collector is not None:
            result.collector_passes = self.collector.take()
        print(f"  {name}: {result.shown_s:.3f} s", file=sys.stderr, flush=True)
        return result


def last_text_shown(window: MainWindow, needle: str) -> Callable[[], bool]:
    def check() -> bool:
        document = window.chat_view.document()
        last = document.lastBlock()
        for _ in range(12):  # the last message's last line is among the last few blocks
            if needle in last.text():
                return True
            last = last.previous()
        return False

    return check


def stepper(
    bar: QScrollBar, action: QScrollBar.SliderAction, finished: Callable[[], bool]
) -> Callable[[], bool]:
    """Scroll one page per 16 ms frame, as a user dragging the scroll bar; True once done."""
    state = {"done": False}

    def step() -> None:
        if finished():
            state["done"] = True
            return
        bar.triggerAction(action)
        QTimer.singleShot(16, step)

    QTimer.singleShot(0, step)
    return lambda: state["done"]


def reply_tokens(rng: random.Random, count: int) -> list[str]:
    text = assistant_text(rng, 40)
    pieces = [text[i : i + TOKEN_CHARS] for i in range(0, len(text), TOKEN_CHARS)]
    return list(itertools.islice(itertools.cycle(pieces), count))


class FakeReply:
    """Emits the worker's tokens at `rate` per second on the GUI thread, then its finish."""

    def __init__(self, window: MainWindow, tokens: list[str], rate: float) -> None:
        self.window = window
        self.tokens: Iterator[str] = iter(tokens)
        self.count = len(tokens)
        self.finished = False
        self.timer = QTimer(
            interval=max(1, round(1000 / rate)), timerType=Qt.TimerType.PreciseTimer
        )
        self.timer.timeout.connect(self._emit)

    def start(self) -> None:
        self.timer.start()

    def _emit(self) -> None:
        token = next(self.tokens, None)
        if token is None:
            self.timer.stop()
            stats = GenerationStats(generated_tokens=self.count, stop_reason="eos")
            self.window.worker.generationFinished.emit(stats)
            self.finished = True
        else:
            self.window.worker.tokens.emit(token)


# --- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[Result]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    with ChatStore(paths.history_db_path()) as store:
        # parts=6 per reply: ~1,100 messages hold ~1.2 M characters, ~300k tokens.
        big = fill_store(store, messages=args.messages, parts=6, title="Long", seed=1)
        small = fill_store(store, messages=50, parts=3, title="Short", seed=2)
        chars = sum(len(m.content) for m in store.messages(big))
    print(
        f"long conversation: {args.messages} messages, {chars:,} characters "
        f"(~{chars // 4:,} tokens); short: 50 messages"
    )

    window = MainWindow(autoload=False)  # opens the newest conversation: the short one
    window.resize(1100, 720)
    window.show()
    # No engine: the bench plays the worker's part (see FakeReply).
    window.controller.requestGenerate.disconnect(window.worker.generate)
    # A user's first second: the window prepares what it does after its first paint.
    settle = time.perf_counter() + FIRST_SECOND_S
    while time.perf_counter() < settle:
        app.processEvents()
        time.sleep(0.005)
    beat = Heartbeat()
    if args.gc_log:
        beat.collector = CollectorLog()
        gc.callbacks.append(beat.collector)
    results: list[Result] = []
    bar = window.chat_view.verticalScrollBar()
    last_answer = args.messages - 1 if args.messages % 2 == 0 else args.messages - 2
    ends = {big: f"End of answer {last_answer}.", small: "End of answer 49."}

    def open_(cid: int, name: str) -> None:
        opening = functools.partial(window.controller.open_conversation, cid)
        results.append(beat.measure(app, name, opening, last_text_shown(window, ends[cid])))

    def scroll(name: str, action: QScrollBar.SliderAction, finished: Callable[[], bool]) -> None:
        steps: list[Callable[[], bool]] = []
        start = lambda: steps.append(stepper(bar, action, finished))  # noqa: E731
        results.append(beat.measure(app, name, start, lambda: bool(steps) and steps[0]()))

    open_(big, "open long")
    at_top = lambda: bar.value() == 0 and _all_loaded(window)  # noqa: E731
    scroll("scroll to top (long)", QScrollBar.SliderAction.SliderPageStepSub, at_top)
    at_end = last_text_shown(window, ends[big])
    at_bottom = lambda: bar.value() == bar.maximum() and at_end()  # noqa: E731
    scroll("scroll to bottom (long)", QScrollBar.SliderAction.SliderPageStepAdd, at_bottom)
    rng = random.Random(3)
    for cid, label in ((big, "long"), (small, "short")):
        if window.controller.conversation_id != cid:
            open_(cid, f"open {label}")
        prompt = f"Question {label}: explain the layout budget again."
        sending = functools.partial(window.send_prompt, prompt)
        results.append(
            beat.measure(app, f"send ({label})", sending, last_text_shown(window, prompt[:14]))
        )
        ends[cid] = f"End of reply {label}."
        tokens = [*reply_tokens(rng, args.tokens - 1), "\n\n" + ends[cid]]
        reply = FakeReply(window, tokens, args.rate)
        results.append(
            beat.measure(
                app,
                f"stream {args.tokens} tokens + finish ({label})",
                reply.start,
                lambda r=reply: r.finished and not window.controller.reply_running,
            )
        )
    for i in range(args.switches):
        cid, label = (big, "long") if i % 2 == 0 else (small, "short")
        open_(cid, f"switch to {label}")
    beat.timer.stop()
    window.close()
    shutil.rmtree(os.environ["AUTOGLM_HOME"], ignore_errors=True)
    return results


def _all_loaded(window: MainWindow) -> bool:
    """Whether the view shows the conversation's first message (lazy views load it last)."""
    first = window.chat_view.document().firstBlock()
    for _ in range(6):
        if first.text().startswith("0: "):
            return True
        first = first.next()
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1100, help="messages of the long chat")
    parser.add_argument("--tokens", type=int, default=1000, help="tokens of each fake reply")
    parser.add_argument("--rate", type=float, default=100.0, help="fake reply tokens per second")
    parser.add_argument("--switches", type=int, default=4, help="switches between the chats")
    parser.add_argument(
        "--gc-log", action="store_true", help="name the garbage collector's passes over 5 ms"
    )
    args = parser.parse_args()
    results = run(args)
    print(
        f"heartbeat {HEARTBEAT_MS} ms; fake reply of {args.tokens} {TOKEN_CHARS}-char tokens "
        f"at {args.rate:.0f} tokens/s through the worker's signals (no model)"
    )
    header = ("action", "shown after s", "max stall ms", "p99 ms", "ticks")
    print(f"{header[0]:<34}" + "".join(f"{h:>15}" for h in header[1:]))
    for r in results:
        shown = f"{r.shown_s:.3f}" if r.shown_s is not None else "-"
        cells = (shown, f"{r.max_stall_ms:.1f}", f"{r.p99_ms:.1f}", str(len(r.lateness_ms)))
        passes = f"   GC: {r.collector_passes}" if r.collector_passes else ""
        print(f"{r.action:<34}" + "".join(f"{c:>15}" for c in cells) + passes)
    worst = max(r.max_stall_ms for r in results)
    worst_p99 = max(r.p99_ms for r in results)
    opens = [r.shown_s for r in results if r.action.startswith(("open", "switch")) and r.shown_s]
    print(
        f"worst: open {max(opens):.3f} s (target <= 0.5), stall {worst:.1f} ms (target <= 50), "
        f"p99 {worst_p99:.1f} ms (target <= 16)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
