"""What the installed llama.cpp can use: its ggml backends (CPU, CUDA, Metal, Vulkan...).

A CPU-only build on a PC with an NVIDIA card must not be planned as if layers went to the GPU:
they would land in RAM instead. The build is probed once in a separate process (loading
llama.cpp is not for the GUI process) and remembered until the package changes.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import logging
import multiprocessing
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.settings_file import read_json_object, write_json_object
from autoglm_desktop.core.engine.ggml_backends import ggml_library, register_ggml_backends
from autoglm_desktop.core.engine.process import prepare_native_process
from autoglm_desktop.core.machine.hardware import GpuReading, HardwareSnapshot, read_hardware

log = logging.getLogger(__name__)

CACHE_FILE = "llama_build.json"
PROBE_TIMEOUT_S = 60.0
# ggml backend registry names that are not GPUs.
_NOT_GPU = {"cpu", "blas", "rpc", "accelerate", "amx"}
# Our hardware readings' backend names -> ggml registry names that can drive such a GPU.
_DRIVERS = {"cuda": {"cuda"}, "rocm": {"rocm", "hip"}, "metal": {"metal"}, "vulkan": {"vulkan"}}
_VULKAN_VENDORS = {"nvidia", "amd", "intel"}


@dataclass(frozen=True)
class LlamaBuild:
    version: str
    backends: tuple[str, ...]  # ggml registry names, e.g. ("CUDA", "CPU")
    gpu_offload: bool  # llama_supports_gpu_offload()

    @property
    def gpu_backends(self) -> frozenset[str]:
        return frozenset(b.lower() for b in self.backends) - _NOT_GPU

    def can_use(self, gpu: GpuReading) -> bool:
        """Whether this build can put layers on ``gpu``."""
        if not self.gpu_offload:
            return False
        names = self.gpu_backends
        if names & _DRIVERS.get(gpu.backend, {gpu.backend}):
            return True
        return "vulkan" in names and gpu.vendor in _VULKAN_VENDORS


CPU_ONLY = LlamaBuild(version="unknown", backends=("CPU",), gpu_offload=False)


def restrict_to_build(hardware: HardwareSnapshot, build: LlamaBuild) -> HardwareSnapshot:
    """The readings with only the GPUs this llama.cpp build can use."""
    usable = tuple(gpu for gpu in hardware.gpus if build.can_use(gpu))
    return hardware if usable == hardware.gpus else replace(hardware, gpus=usable)


def usable_hardware() -> HardwareSnapshot:
    """Live readings, with only the GPUs the installed llama.cpp can use."""
    return restrict_to_build(read_hardware(), llama_build())


def _package_key() -> str | None:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return None
    lib = Path(spec.origin).parent / "lib"
    try:
        version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        version = "bundled"
    stamp = max((p.stat().st_mtime_ns for p in lib.glob("*")), default=0) if lib.is_dir() else 0
    return f"{version}|{lib}|{stamp}"


def _probe_in_child() -> dict[str, object]:
    """Runs in a spawned process: load llama.cpp and list ggml's backend registry."""
    prepare_native_process(hide_gpus=False)
    register_ggml_backends()
    import llama_cpp

    spec = importlib.util.find_spec("llama_cpp")
    assert spec is not None and spec.origin is not None
    ggml = ctypes.CDLL(str(ggml_library(Path(spec.origin).parent / "lib")))
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    ggml.ggml_backend_reg_get.argtypes = [ctypes.c_size_t]
    ggml.ggml_backend_reg_get.restype = ctypes.c_void_p
    ggml.ggml_backend_reg_name.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_reg_name.restype = ctypes.c_char_p
    names = [
        (ggml.ggml_backend_reg_name(ggml.ggml_backend_reg_get(i)) or b"?").decode()
        for i in range(ggml.ggml_backend_reg_count())
    ]
    return {
        "version": getattr(llama_cpp, "__version__", "unknown"),
        "backends": names,
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
    }


def probe_llama_build() -> LlamaBuild:
    """Ask llama.cpp in a fresh process (spawn: also works in the frozen app)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        raw = pool.apply_async(_probe_in_child).get(PROBE_TIMEOUT_S)
    return LlamaBuild(
        version=str(raw["version"]),
        backends=tuple(str(b) for b in raw["backends"]),  # type: ignore[attr-defined]
        gpu_offload=bool(raw["gpu_offload"]),
    )


def cached_llama_build(*, cache: Path | None = None) -> LlamaBuild | None:
    """The remembered probe for the installed package, or None (then :func:`llama_build`)."""
    key = _package_key()
    stored = read_json_object(cache or paths.cache_dir() / CACHE_FILE)
    if stored.get("key") != key:
        return None
    build = stored.get("build", {})
    try:
        return LlamaBuild(
            version=str(build["version"]),
            backends=tuple(build["backends"]),
            gpu_offload=bool(build["gpu_offload"]),
        )
    except (KeyError, TypeError):
        return None


def llama_build(*, cache: Path | None = None) -> LlamaBuild:
    """The installed build's backends: remembered, or probed now (about a second).

    A failed probe is logged and taken as CPU only, the safe assumption for memory plans.

    Raises:
        SettingsFileError: the probe's result could not be remembered.
    """
    remembered = cached_llama_build(cache=cache)
    if remembered is not None:
        return remembered
    try:
        build = probe_llama_build()
    except Exception as exc:  # a broken install must not stop the app from planning
        log.warning("Could not probe llama.cpp's backends: %s", exc)
        return CPU_ONLY
    path = cache or paths.cache_dir() / CACHE_FILE
    write_json_object(path, {"key": _package_key(), "build": asdict(build)}, indent=None)
    return build
