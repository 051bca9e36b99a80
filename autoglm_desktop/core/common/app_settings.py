"""App settings, stored as JSON holding only what differs from the defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.settings_file import read_json_object, write_json_object


@dataclass(frozen=True)
class AppSettings:
    last_model_path: str = ""
    # The remote model picked last (server id and model id); "": the local model was.
    last_remote_server: str = ""
    last_remote_model: str = ""
    release_when_idle_minutes: int = 0  # 0: keep the model loaded
    # The window's local server (its API key is in the OS keyring, never here).
    local_server_on: bool = False  # serving when the app closed: serve again at start
    local_server_port: int = 8800  # as core.server.config.DEFAULT_PORT
    local_server_network: bool = False  # other devices may call it (with the API key)

    def updated(self, **changes: Any) -> AppSettings:
        return replace(self, **changes)


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def load_settings(*, path: Path | None = None) -> AppSettings:
    """Read settings; a missing or damaged file gives the defaults (a damaged one is kept aside)."""
    stored = read_json_object(path or settings_path())
    defaults = AppSettings()
    values: dict[str, Any] = {}
    for field in fields(AppSettings):
        value = stored.get(field.name)
        if value is not None and isinstance(value, type(getattr(defaults, field.name))):
            values[field.name] = value
    return AppSettings(**values)


def save_settings(settings: AppSettings, *, path: Path | None = None) -> None:
    """Write only the values that differ from the defaults, atomically.

    Raises:
        SettingsFileError: the file could not be written.
    """
    defaults = asdict(AppSettings())
    overrides = {k: v for k, v in asdict(settings).items() if defaults[k] != v}
    write_json_object(path or settings_path(), overrides, indent=2, sort_keys=True)
