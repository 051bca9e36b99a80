"""Thread counts that follow the machine while the engine generates.

The tuner picks threads once, at load time. When another program later takes a core,
llama.cpp's threads wait for each other at every step and one starved thread stalls them all
(2 threads on 2 cores with one core busy decode several times slower than 1). The
:class:`ThreadGovernor` re-reads the other programs' CPU use every ``interval_s`` during a reply
(see :mod:`core.machine.cpu_share`) and moves the thread count between tokens:

* **Down at once** when the load leaves fewer cores free than threads in use: running too many
  threads costs far more than running too few.
* **Up after confirmation** (``up_confirmations`` readings in a row), as a *trial*: the last
  window at the old count is the baseline, the next window at the new count must be faster by
  ``tie_margin``, or the governor goes back and leaves that count alone for ``veto_s``.
* **A rate drop** (a window slower than ``rate_drop`` times the previous one at the same count,
  with nothing in the load reading to explain it) tries one thread fewer, kept if not slower.
* **A stalled token** (one that takes ``stall_factor`` times the usual gap, and at least
  ``min_stall_s``) reads the load at once instead of at the end of the interval and, unless
  the reading already says what to do, tries one thread fewer: starved threads make every
  token slow, so waiting for the interval would cost seconds of crawling.

A core counts as free when other programs leave at least half of it idle, as in the tuner;
``hysteresis_cores`` widens that boundary so a load near it does not flip the count back and
forth. Pure logic: the clock and the load reader are injected, and llama.cpp is not imported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.machine.cpu_share import CpuShare, CpuShareMeter

IDLE_CORE_THRESHOLD = 0.5  # as the tuner: a core at least half idle counts as free

LoadReader = Callable[[], CpuShare | None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class ThreadSetting:
    """What ``llama_set_n_threads`` is told."""

    n_threads: int  # decoding, one token at a time
    n_threads_batch: int  # the prompt, many tokens at a time


@dataclass(frozen=True)
class GovernorTuning:
    """The governor's knobs (defaults measured with bench/threads.py)."""

    interval_s: float = 0.5
    up_confirmations: int = 2
    hysteresis_cores: float = 0.15
    tie_margin: float = 0.03  # more threads must be this much faster to stay
    rate_drop: float = 0.6
    veto_s: float = 5.0
    stall_factor: float = 4.0
    min_stall_s: float = 0.05  # the CPU meter's shortest window


@dataclass(frozen=True)
class _Trial:
    previous: ThreadSetting
    baseline_rate: float  # tokens/s of the last window at ``previous``


@dataclass
class _Window:
    started_s: float
    tokens: int = 0


def threads_for_load(
    share: CpuShare, *, current: int, ceiling: int, hysteresis_cores: float = 0.0
) -> int:
    """Decode threads for the cores that other programs leave free, from ``current``.

    Moving away from ``current`` needs ``hysteresis_cores`` more evidence than the plain rule.
    """
    free = share.free_cores + (1 - IDLE_CORE_THRESHOLD)
    down = math.floor(free + hysteresis_cores)
    up = math.floor(free - hysteresis_cores)
    if down < current:
        target = down
    elif up > current:
        target = up
    else:
        target = current
    return max(1, min(target, ceiling))


@dataclass
class ThreadGovernor:
    """Decides, between tokens, how many threads llama.cpp should use.

    Call :meth:`begin_reply` before a reply's prompt is evaluated and :meth:`on_token` after
    each token; apply any setting they return with ``llama_set_n_threads``.

    Attributes:
        current: the setting in use.
        ceiling: most decode threads (the physical cores the plan allows).
        batch_ceiling: most prompt threads (the usable logical cores).
        read_load: other programs' CPU use since the previous call.
        clock: monotonic seconds.
        tuning: the knobs.
        changes: how many times the setting changed.
    """

    current: ThreadSetting
    ceiling: int
    batch_ceiling: int
    read_load: LoadReader
    clock: Clock = time.monotonic
    tuning: GovernorTuning = field(default_factory=GovernorTuning)
    changes: int = 0
    _window: _Window = field(init=False)
    _trial: _Trial | None = field(default=None, init=False)
    _last_rate: float | None = field(default=None, init=False)
    _up_votes: int = field(default=0, init=False)
    _vetoed_until: dict[int, float] = field(default_factory=dict, init=False)
    _last_token_s: float | None = field(default=None, init=False)
    _usual_gap_s: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.ceiling = max(1, self.ceiling)
        self.batch_ceiling = max(1, self.batch_ceiling)
        self._window = _Window(started_s=self.clock())
        self.read_load()  # starts the meter's first window

    def begin_reply(self) -> ThreadSetting | None:
        """The setting for a new reply, from the load since the last reading (the idle gap)."""
        now = self.clock()
        self._window = _Window(started_s=now)
        self._trial, self._last_rate, self._up_votes = None, None, 0
        self._last_token_s = None  # the first token's gap is the prompt, not a decode step
        share = self.read_load()
        if share is None or share.window_s < self.tuning.interval_s:
            return None  # a gap this short says more about this moment than about the machine
        target = threads_for_load(
            share,
            current=self.current.n_threads,
            ceiling=self.ceiling,
            hysteresis_cores=self.tuning.hysteresis_cores,
        )
        if target > self.current.n_threads and self._vetoed(target, now):
            return None
        return self._switch(target)

    def on_token(self) -> ThreadSetting | None:
        """Count one token; every ``interval_s`` read the load and maybe change the setting."""
        self._window.tokens += 1
        now = self.clock()
        elapsed = now - self._window.started_s
        stalled = self._stalled(now)
        if elapsed < self.tuning.interval_s and not stalled:
            return None
        rate = self._window.tokens / elapsed
        self._window = _Window(started_s=now)
        share = self.read_load()
        if self._trial is not None:
            return self._end_trial(rate, now)
        setting = self._decide(share, rate, now)
        n = self.current.n_threads
        if setting is None and stalled and n > 1 and not self._vetoed(n - 1, now):
            # The reading may still average over the time before the stall: a starved thread
            # is the likely cause, so try one fewer now and keep it only if it is not slower.
            return self._try(n - 1, rate)
        return setting

    def _stalled(self, now: float) -> bool:
        """Whether this token took far longer than usual (and long enough to measure)."""
        last, self._last_token_s = self._last_token_s, now
        if last is None:
            return False
        gap = now - last
        usual = self._usual_gap_s
        if usual is not None and gap >= max(
            self.tuning.min_stall_s, self.tuning.stall_factor * usual
        ):
            return True
        self._usual_gap_s = gap if usual is None else 0.8 * usual + 0.2 * gap
        return False

    # -- decisions ------------------------------------------------------------------------

    def _decide(self, share: CpuShare | None, rate: float, now: float) -> ThreadSetting | None:
        n = self.current.n_threads
        target = n
        if share is not None:
            target = threads_for_load(
                share,
                current=n,
                ceiling=self.ceiling,
                hysteresis_cores=self.tuning.hysteresis_cores,
            )
        if target < n:
            self._last_rate, self._up_votes = None, 0
            return self._switch(target)
        if target > n:
            self._up_votes += 1
            if self._up_votes >= self.tuning.up_confirmations and not self._vetoed(target, now):
                self._up_votes = 0
                return self._try(target, rate)
        else:
            self._up_votes = 0
        dropped = self._last_rate is not None and rate < self.tuning.rate_drop * self._last_rate
        self._last_rate = rate
        if dropped and n > 1 and not self._vetoed(n - 1, now):
            return self._try(n - 1, rate)
        return None

    def _try(self, n_threads: int, baseline_rate: float) -> ThreadSetting | None:
        previous = self.current
        setting = self._switch(n_threads)
        if setting is not None:
            self._trial = _Trial(previous=previous, baseline_rate=baseline_rate)
        return setting

    def _end_trial(self, rate: float, now: float) -> ThreadSetting | None:
        trial, self._trial = self._trial, None
        assert trial is not None
        tried = self.current.n_threads
        if tried > trial.previous.n_threads:
            keep = rate > trial.baseline_rate * (1 + self.tuning.tie_margin)
        else:
            keep = rate >= trial.baseline_rate * (1 - self.tuning.tie_margin)
        if keep:
            self._last_rate = rate
            return None
        self._vetoed_until[tried] = now + self.tuning.veto_s
        self._last_rate = trial.baseline_rate
        return self._switch(trial.previous.n_threads)

    def _vetoed(self, n_threads: int, now: float) -> bool:
        return self._vetoed_until.get(n_threads, -math.inf) > now

    def _switch(self, n_threads: int) -> ThreadSetting | None:
        n_threads = max(1, min(n_threads, self.ceiling))
        setting = ThreadSetting(
            n_threads=n_threads, n_threads_batch=max(1, min(n_threads, self.batch_ceiling))
        )
        if setting == self.current:
            return None
        self.current = setting
        self.changes += 1
        return setting


GovernorFactory = Callable[[LoadPlan, ThreadSetting], ThreadGovernor | None]


def governor_for(plan: LoadPlan, start: ThreadSetting) -> ThreadGovernor | None:
    """A governor reading this machine's CPU share; ``None`` when the user fixed the threads."""
    if not plan.adaptive_threads:
        return None
    meter = CpuShareMeter()
    usable = max(1, math.floor(meter.capacity_cores))
    return ThreadGovernor(
        current=start,
        ceiling=min(plan.max_threads or usable, usable),
        batch_ceiling=usable,
        read_load=meter.read,
    )
