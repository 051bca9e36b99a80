"""What goes into the bundle: the rules ``build.spec`` applies to PyInstaller's file lists.

PyInstaller's Qt hooks collect every plugin of every type QtGui might use, and with them the
libraries those plugins need (QML, Quick, virtual keyboard, eglfs, GTK...). The app uses
QtCore, QtGui and QtWidgets only, so the spec keeps the plugins named here, then drops every
Qt library that no kept file links against.

Entries are PyInstaller TOC tuples ``(dest_name, src_name, typecode)``.
"""

from __future__ import annotations

import filecmp
import posixpath
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

TocEntry = tuple[str, str, str]

# Qt plugins by type. A plugin is kept when its file name (without "lib" and the suffix)
# is listed; "*" keeps every plugin of that type. Types not listed are dropped.
QT_PLUGINS: dict[str, set[str]] = {
    # xcb: X11; wayland: Wayland sessions; offscreen: self-test and CI; cocoa/windows: the rest.
    "platforms": {"qxcb", "qwayland", "qoffscreen", "qcocoa", "qwindows", "qdirect2d"},
    "xcbglintegrations": {"*"},
    "wayland-shell-integration": {"xdg-shell"},
    "wayland-decoration-client": {"bradient"},
    "wayland-graphics-integration-client": {"qt-plugin-wayland-egl"},
    # The desktop portal gives native file dialogs and the colour scheme; the GTK 3 theme would
    # pull the whole GTK stack into the bundle.
    "platformthemes": {"qxdgdesktopportal"},
    # Compose keys and IBus (how most Linux users type Chinese); the virtual keyboard needs QML.
    "platforminputcontexts": {
        "composeplatforminputcontextplugin",
        "ibusplatforminputcontextplugin",
    },
    "imageformats": {"qsvg", "qico", "qicns"},  # PNG is built into QtGui
    "iconengines": {"qsvgicon"},
    "styles": {"*"},  # Windows 11 style; tiny
    # Collected only if the app ever imports QtNetwork: TLS backends and network status.
    "tls": {"*"},
    "networkinformation": {"*"},
}

# Linux libraries taken from the user's system instead of the bundle, with the Debian
# package that provides each (the .deb depends on them). These are tied to the running desktop:
# a bundled libstdc++ older than the system's breaks Mesa's OpenGL drivers, a bundled
# fontconfig or xkbcommon can misread newer system configuration files. PyInstaller itself
# already leaves out glibc, libGL/libEGL and libxcb. Everything else (the xcb-util family that
# fresh systems lack, OpenMP, OpenSSL, SQLite...) stays in the bundle.
HOST_LIBRARIES: dict[str, str] = {
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libdbus-1.so.3": "libdbus-1-3",
}
# Excluded by PyInstaller, needed all the same (Wayland's only by the Wayland plugins).
HOST_LIBRARIES_PYINSTALLER_SKIPS: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}

# Python modules that PyInstaller would otherwise follow from optional imports. Unused Qt
# modules are added by :func:`unused_qt_modules`.
EXCLUDED_MODULES = [
    "tkinter",
    "_tkinter",
    "llama_cpp.server",
    "IPython",
    "matplotlib",
    "pytest",
    "readline",
    # Development tools reached through optional imports (pydantic's mypy plugin, ...).
    "mypy",
    "hypothesis",
    "ast_serialize",
    "librt",
]

_QT_IMPORT = re.compile(r"\bPySide6\.(Qt\w+)")
# The Qt bindings the app uses pull this one in through their libraries; it is tiny.
_QT_MODULES_ALWAYS_KEPT = {"QtDBus"}


def unused_qt_modules(*, pyside_dir: Path, source_dir: Path) -> list[str]:
    """``PySide6.Qt*`` modules no source file in ``source_dir`` imports.

    PyInstaller follows the PySide6 package to some modules the app never imports (QtNetwork,
    and with it GIO and network plugins). The app's own imports decide: a module imported
    anywhere in the code is kept, so new code cannot silently lose one.
    """
    used = set(_QT_MODULES_ALWAYS_KEPT)
    for path in source_dir.rglob("*.py"):
        used.update(_QT_IMPORT.findall(path.read_text(encoding="utf-8", errors="replace")))
    available = {path.name.split(".", 1)[0] for path in pyside_dir.glob("Qt*.*")}
    available = {name for name in available if name.isidentifier()}
    return sorted(f"PySide6.{name}" for name in available - used)


_PLUGIN_PATH = re.compile(r"(?:^|/)plugins/(?P<type>[^/]+)/(?P<file>[^/]+)$")
_QT_TRANSLATION = re.compile(r"(?:^|/)Qt/translations/(?P<name>[^/]+)\.qm$")
_PYTHON_LIBRARY = re.compile(r"^(lib)?python3[\d.]*\.(so|dll|dylib)", re.IGNORECASE)


def plugin_stem(file_name: str) -> str:
    """``libqxcb.so`` -> ``qxcb``; ``qwindows.dll`` -> ``qwindows``."""
    stem = file_name.split(".", 1)[0]
    return stem[3:] if stem.startswith("lib") else stem


def keep_qt_plugin(dest: str) -> bool | None:
    """Whether a Qt plugin stays; ``None`` when ``dest`` is not a Qt plugin."""
    match = _PLUGIN_PATH.search(PurePosixPath(Path(dest).as_posix()).as_posix())
    if match is None or "PySide6" not in dest:
        return None
    wanted = QT_PLUGINS.get(match["type"], set())
    return "*" in wanted or plugin_stem(match["file"]) in wanted


def shipped_languages(translations_dir: Path) -> set[str]:
    """Languages the app has its own translation for (``autoglm-desktop_zh_CN.qm`` -> zh_CN)."""
    return {path.stem.split("_", 1)[1] for path in translations_dir.glob("*_*.qm")}


def keep_qt_translation(dest: str, languages: set[str]) -> bool | None:
    """Qt's own translations stay only for ``qtbase`` in the languages the app speaks."""
    match = _QT_TRANSLATION.search(Path(dest).as_posix())
    if match is None:
        return None
    prefix, _, language = match["name"].partition("_")
    return prefix == "qtbase" and language in languages


def filter_entries(
    entries: Iterable[TocEntry], *, languages: set[str], dropped: list[str]
) -> list[TocEntry]:
    """Apply the plugin and translation rules; names of dropped entries go to ``dropped``."""
    kept = []
    for entry in entries:
        dest = entry[0]
        verdict = keep_qt_plugin(dest)
        if verdict is None:
            verdict = keep_qt_translation(dest, languages)
        if verdict is False:
            dropped.append(dest)
        else:
            kept.append(entry)
    return kept


def is_prunable(dest: str) -> bool:
    """Libraries that are only in the bundle because something else links against them.

    Qt's own libraries (and ICU) inside PySide6, and on Linux the system libraries PyInstaller
    copied next to the executable. Python itself is loaded by the bootloader, not linked.
    """
    posix = Path(dest).as_posix()
    name = posix.rsplit("/", 1)[-1]
    if _PYTHON_LIBRARY.match(name):
        return False
    if posix.startswith("PySide6/") and keep_qt_plugin(dest) is None:
        return not name.endswith((".abi3.so", ".pyd")) and ".cpython-" not in name
    return sys.platform.startswith("linux") and "/" not in posix and ".so" in name


def drop_host_libraries(binaries: list[TocEntry], *, dropped: list[str]) -> list[TocEntry]:
    """Leave out :data:`HOST_LIBRARIES` (Linux only); see there for why."""
    if not sys.platform.startswith("linux"):
        return binaries
    kept = []
    for entry in binaries:
        if Path(entry[0]).name in HOST_LIBRARIES:
            dropped.append(f"{entry[0]} (taken from the system)")
        else:
            kept.append(entry)
    return kept


def direct_imports(path: str) -> list[str] | None:
    """The libraries an ELF file names in DT_NEEDED (``readelf -d``); ``None`` off Linux.

    PyInstaller's own ``get_imports`` uses ldd, which lists dependencies of dependencies too;
    pruning needs the direct ones to see that a library left out takes its own needs along.
    """
    readelf = shutil.which("readelf")
    if not sys.platform.startswith("linux") or readelf is None:
        return None
    result = subprocess.run(
        [readelf, "-d", "-W", path], capture_output=True, text=True, check=False
    )
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", result.stdout)


def _library_key(name: str) -> str:
    """How a dependency is matched to a bundled file: base name, case-insensitive on Windows."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.lower() if sys.platform == "win32" else base


def prune_unused_libraries(
    binaries: list[TocEntry],
    *,
    imports_of: Callable[[str], Iterable[str]],
    dropped: list[str],
) -> list[TocEntry]:
    """Drop prunable libraries that no kept binary needs, directly or through others.

    Args:
        binaries: PyInstaller's binaries TOC after :func:`filter_entries`.
        imports_of: Names of the libraries a file links against (``src`` path in).
        dropped: Receives the destination names of the pruned entries.
    """
    by_key: dict[str, list[TocEntry]] = {}
    for entry in binaries:
        by_key.setdefault(_library_key(entry[0]), []).append(entry)
    needed: set[str] = set()
    queue = [entry for entry in binaries if not is_prunable(entry[0])]
    seen: set[str] = {entry[0] for entry in queue}
    while queue:
        entry = queue.pop()
        for name in imports_of(entry[1]):
            key = _library_key(name)
            needed.add(key)
            for dependency in by_key.get(key, []):
                if dependency[0] not in seen:
                    seen.add(dependency[0])
                    queue.append(dependency)
    kept = []
    for entry in binaries:
        if is_prunable(entry[0]) and _library_key(entry[0]) not in needed:
            dropped.append(entry[0])
        else:
            kept.append(entry)
    return kept


def llama_cpp_libraries(package_dir: Path) -> list[tuple[str, str]]:
    """llama.cpp's shared libraries, as ``(src, dest_dir)`` pairs, without duplicate copies.

    pip installs each Linux library three times (``libllama.so``, ``.so.0``, ``.so.0.5.0``)
    as real files. llama-cpp-python opens ``lib<name>.so``; the libraries find each other by
    their ``.so.<major>`` names; the fully versioned copy is used by nothing.

    Builds with ``GGML_BACKEND_DL=ON`` also have loadable backends (``libggml-cpu-haswell.so``,
    ``ggml-cuda.dll``...), which llama.cpp's own install rules put in ``site-packages/bin``;
    they join the rest in ``llama_cpp/lib``, where the runtime hook registers them.
    """
    dest = "llama_cpp/lib"
    pairs = []
    for path in _files(package_dir / "lib"):
        if path.suffix in {".h", ".lib", ".a", ".cmake", ".pc"}:
            continue
        if re.search(r"\.so\.\d+\.\d+", path.name):  # libllama.so.0.5.0
            continue
        if path.suffix in {".so", ".dylib", ".dll"} or re.search(r"\.so\.\d+$", path.name):
            pairs.append((str(path), dest))
    collected = {Path(src).name for src, _dest in pairs}
    for path in _files(package_dir.parent / "bin"):
        if _BACKEND_MODULE.match(path.name) and path.name not in collected:
            pairs.append((str(path), dest))
    return pairs


_BACKEND_MODULE = re.compile(r"^(lib)?ggml-[\w-]+\.(so|dll|dylib)$")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def link_duplicate_libraries(binaries: list[TocEntry], *, folder: str) -> list[TocEntry]:
    """In ``folder``, turn ``libX.so`` into a symbolic link when ``libX.so.N`` is the same file.

    Saves a second copy of every llama.cpp library (8 MB). Not on Windows, whose DLL names
    carry no version.
    """
    if sys.platform == "win32":
        return binaries
    by_dest = {Path(entry[0]).as_posix(): entry for entry in binaries}
    linked = []
    for entry in binaries:
        dest = Path(entry[0]).as_posix()
        twins = [
            other
            for other in by_dest
            if dest.startswith(f"{folder}/")
            and re.fullmatch(re.escape(dest) + r"\.\d+", other)
            and filecmp.cmp(entry[1], by_dest[other][1], shallow=False)
        ]
        if twins and entry[2] != "SYMLINK":
            linked.append((entry[0], twins[0].rsplit("/", 1)[-1], "SYMLINK"))
        else:
            linked.append(entry)
    return linked


def strip_debug_info(
    binaries: list[TocEntry], *, under: Path, work_dir: Path, dropped: list[str]
) -> list[TocEntry]:
    """Copies of the ELF files from ``under`` (the Python installation) without debug info.

    pyenv and some other Pythons ship libpython with 20 MB of DWARF data. Only files from the
    Python installation are touched: wheels' libraries may be patched by auditwheel, and
    rewriting those with strip can break them.
    """
    strip = shutil.which("strip")
    if not sys.platform.startswith("linux") or strip is None:
        return binaries
    result = []
    for dest, src, typecode in binaries:
        source = Path(src)
        if typecode == "SYMLINK" or under not in source.resolve().parents:
            result.append((dest, src, typecode))
            continue
        copy = work_dir / "stripped" / dest
        copy.parent.mkdir(parents=True, exist_ok=True)
        if not copy.is_file() or copy.stat().st_mtime < source.stat().st_mtime:
            shutil.copy2(source, copy)
            subprocess.run([strip, "--strip-debug", str(copy)], check=True)
        dropped.append(f"{dest} (debug info stripped)")
        result.append((dest, str(copy), typecode))
    return result


def drop_dangling_links(
    entries: list[TocEntry], *, present: set[str], dropped: list[str]
) -> list[TocEntry]:
    """Remove symbolic links whose target was dropped (PyInstaller lists them among datas)."""
    kept = []
    for entry in entries:
        dest, src, typecode = entry
        if typecode == "SYMLINK":
            target = posixpath.normpath(posixpath.join(posixpath.dirname(_posix(dest)), src))
            if target not in present:
                dropped.append(f"{dest} (link to a dropped file)")
                continue
        kept.append(entry)
    return kept


def _posix(dest: str) -> str:
    return Path(dest).as_posix()
