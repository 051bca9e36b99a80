"""Portable mode and bundled models: where an installed (frozen) app keeps its folders.

A frozen app is simulated by setting ``sys.frozen`` and ``sys.executable``, exactly what
PyInstaller's bootloader sets; the bundle smoke test checks the real thing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autoglm_desktop.core.common import paths


@pytest.fixture
def frozen_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed app folder whose executable is ``sys.executable``; returns the folder."""
    app_dir = tmp_path / "AutoGLM Desktop"
    app_dir.mkdir()
    executable = app_dir / "autoglm-desktop"
    executable.write_bytes(b"")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(executable))
    monkeypatch.delenv("AUTOGLM_HOME", raising=False)
    monkeypatch.delenv("AUTOGLM_MODELS_DIR", raising=False)
    paths.set_base_dir(None)
    return app_dir


def test_source_checkout_is_never_portable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert paths.executable_dir() is None
    assert paths.portable_base_dir() is None


def test_installed_app_without_marker_uses_platform_folders(frozen_app: Path):
    assert paths.executable_dir() == frozen_app.resolve()
    assert paths.portable_base_dir() is None
    assert frozen_app not in paths.config_dir().parents


def test_marker_puts_every_folder_beside_the_executable(frozen_app: Path):
    (frozen_app / paths.PORTABLE_MARKER).write_text("")
    base = frozen_app.resolve() / paths.PORTABLE_DATA_FOLDER

    assert paths.portable_base_dir() == base
    assert paths.data_dir() == base / "data"
    assert paths.config_dir() == base / "config"
    assert paths.cache_dir() == base / "cache"
    assert paths.models_dir() == base / "data" / "models"
    assert paths.history_db_path() == base / "data" / "history.sqlite3"
    assert paths.log_dir().is_dir()


def test_marker_beside_a_macos_app_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    executable = tmp_path / "AutoGLM Desktop.app" / "Contents" / "MacOS" / "autoglm-desktop"
    executable.parent.mkdir(parents=True)
    executable.write_bytes(b"")
    (tmp_path / paths.PORTABLE_MARKER).write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(executable))
    monkeypatch.delenv("AUTOGLM_HOME", raising=False)

    assert paths.portable_base_dir() == tmp_path.resolve() / paths.PORTABLE_DATA_FOLDER


def test_autoglm_home_wins_over_the_marker(
    frozen_app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (frozen_app / paths.PORTABLE_MARKER).write_text("")
    monkeypatch.setenv("AUTOGLM_HOME", str(tmp_path / "elsewhere"))
    assert paths.data_dir() == tmp_path / "elsewhere" / "data"


def test_set_base_dir_wins_over_the_marker(frozen_app: Path, tmp_path: Path):
    (frozen_app / paths.PORTABLE_MARKER).write_text("")
    paths.set_base_dir(tmp_path / "tests")
    try:
        assert paths.config_dir() == tmp_path / "tests" / "config"
    finally:
        paths.set_base_dir(None)


def test_models_dir_variable_still_wins_in_portable_mode(
    frozen_app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (frozen_app / paths.PORTABLE_MARKER).write_text("")
    monkeypatch.setenv("AUTOGLM_MODELS_DIR", str(tmp_path / "shared-models"))
    assert paths.models_dir() == tmp_path / "shared-models"


def test_a_folder_named_like_the_marker_does_not_count(frozen_app: Path):
    (frozen_app / paths.PORTABLE_MARKER).mkdir()
    assert paths.portable_base_dir() is None


def test_bundled_models_are_searched_after_the_users_own(
    app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    bundle = tmp_path / "_internal"
    (bundle / "resources" / paths.BUNDLED_MODELS_FOLDER).mkdir(parents=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)

    assert paths.bundled_models_dir() == bundle / "resources" / "models"
    assert paths.model_folders() == [paths.models_dir(), bundle / "resources" / "models"]


def test_source_checkout_has_no_bundled_models(app_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert paths.bundled_models_dir() is None
    assert paths.model_folders() == [paths.models_dir()]
