"""Settings files: atomic, durable writes; missing or damaged files read as the defaults."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_hardware import snapshot
from sparse_gguf import write_sparse_gguf
from synthetic_gguf import SyntheticModel

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.app_settings import AppSettings, load_settings, settings_path
from autoglm_desktop.core.common.errors import AutoGLMError, SettingsFileError
from autoglm_desktop.core.common.settings_file import (
    CORRUPT_MARK,
    read_json_object,
    write_json_object,
    write_text_atomically,
)
from autoglm_desktop.core.engine.build import CACHE_FILE, cached_llama_build
from autoglm_desktop.core.hub.client import HubClient
from autoglm_desktop.core.hub.downloads import DownloadManager, state_file_path
from autoglm_desktop.core.hub.settings import HubSettings, hub_settings_path, load_hub_settings
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.library import (
    LibraryConfig,
    library_config_path,
    load_library_config,
)
from autoglm_desktop.core.planning.overrides import load_overrides, overrides_path
from autoglm_desktop.core.planning.thread_probe import PROBE_FILE, recall_threads
from autoglm_desktop.core.planning.tuner import PlanOverrides

LOGGER = "autoglm_desktop.core.common.settings_file"
DAMAGED = {
    "bad JSON": b'{"proxy": "http://127.0.0.1:78',
    "wrong top-level type": b'["a", "list", "not", "an", "object"]',
    "undecodable bytes": b'{"name": "\xff\xfe\xfa"}',
}
POSIX = os.name == "posix"


def backups_of(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}{CORRUPT_MARK}*"))


def leftovers(folder: Path, keep: Path) -> list[Path]:
    """Files in ``folder`` other than ``keep`` (temporary files a write left behind)."""
    return [p for p in folder.iterdir() if p != keep]


# --------------------------------------------------------------------------- the helper


def test_round_trip_keeps_the_data_and_the_format(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    data = {"b": [1, 2], "a": {"nested": True}, "text": "中文"}
    write_json_object(path, data, indent=2, sort_keys=True)
    assert read_json_object(path) == data
    assert path.read_text(encoding="utf-8") == json.dumps(data, indent=2, sort_keys=True)
    assert leftovers(tmp_path, path) == []


def test_a_second_write_replaces_the_first(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    write_json_object(path, {"old": 1})
    write_json_object(path, {"new": 2}, indent=None)
    assert read_json_object(path) == {"new": 2}
    assert path.read_text(encoding="utf-8") == '{"new": 2}'


def test_a_missing_file_reads_as_the_defaults(tmp_path: Path) -> None:
    assert read_json_object(tmp_path / "absent.json") == {}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_file_is_kept_as_a_backup_and_logged(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(damage)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert read_json_object(path) == {}
    [backup] = backups_of(path)
    assert backup.read_bytes() == damage
    assert not path.exists()
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    assert str(path) in record.getMessage() and str(backup) in record.getMessage()


def test_an_earlier_backup_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"first damage")
    read_json_object(path)
    path.write_bytes(b"second damage")
    read_json_object(path)
    assert sorted(backup.read_bytes() for backup in backups_of(path)) == [
        b"first damage",
        b"second damage",
    ]


def test_after_a_damaged_file_the_next_write_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"{oops")
    assert read_json_object(path) == {}
    write_json_object(path, {"proxy": ""})
    assert read_json_object(path) == {"proxy": ""}
    assert len(backups_of(path)) == 1


def test_a_failed_replace_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.json"
    write_json_object(path, {"kept": True})
    before = path.read_bytes()

    def refuse(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SettingsFileError, match=r"Could not save .*Permission denied") as caught:
        write_json_object(path, {"kept": False})
    assert isinstance(caught.value, AutoGLMError)
    assert path.read_bytes() == before
    assert leftovers(tmp_path, path) == []


def test_a_failed_fsync_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.json"
    write_json_object(path, {"kept": True})

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(SettingsFileError, match="No space left on device"):
        write_json_object(path, {"kept": False})
    assert read_json_object(path) == {"kept": True}
    assert leftovers(tmp_path, path) == []


@pytest.mark.skipif(not POSIX or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_a_read_only_folder_is_a_typed_error(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    path = folder / "settings.json"
    write_json_object(path, {"kept": True})
    folder.chmod(0o500)
    try:
        with pytest.raises(SettingsFileError):
            write_json_object(path, {"kept": False})
    finally:
        folder.chmod(0o700)
    assert read_json_object(path) == {"kept": True}
    assert leftovers(folder, path) == []


def test_a_missing_folder_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsFileError, match="Could not save"):
        write_json_object(tmp_path / "gone" / "settings.json", {})


def test_the_file_and_its_folder_are_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_json_object(tmp_path / "settings.json", {"a": 1})
    assert synced == (["file", "folder"] if POSIX else ["file"])


@pytest.mark.skipif(not POSIX, reason="POSIX permission bits")
def test_owner_only_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "hub_token"
    write_text_atomically(path, "hf_secret", owner_only=True)
    assert path.read_text(encoding="utf-8") == "hf_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_concurrent_writers_always_leave_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "downloads.json"
    errors: list[BaseException] = []

    def write_many(writer: int) -> None:
        try:
            for n in range(20):
                write_json_object(path, {"writer": writer, "n": n, "pad": "x" * 4096})
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write_many, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert read_json_object(path)["n"] == 19
    assert leftovers(tmp_path, path) == []


# --------------------------------------------------------------------------- every caller


def _recall_threads(tmp_path: Path) -> object:
    info = read_gguf_info(write_sparse_gguf(tmp_path / "tiny.gguf", SyntheticModel()))
    return recall_threads(info=info, hardware=snapshot(ram_gib=8))


def _download_statuses(tmp_path: Path) -> object:
    return DownloadManager(client=HubClient(settings=HubSettings(), token=False)).statuses()


# name: (where the caller keeps its file, how it reads it, what its defaults read as)
CALLERS: dict[str, tuple[Callable[[], Path], Callable[[Path], object], object]] = {
    "app settings": (settings_path, lambda _: load_settings(), AppSettings()),
    "hub settings": (hub_settings_path, lambda _: load_hub_settings(), HubSettings()),
    "library": (library_config_path, lambda _: load_library_config(), LibraryConfig()),
    "model overrides": (
        overrides_path,
        lambda tmp_path: load_overrides(tmp_path / "model.gguf"),
        PlanOverrides(),
    ),
    "llama.cpp build": (
        lambda: paths.cache_dir() / CACHE_FILE,
        lambda _: cached_llama_build(),
        None,
    ),
    "thread probe": (lambda: paths.cache_dir() / PROBE_FILE, _recall_threads, None),
    "download queue": (state_file_path, _download_statuses, []),
}


@pytest.mark.usefixtures("isolated_hub_state")
@pytest.mark.parametrize("caller", CALLERS.values(), ids=CALLERS.keys())
def test_each_callers_damaged_file_gives_its_defaults_and_a_backup(
    caller: tuple[Callable[[], Path], Callable[[Path], object], object],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    where, read, defaults = caller
    path = where()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(DAMAGED["bad JSON"])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert read(tmp_path) == defaults
    [backup] = backups_of(path)
    assert backup.read_bytes() == DAMAGED["bad JSON"]
    assert any(str(backup) in r.getMessage() for r in caplog.records if r.name == LOGGER)
