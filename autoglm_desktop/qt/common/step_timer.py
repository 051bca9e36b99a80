"""The timer that runs long GUI-thread work one bounded step per event-loop turn.

A step re-arms the timer for the next one. With a zero interval Qt may run several steps back
to back before a timer that is due meanwhile (a repaint's, a heartbeat's) gets its turn; a
1 ms interval lets everything that is due run between two steps, so no turn holds up the
window for more than one step.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

STEP_INTERVAL_MS = 1


def step_timer(parent: QObject, step: Callable[[], None]) -> QTimer:
    """A single-shot timer calling `step`; `step` calls ``start()`` for the next one."""
    timer = QTimer(parent, singleShot=True, interval=STEP_INTERVAL_MS)
    timer.timeout.connect(step)
    return timer
