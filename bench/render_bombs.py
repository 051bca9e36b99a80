"""The worst GUI-thread stall on each hostile message: streaming, opening, scrolling, finding.

Runs the real MainWindow headless (QT_QPA_PLATFORM=offscreen unless set) with an isolated app
home, and reuses ui_stalls.py's 5 ms heartbeat: the lateness of its ticks is what the user
would feel. For each bomb (a 1 MB Markdown table, lines of 100k and 500k characters without a
space, a 2 MB prompt, lists nested 19 and 60 levels deep, a 1 MB code block, deeply nested
block quotes, a paragraph of 10k links) a new conversation gets the bomb:

* send: the prompt pasted into the composer and sent with Enter (the 2 MB prompt is the bomb);
* stream: the reply streamed through the engine worker's own signals (no model) in chunks of
  --chunk characters, one per millisecond, then finished;
* open: another conversation opened, then this one again, until its end is shown;
* scroll: to the top (its first line shown) and back to the bottom, a jump per 16 ms frame;
* find: its first words searched from the bottom (as Ctrl+F, Enter does);
* copy: the reply's Copy link;
* edit: the Edit dialog of the prompt opened, until all of the prompt is in it;
* unfold: a reply's long Thinking section (the thinking_400k bomb) unfolded, then followed to
  its end.

Prints the worst stall per phase: the wall-clock lateness of a tick, and the GUI thread's CPU
time between two ticks (its own work, without the time the system gave to other processes: on a
busy machine a wall-clock stall may be another process running). PASS: no phase's work between
two ticks exceeds 100 ms of CPU.

    PYTHONPATH=$PWD .venv/bin/python bench/render_bombs.py [--only table_1mb,line_500k]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import ui_stalls  # sets up the offscreen platform and the isolated app home
from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QScrollBar

from autoglm_desktop.core.common.types import GenerationStats
from autoglm_desktop.qt.chat.edit_dialog import EditMessageDialog
from autoglm_desktop.qt.main_window import MainWindow

GOAL_MS = 100.0
START = "BOMB-START"
PHASES = ("send", "stream", "open", "scroll", "find", "copy", "edit", "unfold")


@dataclass(frozen=True)
class Bomb:
    name: str
    prompt: str
    reply: str
    end: str  # the last line of the reply (or of the prompt): shown means all was laid out
    reasoning: str = ""  # streamed before the reply, folded when it starts


def _table(size: int) -> str:
    rows = ["| name | value | note | more |", "| --- | ---: | --- | --- |"]
    i = 0
    while sum(map(len, rows)) < size:
        rows.append(f"| cell {i} | {i * 7} | word{i % 13} | x |")
        i += 1
    return "\n".join(rows)


def _code(size: int) -> str:
    lines, total, i = [], 0, 0
    while total < size:
        line = f"    value_{i} = compute({i}, 'text')  # step {i}"
        lines.append(line)
        total += len(line) + 1
        i += 1
    return "```python\ndef bomb():\n" + "\n".join(lines) + "\n```"


def _nested(depth: int) -> str:
    return "".join("  " * i + f"- level {i}\n" for i in range(depth))


def bombs() -> Iterator[Bomb]:
    def reply(name: str, body: str) -> Bomb:
        end = f"END-OF-{name}"
        return Bomb(name, f"Please send {name}.", f"{START} {name}\n\n{body}\n\n{end}", end)

    yield reply("table_1mb", _table(1_000_000))
    yield reply("line_100k", "x" * 100_000)
    yield reply("line_500k", "y" * 500_000)
    prose = "The quick brown fox jumps over the lazy dog, again and again. " * 15 + "\n"
    prompt = f"{START} prompt\n" + prose * (2_000_000 // len(prose)) + "END-OF-prompt_2mb"
    yield Bomb("prompt_2mb", prompt, "A short answer.\n\nEND-OF-reply", "END-OF-prompt_2mb")
    yield reply("nested_19", _nested(19))
    yield reply("nested_60", _nested(60))
    yield reply("code_1mb", _code(1_000_000))
    quotes = ">" * 5_000 + " deep\n\n" + "".join(">" * i + " quote\n" for i in range(1, 300))
    yield reply("quotes_deep", quotes)
    yield reply(
        "links_10k", " ".join(f"[link {i}](https://example.com/{i})" for i in range(10_000))
    )
    thoughts = "I weigh this once more, and then again, to be sure. " * 7_700
    answer = f"{START} thinking_400k\n\nA short answer.\n\nEND-OF-thinking_400k"
    yield Bomb(
        "thinking_400k",
        "Please think about thinking_400k.",
        answer,
        "END-OF-thinking_400k",
        reasoning=f"THINK-START {thoughts}THINK-END",
    )


class BusyHeartbeat(ui_stalls.Heartbeat):
    """ui_stalls' heartbeat that also records the GUI thread's CPU time between ticks."""

    def __init__(self) -> None:
        self.busy: list[float] = []
        self.cpu_ms = time.thread_time() * 1000
        super().__init__()

    def _tick(self) -> None:
        cpu_ms = time.thread_time() * 1000
        self.busy.append(cpu_ms - self.cpu_ms)
        self.cpu_ms = cpu_ms
        super()._tick()

    def measure(self, *args: object, **kwargs: object) -> ui_stalls.Result:
        self.busy = []
        self.cpu_ms = time.thread_time() * 1000
        return super().measure(*args, **kwargs)  # type: ignore[arg-type]


def text_shown(window: MainWindow, needle: str, *, at_end: bool) -> Callable[[], bool]:
    """Whether `needle` is in the last (at_end) or first few blocks of the transcript."""

    def check() -> bool:
        document = window.chat_view.document()
        block = document.lastBlock() if at_end else document.firstBlock()
        for _ in range(40):
            if not block.isValid():
                return False
            if needle in block.text():
                return True
            block = block.previous() if at_end else block.next()
        return False

    return check


class Streamer:
    """Emits the worker's tokens, one chunk per millisecond, then its finish."""

    def __init__(self, window: MainWindow, text: str, chunk: int, reasoning: str = "") -> None:
        self.window = window
        thinking = [("r", reasoning[i : i + chunk]) for i in range(0, len(reasoning), chunk)]
        answer = [("t", text[i : i + chunk]) for i in range(0, len(text), chunk)]
        self.chunks = iter([*thinking, *answer])
        self.count = 0
        self.finished = False
        self.timer = QTimer(interval=1, timerType=Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._emit)

    def _emit(self) -> None:
        kind, chunk = next(self.chunks, ("", ""))
        if not kind:
            self.timer.stop()
            stats = GenerationStats(generated_tokens=self.count, stop_reason="eos")
            self.window.worker.generationFinished.emit(stats)
            self.finished = True
            return
        self.count += 1
        signal = self.window.worker.reasoning if kind == "r" else self.window.worker.tokens
        signal.emit(chunk)


def jumper(
    bar: QScrollBar, action: QScrollBar.SliderAction, done: Callable[[], bool]
) -> Callable[[], bool]:
    """Jump to the top or bottom once per 16 ms frame until `done()`; True once done."""
    state = {"done": False}

    def step() -> None:
        if done():
            state["done"] = True
            return
        bar.triggerAction(action)
        QTimer.singleShot(16, step)

    QTimer.singleShot(0, step)
    return lambda: state["done"]


def run_bomb(
    app: QApplication,
    window: MainWindow,
    beat: BusyHeartbeat,
    bomb: Bomb,
    chunk: int,
    other: int,
) -> dict[str, tuple[float, float]]:
    """Each phase's worst stall: (wall-clock ms, GUI-thread CPU ms) between two ticks."""
    stalls: dict[str, tuple[float, float]] = {}
    view = window.chat_view
    bar = view.verticalScrollBar()

    def measure(phase: str, start: Callable[[], None], done: Callable[[], bool]) -> None:
        result = beat.measure(app, f"{bomb.name} {phase}", start, done, timeout_s=900)
        stalls[phase] = (result.max_stall_ms, max(beat.busy, default=0.0))

    conversation = window.controller.new_conversation()
    app.processEvents()

    def send() -> None:
        mime = QMimeData()
        mime.setText(bomb.prompt)
        window.prompt.insertFromMimeData(mime)
        QTest.keyClick(window.prompt, Qt.Key.Key_Return)

    prompt_end = bomb.prompt.rsplit("\n", 1)[-1][:20]
    measure("send", send, text_shown(window, prompt_end, at_end=True))
    streamer = Streamer(window, bomb.reply, chunk, bomb.reasoning)
    reply_end = bomb.reply.rsplit("\n", 1)[-1]
    shown = text_shown(window, reply_end, at_end=True)
    measure(
        "stream",
        streamer.timer.start,
        lambda: streamer.finished and not window.controller.reply_running and shown(),
    )
    window.controller.open_conversation(other)
    app.processEvents()
    measure("open", lambda: window.controller.open_conversation(conversation), shown)
    top = text_shown(window, START, at_end=False)
    jumps: list[Callable[[], bool]] = []
    up = QScrollBar.SliderAction.SliderToMinimum
    down = QScrollBar.SliderAction.SliderToMaximum
    at_top = lambda: bar.value() == 0 and top()  # noqa: E731
    at_bottom = lambda: bar.value() == bar.maximum() and shown()  # noqa: E731

    def scroll() -> None:
        def then_down() -> bool:
            if not jumps[0]():
                return False
            if len(jumps) == 1:
                jumps.append(jumper(bar, down, at_bottom))
            return jumps[1]()

        jumps.append(jumper(bar, up, at_top))
        scrolled.append(then_down)

    scrolled: list[Callable[[], bool]] = []
    measure("scroll", scroll, lambda: bool(scrolled) and scrolled[0]())
    found: list[bool] = []
    view.searchFinished.connect(found.append)
    measure("find", lambda: view.find_text(START, backward=True), lambda: bool(found))
    view.searchFinished.disconnect(found.append)
    if not found[0]:
        print(f"  {bomb.name}: find did not find {START!r}", file=sys.stderr)
        stalls["find"] = (float("inf"), float("inf"))
    copied: list[str] = []
    view.copiedToClipboard.connect(copied.append)
    links = [h for h in _hrefs(window) if h.startswith("action:copy")]
    measure("copy", lambda: view.anchorClicked.emit(QUrl(links[-1])), lambda: bool(copied))
    view.copiedToClipboard.disconnect(copied.append)
    measure_edit(measure, window)
    if bomb.reasoning:
        measure_unfold(measure, window, bar, shown)
    return stalls


def measure_edit(measure: Callable[..., None], window: MainWindow) -> None:
    """Open the Edit dialog of the conversation's prompt as _edit_message does, until loaded."""
    prompt = next(m for m in window.controller.messages() if m.role.value == "user")
    dialogs: list[EditMessageDialog] = []

    def open_dialog() -> None:
        dialog = EditMessageDialog(prompt.content, window)
        dialog.show()
        dialogs.append(dialog)

    measure("edit", open_dialog, lambda: bool(dialogs) and dialogs[0].is_loaded)
    if dialogs[0].text() != prompt.content:
        print("  the edit dialog changed the prompt", file=sys.stderr)
    dialogs[0].reject()


def measure_unfold(
    measure: Callable[..., None], window: MainWindow, bar: QScrollBar, shown: Callable[[], bool]
) -> None:
    """Unfold the reply's Thinking section, then follow it to the reply's end."""
    toggle = next(h for h in _hrefs(window) if h.startswith("action:reasoning"))
    down = QScrollBar.SliderAction.SliderToMaximum
    jumps: list[Callable[[], bool]] = []

    def unfold() -> None:
        window.chat_view.anchorClicked.emit(QUrl(toggle))
        jumps.append(jumper(bar, down, lambda: bar.value() == bar.maximum() and shown()))

    # The answer after the section at the bottom: every part of the section was laid out.
    measure("unfold", unfold, lambda: bool(jumps) and jumps[0]())


def _hrefs(window: MainWindow) -> list[str]:
    found = []
    block = window.chat_view.document().begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            href = iterator.fragment().charFormat().anchorHref()
            if href:
                found.append(href)
            iterator += 1
        block = block.next()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated bomb names")
    parser.add_argument("--chunk", type=int, default=64, help="characters per streamed token")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    window = MainWindow(autoload=False)
    window.resize(1100, 720)
    window.show()
    window.controller.requestGenerate.disconnect(window.worker.generate)  # no engine
    other = window.controller.new_conversation()
    window.send_prompt("A small conversation to switch to.")
    window.worker.tokens.emit("A small answer.")
    window.worker.generationFinished.emit(GenerationStats(generated_tokens=1, stop_reason="eos"))
    app.processEvents()
    beat = BusyHeartbeat()
    wanted = set(filter(None, args.only.split(",")))
    rows: list[tuple[str, dict[str, tuple[float, float]]]] = []
    for bomb in bombs():
        if wanted and bomb.name not in wanted:
            continue
        print(
            f"{bomb.name}: prompt {len(bomb.prompt):,}, reply {len(bomb.reply):,} chars",
            file=sys.stderr,
        )
        rows.append((bomb.name, run_bomb(app, window, beat, bomb, args.chunk, other)))
    beat.timer.stop()
    window.close()
    print(
        f"worst GUI-thread stall per phase, wall ms / CPU ms between two ticks "
        f"(heartbeat {ui_stalls.HEARTBEAT_MS} ms; goal: CPU <= {GOAL_MS:.0f} ms); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'bomb':<13}" + "".join(f"{p:>12}" for p in PHASES) + f"{'worst':>12}  result")
    failed = False
    for name, stalls in rows:
        wall = max(w for w, _ in stalls.values())
        busy = max(b for _, b in stalls.values())
        failed |= busy > GOAL_MS
        cells = "".join(
            f"{stalls[p][0]:>7.0f}/{stalls[p][1]:<4.0f}" if p in stalls else f"{'-':>12}"
            for p in PHASES
        )
        verdict = "PASS" if busy <= GOAL_MS else "FAIL"
        print(f"{name:<13}{cells}{wall:>7.0f}/{busy:<4.0f}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    raise SystemExit(main())
