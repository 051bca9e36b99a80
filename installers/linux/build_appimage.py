"""AppImage recipe: the AppDir, its squashfs image, and (where appimagetool exists) the AppImage.

    AutoGLM_Desktop.AppDir/
        AppRun                      starts usr/lib/autoglm-desktop/autoglm-desktop
        autoglm-desktop.desktop     the same desktop entry as the .deb
        autoglm-desktop.png         icon (256 px) and .DirIcon
        usr/lib/autoglm-desktop/    the PyInstaller bundle
        usr/share/icons/hicolor/... icon sizes, for desktop integration tools

An AppImage is a small runtime program followed by a squashfs image of the AppDir. The
runtime cannot be fetched on an offline machine, so the release workflow runs
``appimagetool`` (which adds it); elsewhere this builds the AppDir and the squashfs image that
the runtime would mount, which proves everything but the final concatenation.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
APP_ID = "autoglm-desktop"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


class AppImageError(Exception):
    """The AppDir or image could not be built."""


def build_appdir(*, bundle_dir: Path, appdir: Path) -> Path:
    """Lay out ``appdir`` (replaced if it exists) around a copy of the bundle."""
    shutil.rmtree(appdir, ignore_errors=True)
    shutil.copytree(bundle_dir, appdir / "usr/lib" / APP_ID, symlinks=True)
    shutil.copy2(HERE / "appimage" / "AppRun", appdir / "AppRun")
    (appdir / "AppRun").chmod(0o755)
    shutil.copy2(HERE / f"{APP_ID}.desktop", appdir / f"{APP_ID}.desktop")
    icons = ROOT / "resources" / "icons"
    shutil.copy2(icons / f"{APP_ID}-256.png", appdir / f"{APP_ID}.png")
    (appdir / ".DirIcon").symlink_to(f"{APP_ID}.png")
    for size in ICON_SIZES:
        folder = appdir / f"usr/share/icons/hicolor/{size}x{size}/apps"
        folder.mkdir(parents=True)
        shutil.copy2(icons / f"{APP_ID}-{size}.png", folder / f"{APP_ID}.png")
    return appdir


def build_squashfs(*, appdir: Path, target: Path) -> Path:
    """The squashfs image an AppImage carries (zstd, as appimagetool and the type 2 runtime use)."""
    mksquashfs = shutil.which("mksquashfs")
    if mksquashfs is None:
        raise AppImageError("mksquashfs is missing (Debian/Ubuntu: apt-get install squashfs-tools)")
    target.unlink(missing_ok=True)
    subprocess.run(
        [mksquashfs, str(appdir), str(target), "-root-owned", "-noappend", "-comp", "zstd"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return target


def build_appimage(*, appdir: Path, target: Path) -> Path | None:
    """Run appimagetool when it is on PATH (the release workflow); ``None`` otherwise."""
    tool = shutil.which("appimagetool")
    if tool is None:
        return None
    target.unlink(missing_ok=True)
    subprocess.run(
        [tool, "--no-appstream", str(appdir), str(target)],
        check=True,
        # appimagetool is an AppImage itself; CI machines have no FUSE to mount it.
        env={**os.environ, "ARCH": platform.machine(), "APPIMAGE_EXTRACT_AND_RUN": "1"},
    )
    return target
