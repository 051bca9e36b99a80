"""Live hardware readings: real values on this machine, parsing of fake sysfs/cgroup trees."""

from __future__ import annotations

import dataclasses
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from autoglm_desktop.core.machine import hardware
from autoglm_desktop.core.machine.hardware import (
    CgroupMemory,
    CpuLoadMeter,
    HardwareSnapshot,
    MemoryReading,
    apple_working_set_limit,
    cpu_affinity,
    idle_cores,
    parse_cache_size,
    parse_cpuinfo_features,
    process_rss,
    read_amd_gpus,
    read_cgroup_cpu_quota,
    read_cgroup_memory,
    read_hardware,
    read_last_level_cache,
    read_nvidia_gpus,
)

GIB = 1 << 30


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --------------------------------------------------------------------------- this machine


def test_real_readings_are_sane() -> None:
    snapshot = read_hardware(cpu_interval=0.05)
    memory, cpu = snapshot.memory, snapshot.cpu
    assert memory.total_bytes is not None and memory.available_bytes is not None
    assert memory.total_bytes > memory.available_bytes > 0
    assert memory.effective_available_bytes is not None
    assert 0 < memory.effective_available_bytes <= memory.available_bytes
    assert memory.self_rss_bytes is not None and memory.self_rss_bytes > 0
    assert memory.engine_rss_bytes is None
    assert memory.swap_total_bytes is not None and memory.swap_total_bytes >= 0
    assert cpu.logical_cores is not None and cpu.logical_cores >= 1
    assert cpu.physical_cores is None or 1 <= cpu.physical_cores <= cpu.logical_cores
    assert cpu.usable_cores is not None and 1 <= cpu.usable_cores <= cpu.logical_cores
    assert cpu.per_core_load is not None and len(cpu.per_core_load) == cpu.logical_cores
    assert all(0.0 <= load <= 1.0 for load in cpu.per_core_load)
    assert 0.0 <= idle_cores(snapshot) <= cpu.logical_cores
    assert snapshot.gpus_probed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/cpuinfo")
def test_real_cpu_features_on_linux() -> None:
    features = read_hardware(include_gpus=False).cpu.features
    assert features is not None
    if os.uname().machine in ("x86_64", "AMD64"):
        assert "sse3" in features  # every x86-64 CPU llama.cpp still supports has it
    else:
        assert "neon" in features


def test_engine_pid_rss_is_read() -> None:
    snapshot = read_hardware(include_gpus=False, engine_pid=os.getppid())
    assert snapshot.memory.engine_rss_bytes is not None
    assert snapshot.memory.engine_rss_bytes > 0
    assert not snapshot.gpus_probed and snapshot.gpus == ()


def test_process_rss_of_missing_process_is_none() -> None:
    own = process_rss(os.getpid())
    assert own is not None and own > 0
    assert process_rss(2**22 + 12345) is None  # above Linux's pid_max limit


def test_failing_sources_degrade_to_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise PermissionError("sandboxed")

    monkeypatch.setattr(psutil, "virtual_memory", broken)
    monkeypatch.setattr(psutil, "swap_memory", broken)
    monkeypatch.setattr(psutil, "cpu_times", broken)
    snapshot = read_hardware(cpu_interval=0.01)
    assert snapshot.memory.total_bytes is None
    assert snapshot.memory.available_bytes is None
    assert snapshot.memory.swap_total_bytes is None
    assert snapshot.cpu.per_core_load is None
    # No load reading: every usable core counts as idle.
    assert idle_cores(snapshot) == snapshot.cpu.usable_cores


# --------------------------------------------------------------------------- CPU load


def test_non_blocking_meter_needs_a_baseline() -> None:
    meter = CpuLoadMeter()
    assert meter.read() is None
    sum(i * i for i in range(200_000))  # let some CPU time pass
    loads = meter.read()
    assert loads is not None and len(loads) == psutil.cpu_count()


def test_meters_keep_separate_baselines() -> None:
    first, second = CpuLoadMeter(), CpuLoadMeter()
    assert first.read() is None
    assert second.read() is None
    assert first.read() is not None


def _snapshot(**cpu_changes: Any) -> HardwareSnapshot:
    real = read_hardware(include_gpus=False)
    return dataclasses.replace(real, cpu=dataclasses.replace(real.cpu, **cpu_changes))


def test_idle_cores_subtracts_load_on_usable_cores() -> None:
    snapshot = _snapshot(
        logical_cores=4, usable_core_ids=None, quota_cores=None, per_core_load=(1.0, 0.1, 0.0, 0.0)
    )
    assert idle_cores(snapshot) == pytest.approx(2.9)


def test_idle_cores_respects_affinity_and_quota() -> None:
    loads = (1.0, 1.0, 0.25, 0.0)
    pinned = _snapshot(
        logical_cores=4, usable_core_ids=(2, 3), quota_cores=None, per_core_load=loads
    )
    assert idle_cores(pinned) == pytest.approx(1.75)
    quota = _snapshot(
        logical_cores=4,
        usable_core_ids=(0, 1, 2, 3),
        quota_cores=2.5,
        per_core_load=(0.0, 0.0, 0.0, 0.0),
    )
    assert idle_cores(quota) == pytest.approx(2.5)
    busy = _snapshot(logical_cores=4, usable_core_ids=(0, 1), quota_cores=None, per_core_load=loads)
    assert idle_cores(busy) == 0.0


# --------------------------------------------------------------------------- CPU features


def test_parse_x86_flags() -> None:
    cpuinfo = "processor\t: 0\nflags\t\t: fpu pni ssse3 fma avx f16c avx2 avx512f avx512_vnni\n"
    expected = {"sse3", "ssse3", "fma", "avx", "f16c", "avx2", "avx512f", "avx512_vnni"}
    assert parse_cpuinfo_features(cpuinfo) == frozenset(expected)


def test_parse_arm_features() -> None:
    cpuinfo = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimdhp asimddp i8mm sve bf16\n"
    expected = {"neon", "fp16", "dotprod", "i8mm", "sve", "bf16"}
    assert parse_cpuinfo_features(cpuinfo) == frozenset(expected)


def test_cpuinfo_without_feature_line_is_unknown() -> None:
    assert parse_cpuinfo_features("processor\t: 0\nmodel name\t: ?\n") is None


# --------------------------------------------------------------------------- caches


def _fake_caches(root: Path, caches: list[tuple[int, str, str]]) -> Path:
    first = (cpu_affinity() or (0,))[0]
    folder = root / "devices" / "system" / "cpu" / f"cpu{first}" / "cache"
    for index, (level, kind, size) in enumerate(caches):
        _write(folder / f"index{index}" / "level", f"{level}\n")
        _write(folder / f"index{index}" / "type", f"{kind}\n")
        _write(folder / f"index{index}" / "size", f"{size}\n")
    return root


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads sysfs")
def test_the_last_level_cache_is_the_highest_levels_size(tmp_path: Path) -> None:
    root = _fake_caches(
        tmp_path,
        [(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "2048K"),
         (3, "Unified", "32768K")],
    )  # fmt: skip
    assert read_last_level_cache(sys_root=root) == 32 << 20
    # No L3 (many ARM laptops): the L2; an instruction cache never counts.
    arm = _fake_caches(tmp_path / "arm", [(1, "Data", "64K"), (2, "Unified", "4M"),
                                          (3, "Instruction", "8M")])  # fmt: skip
    assert read_last_level_cache(sys_root=arm) == 4 << 20
    assert read_last_level_cache(sys_root=tmp_path / "none") is None


def test_cache_sizes_are_read_as_sysfs_writes_them() -> None:
    assert parse_cache_size("32768K") == 32 << 20
    assert parse_cache_size("1M") == 1 << 20
    assert parse_cache_size("512") == 512
    assert parse_cache_size("big") is None
    assert parse_cache_size(None) is None


@pytest.mark.skipif(
    not Path("/sys/devices/system/cpu/cpu0/cache").is_dir(), reason="no sysfs cache tables"
)
def test_this_machines_last_level_cache_is_read() -> None:
    size = read_hardware(include_gpus=False).cpu.last_level_cache_bytes
    assert size is not None and 256 << 10 <= size <= 4 << 30


# --------------------------------------------------------------------------- cgroups


def _fake_v2(tmp_path: Path, cgroup_path: str = "/app/job") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    _write(root / "cgroup.controllers", "cpuset cpu io memory pids\n")
    proc = tmp_path / "proc_self_cgroup"
    _write(proc, f"0::{cgroup_path}\n")
    return root, proc


def test_cgroup_v2_limit_and_working_set(tmp_path: Path) -> None:
    root, proc = _fake_v2(tmp_path)
    leaf = root / "app" / "job"
    _write(leaf / "memory.max", f"{4 * GIB}\n")
    _write(leaf / "memory.current", f"{3 * GIB}\n")
    _write(leaf / "memory.stat", f"anon {2 * GIB}\nfile {GIB}\ninactive_file {GIB // 2}\n")
    _write(root / "app" / "memory.max", "max\n")
    _write(root / "app" / "memory.current", f"{5 * GIB}\n")
    cgroup = read_cgroup_memory(cgroup_root=root, proc_self_cgroup=proc)
    assert cgroup == CgroupMemory(
        version=2, limit_bytes=4 * GIB, usage_bytes=3 * GIB, reclaimable_bytes=GIB // 2
    )
    assert cgroup.headroom_bytes == 4 * GIB - (3 * GIB - GIB // 2)


def test_cgroup_v2_tighter_ancestor_wins(tmp_path: Path) -> None:
    root, proc = _fake_v2(tmp_path)
    _write(root / "app" / "job" / "memory.max", f"{8 * GIB}\n")
    _write(root / "app" / "job" / "memory.current", f"{GIB}\n")
    _write(root / "app" / "memory.max", f"{2 * GIB}\n")
    _write(root / "app" / "memory.current", f"{GIB + GIB // 2}\n")
    cgroup = read_cgroup_memory(cgroup_root=root, proc_self_cgroup=proc)
    assert cgroup is not None
    assert cgroup.limit_bytes == 2 * GIB
    assert cgroup.headroom_bytes == GIB // 2


def test_cgroup_v2_without_limit(tmp_path: Path) -> None:
    root, proc = _fake_v2(tmp_path)
    _write(root / "app" / "job" / "memory.max", "max\n")
    _write(root / "app" / "job" / "memory.current", "12345\n")
    cgroup = read_cgroup_memory(cgroup_root=root, proc_self_cgroup=proc)
    assert cgroup == CgroupMemory(version=2, limit_bytes=None, usage_bytes=12345)
    assert cgroup.headroom_bytes is None


def test_cgroup_v2_namespaced_view_uses_the_mount_root(tmp_path: Path) -> None:
    # Without a cgroup namespace the path in /proc/self/cgroup does not exist in our view.
    root, proc = _fake_v2(tmp_path, "/system.slice/docker-abc.scope")
    _write(root / "memory.max", f"{GIB}\n")
    _write(root / "memory.current", f"{GIB // 4}\n")
    cgroup = read_cgroup_memory(cgroup_root=root, proc_self_cgroup=proc)
    assert cgroup is not None and cgroup.limit_bytes == GIB


def test_cgroup_v1_limit_and_unlimited_value(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    proc = tmp_path / "proc_self_cgroup"
    _write(proc, "5:cpu,cpuacct:/\n4:memory:/docker/abc\n0::/\n")
    leaf = root / "memory" / "docker" / "abc"
    _write(leaf / "memory.limit_in_bytes", "9223372036854771712\n")
    _write(leaf / "memory.usage_in_bytes", f"{GIB}\n")
    _write(leaf / "memory.stat", "cache 10\ninactive_file 7\ntotal_inactive_file 100\n")
    _write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    _write(root / "memory" / "memory.usage_in_bytes", f"{9 * GIB}\n")
    assert read_cgroup_memory(cgroup_root=root, proc_self_cgroup=proc) == CgroupMemory(
        version=1, limit_bytes=None, usage_bytes=GIB, reclaimable_bytes=100
    )
    _write(root / "memory" / "docker" / "memory.limit_in_bytes", f"{3 * GIB}\n")
    _write(root / "memory" / "docker" / "memory.usage_in_bytes", f"{2 * GIB}\n")
    cgroup = read_cgroup_memory(cgroup_root=root, proc_self_cgroup=proc)
    assert cgroup is not None
    assert (cgroup.limit_bytes, cgroup.usage_bytes) == (3 * GIB, 2 * GIB)


def test_no_cgroup_files_means_none(tmp_path: Path) -> None:
    assert read_cgroup_memory(cgroup_root=tmp_path, proc_self_cgroup=tmp_path / "nope") is None
    proc = tmp_path / "proc_self_cgroup"
    _write(proc, "garbage\n0::/x\n")
    assert read_cgroup_memory(cgroup_root=tmp_path / "missing", proc_self_cgroup=proc) is None


def test_effective_memory_takes_the_container_limit() -> None:
    reading = MemoryReading(
        total_bytes=32 * GIB,
        available_bytes=20 * GIB,
        swap_total_bytes=0,
        swap_used_bytes=0,
        self_rss_bytes=1,
        engine_rss_bytes=None,
        cgroup=CgroupMemory(version=2, limit_bytes=8 * GIB, usage_bytes=5 * GIB),
    )
    assert reading.effective_total_bytes == 8 * GIB
    assert reading.effective_available_bytes == 3 * GIB
    unlimited = dataclasses.replace(
        reading, cgroup=CgroupMemory(version=2, limit_bytes=None, usage_bytes=5 * GIB)
    )
    assert unlimited.effective_total_bytes == 32 * GIB
    assert unlimited.effective_available_bytes == 20 * GIB


def test_cpu_quota_v2(tmp_path: Path) -> None:
    root, proc = _fake_v2(tmp_path)
    _write(root / "app" / "job" / "cpu.max", "max 100000\n")
    assert read_cgroup_cpu_quota(cgroup_root=root, proc_self_cgroup=proc) is None
    _write(root / "app" / "cpu.max", "150000 100000\n")
    assert read_cgroup_cpu_quota(cgroup_root=root, proc_self_cgroup=proc) == 1.5


def test_cpu_quota_v1(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    proc = tmp_path / "proc_self_cgroup"
    _write(proc, "3:cpu,cpuacct:/job\n")
    job = root / "cpu,cpuacct" / "job"
    _write(job / "cpu.cfs_quota_us", "-1\n")
    _write(job / "cpu.cfs_period_us", "100000\n")
    assert read_cgroup_cpu_quota(cgroup_root=root, proc_self_cgroup=proc) is None
    _write(job / "cpu.cfs_quota_us", "300000\n")
    assert read_cgroup_cpu_quota(cgroup_root=root, proc_self_cgroup=proc) == 3.0


# --------------------------------------------------------------------------- GPUs


def _fake_amd_card(sys_devices: Path, drm: Path, card: str, slot: str, **files: str) -> None:
    device = sys_devices / slot
    for name, text in files.items():
        _write(device / name, text)
    (drm / card).mkdir(parents=True)
    (drm / card / "device").symlink_to(device)


def test_amd_sysfs_cards(tmp_path: Path) -> None:
    devices, drm = tmp_path / "devices", tmp_path / "drm"
    _fake_amd_card(
        devices,
        drm,
        "card1",
        "0000:03:00.0",
        vendor="0x1002\n",
        product_name="Radeon RX 7900 XTX\n",
        mem_info_vram_total=f"{24 * GIB}\n",
        mem_info_vram_used=f"{GIB}\n",
    )
    _fake_amd_card(
        devices, drm, "card0", "0000:01:00.0", vendor="0x10de\n", mem_info_vram_total="1\n"
    )  # an NVIDIA card: NVML's business
    _fake_amd_card(
        devices,
        drm,
        "card2",
        "0000:04:00.0",
        vendor="0x1002\n",
        device="0x15bf\n",
        mem_info_vram_total=f"{512 << 20}\n",
    )  # an APU carve-out without _used
    _fake_amd_card(devices, drm, "card3", "0000:05:00.0", vendor="0x1002\n")  # no VRAM files
    (drm / "card1-DP-1").mkdir()
    (drm / "renderD128").mkdir()

    gpus = read_amd_gpus(drm_root=drm, proc_root=tmp_path / "proc")
    assert [(g.index, g.name, g.backend, g.vendor) for g in gpus] == [
        (0, "Radeon RX 7900 XTX", "rocm", "amd"),
        (1, "AMD GPU 0x15bf", "rocm", "amd"),
    ]
    assert (gpus[0].total_bytes, gpus[0].used_bytes, gpus[0].free_bytes) == (
        24 * GIB,
        GIB,
        23 * GIB,
    )
    assert (gpus[1].total_bytes, gpus[1].used_bytes, gpus[1].free_bytes) == (512 << 20, None, None)
    assert gpus[0].used_by_us_bytes is None


def test_amd_vram_used_by_our_processes_from_fdinfo(tmp_path: Path) -> None:
    devices, drm, proc = tmp_path / "devices", tmp_path / "drm", tmp_path / "proc"
    _fake_amd_card(
        devices,
        drm,
        "card0",
        "0000:03:00.0",
        vendor="0x1002\n",
        mem_info_vram_total=f"{16 * GIB}\n",
        mem_info_vram_used=f"{4 * GIB}\n",
    )

    def open_fd(pid: int, fd: int, target: str, fdinfo: str) -> None:
        (proc / str(pid) / "fd").mkdir(parents=True, exist_ok=True)
        (proc / str(pid) / "fd" / str(fd)).symlink_to(target)
        _write(proc / str(pid) / "fdinfo" / str(fd), fdinfo)

    client = "drm-driver:\tamdgpu\ndrm-pdev:\t0000:03:00.0\ndrm-client-id:\t{}\n"
    open_fd(100, 5, "/dev/dri/renderD128", client.format(7) + "drm-memory-vram:\t2048 KiB\n")
    open_fd(100, 6, "/dev/dri/renderD128", client.format(7) + "drm-memory-vram:\t2048 KiB\n")
    open_fd(200, 3, "/dev/dri/renderD128", client.format(9) + "drm-memory-vram:\t3 MiB\n")
    open_fd(200, 4, "/tmp/some.log", client.format(10) + "drm-memory-vram:\t99 GiB\n")
    open_fd(300, 3, "/dev/dri/renderD128", client.format(11) + "drm-memory-vram:\t5 GiB\n")
    other_card = client.replace("03:00", "04:00").format(12)
    open_fd(200, 8, "/dev/dri/renderD129", other_card + "drm-memory-vram:\t1 GiB\n")

    (gpu,) = read_amd_gpus(our_pids=[100, 200], drm_root=drm, proc_root=proc)
    assert gpu.used_by_us_bytes == (2 << 20) + (3 << 20)  # client 7 once, client 9; not 300's


def test_no_drm_directory_means_no_amd_gpus(tmp_path: Path) -> None:
    assert read_amd_gpus(drm_root=tmp_path / "missing") == []


@pytest.fixture
def fresh_nvml() -> Iterator[None]:
    hardware._Nvml.reset()
    yield None
    hardware._Nvml.reset()


@pytest.mark.usefixtures("fresh_nvml")
def test_nvml_module_missing_gives_no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    assert read_nvidia_gpus() == []
    assert all(g.vendor != "nvidia" for g in read_hardware().gpus)


@pytest.mark.usefixtures("fresh_nvml")
def test_nvml_without_driver_gives_no_gpus() -> None:
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:
        pytest.skip("this machine has a working NVIDIA driver")
    assert read_nvidia_gpus() == []


@pytest.mark.usefixtures("fresh_nvml")
def test_nvml_readings_are_mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    # No NVIDIA GPU here: a stand-in module with NVML's call shapes checks the mapping.
    def proc(pid: int, used: int | None) -> types.SimpleNamespace:
        return types.SimpleNamespace(pid=pid, usedGpuMemory=used)

    devices = [
        types.SimpleNamespace(
            name=b"NVIDIA H100 80GB HBM3",
            total=80 * GIB,
            free=60 * GIB,
            used=20 * GIB,
            compute=[proc(1, 5 * GIB), proc(2, 7 * GIB)],
            graphics=[proc(1, GIB)],
        ),
        types.SimpleNamespace(
            name="NVIDIA RTX 4060",
            total=8 * GIB,
            free=8 * GIB,
            used=0,
            compute=[proc(3, None)],
            graphics=[],
        ),
    ]
    fake = types.ModuleType("pynvml")
    fake.nvmlInit = lambda: None  # type: ignore[attr-defined]
    fake.nvmlDeviceGetCount = lambda: len(devices)  # type: ignore[attr-defined]
    fake.nvmlDeviceGetHandleByIndex = lambda i: devices[i]  # type: ignore[attr-defined]
    fake.nvmlDeviceGetName = lambda d: d.name  # type: ignore[attr-defined]
    fake.nvmlDeviceGetMemoryInfo = lambda d: d  # type: ignore[attr-defined]
    fake.nvmlDeviceGetComputeRunningProcesses = lambda d: d.compute  # type: ignore[attr-defined]
    fake.nvmlDeviceGetGraphicsRunningProcesses = lambda d: d.graphics  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", fake)

    first, second = read_nvidia_gpus(our_pids=[1, 3])
    assert (first.name, first.backend, first.total_bytes, first.free_bytes) == (
        "NVIDIA H100 80GB HBM3",
        "cuda",
        80 * GIB,
        60 * GIB,
    )
    assert first.used_by_us_bytes == 6 * GIB
    assert second.name == "NVIDIA RTX 4060"
    assert second.used_by_us_bytes is None  # the driver does not say (Windows WDDM)


def test_apple_working_set_rule() -> None:
    assert apple_working_set_limit(8 * GIB) == 8 * GIB * 2 // 3
    assert apple_working_set_limit(32 * GIB) == 32 * GIB * 2 // 3
    assert apple_working_set_limit(64 * GIB) == 48 * GIB
    assert apple_working_set_limit(64 * GIB, wired_limit_mb=60 * 1024) == 60 * GIB
    assert apple_working_set_limit(16 * GIB, wired_limit_mb=0) == 16 * GIB * 2 // 3
