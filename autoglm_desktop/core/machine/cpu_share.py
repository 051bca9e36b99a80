"""How much CPU other programs take while this process is busy itself.

A plain load reading cannot tell the engine's own threads from a browser: while the engine
decodes, every core looks busy. :class:`CpuShareMeter` subtracts this process's own CPU time
(all its threads, from ``os.times()``) from the busy time of the CPUs it may run on, so what is
left is the load of everything else. It is cheap (one ``/proc/stat`` read and one ``times()``
call), so the engine can read it every half second while it generates.

When our threads outnumber the free cores, the scheduler shares the cores out and the other
programs' reading is what they *got*, not what they *wanted*; llama.cpp's threads yield while
they wait for a starved sibling, so in practice the others still show most of their demand.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autoglm_desktop.core.machine.hardware import (
    cpu_affinity,
    cpu_busy_and_total,
    read_cgroup_cpu_quota,
)

log = logging.getLogger(__name__)

MIN_WINDOW_S = 0.05  # shorter windows are mostly rounding (CPU times tick every 10 ms)


@dataclass(frozen=True)
class CpuShare:
    """CPU use over one window, in cores (1.0 = one core busy for the whole window)."""

    window_s: float
    capacity_cores: float  # the CPUs we may use, capped by a cgroup quota
    busy_cores: float  # every program, on those CPUs
    own_cores: float  # this process, all its threads

    @property
    def other_cores(self) -> float:
        """What the other programs used."""
        return min(self.capacity_cores, max(0.0, self.busy_cores - self.own_cores))

    @property
    def free_cores(self) -> float:
        """Cores that other programs left idle (ours count as free)."""
        return max(0.0, self.capacity_cores - self.other_cores)


@dataclass(frozen=True)
class _Sample:
    wall_s: float
    busy_s: float  # summed over our CPUs
    own_s: float


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class CpuShareMeter:
    """Reads :class:`CpuShare` over the time since its previous reading. Thread-safe.

    Args:
        cpus: the logical CPUs to watch (default: this process's affinity).
        quota_cores: a CPU quota to cap the capacity (default: the cgroup's, if any).
        clock, read_cpus, read_own: sources of the readings (tests inject fakes).
    """

    def __init__(
        self,
        *,
        cpus: Sequence[int] | None = None,
        quota_cores: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        read_cpus: Callable[[], list[tuple[float, float]]] = cpu_busy_and_total,
        read_own: Callable[[], float] = _own_cpu_seconds,
    ) -> None:
        self._cpus = tuple(cpus) if cpus is not None else _usable_cpus()
        quota = quota_cores if quota_cores is not None else _quota()
        capacity = float(len(self._cpus)) if self._cpus else float(os.cpu_count() or 1)
        self._capacity = min(capacity, quota) if quota is not None else capacity
        self._clock = clock
        self._read_cpus = read_cpus
        self._read_own = read_own
        self._lock = threading.Lock()
        self._last: _Sample | None = None

    @property
    def capacity_cores(self) -> float:
        return self._capacity

    def read(self) -> CpuShare | None:
        """The share since the previous reading; ``None`` on the first one or when unreadable.

        A window shorter than 50 ms returns ``None`` and keeps the previous reading's start.
        """
        with self._lock:
            try:
                current = self._sample()
            except Exception:
                log.debug("CPU times not readable", exc_info=True)
                return None
            previous = self._last
            if previous is not None and current.wall_s - previous.wall_s < MIN_WINDOW_S:
                return None
            self._last = current
        if previous is None:
            return None
        window = current.wall_s - previous.wall_s
        return CpuShare(
            window_s=window,
            capacity_cores=self._capacity,
            busy_cores=max(0.0, current.busy_s - previous.busy_s) / window,
            own_cores=max(0.0, current.own_s - previous.own_s) / window,
        )

    def _sample(self) -> _Sample:
        per_cpu = self._read_cpus()
        cpus = self._cpus or tuple(range(len(per_cpu)))
        busy = sum(per_cpu[i][0] for i in cpus if i < len(per_cpu))
        return _Sample(wall_s=self._clock(), busy_s=busy, own_s=self._read_own())


def _usable_cpus() -> tuple[int, ...]:
    try:
        return cpu_affinity() or ()
    except Exception:
        log.debug("CPU affinity not readable", exc_info=True)
        return ()


def _quota() -> float | None:
    try:
        return read_cgroup_cpu_quota()
    except Exception:
        log.debug("cgroup CPU quota not readable", exc_info=True)
        return None
