"""Pack the PyInstaller bundle into a Debian package with dpkg-deb.

Layout of the package:

    /opt/autoglm-desktop/                     the bundle (executable + _internal/)
    /usr/bin/autoglm-desktop                  -> /opt/autoglm-desktop/autoglm-desktop
    /usr/share/applications/autoglm-desktop.desktop
    /usr/share/icons/hicolor/<size>/apps/     the icon, PNG sizes and SVG
    /usr/share/mime/packages/autoglm-desktop.xml   .gguf files open with the app
    /usr/share/doc/autoglm-desktop/copyright

Debian's triggers refresh the menu, icon and MIME caches, so no maintainer scripts are needed.
``Depends`` is worked out from the bundle: every library the bundled files link against that
the bundle does not carry itself must map to a package in :data:`LIBRARY_PACKAGES`, or the
build stops (an undeclared dependency would crash on a machine without it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "pyinstaller"))

from bundle_contents import HOST_LIBRARIES, HOST_LIBRARIES_PYINSTALLER_SKIPS  # noqa: E402

APP_ID = "autoglm-desktop"
INSTALL_DIR = f"opt/{APP_ID}"
GLIBC_LIBRARIES = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}
LIBRARY_PACKAGES: dict[str, str] = {
    **{name: "libc6" for name in GLIBC_LIBRARIES},
    **HOST_LIBRARIES,
    **HOST_LIBRARIES_PYINSTALLER_SKIPS,
    "libvulkan.so.1": "libvulkan1",  # Vulkan builds: the loader; the GPU driver brings the rest
}
# Parts of a GPU driver: GPU builds load them when present and run on the CPU otherwise, so
# they are no dependency (and no single package provides them).
DRIVER_LIBRARIES = {"libcuda.so.1", "libnvidia-ml.so.1"}
# The oldest libstdc++6 that provides a GLIBCXX_3.4.N symbol version (GCC 9 ... 14).
GLIBCXX_TO_GCC = {28: "9", 29: "11", 30: "12", 31: "13", 32: "13", 33: "14"}
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
DESCRIPTION = """\
Private, offline chat with local language models
 AutoGLM Desktop runs GGUF language models on your own computer with
 llama.cpp, so conversations never leave it. It ships with a small starter
 model (SmolLM2-135M-Instruct, Apache-2.0) and works without a network."""


class PackagingError(Exception):
    """The package could not be built; the message says why."""


@dataclass(frozen=True)
class ElfNeeds:
    libraries: set[str]
    glibc: tuple[int, int]
    glibcxx: int


def elf_files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def scan_needs(folder: Path) -> ElfNeeds:
    """Libraries named in DT_NEEDED and the newest glibc / libstdc++ symbol versions used."""
    libraries: set[str] = set()
    glibc = (2, 17)
    glibcxx = 0
    for path in elf_files(folder):
        dynamic = subprocess.run(
            ["readelf", "-d", "-W", str(path)], capture_output=True, text=True, check=True
        ).stdout
        libraries.update(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        versions = subprocess.run(
            ["readelf", "-V", "-W", str(path)], capture_output=True, text=True, check=True
        ).stdout
        for major, minor in re.findall(r"Name: GLIBC_(\d+)\.(\d+)", versions):
            glibc = max(glibc, (int(major), int(minor)))
        for minor in re.findall(r"Name: GLIBCXX_3\.4\.(\d+)", versions):
            glibcxx = max(glibcxx, int(minor))
    return ElfNeeds(libraries=libraries, glibc=glibc, glibcxx=glibcxx)


def bundled_names(folder: Path) -> set[str]:
    return {path.name for path in folder.rglob("*") if path.is_file() or path.is_symlink()}


def host_dependencies(bundle_dir: Path) -> list[str]:
    """The ``Depends`` entries for a bundle; raises if a needed library is unaccounted for."""
    needs = scan_needs(bundle_dir)
    from_host = needs.libraries - bundled_names(bundle_dir) - DRIVER_LIBRARIES
    unknown = sorted(name for name in from_host if name not in LIBRARY_PACKAGES)
    if unknown:
        raise PackagingError(
            "the bundle links against system libraries with no Debian package on record: "
            f"{', '.join(unknown)}. Bundle them, or add them to HOST_LIBRARIES in "
            "installers/pyinstaller/bundle_contents.py."
        )
    packages = {LIBRARY_PACKAGES[name] for name in from_host}
    versioned = {"libc6": f"libc6 (>= {needs.glibc[0]}.{needs.glibc[1]})"}
    if needs.glibcxx in GLIBCXX_TO_GCC:
        versioned["libstdc++6"] = f"libstdc++6 (>= {GLIBCXX_TO_GCC[needs.glibcxx]})"
    return sorted(versioned.get(package, package) for package in packages)


def _copy_tree(source: Path, target: Path) -> None:
    """Hard links when possible (same file system), copies otherwise: the bundle is large."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, copy_function=link_or_copy)


def _installed_size_kib(folder: Path) -> int:
    total = sum(p.lstat().st_size for p in folder.rglob("*") if not p.is_dir())
    return (total + 1023) // 1024


def debian_architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def control_file(
    *, package: str, version: str, architecture: str, depends: list[str], size_kib: int
) -> str:
    # A GPU variant replaces the plain package rather than installing beside it.
    alternative = (
        f"Provides: {APP_ID}\nConflicts: {APP_ID}\nReplaces: {APP_ID}\n"
        if package != APP_ID
        else ""
    )
    return (
        f"Package: {package}\n"
        f"Version: {version}\n"
        f"{alternative}"
        f"Architecture: {architecture}\n"
        "Maintainer: AutoGLM Desktop contributors <autoglm-desktop@users.noreply.github.com>\n"
        f"Installed-Size: {size_kib}\n"
        f"Depends: {', '.join(depends)}\n"
        "Recommends: fonts-noto-cjk\n"
        "Section: utils\n"
        "Priority: optional\n"
        f"Description: {DESCRIPTION}\n"
    )


def copyright_file() -> str:
    return (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: AutoGLM Desktop\n\n"
        "Files: *\n"
        "License: Apache-2.0\n\n"
        f"Files: {INSTALL_DIR}/_internal/resources/models/*\n"
        "Comment: SmolLM2-135M-Instruct by Hugging Face; the licence text is installed\n"
        " next to the model file.\n"
        "License: Apache-2.0\n\n"
        "License: Apache-2.0\n"
        " On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.\n"
    )


def stage_package(
    *, bundle_dir: Path, root: Path, package: str, version: str, depends: list[str]
) -> None:
    """Lay out every file of the package under ``root`` (which must not exist yet)."""
    _copy_tree(bundle_dir, root / INSTALL_DIR)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin" / APP_ID).symlink_to(f"/{INSTALL_DIR}/{APP_ID}")
    share = root / "usr/share"
    (share / "applications").mkdir(parents=True)
    shutil.copy2(HERE / f"{APP_ID}.desktop", share / "applications" / f"{APP_ID}.desktop")
    (share / "mime/packages").mkdir(parents=True)
    shutil.copy2(HERE / f"{APP_ID}-mime.xml", share / "mime/packages" / f"{APP_ID}.xml")
    icons = ROOT / "resources" / "icons"
    for size in ICON_SIZES:
        folder = share / f"icons/hicolor/{size}x{size}/apps"
        folder.mkdir(parents=True)
        shutil.copy2(icons / f"{APP_ID}-{size}.png", folder / f"{APP_ID}.png")
    (share / "icons/hicolor/scalable/apps").mkdir(parents=True)
    shutil.copy2(icons / f"{APP_ID}.svg", share / f"icons/hicolor/scalable/apps/{APP_ID}.svg")
    (share / f"doc/{APP_ID}").mkdir(parents=True)
    (share / f"doc/{APP_ID}/copyright").write_text(copyright_file())
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        control_file(
            package=package,
            version=version,
            architecture=debian_architecture(),
            depends=depends,
            size_kib=_installed_size_kib(root),
        )
    )


def build_deb(
    *,
    bundle_dir: Path,
    out_dir: Path,
    version: str,
    work_dir: Path,
    compression: str = "xz",
    variant: str = "cpu",
) -> Path:
    """Build ``<package>_<version>_<arch>.deb`` in ``out_dir`` and return its path.

    The package is ``autoglm-desktop``, or ``autoglm-desktop-<variant>`` for GPU variants.
    """
    package = APP_ID if variant == "cpu" else f"{APP_ID}-{variant}"
    if shutil.which("dpkg-deb") is None:
        raise PackagingError("dpkg-deb is missing (Debian/Ubuntu: apt-get install dpkg)")
    depends = host_dependencies(bundle_dir)
    root = work_dir / "deb-root"
    shutil.rmtree(root, ignore_errors=True)
    stage_package(
        bundle_dir=bundle_dir, root=root, package=package, version=version, depends=depends
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{package}_{version}_{debian_architecture()}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(root), str(target)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(root, ignore_errors=True)
    return target
