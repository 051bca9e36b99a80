"""Per-model load settings the user fixed by hand; everything else stays automatic.

Only overridden fields are stored, keyed by the model file's name and size (a model moved to
another folder keeps its settings).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.settings_file import read_json_object, write_json_object
from autoglm_desktop.core.planning.tuner import PlanOverrides


def overrides_path() -> Path:
    return paths.config_dir() / "model_overrides.json"


def model_key(model_path: Path) -> str:
    try:
        size = model_path.stat().st_size
    except OSError:
        size = 0
    return f"{model_path.name}:{size}"


def load_overrides(model_path: Path, *, path: Path | None = None) -> PlanOverrides:
    everything = read_json_object(path or overrides_path())
    stored: dict[str, Any] = everything.get(model_key(model_path), {})
    known = {f.name: f for f in fields(PlanOverrides)}
    values = {k: v for k, v in stored.items() if k in known and v is not None}
    try:
        return PlanOverrides(**values)
    except TypeError:
        return PlanOverrides()


def save_overrides(model_path: Path, overrides: PlanOverrides, *, path: Path | None = None) -> None:
    """Store only the fields that are set; a model with none set is removed.

    Raises:
        SettingsFileError: the file could not be written.
    """
    path = path or overrides_path()
    everything = read_json_object(path)
    changed = {k: v for k, v in asdict(overrides).items() if v is not None}
    key = model_key(model_path)
    if changed:
        everything[key] = changed
    else:
        everything.pop(key, None)
    write_json_object(path, everything, indent=2, sort_keys=True)
