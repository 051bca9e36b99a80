"""Register llama.cpp's loadable backends, for builds with runtime CPU dispatch.

Distribution builds compile llama.cpp with ``GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON``:
one ``ggml-cpu-<variant>`` library per CPU generation (and ``ggml-cuda`` etc. for GPU builds),
and ggml picks the best one for the machine at run time, so one build runs on every x86-64
CPU and still uses AVX-512 where there is one. Such backends must be registered before a model
loads, and llama-cpp-python never does it (abetlen/llama-cpp-python#2069): loading fails with
"no backends are loaded". :func:`register_ggml_backends` does it.

Where the libraries are: pip puts the loadable backends in ``site-packages/bin`` (llama.cpp's
own install rules); the app bundle keeps them in ``llama_cpp/lib`` next to the rest. Ordinary
builds have the CPU backend linked in; ggml then reports it as registered and nothing happens.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import sys
from pathlib import Path

from autoglm_desktop.core.common.errors import EngineError

_CPU_BACKEND_GLOB = "*ggml-cpu*"
_done = False
_registered_from: Path | None = None


def ggml_library(lib_dir: Path) -> Path:
    """Ggml's core library (the backend registry) in ``lib_dir``, by the name libllama uses.

    pip installs ``libggml.so`` and ``libggml.so.0`` as two copies of one file. libllama
    links against ``libggml.so.0``; registering through the other copy would fill a second,
    unused registry. Loading the same file as libllama (or letting libllama find it by its
    soname later) leaves a single ggml in the process.
    """
    if sys.platform == "win32":
        return lib_dir / "ggml.dll"
    pattern = r"libggml\.\d+\.dylib" if sys.platform == "darwin" else r"libggml\.so\.\d+"
    versioned = sorted(p for p in lib_dir.glob("libggml.*") if re.fullmatch(pattern, p.name))
    if versioned:
        return versioned[0]
    return lib_dir / ("libggml.dylib" if sys.platform == "darwin" else "libggml.so")


def backend_folder(package_dir: Path) -> Path | None:
    """The folder with loadable CPU backends for the llama_cpp package at ``package_dir``.

    Only one folder is used: a pip install may hold a GPU backend in both places, and loading
    it twice would list every GPU twice.
    """
    for folder in (package_dir.parent / "bin", package_dir / "lib"):
        if folder.is_dir() and any(folder.glob(_CPU_BACKEND_GLOB)):
            return folder
    return None


def register_ggml_backends() -> Path | None:
    """Make sure llama.cpp has its backends; load them where the build left that to us.

    Runs once per process. Returns the folder the backends were loaded from, or ``None`` when
    the build has them linked in (or llama-cpp-python is not installed).

    Raises:
        EngineError: ggml could not be loaded, or no CPU backend could be found for it.
    """
    global _done, _registered_from
    if _done:
        return _registered_from
    _done = True
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return None
    package_dir = Path(spec.origin).parent
    library = ggml_library(package_dir / "lib")
    try:
        ggml = ctypes.CDLL(str(library))
        reg_count = ggml.ggml_backend_reg_count
        load_all = ggml.ggml_backend_load_all_from_path
    except (OSError, AttributeError) as error:
        raise EngineError(
            f"llama.cpp could not be loaded ({library}: {error}). Reinstalling should fix this."
        ) from error
    reg_count.argtypes, reg_count.restype = [], ctypes.c_size_t
    if reg_count() > 0:
        return None  # backends linked in
    folder = backend_folder(package_dir)
    if folder is None:
        raise EngineError(
            f"llama.cpp was built with loadable backends, but none is installed next to "
            f"{package_dir}. Reinstalling should fix this."
        )
    load_all.argtypes, load_all.restype = [ctypes.c_char_p], None
    load_all(os.fsencode(folder))
    _registered_from = folder
    return folder
