"""Live readings of the machine: memory, CPU and GPUs, as they are right now.

Every source is best effort. A source that is missing or fails (no NVIDIA driver, no sysfs, a
sandbox that hides ``/proc``) yields ``None`` or an empty tuple and a debug log line; nothing here
raises. The module imports nothing heavy (no llama.cpp, no numpy) so that it loads fast.

:func:`read_hardware` takes at most about ``cpu_interval`` seconds plus a few milliseconds for
the file and NVML reads. It blocks for that long, so the Qt layer calls it off the GUI thread
(at 1 Hz, with ``cpu_interval=0`` and its own :class:`CpuLoadMeter`).
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil

log = logging.getLogger(__name__)

_T = TypeVar("_T")

SYS_ROOT = Path("/sys")
PROC_ROOT = Path("/proc")

# cgroup v1 writes "no limit" as PAGE_COUNTER_MAX pages (about 2**63); anything this large is none.
_UNLIMITED_THRESHOLD = 1 << 62

_AMD_PCI_VENDOR = "0x1002"
_GIB = 1 << 30


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CgroupMemory:
    """The memory limit of the container (cgroup) this process runs in.

    ``usage_bytes`` counts the page cache too; ``reclaimable_bytes`` is the part of it the kernel
    drops before it kills anything (inactive file pages), as Docker and the kubelet count it.
    """

    version: int  # 1 or 2
    limit_bytes: int | None  # None: no limit set
    usage_bytes: int | None
    reclaimable_bytes: int = 0

    @property
    def headroom_bytes(self) -> int | None:
        """How much more the container may use before it hits its limit."""
        if self.limit_bytes is None or self.usage_bytes is None:
            return None
        working_set = max(0, self.usage_bytes - self.reclaimable_bytes)
        return max(0, self.limit_bytes - working_set)


@dataclass(frozen=True)
class MemoryReading:
    total_bytes: int | None
    available_bytes: int | None
    swap_total_bytes: int | None
    swap_used_bytes: int | None
    self_rss_bytes: int | None  # this process
    engine_rss_bytes: int | None  # the engine process, when a pid was given
    cgroup: CgroupMemory | None  # None: not in a cgroup with a memory controller we can read

    @property
    def effective_total_bytes(self) -> int | None:
        """Physical RAM, or the container limit when that is smaller."""
        limit = self.cgroup.limit_bytes if self.cgroup else None
        return _min_known(self.total_bytes, limit)

    @property
    def effective_available_bytes(self) -> int | None:
        """What a new allocation may use now: ``min(available, limit - usage)``."""
        headroom = self.cgroup.headroom_bytes if self.cgroup else None
        return _min_known(self.available_bytes, headroom)


@dataclass(frozen=True)
class CpuReading:
    logical_cores: int | None
    physical_cores: int | None
    usable_core_ids: tuple[int, ...] | None  # CPU affinity of this process; None: unknown
    quota_cores: float | None  # cgroup CPU quota in cores; None: no quota
    features: frozenset[str] | None  # normalized names ("avx2", "neon", ...); None: unknown
    per_core_load: tuple[float, ...] | None  # busy fraction 0..1 per logical CPU; None: unknown
    last_level_cache_bytes: int | None = None  # the first core's biggest cache; None: unknown

    @property
    def usable_cores(self) -> int | None:
        if self.usable_core_ids is not None:
            return len(self.usable_core_ids)
        return self.logical_cores


@dataclass(frozen=True)
class GpuReading:
    index: int  # position within its backend, as that backend numbers devices
    name: str
    vendor: str  # "nvidia", "amd", "apple"
    backend: str  # native llama.cpp backend for it: "cuda", "rocm", "metal"
    total_bytes: int | None
    free_bytes: int | None
    used_bytes: int | None
    used_by_us_bytes: int | None  # this process plus the engine; None: the driver does not say
    unified_memory: bool = False  # shares system RAM (Apple Silicon)


@dataclass(frozen=True)
class HardwareSnapshot:
    taken_at: float  # time.time()
    system: str  # platform.system(): "Linux", "Darwin", "Windows"
    machine: str  # platform.machine(): "x86_64", "arm64", ...
    memory: MemoryReading
    cpu: CpuReading
    gpus: tuple[GpuReading, ...]
    gpus_probed: bool  # False when the caller asked for no GPU readings


# --------------------------------------------------------------------------- entry points


def read_hardware(
    *,
    include_gpus: bool = True,
    cpu_interval: float = 0.0,
    cpu_meter: CpuLoadMeter | None = None,
    engine_pid: int | None = None,
) -> HardwareSnapshot:
    """Read memory, CPU and (optionally) GPUs now. Never raises.

    Args:
        include_gpus: probe GPUs (NVML, sysfs, Metal); a few milliseconds when present.
        cpu_interval: seconds to measure CPU load over (this call sleeps that long). With 0 the
            load is the average since the previous reading of ``cpu_meter`` (or of the module's
            shared meter); the very first such reading has no baseline and reports ``None``.
        cpu_meter: a meter owned by the caller, so that two pollers do not shorten each other's
            measuring windows.
        engine_pid: the engine process, whose RSS and GPU memory count as "ours".
    """
    our_pids = {os.getpid()} | ({engine_pid} if engine_pid is not None else set())
    memory = read_memory(engine_pid=engine_pid)
    cpu = CpuReading(
        logical_cores=_logical_cores(),
        physical_cores=_physical_cores(),
        usable_core_ids=_safe(cpu_affinity, None, "CPU affinity"),
        quota_cores=_safe(read_cgroup_cpu_quota, None, "cgroup CPU quota"),
        features=_safe(read_cpu_features, None, "CPU features"),
        per_core_load=(cpu_meter or _SHARED_METER).read(interval=cpu_interval),
        last_level_cache_bytes=_safe(read_last_level_cache, None, "CPU cache size"),
    )
    gpus: tuple[GpuReading, ...] = ()
    if include_gpus:
        gpus = read_gpus(our_pids=our_pids, ram_available_bytes=memory.available_bytes)
    return HardwareSnapshot(
        taken_at=time.time(),
        system=platform.system(),
        machine=platform.machine(),
        memory=memory,
        cpu=cpu,
        gpus=gpus,
        gpus_probed=include_gpus,
    )


def idle_cores(snapshot: HardwareSnapshot) -> float:
    """How many cores this process could keep busy without competing with other programs.

    The usable cores (affinity, capped by a cgroup quota) minus the load measured on them. Load
    from our own engine counts as busy too: callers that plan for the engine should measure
    while it is idle. With no load reading every usable core counts as idle.
    """
    cpu = snapshot.cpu
    usable_ids = cpu.usable_core_ids
    if usable_ids is None and cpu.logical_cores is not None:
        usable_ids = tuple(range(cpu.logical_cores))
    if not usable_ids:
        return 1.0
    busy = 0.0
    if cpu.per_core_load is not None:
        busy = sum(cpu.per_core_load[i] for i in usable_ids if i < len(cpu.per_core_load))
    capacity = float(len(usable_ids))
    if cpu.quota_cores is not None:
        capacity = min(capacity, cpu.quota_cores)
    return max(0.0, capacity - busy)


def process_rss(pid: int) -> int | None:
    """Resident memory of a process in bytes; ``None`` when it is gone or not readable."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except Exception:
        log.debug("RSS of pid %s not readable", pid, exc_info=True)
        return None


# --------------------------------------------------------------------------- memory


def read_memory(*, engine_pid: int | None = None) -> MemoryReading:
    virtual = _safe(psutil.virtual_memory, None, "virtual memory")
    swap = _safe(psutil.swap_memory, None, "swap")
    return MemoryReading(
        total_bytes=_int_attr(virtual, "total"),
        available_bytes=_int_attr(virtual, "available"),
        swap_total_bytes=_int_attr(swap, "total"),
        swap_used_bytes=_int_attr(swap, "used"),
        self_rss_bytes=process_rss(os.getpid()),
        engine_rss_bytes=process_rss(engine_pid) if engine_pid is not None else None,
        cgroup=_safe(read_cgroup_memory, None, "cgroup memory"),
    )


def read_cgroup_memory(
    *,
    cgroup_root: Path = SYS_ROOT / "fs" / "cgroup",
    proc_self_cgroup: Path = PROC_ROOT / "self" / "cgroup",
) -> CgroupMemory | None:
    """The tightest memory limit among this process's cgroup and its ancestors.

    ``None`` when there is no cgroup memory controller to read (not Linux, or hidden).
    """
    located = _locate_cgroup("memory", cgroup_root, proc_self_cgroup)
    if located is None:
        return None
    version, dirs = located
    if version == 2:
        limit_name, usage_name, inactive_key = "memory.max", "memory.current", "inactive_file"
    else:
        limit_name, usage_name = "memory.limit_in_bytes", "memory.usage_in_bytes"
        inactive_key = "total_inactive_file"
    readings = []
    for directory in dirs:
        usage = _read_int_file(directory / usage_name)
        if usage is None and not (directory / limit_name).exists():
            continue  # the v2 root has neither file
        stat = _read_key_values(directory / "memory.stat")
        readings.append(
            CgroupMemory(
                version=version,
                limit_bytes=_read_limit_file(directory / limit_name),
                usage_bytes=usage,
                reclaimable_bytes=stat.get(inactive_key, stat.get("inactive_file", 0)),
            )
        )
    if not readings:
        return None
    limited = [r for r in readings if r.headroom_bytes is not None]
    if not limited:
        return readings[0]
    return min(limited, key=lambda r: r.headroom_bytes or 0)


def _min_known(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


# --------------------------------------------------------------------------- cgroups


def _locate_cgroup(
    controller: str, cgroup_root: Path, proc_self_cgroup: Path
) -> tuple[int, list[Path]] | None:
    """The cgroup version and the directories of our cgroup, from the leaf up to the mount root.

    Without a cgroup namespace, /proc/self/cgroup names a path that may not exist under the
    mount we see (the container sees only its own subtree at the mount root); then the mount
    root itself is our cgroup.
    """
    try:
        lines = proc_self_cgroup.read_text().splitlines()
    except OSError:
        return None
    v1_path = v2_path = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2_path = path
        elif controller in controllers.split(","):
            v1_path = path
    v1_mounts = _v1_mount_dirs(cgroup_root, controller) if v1_path is not None else []
    if v1_path is not None and v1_mounts:
        return 1, _leaf_to_root(v1_mounts[0], v1_path)
    if v2_path is not None:
        for mount in (cgroup_root, cgroup_root / "unified"):
            controllers_file = mount / "cgroup.controllers"
            if controllers_file.is_file() and controller in controllers_file.read_text().split():
                return 2, _leaf_to_root(mount, v2_path)
    return None


def _v1_mount_dirs(cgroup_root: Path, controller: str) -> list[Path]:
    candidates = [cgroup_root / controller]
    if controller in ("cpu", "cpuacct"):
        candidates += [cgroup_root / "cpu,cpuacct", cgroup_root / "cpuacct,cpu"]
    return [c for c in candidates if c.is_dir()]


def _leaf_to_root(mount: Path, cgroup_path: str) -> list[Path]:
    relative = cgroup_path.strip("/")
    leaf = mount / relative if relative else mount
    if not leaf.is_dir():
        return [mount]
    dirs = [leaf]
    while dirs[-1] != mount and mount in dirs[-1].parents:
        dirs.append(dirs[-1].parent)
    return dirs


def read_cgroup_cpu_quota(
    *,
    cgroup_root: Path = SYS_ROOT / "fs" / "cgroup",
    proc_self_cgroup: Path = PROC_ROOT / "self" / "cgroup",
) -> float | None:
    """The CPU quota of our cgroup (and its ancestors) in cores; ``None`` when there is none."""
    located = _locate_cgroup("cpu", cgroup_root, proc_self_cgroup)
    if located is None:
        return None
    version, dirs = located
    quotas: list[float] = []
    for directory in dirs:
        if version == 2:
            quota = _parse_cpu_max(_read_text(directory / "cpu.max"))
        else:
            quota = _cpu_quota_v1(
                _read_int_file(directory / "cpu.cfs_quota_us"),
                _read_int_file(directory / "cpu.cfs_period_us"),
            )
        if quota is not None:
            quotas.append(quota)
    return min(quotas) if quotas else None


def _parse_cpu_max(text: str | None) -> float | None:
    if not text:
        return None
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _cpu_quota_v1(quota: int | None, period: int | None) -> float | None:
    if quota is None or period is None or quota <= 0 or period <= 0:
        return None
    return quota / period


# --------------------------------------------------------------------------- CPU


@functools.lru_cache(maxsize=1)
def _logical_cores() -> int | None:
    return _safe(lambda: _opt_int(psutil.cpu_count(logical=True)), None, "logical core count")


@functools.lru_cache(maxsize=1)
def _physical_cores() -> int | None:
    return _safe(lambda: _opt_int(psutil.cpu_count(logical=False)), None, "physical core count")


def cpu_affinity() -> tuple[int, ...] | None:
    """The logical CPUs this process may run on; ``None`` when the system does not say."""
    if hasattr(os, "sched_getaffinity"):
        return tuple(sorted(os.sched_getaffinity(0)))
    process = psutil.Process()
    if hasattr(process, "cpu_affinity"):
        return tuple(sorted(process.cpu_affinity()))
    return None


def read_last_level_cache(*, sys_root: Path = SYS_ROOT) -> int | None:
    """The size of the CPU's last-level cache (L3, where there is one) in bytes; None: unknown.

    The operating system's own tables: psutil does not read cache sizes, and py-cpuinfo gave
    1 MiB for this machine's 32 MiB L3 (it reads "cache size" lines meant for other levels)
    and asks ``wmic`` on Windows, which Windows 11 no longer has. On a CPU whose cores do not
    all share one L3 (AMD's chiplets), this is the part the first usable core shares.
    """
    if sys.platform == "win32":
        return _windows_last_level_cache()
    if sys.platform == "darwin":
        return _sysctl_int("hw.l3cachesize") or _sysctl_int("hw.l2cachesize")
    return _linux_last_level_cache(sys_root)


@functools.lru_cache(maxsize=4)
def _linux_last_level_cache(sys_root: Path) -> int | None:
    cores = cpu_affinity() or (0,)
    caches = sys_root / "devices" / "system" / "cpu" / f"cpu{cores[0]}" / "cache"
    found: list[tuple[int, int]] = []
    for index in sorted(caches.glob("index*")):
        level = _read_int_file(index / "level")
        size = parse_cache_size(_read_text(index / "size"))
        if level is not None and size and _read_text(index / "type") != "Instruction":
            found.append((level, size))
    return max(found)[1] if found else None


def parse_cache_size(text: str | None) -> int | None:
    """A sysfs cache size ("32768K", "1M") in bytes; None when it is not one."""
    match = re.fullmatch(r"(\d+)\s*([KMG]?)", (text or "").strip().upper())
    if match is None:
        return None
    return int(match.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2)]


@functools.lru_cache(maxsize=1)
def _windows_last_level_cache() -> int | None:
    """GetLogicalProcessorInformation's biggest cache of the highest level."""
    import ctypes
    from ctypes import wintypes

    class CacheDescriptor(ctypes.Structure):
        _fields_ = [
            ("level", wintypes.BYTE),
            ("associativity", wintypes.BYTE),
            ("line_size", wintypes.WORD),
            ("size", wintypes.DWORD),
            ("type", wintypes.DWORD),
        ]

    class Detail(ctypes.Union):
        _fields_ = [("cache", CacheDescriptor), ("reserved", ctypes.c_ulonglong * 2)]

    class ProcessorInformation(ctypes.Structure):
        _fields_ = [
            ("processor_mask", ctypes.c_size_t),
            ("relationship", wintypes.DWORD),
            ("detail", Detail),
        ]

    relation_cache = 2
    read = ctypes.windll.kernel32.GetLogicalProcessorInformation  # type: ignore[attr-defined]
    length = wintypes.DWORD(0)
    read(None, ctypes.byref(length))
    count = length.value // ctypes.sizeof(ProcessorInformation)
    entries = (ProcessorInformation * count)()
    if not count or not read(entries, ctypes.byref(length)):
        return None
    found = [
        (entry.detail.cache.level, entry.detail.cache.size)
        for entry in entries
        if entry.relationship == relation_cache
    ]
    return max(found)[1] if found else None


class CpuLoadMeter:
    """Per-core CPU load from the difference of two ``cpu_times`` samples.

    psutil's own non-blocking ``cpu_percent`` keeps one baseline for the whole process, so two
    pollers would shorten each other's windows; each meter keeps its own. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: list[tuple[float, float]] | None = None

    def read(self, *, interval: float = 0.0) -> tuple[float, ...] | None:
        """Busy fraction (0..1) of each logical CPU; ``None`` when unknown.

        With ``interval > 0`` it measures over that many seconds (sleeping); with 0 it reports
        the load since this meter's previous reading (``None`` on the first one).
        """
        with self._lock:
            try:
                if interval > 0:
                    self._last = cpu_busy_and_total()
                    time.sleep(interval)
                current = cpu_busy_and_total()
            except Exception:
                log.debug("CPU times not readable", exc_info=True)
                return None
            previous, self._last = self._last, current
        if previous is None or len(previous) != len(current):
            return None
        return tuple(_load(before, after) for before, after in zip(previous, current, strict=True))


def cpu_busy_and_total() -> list[tuple[float, float]]:
    samples = []
    for times in psutil.cpu_times(percpu=True):
        values = times._asdict()
        # Linux counts guest time inside user/nice already; idle waiting on I/O is idle.
        total = sum(values.values()) - values.get("guest", 0.0) - values.get("guest_nice", 0.0)
        idle = values.get("idle", 0.0) + values.get("iowait", 0.0)
        samples.append((total - idle, total))
    return samples


def _load(before: tuple[float, float], after: tuple[float, float]) -> float:
    busy = after[0] - before[0]
    total = after[1] - before[1]
    if total <= 0:
        return 0.0
    return min(1.0, max(0.0, busy / total))


_SHARED_METER = CpuLoadMeter()


# x86 flags as /proc/cpuinfo spells them; "pni" is SSE3.
_X86_FEATURES = {
    "pni": "sse3",
    "ssse3": "ssse3",
    "sse4_1": "sse4_1",
    "sse4_2": "sse4_2",
    "avx": "avx",
    "avx2": "avx2",
    "avx_vnni": "avx_vnni",
    "f16c": "f16c",
    "fma": "fma",
    "avx512f": "avx512f",
    "avx512bw": "avx512bw",
    "avx512vl": "avx512vl",
    "avx512vbmi": "avx512vbmi",
    "avx512_vnni": "avx512_vnni",
    "avx512_bf16": "avx512_bf16",
    "amx_tile": "amx_tile",
    "amx_int8": "amx_int8",
    "amx_bf16": "amx_bf16",
}
# ARM "Features" as Linux spells them.
_ARM_FEATURES = {
    "neon": "neon",
    "asimd": "neon",
    "asimddp": "dotprod",
    "asimdhp": "fp16",
    "fphp": "fp16",
    "i8mm": "i8mm",
    "bf16": "bf16",
    "sve": "sve",
    "sve2": "sve2",
    "sme": "sme",
}
# macOS sysctl names (hw.optional.*) -> normalized names.
_DARWIN_FEATURES = {
    "hw.optional.neon": "neon",
    "hw.optional.arm.FEAT_DotProd": "dotprod",
    "hw.optional.arm.FEAT_FP16": "fp16",
    "hw.optional.arm.FEAT_I8MM": "i8mm",
    "hw.optional.arm.FEAT_BF16": "bf16",
    "hw.optional.arm.FEAT_SME": "sme",
    "hw.optional.avx1_0": "avx",
    "hw.optional.avx2_0": "avx2",
    "hw.optional.avx512f": "avx512f",
    "hw.optional.avx512bw": "avx512bw",
    "hw.optional.avx512vl": "avx512vl",
    "hw.optional.fma": "fma",
    "hw.optional.sse3": "sse3",
    "hw.optional.supplementalsse3": "ssse3",
    "hw.optional.sse4_1": "sse4_1",
    "hw.optional.sse4_2": "sse4_2",
}
# Windows IsProcessorFeaturePresent ids (winnt.h).
_WINDOWS_FEATURES = {
    13: "sse3",
    19: "neon",
    36: "ssse3",
    37: "sse4_1",
    38: "sse4_2",
    39: "avx",
    40: "avx2",
    41: "avx512f",
    43: "dotprod",
}


def read_cpu_features(*, cpuinfo_path: Path = PROC_ROOT / "cpuinfo") -> frozenset[str] | None:
    """Instruction-set features that matter to llama.cpp; ``None`` when they cannot be read."""
    if sys.platform == "darwin":
        return _darwin_cpu_features()
    if sys.platform == "win32":
        return _windows_cpu_features()
    return _cpuinfo_features(cpuinfo_path)


@functools.lru_cache(maxsize=4)
def _cpuinfo_features(cpuinfo_path: Path) -> frozenset[str] | None:
    try:
        text = cpuinfo_path.read_text(errors="replace")
    except OSError:
        return None
    return parse_cpuinfo_features(text)


def parse_cpuinfo_features(cpuinfo: str) -> frozenset[str] | None:
    """Features from the first ``flags`` (x86) or ``Features`` (ARM) line of /proc/cpuinfo."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "flags":
            table = _X86_FEATURES
        elif key == "features":
            table = _ARM_FEATURES
        else:
            continue
        return frozenset(table[f] for f in value.split() if f in table)
    return None


@functools.lru_cache(maxsize=1)
def _darwin_cpu_features() -> frozenset[str] | None:
    output = _run_sysctl("-a")
    if output is None:
        return None
    found = set()
    for line in output.splitlines():
        name, _, value = line.partition(":")
        feature = _DARWIN_FEATURES.get(name.strip())
        if feature and value.strip() == "1":
            found.add(feature)
    return frozenset(found)


@functools.lru_cache(maxsize=1)
def _windows_cpu_features() -> frozenset[str] | None:
    try:
        import ctypes

        present = ctypes.windll.kernel32.IsProcessorFeaturePresent  # type: ignore[attr-defined]
        return frozenset(name for pf, name in _WINDOWS_FEATURES.items() if present(pf))
    except Exception:
        log.debug("IsProcessorFeaturePresent failed", exc_info=True)
        return None


# --------------------------------------------------------------------------- GPUs


def read_gpus(
    *,
    our_pids: Iterable[int] = (),
    ram_available_bytes: int | None = None,
    sys_root: Path = SYS_ROOT,
    proc_root: Path = PROC_ROOT,
) -> tuple[GpuReading, ...]:
    """Every GPU we can read: NVIDIA (NVML), AMD (amdgpu sysfs), Apple Silicon (unified)."""
    pids = frozenset(our_pids)
    gpus: list[GpuReading] = []
    gpus += _safe(lambda: read_nvidia_gpus(our_pids=pids), [], "NVIDIA GPUs")
    gpus += _safe(
        lambda: read_amd_gpus(
            our_pids=pids, drm_root=sys_root / "class" / "drm", proc_root=proc_root
        ),
        [],
        "AMD GPUs",
    )
    apple = _safe(lambda: read_apple_gpu(ram_available_bytes=ram_available_bytes), None, "Metal")
    if apple is not None:
        gpus.append(apple)
    return tuple(gpus)


class _Nvml:
    """NVML, initialised once per process; a failed start is not retried (no driver appears)."""

    _lock = threading.Lock()
    _module: Any = None
    _failed = False

    @classmethod
    def get(cls) -> Any:
        with cls._lock:
            if cls._module is None and not cls._failed:
                try:
                    import pynvml  # type: ignore[import-untyped]

                    pynvml.nvmlInit()
                    cls._module = pynvml
                except Exception:
                    log.debug("NVML not available", exc_info=True)
                    cls._failed = True
            return cls._module

    @classmethod
    def reset(cls) -> None:
        """Forget the cached state (tests)."""
        with cls._lock:
            cls._module = None
            cls._failed = False


def read_nvidia_gpus(*, our_pids: Iterable[int] = ()) -> list[GpuReading]:
    nvml = _Nvml.get()
    if nvml is None:
        return []
    pids = frozenset(our_pids)
    gpus: list[GpuReading] = []
    for index in range(int(nvml.nvmlDeviceGetCount())):
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        except Exception:
            log.debug("NVML device %d not readable", index, exc_info=True)
            continue
        gpus.append(
            GpuReading(
                index=index,
                name=name.decode() if isinstance(name, bytes) else str(name),
                vendor="nvidia",
                backend="cuda",
                total_bytes=int(memory.total),
                free_bytes=int(memory.free),
                used_bytes=int(memory.used),
                used_by_us_bytes=_nvidia_used_by(nvml, handle, pids),
            )
        )
    return gpus


def _nvidia_used_by(nvml: Any, handle: Any, pids: frozenset[int]) -> int | None:
    """Sum over our processes; ``None`` when none is listed.

    In a container NVML lists host pids, which never match ours: unknown beats a wrong zero.
    """
    try:
        processes = list(nvml.nvmlDeviceGetComputeRunningProcesses(handle))
        processes += list(nvml.nvmlDeviceGetGraphicsRunningProcesses(handle))
    except Exception:
        log.debug("NVML process list not readable", exc_info=True)
        return None
    ours = [p for p in processes if p.pid in pids and isinstance(p.usedGpuMemory, int)]
    return sum(p.usedGpuMemory for p in ours) if ours else None


def read_amd_gpus(
    *,
    our_pids: Iterable[int] = (),
    drm_root: Path = SYS_ROOT / "class" / "drm",
    proc_root: Path = PROC_ROOT,
) -> list[GpuReading]:
    """AMD GPUs from amdgpu's sysfs files (``mem_info_vram_total`` / ``_used``)."""
    try:
        cards = sorted(
            (p for p in drm_root.iterdir() if re.fullmatch(r"card\d+", p.name)),
            key=lambda p: int(p.name[4:]),
        )
    except OSError:
        return []
    pids = frozenset(our_pids)
    gpus: list[GpuReading] = []
    for card in cards:
        reading = _read_amd_card(card / "device", len(gpus), pids, proc_root)
        if reading is not None:
            gpus.append(reading)
    return gpus


def _read_amd_card(
    device: Path, index: int, pids: frozenset[int], proc_root: Path
) -> GpuReading | None:
    if _read_text(device / "vendor") != _AMD_PCI_VENDOR:
        return None
    total = _read_int_file(device / "mem_info_vram_total")
    if total is None:
        return None
    used = _read_int_file(device / "mem_info_vram_used")
    return GpuReading(
        index=index,
        name=_amd_name(device),
        vendor="amd",
        backend="rocm",
        total_bytes=total,
        free_bytes=total - used if used is not None else None,
        used_bytes=used,
        used_by_us_bytes=_safe(
            lambda: _drm_fdinfo_vram(_pci_slot(device), pids, proc_root), None, "DRM fdinfo"
        ),
    )


def _amd_name(device: Path) -> str:
    product = _read_text(device / "product_name")
    if product:
        return product
    device_id = _read_text(device / "device")
    return f"AMD GPU {device_id}" if device_id else "AMD GPU"


def _pci_slot(device: Path) -> str | None:
    """The PCI address ("0000:03:00.0") the device symlink points to."""
    slot = device.resolve().name
    return slot if re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.\d", slot) else None


def _drm_fdinfo_vram(pci_slot: str | None, pids: frozenset[int], proc_root: Path) -> int | None:
    """VRAM our processes hold on one card, from the DRM fdinfo of their open /dev/dri files.

    Several file descriptors may share one DRM client; each client counts once.
    """
    if pci_slot is None or not pids:
        return None
    clients: dict[tuple[int, str], int] = {}
    for pid in pids:
        fd_dir = proc_root / str(pid) / "fd"
        try:
            fds = list(fd_dir.iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if not os.readlink(fd).startswith("/dev/dri/"):
                    continue
            except OSError:
                continue
            info = _read_text(proc_root / str(pid) / "fdinfo" / fd.name)
            if info is None:
                continue
            fields = _parse_fdinfo(info)
            if fields.get("drm-pdev") != pci_slot or "drm-memory-vram" not in fields:
                continue
            client = (pid, fields.get("drm-client-id", fd.name))
            clients[client] = _parse_kib(fields["drm-memory-vram"])
    return sum(clients.values()) if clients else None


def _parse_fdinfo(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _parse_kib(value: str) -> int:
    number, _, unit = value.partition(" ")
    scale = {"": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}.get(unit.strip(), 1)
    return int(number) * scale


def read_apple_gpu(*, ram_available_bytes: int | None = None) -> GpuReading | None:
    """Apple Silicon's GPU: unified memory up to the Metal working-set limit."""
    if sys.platform != "darwin" or platform.machine() != "arm64":
        return None
    memsize = _sysctl_int("hw.memsize")
    if memsize is None:
        return None
    limit = apple_working_set_limit(memsize, wired_limit_mb=_sysctl_int("iogpu.wired_limit_mb"))
    return GpuReading(
        index=0,
        name=_sysctl_str("machdep.cpu.brand_string") or "Apple Silicon GPU",
        vendor="apple",
        backend="metal",
        total_bytes=limit,
        free_bytes=min(limit, ram_available_bytes) if ram_available_bytes is not None else None,
        used_bytes=None,
        used_by_us_bytes=None,
        unified_memory=True,
    )


def apple_working_set_limit(memsize_bytes: int, *, wired_limit_mb: int | None = None) -> int:
    """How much of unified memory Metal lets the GPU keep resident.

    The rule: the user's ``iogpu.wired_limit_mb`` when set (non-zero); otherwise what macOS
    reports as ``recommendedMaxWorkingSetSize``, which is about 2/3 of RAM up to 32 GiB and
    3/4 of RAM above (8 GiB -> 5.3, 16 -> 10.7, 36 -> 27, 64 -> 48, 128 -> 96 GiB).
    """
    if wired_limit_mb:
        return min(memsize_bytes, wired_limit_mb << 20)
    if memsize_bytes <= 32 * _GIB:
        return memsize_bytes * 2 // 3
    return memsize_bytes * 3 // 4


@functools.lru_cache(maxsize=8)
def _sysctl_str(name: str) -> str | None:
    output = _run_sysctl("-n", name)
    return output.strip() if output else None


def _sysctl_int(name: str) -> int | None:
    text = _sysctl_str(name)
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _run_sysctl(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["/usr/sbin/sysctl", *args], capture_output=True, text=True, timeout=2, check=True
        )
    except (OSError, subprocess.SubprocessError):
        log.debug("sysctl %s failed", args, exc_info=True)
        return None
    return done.stdout


# --------------------------------------------------------------------------- helpers


def _safe(read: Callable[[], _T], default: _T, what: str) -> _T:
    """``read()``, or ``default`` (logged at debug) when it fails in any way."""
    try:
        return read()
    except Exception:
        log.debug("%s not readable", what, exc_info=True)
        return default


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int) else None


def _int_attr(obj: object, name: str) -> int | None:
    value = getattr(obj, name, None)
    return int(value) if isinstance(value, (int, float)) else None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _read_int_file(path: Path) -> int | None:
    text = _read_text(path)
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _read_limit_file(path: Path) -> int | None:
    """A cgroup limit: ``None`` for "max", absent, unreadable or the v1 "unlimited" value."""
    value = _read_int_file(path)
    return value if value is not None and 0 <= value < _UNLIMITED_THRESHOLD else None


def _read_key_values(path: Path) -> dict[str, int]:
    """A flat ``key value`` file such as memory.stat."""
    result: dict[str, int] = {}
    for line in (_read_text(path) or "").splitlines():
        key, _, value = line.partition(" ")
        try:
            result[key] = int(value)
        except ValueError:
            continue
    return result
