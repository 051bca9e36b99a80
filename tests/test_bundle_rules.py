"""The rules that decide what goes into the app bundle, and the build's failure checks.

The bundle itself is built and run by scripts/build_bundle.py and scripts/smoke_test_bundle.py
(the last step of ``tasks.py test`` on Linux); these tests pin the rules down quickly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "installers" / "pyinstaller"))
sys.path.insert(0, str(ROOT / "scripts"))

import build_bundle  # noqa: E402
import bundle_contents as rules  # noqa: E402

QT = "PySide6/Qt"


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        (f"{QT}/plugins/platforms/libqxcb.so", True),
        (f"{QT}/plugins/platforms/libqoffscreen.so", True),
        (f"{QT}/plugins/platforms/libqwayland.so", True),
        (f"{QT}/plugins/platforms/libqeglfs.so", False),
        (f"{QT}/plugins/platforms/libqvnc.so", False),
        (f"{QT}/plugins/xcbglintegrations/libqxcb-glx-integration.so", True),
        (f"{QT}/plugins/platformthemes/libqgtk3.so", False),
        (f"{QT}/plugins/platformthemes/libqxdgdesktopportal.so", True),
        (f"{QT}/plugins/platforminputcontexts/libibusplatforminputcontextplugin.so", True),
        (f"{QT}/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", False),
        (f"{QT}/plugins/imageformats/libqsvg.so", True),
        (f"{QT}/plugins/imageformats/libqjpeg.so", False),
        (f"{QT}/plugins/qmltooling/libqmldbg_debugger.so", False),
        ("PySide6/plugins/platforms/qwindows.dll", True),
        ("PySide6/plugins/styles/qmodernwindowsstyle.dll", True),
    ],
)
def test_only_the_qt_plugins_the_app_uses_are_kept(dest: str, kept: bool):
    assert rules.keep_qt_plugin(dest) is kept


def test_files_that_are_not_qt_plugins_are_left_to_other_rules():
    assert rules.keep_qt_plugin("llama_cpp/lib/libllama.so") is None
    assert rules.keep_qt_plugin(f"{QT}/lib/libQt6Core.so.6") is None


def test_qt_translations_only_for_languages_the_app_speaks():
    languages = rules.shipped_languages(ROOT / "resources" / "translations")
    assert "zh_CN" in languages
    assert rules.keep_qt_translation(f"{QT}/translations/qtbase_zh_CN.qm", languages)
    assert not rules.keep_qt_translation(f"{QT}/translations/qtbase_de.qm", languages)
    assert not rules.keep_qt_translation(f"{QT}/translations/qt_help_zh_CN.qm", languages)
    assert rules.keep_qt_translation("resources/translations/x.qm", languages) is None


def test_libraries_nothing_kept_links_against_are_pruned():
    binaries = [
        (f"{QT}/plugins/platforms/libqxcb.so", "/src/libqxcb.so", "BINARY"),
        (f"{QT}/lib/libQt6XcbQpa.so.6", "/src/libQt6XcbQpa.so.6", "BINARY"),
        (f"{QT}/lib/libQt6Gui.so.6", "/src/libQt6Gui.so.6", "BINARY"),
        (f"{QT}/lib/libQt6Quick.so.6", "/src/libQt6Quick.so.6", "BINARY"),
        (f"{QT}/lib/libQt6Qml.so.6", "/src/libQt6Qml.so.6", "BINARY"),
    ]
    needs = {
        "/src/libqxcb.so": ["libQt6XcbQpa.so.6"],
        "/src/libQt6XcbQpa.so.6": ["libQt6Gui.so.6", "libc.so.6"],
        "/src/libQt6Quick.so.6": ["libQt6Qml.so.6"],
    }
    dropped: list[str] = []
    kept = rules.prune_unused_libraries(
        binaries, imports_of=lambda src: needs.get(src, []), dropped=dropped
    )
    assert [dest.rsplit("/", 1)[-1] for dest, _src, _type in kept] == [
        "libqxcb.so",
        "libQt6XcbQpa.so.6",
        "libQt6Gui.so.6",
    ]
    assert sorted(dropped) == [f"{QT}/lib/libQt6Qml.so.6", f"{QT}/lib/libQt6Quick.so.6"]


def test_links_to_dropped_files_go_too():
    entries = [
        ("libQt6Gui.so.6", f"{QT}/lib/libQt6Gui.so.6", "SYMLINK"),
        ("libQt6Quick.so.6", f"{QT}/lib/libQt6Quick.so.6", "SYMLINK"),
    ]
    dropped: list[str] = []
    kept = rules.drop_dangling_links(entries, present={f"{QT}/lib/libQt6Gui.so.6"}, dropped=dropped)
    assert [entry[0] for entry in kept] == ["libQt6Gui.so.6"]
    assert dropped == ["libQt6Quick.so.6 (link to a dropped file)"]


@pytest.mark.skipif(sys.platform == "win32", reason="no versioned library names on Windows")
def test_identical_llama_libraries_become_links(tmp_path: Path):
    (tmp_path / "libllama.so").write_bytes(b"same")
    (tmp_path / "libllama.so.0").write_bytes(b"same")
    (tmp_path / "libggml.so").write_bytes(b"one")
    (tmp_path / "libggml.so.0").write_bytes(b"other")
    binaries = [
        ("llama_cpp/lib/" + name, str(tmp_path / name), "BINARY")
        for name in ("libllama.so", "libllama.so.0", "libggml.so", "libggml.so.0")
    ]
    linked = rules.link_duplicate_libraries(binaries, folder="llama_cpp/lib")
    assert linked[0] == ("llama_cpp/lib/libllama.so", "libllama.so.0", "SYMLINK")
    assert linked[1:] == binaries[1:]


def test_llama_libraries_and_loadable_backends_are_collected_once(tmp_path: Path):
    package = tmp_path / "site-packages" / "llama_cpp"
    (package / "lib").mkdir(parents=True)
    (package.parent / "bin").mkdir()
    for name in ("libllama.so", "libllama.so.0", "libllama.so.0.5.0", "llama.h"):
        (package / "lib" / name).write_bytes(b"")
    for name in ("libggml-cpu-haswell.so", "libggml-cpu-x64.so", "gguf-dump"):
        (package.parent / "bin" / name).write_bytes(b"")

    pairs = rules.llama_cpp_libraries(package)

    assert sorted(Path(src).name for src, _dest in pairs) == [
        "libggml-cpu-haswell.so",
        "libggml-cpu-x64.so",
        "libllama.so",
        "libllama.so.0",
    ]
    assert {dest for _src, dest in pairs} == {"llama_cpp/lib"}


def test_a_missing_library_of_a_bundled_qt_plugin_fails_the_build(tmp_path: Path):
    bundle = tmp_path / "autoglm-desktop"
    (bundle / "_internal/PySide6/Qt/plugins/platforms").mkdir(parents=True)
    (bundle / "_internal/PySide6/Qt/plugins/platforms/libqxcb.so").write_bytes(b"")
    log = (
        "123 WARNING: Library not found: could not resolve 'libgtk-3.so.0', dependency of "
        "'/venv/PySide6/Qt/plugins/platformthemes/libqgtk3.so'.\n"
        "124 WARNING: Library not found: could not resolve 'libxcb-cursor.so.0', dependency "
        "of '/venv/PySide6/Qt/plugins/platforms/libqxcb.so'.\n"
    )
    with pytest.raises(build_bundle.BuildFailed, match=r"libxcb-cursor\.so\.0.*libqxcb\.so"):
        build_bundle.check_library_warnings(log, bundle)


def test_a_missing_library_of_a_dropped_plugin_does_not(tmp_path: Path):
    bundle = tmp_path / "autoglm-desktop"
    bundle.mkdir()
    log = (
        "123 WARNING: Library not found: could not resolve 'libgtk-3.so.0', dependency of "
        "'/venv/PySide6/Qt/plugins/platformthemes/libqgtk3.so'.\n"
    )
    assert build_bundle.check_library_warnings(log, bundle) is None


def test_a_missing_platform_plugin_fails_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "platform", "linux")
    platforms = tmp_path / "_internal/PySide6/Qt/plugins/platforms"
    platforms.mkdir(parents=True)
    (platforms / "libqoffscreen.so").write_bytes(b"")
    (platforms / "libqwayland.so").write_bytes(b"")
    with pytest.raises(build_bundle.BuildFailed, match=r"libqxcb\.so"):
        build_bundle.check_platform_plugins(tmp_path)


def test_qt_modules_the_code_never_imports_are_excluded(tmp_path: Path):
    pyside = tmp_path / "PySide6"
    pyside.mkdir()
    for name in ("QtCore.abi3.so", "QtCore.pyi", "QtNetwork.abi3.so", "QtQml.abi3.so"):
        (pyside / name).write_bytes(b"")
    (pyside / "QtDBus.abi3.so").write_bytes(b"")
    source = tmp_path / "app"
    source.mkdir()
    (source / "window.py").write_text("from PySide6.QtCore import QObject\n")
    (source / "hub.py").write_text("import PySide6.QtNetwork as network\n")

    excluded = rules.unused_qt_modules(pyside_dir=pyside, source_dir=source)

    assert excluded == ["PySide6.QtQml"]
