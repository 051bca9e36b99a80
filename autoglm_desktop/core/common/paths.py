"""Every filesystem location the app uses, from one place.

Locations come from platformdirs. Tests redirect all of them at once with
:func:`set_base_dir`, users with the ``AUTOGLM_HOME`` environment variable, and a portable
install with a ``portable.txt`` file next to the app's executable (everything then lives in
``portable-data/`` beside it, so the app can run from a USB stick).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

from autoglm_desktop import APP_ID

PORTABLE_MARKER = "portable.txt"
PORTABLE_DATA_FOLDER = "portable-data"
BUNDLED_MODELS_FOLDER = "models"

_base_override: Path | None = None


def set_base_dir(path: Path | None) -> None:
    """Put every app folder under ``path`` (``None`` restores the platform defaults)."""
    global _base_override
    _base_override = Path(path) if path is not None else None


def _base() -> Path | None:
    if _base_override is not None:
        return _base_override
    env = os.environ.get("AUTOGLM_HOME")
    return Path(env) if env else portable_base_dir()


def executable_dir() -> Path | None:
    """The folder that holds the installed app, or ``None`` when running from source.

    On macOS that is the folder holding ``AutoGLM Desktop.app``, not a folder inside it.
    """
    if not getattr(sys, "frozen", False):
        return None
    executable = Path(sys.executable).resolve()
    for parent in executable.parents:
        if parent.suffix == ".app":
            return parent.parent
    return executable.parent


def portable_base_dir() -> Path | None:
    """Where a portable install keeps everything, when its marker file is present."""
    folder = executable_dir()
    if folder is None or not (folder / PORTABLE_MARKER).is_file():
        return None
    return folder / PORTABLE_DATA_FOLDER


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Chats and other user data."""
    base = _base()
    return _ensure(base / "data" if base else platformdirs.user_data_path(APP_ID, appauthor=False))


def config_dir() -> Path:
    """Settings."""
    base = _base()
    path = base / "config" if base else platformdirs.user_config_path(APP_ID, appauthor=False)
    return _ensure(path)


def cache_dir() -> Path:
    """Things that can be fetched or computed again."""
    base = _base()
    path = base / "cache" if base else platformdirs.user_cache_path(APP_ID, appauthor=False)
    return _ensure(path)


def models_dir() -> Path:
    """The app's own model folder."""
    env = os.environ.get("AUTOGLM_MODELS_DIR")
    if env:
        return _ensure(Path(env))
    return _ensure(data_dir() / "models")


def bundled_models_dir() -> Path | None:
    """The read-only folder of models shipped inside the installed app (the starter model)."""
    folder = resources_dir() / BUNDLED_MODELS_FOLDER
    return folder if folder.is_dir() else None


def model_folders() -> list[Path]:
    """Every folder the app looks for models in: its own, then the ones it ships with."""
    bundled = bundled_models_dir()
    return [models_dir()] if bundled is None else [models_dir(), bundled]


def history_db_path() -> Path:
    """The SQLite database holding all conversations."""
    return data_dir() / "history.sqlite3"


def log_dir() -> Path:
    """Log files (engine stderr, crash reports)."""
    return _ensure(data_dir() / "logs")


def engine_log_path() -> Path:
    """Where the engine process writes llama.cpp's output (never the user's terminal)."""
    return log_dir() / "engine.log"


def resources_dir() -> Path:
    """The read-only ``resources/`` folder (icons, translations, catalog), also when frozen."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[3] / "resources"
