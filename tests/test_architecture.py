"""The layering rules hold: the core never imports Qt (checked two independent ways)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE_DIR = REPO_ROOT / "autoglm_desktop" / "core"
FORBIDDEN_IN_CORE = ("PySide6", "shiboken6", "autoglm_desktop.qt")


def lint_imports_executable() -> Path:
    scripts = Path(sys.executable).parent
    name = "lint-imports.exe" if os.name == "nt" else "lint-imports"
    return scripts / name


def test_import_linter_contracts_are_kept() -> None:
    executable = lint_imports_executable()
    if not executable.is_file():
        pytest.fail(f"{executable} is missing; install the dev tools: pip install -e '.[dev]'")

    result = subprocess.run(
        [str(executable), "--no-cache", "--no-logo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    report = result.stdout + result.stderr
    assert result.returncode == 0, f"lint-imports failed:\n{report}"
    assert "0 broken" in result.stdout


def package_of(source_file: Path) -> str:
    """The package a module file belongs to (for an ``__init__.py``, the package itself)."""
    return ".".join(source_file.relative_to(REPO_ROOT).with_suffix("").parts[:-1])


def imported_modules(source: str, *, package: str) -> Iterator[tuple[int, str]]:
    """Every module ``source`` imports, with its line; relative imports resolved in ``package``."""
    package_parts = package.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            yield node.lineno, module
            for alias in node.names:  # "from pkg import module" imports pkg.module
                yield node.lineno, f"{module}.{alias.name}"
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                yield node.lineno, argument.value


def _is_dynamic_import(call: ast.Call) -> bool:
    name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
    return name in {"import_module", "__import__"} and bool(call.args)


def is_forbidden(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN_IN_CORE)


def test_no_core_module_imports_qt() -> None:
    core_files = sorted(CORE_DIR.rglob("*.py"))
    assert core_files, f"no Python files found under {CORE_DIR}"

    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {module}"
        for path in core_files
        for line, module in imported_modules(
            path.read_text(encoding="utf-8"), package=package_of(path)
        )
        if is_forbidden(module)
    ]

    assert offenders == [], "the core must not import Qt:\n" + "\n".join(offenders)


def test_the_scan_sees_every_way_of_importing_qt() -> None:
    package = "autoglm_desktop.core.engine"
    samples = {
        "import PySide6.QtCore": "PySide6.QtCore",
        "from PySide6 import QtWidgets": "PySide6",
        "from ...qt import main_window": "autoglm_desktop.qt",
        "from ... import qt": "autoglm_desktop.qt",
        "from ..qt.window import Window": "autoglm_desktop.core.qt.window",
        "importlib.import_module('shiboken6')": "shiboken6",
    }
    for source, expected in samples.items():
        modules = {module for _, module in imported_modules(source, package=package)}
        assert expected in modules, source


def test_forbidden_names_match_whole_packages_only() -> None:
    assert is_forbidden("PySide6.QtCore")
    assert is_forbidden("autoglm_desktop.qt.window")
    assert not is_forbidden("autoglm_desktop.core.qtish")
    assert not is_forbidden("PySide6x")
