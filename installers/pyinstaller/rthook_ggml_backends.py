"""PyInstaller runtime hook: register llama.cpp's CPU backends in runtime-dispatch builds.

Distribution builds compile llama.cpp with ``GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON``:
one ``ggml-cpu-<variant>`` library per CPU generation, and ggml picks the best one for the
machine at run time. Those libraries must be registered with ``ggml_backend_load_all_from_path``
before a model loads, and llama-cpp-python never does that (abetlen/llama-cpp-python#2069),
so loading would fail with "no backends are loaded".

This hook does it in the engine process only (a multiprocessing child; the window process never
touches llama.cpp), and only when the bundle holds such variant libraries. In builds without
them (a plain source build, or Metal on macOS) it does nothing.
"""

import ctypes
import os
import sys
from pathlib import Path


def _ggml_library_name() -> str:
    if sys.platform == "win32":
        return "ggml.dll"
    return "libggml.dylib" if sys.platform == "darwin" else "libggml.so"


def _load_ggml_backends() -> None:
    if sys.argv[1:2] != ["--multiprocessing-fork"]:  # how spawn starts a frozen child
        return
    lib_dir = Path(getattr(sys, "_MEIPASS", "")) / "llama_cpp" / "lib"
    if not any(lib_dir.glob("*ggml-cpu-*")):
        return
    if sys.platform == "win32":
        os.add_dll_directory(str(lib_dir))
    ggml = ctypes.CDLL(str(lib_dir / _ggml_library_name()))
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path.restype = None
    ggml.ggml_backend_load_all_from_path(os.fsencode(lib_dir))


_load_ggml_backends()
