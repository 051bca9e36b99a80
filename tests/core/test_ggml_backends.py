"""Registering llama.cpp's loadable backends (builds with runtime CPU dispatch)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from autoglm_desktop.core.engine.ggml_backends import (
    backend_folder,
    ggml_library,
    register_ggml_backends,
)


def _package(tmp_path: Path, *, lib: list[str], bin_: list[str]) -> Path:
    package_dir = tmp_path / "site-packages" / "llama_cpp"
    for folder, names in ((package_dir / "lib", lib), (package_dir.parent / "bin", bin_)):
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / name).write_bytes(b"")
    return package_dir


def test_a_pip_install_keeps_the_cpu_variants_in_site_packages_bin(tmp_path: Path):
    package_dir = _package(
        tmp_path,
        lib=["libllama.so", "libggml.so", "libggml-base.so", "libggml-cuda.so"],
        bin_=["libggml-cpu-haswell.so", "libggml-cpu-x64.so", "libggml-cuda.so"],
    )
    assert backend_folder(package_dir) == package_dir.parent / "bin"


def test_the_app_bundle_keeps_them_next_to_llama(tmp_path: Path):
    package_dir = _package(
        tmp_path, lib=["libllama.so", "libggml.so", "ggml-cpu-sandybridge.dll"], bin_=[]
    )
    assert backend_folder(package_dir) == package_dir / "lib"


def test_a_loadable_cpu_backend_without_variants_is_found_too(tmp_path: Path):
    package_dir = _package(tmp_path, lib=["libllama.so"], bin_=["libggml-cpu.so"])
    assert backend_folder(package_dir) == package_dir.parent / "bin"


def test_no_cpu_backend_anywhere(tmp_path: Path):
    package_dir = _package(tmp_path, lib=["libllama.so", "libggml.so"], bin_=["python"])
    assert backend_folder(package_dir) is None


def test_the_installed_build_can_load_a_model_after_registering(starter_model: Path):
    register_ggml_backends()
    llama_cpp = importlib.import_module("llama_cpp")
    params = llama_cpp.llama_model_default_params()  # weights memory-mapped: cheap
    model = llama_cpp.llama_model_load_from_file(str(starter_model).encode(), params)
    assert model
    llama_cpp.llama_model_free(model)


def test_registering_happens_once():
    first = register_ggml_backends()
    assert register_ggml_backends() == first


@pytest.mark.parametrize(
    ("platform", "files", "expected"),
    [
        ("linux", ["libggml.so", "libggml.so.0", "libggml.so.0.25.3"], "libggml.so.0"),
        ("darwin", ["libggml.dylib", "libggml.0.dylib", "libggml.0.25.3.dylib"], "libggml.0.dylib"),
        ("win32", ["ggml.dll", "ggml-base.dll"], "ggml.dll"),
        ("linux", ["libggml.so"], "libggml.so"),
    ],
)
def test_ggml_is_loaded_by_the_name_libllama_links_against(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    platform: str,
    files: list[str],
    expected: str,
):
    package_dir = _package(tmp_path, lib=files, bin_=[])
    monkeypatch.setattr(sys, "platform", platform)
    assert ggml_library(package_dir / "lib") == package_dir / "lib" / expected
