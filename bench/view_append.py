"""How long one ChatView.append_stream_text() call takes, by reply length and conversation size.

Runs headless (QT_QPA_PLATFORM=offscreen unless set). For each case a fresh view shows the
earlier messages, a reply is streamed up to the given length, then each of the next appends is
timed together with the event processing it causes (layout, repaint, scrolling). The cost must
not grow with the reply or the conversation: the ratio largest/smallest is the number to watch.

    .venv/bin/python bench/view_append.py
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from autoglm_desktop.core.common.types import Role
from autoglm_desktop.qt.chat.view import ChatView, ViewMessage

REPLY_LENGTHS = (1_000, 10_000, 50_000)
EARLIER_MESSAGES = (0, 200)
TOKEN_CHARS = 4  # a typical llama.cpp token is a few characters
# The default timed window (700 tokens, ~2800 chars) spans two cycles of reply_text(), so every
# case times the same mix of paragraphs, lists, code blocks and scroll steps.


def reply_text() -> Iterator[str]:
    """An endless, realistic Markdown reply: paragraphs, lists and code blocks."""
    sentence = "The quick brown fox jumps over the lazy dog while the model keeps on writing. "
    for n in itertools.count():
        kind = n % 4
        if kind == 3:
            body = "\n".join(f"    value_{i} = compute({i}, {n})  # step {i}" for i in range(8))
            yield f"```python\ndef block_{n}():\n{body}\n```\n\n"
        elif kind == 2:
            yield "".join(f"- item {i}: {sentence}\n" for i in range(3)) + "\n"
        else:
            yield sentence * 4 + "\n\n"


def tokens() -> Iterator[str]:
    for piece in reply_text():
        for start in range(0, len(piece), TOKEN_CHARS):
            yield piece[start : start + TOKEN_CHARS]


def earlier_messages(count: int) -> list[ViewMessage]:
    text = "".join(itertools.islice(reply_text(), 6))
    return [
        ViewMessage(
            message_id=i,
            role=Role.USER if i % 2 == 0 else Role.ASSISTANT,
            text=f"Question {i}: please explain the fox." if i % 2 == 0 else text,
            header="You" if i % 2 == 0 else "Bench model",
        )
        for i in range(count)
    ]


@dataclass
class Case:
    earlier: int
    reply_chars: int
    seconds: list[float] = field(default_factory=list)
    scrolls: bool = False  # the view had something to scroll when timing began


def measure(app: QApplication, case: Case, *, appends: int) -> None:
    view = ChatView()
    view.resize(900, 700)
    view.show()
    view.set_messages(earlier_messages(case.earlier))
    view.begin_assistant_message(header="Bench model")
    stream = tokens()
    written = 0
    while written < case.reply_chars:
        token = next(stream)
        view.append_stream_text(token)
        written += len(token)
    app.processEvents()
    case.scrolls = view.verticalScrollBar().maximum() > 0
    for token in itertools.islice(stream, appends):
        started = time.perf_counter()
        view.append_stream_text(token)
        app.processEvents()
        case.seconds.append(time.perf_counter() - started)
    view.close()
    view.deleteLater()
    app.processEvents()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=700, help="timed appends per case, round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all cases (noise)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    measure(app, Case(0, 1_000), appends=50)  # warm-up: imports, fonts, caches

    cases = [Case(e, n) for e in EARLIER_MESSAGES for n in REPLY_LENGTHS]
    for _ in range(args.rounds):
        for case in cases:
            measure(app, case, appends=args.appends)

    print(f"append_stream_text() of {TOKEN_CHARS}-char tokens, incl. the event processing caused")
    columns = ("earlier msgs", "reply chars", "scrolls", "median µs", "mean µs", "p90 µs")
    print(" ".join(f"{name:>12}" for name in columns))
    for case in cases:
        row = (
            case.earlier,
            case.reply_chars,
            "yes" if case.scrolls else "no",
            f"{statistics.median(case.seconds) * 1e6:.1f}",
            f"{statistics.fmean(case.seconds) * 1e6:.1f}",
            f"{statistics.quantiles(case.seconds, n=10)[-1] * 1e6:.1f}",
        )
        print(" ".join(f"{cell:>12}" for cell in row))
    medians = [statistics.median(case.seconds) for case in cases]
    means = [statistics.fmean(case.seconds) for case in cases]
    print(f"largest/smallest median: {max(medians) / min(medians):.2f}")
    print(f"largest/smallest mean:   {max(means) / min(means):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
