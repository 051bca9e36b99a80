"""The thread governor's decisions, on a simulated machine: no llama.cpp, no real time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.engine.thread_governor import (
    GovernorTuning,
    ThreadGovernor,
    ThreadSetting,
    governor_for,
    threads_for_load,
)
from autoglm_desktop.core.machine.cpu_share import CpuShare, CpuShareMeter

# tokens/s on a 2-core machine: threads -> speed when the other programs leave them room;
# one more thread than free cores makes every step wait for a starved thread.
IDLE_SPEED = {1: 33.0, 2: 45.0, 3: 50.0, 4: 52.0}
STARVED_SPEED = 8.0


def share(other: float, *, capacity: float = 2.0, own: float = 1.0) -> CpuShare:
    return CpuShare(window_s=0.5, capacity_cores=capacity, busy_cores=other + own, own_cores=own)


@dataclass
class Machine:
    """A clock, the other programs' load, and a decode speed that depends on both."""

    cores: int = 2
    other: float = 0.0
    now: float = 100.0
    speed: Callable[[int, float, int], float] | None = None
    unreadable: bool = False
    threads_seen: list[int] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def read(self) -> CpuShare | None:
        return None if self.unreadable else share(self.other, capacity=float(self.cores))

    def tokens_per_s(self, threads: int) -> float:
        if self.speed is not None:
            return self.speed(threads, self.other, self.cores)
        if threads + self.other > self.cores + 0.75:
            return STARVED_SPEED
        return IDLE_SPEED[threads]

    def governor(self, threads: int, **tuning: float) -> ThreadGovernor:
        return ThreadGovernor(
            current=ThreadSetting(n_threads=threads, n_threads_batch=threads),
            ceiling=self.cores,
            batch_ceiling=self.cores,
            read_load=self.read,
            clock=self.clock,
            tuning=GovernorTuning(**tuning),  # type: ignore[arg-type]
        )

    def decode(self, governor: ThreadGovernor, seconds: float) -> None:
        """Generate tokens for ``seconds`` of simulated time, applying every decision."""
        end = self.now + seconds
        while self.now < end:
            self.now += 1.0 / self.tokens_per_s(governor.current.n_threads)
            governor.on_token()
            self.threads_seen.append(governor.current.n_threads)


# ------------------------------------------------------------------------- the load rule


@pytest.mark.parametrize(
    ("other", "current", "expected"),
    [
        (0.0, 1, 2),  # idle: every core
        (1.0, 2, 1),  # one core taken
        (0.9, 2, 1),
        (0.7, 2, 1),  # past the hysteresis band: down
        (0.6, 2, 2),  # inside the band: stay
        (0.4, 1, 1),  # inside the band: stay
        (0.3, 1, 2),  # past the band: up
        (2.0, 2, 1),  # never below one thread
    ],
)
def test_threads_for_load_has_a_hysteresis_band(other: float, current: int, expected: int) -> None:
    assert threads_for_load(share(other), current=current, ceiling=2, hysteresis_cores=0.15) == (
        expected
    )


def test_threads_for_load_stays_under_the_ceiling() -> None:
    assert threads_for_load(share(0.0, capacity=8.0), current=2, ceiling=4) == 4


# ------------------------------------------------------------------------- during a reply


def test_a_program_starting_mid_reply_drops_a_thread_within_one_reading() -> None:
    machine = Machine()
    governor = machine.governor(2)
    machine.decode(governor, 2.0)
    assert governor.current == ThreadSetting(n_threads=2, n_threads_batch=2)
    machine.other = 1.0
    started = machine.now
    seen = len(machine.threads_seen)
    machine.decode(governor, 3.0)
    # Down at the first reading: within one interval plus the starved token that ends it.
    starved_tokens = machine.threads_seen.index(1, seen) - seen
    assert starved_tokens / STARVED_SPEED <= 0.5 + 1 / STARVED_SPEED
    assert governor.current.n_threads == 1 and governor.changes == 1
    assert machine.now > started


def test_threads_come_back_when_the_program_stops_and_stay_when_faster() -> None:
    machine = Machine(other=1.0)
    governor = machine.governor(1)
    machine.decode(governor, 2.0)
    assert governor.current.n_threads == 1
    machine.other = 0.0
    stopped, seen = machine.now, len(machine.threads_seen)
    machine.decode(governor, 3.0)
    assert governor.current.n_threads == 2 and governor.changes == 1
    # Two readings in a row, so at least one reading interval after the load went away.
    first_two = machine.threads_seen.index(2, seen)
    assert (first_two - seen) / IDLE_SPEED[1] >= 0.5 - 1 / IDLE_SPEED[1]
    assert machine.now > stopped


def test_a_trial_that_is_not_faster_goes_back_and_is_not_retried_at_once() -> None:
    # A memory-bound machine: a second thread does not help even when idle.
    machine = Machine(speed=lambda threads, _other, _cores: 40.0 if threads == 1 else 38.0)
    governor = machine.governor(1, veto_s=5.0)
    machine.decode(governor, 3.0)
    assert governor.current.n_threads == 1 and governor.changes == 2  # tried 2, went back
    machine.decode(governor, 3.0)
    assert governor.changes == 2  # vetoed for 5 s
    machine.decode(governor, 3.0)
    assert governor.changes == 4  # tried again once the veto ran out, and went back again
    assert governor.current.n_threads == 1


def test_a_load_inside_the_hysteresis_band_never_flips_the_count() -> None:
    machine = Machine()
    governor = machine.governor(2)
    for other in [0.4, 0.6, 0.45, 0.55, 0.6, 0.4] * 3:
        machine.other = other
        machine.decode(governor, 0.6)
    assert governor.changes == 0


def test_an_unexplained_rate_drop_tries_one_thread_fewer_and_keeps_it() -> None:
    # Something the load reading cannot see (another user's process group, a thermal limit)
    # makes 4 threads crawl; 3 threads are fine.
    slow: dict[str, bool] = {"on": False}

    def speed(threads: int, _other: float, _cores: int) -> float:
        return 10.0 if slow["on"] and threads == 4 else IDLE_SPEED[threads]

    machine = Machine(cores=4, speed=speed)
    governor = machine.governor(4)
    machine.decode(governor, 2.0)
    slow["on"] = True
    machine.decode(governor, 3.0)
    assert governor.current.n_threads == 3


def test_an_unreadable_load_changes_nothing() -> None:
    machine = Machine(unreadable=True)
    governor = machine.governor(2)
    machine.decode(governor, 3.0)
    assert governor.changes == 0 and governor.begin_reply() is None


# ------------------------------------------------------------------------- between replies


def test_begin_reply_goes_straight_to_the_load_target() -> None:
    machine = Machine()
    governor = machine.governor(2)
    machine.other = 1.0
    assert governor.begin_reply() == ThreadSetting(n_threads=1, n_threads_batch=1)
    machine.other = 0.0
    assert governor.begin_reply() == ThreadSetting(n_threads=2, n_threads_batch=2)
    assert governor.begin_reply() is None


def test_batch_threads_may_use_logical_cores_decode_threads_only_physical() -> None:
    machine = Machine(cores=4)
    governor = ThreadGovernor(
        current=ThreadSetting(n_threads=1, n_threads_batch=1),
        ceiling=2,
        batch_ceiling=4,
        read_load=machine.read,
        clock=machine.clock,
    )
    assert governor.begin_reply() == ThreadSetting(n_threads=2, n_threads_batch=2)


def test_threads_the_user_fixed_get_no_governor() -> None:
    plan = LoadPlan(model_path=__file__, n_threads=3, adaptive_threads=False)  # type: ignore[arg-type]
    assert governor_for(plan, ThreadSetting(n_threads=3, n_threads_batch=3)) is None
    adaptive = governor_for(
        LoadPlan(model_path=__file__, max_threads=1),  # type: ignore[arg-type]
        ThreadSetting(n_threads=1, n_threads_batch=1),
    )
    assert adaptive is not None and adaptive.ceiling == 1


# ------------------------------------------------------------------------- the meter


def test_cpu_share_meter_subtracts_our_own_time() -> None:
    now = {"t": 0.0, "busy0": 0.0, "busy1": 0.0, "own": 0.0}
    meter = CpuShareMeter(
        cpus=(0, 1),
        quota_cores=None,
        clock=lambda: now["t"],
        read_cpus=lambda: [(now["busy0"], 0.0), (now["busy1"], 0.0)],
        read_own=lambda: now["own"],
    )
    assert meter.read() is None  # the first reading starts the window
    now.update(t=0.5, busy0=0.5, busy1=0.4, own=0.45)  # we used 0.9 cores, others 0.9
    reading = meter.read()
    assert reading is not None
    assert reading.own_cores == pytest.approx(0.9)
    assert reading.other_cores == pytest.approx(0.9)
    assert reading.free_cores == pytest.approx(1.1)
    now.update(t=0.52)
    assert meter.read() is None  # too short a window: keeps its start
    now.update(t=1.0, busy0=1.0, busy1=0.9, own=0.95)
    reading = meter.read()
    assert reading is not None and reading.window_s == pytest.approx(0.5)


def test_cpu_share_meter_capacity_follows_the_quota() -> None:
    meter = CpuShareMeter(cpus=(0, 1, 2, 3), quota_cores=1.5)
    assert meter.capacity_cores == 1.5


def test_a_stalled_token_reads_the_load_at_once() -> None:
    machine = Machine()
    governor = machine.governor(2, interval_s=60.0)  # only a stall can trigger a reading
    governor.begin_reply()
    machine.decode(governor, 1.0)
    assert governor.current.n_threads == 2  # idle: no stall, no change
    machine.other = 1.0
    machine.decode(governor, 0.3)  # starved tokens take 125 ms against 22 ms before
    assert governor.current.n_threads == 1


def test_a_reply_right_after_the_last_reading_keeps_its_threads() -> None:
    machine = Machine(other=1.0)  # a burst of other work just before the request
    governor = machine.governor(2)

    def short_window() -> CpuShare:
        return CpuShare(window_s=0.1, capacity_cores=2.0, busy_cores=2.0, own_cores=1.0)

    governor.read_load = short_window
    assert governor.begin_reply() is None
    assert governor.current.n_threads == 2
