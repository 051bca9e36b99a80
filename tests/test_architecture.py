"""The package keeps its shape: layers, Qt and llama.cpp where they belong, no import cycles."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grimp
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


# --------------------------------------------------------------------------- import cycles

# Imports inside functions that load something heavy only when it is needed. Each keeps a large
# dependency out of a process that does not use it; none may stand in for a module-level import
# that would close an import cycle (test_the_package_has_no_import_cycles proves there is none).
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    (
        "autoglm_desktop.qt.workers.speed_profile_worker",
        "autoglm_desktop.core.planning.speed_measurement",
    ): "numpy and the GGUF writer only when this PC's speed is measured, not at start-up",
    ("autoglm_desktop.cli.window_command", "autoglm_desktop.qt.app"): "Qt only for the window",
    ("autoglm_desktop.cli.window_command", "autoglm_desktop.qt.self_test"): "Qt only for it",
    ("autoglm_desktop.cli.window_command", "autoglm_desktop.qt.fatal_error"): (
        "Qt only to say why the window cannot open"
    ),
    ("autoglm_desktop.cli", "autoglm_desktop.cli.output"): (
        "the hub code it prints sizes with, only when the start-up check fails"
    ),
    ("autoglm_desktop.core.engine.process", "autoglm_desktop.core.engine.runtime"): (
        "llama.cpp only in the engine process"
    ),
    ("autoglm_desktop.core.engine.process", "autoglm_desktop.core.engine.batch"): (
        "llama.cpp only in the engine process"
    ),
    ("autoglm_desktop.cli", "autoglm_desktop.cli.commands"): (
        "the window starts without the other commands and the hub client they load"
    ),
    ("autoglm_desktop.qt.main_window", "autoglm_desktop.qt.models.window"): (
        "the hub client (a third of a second of imports) only once the Models window is needed"
    ),
    ("autoglm_desktop.core.remote.client", "autoglm_desktop.core.remote.openai_api"): (
        "the openai client (two thirds of a second of imports) only once a remote server is used"
    ),
    ("autoglm_desktop.qt.workers.local_server", "autoglm_desktop.core.server.app"): (
        "Starlette and pydantic only once the window's local server is switched on"
    ),
    ("autoglm_desktop.qt.workers.local_server", "autoglm_desktop.core.server.runner"): (
        "uvicorn only once the window's local server is switched on"
    ),
}


def module_name(source_file: Path) -> str:
    parts = source_file.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def function_level_imports(source: str, *, package: str) -> Iterator[tuple[int, str]]:
    """The app's own modules imported inside a function body (not at module level)."""
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                text = ast.unparse(node)
                for line, module in imported_modules(text, package=package):
                    if module.startswith("autoglm_desktop") and not _names_a_member(module):
                        yield node.lineno + line - 1, module


def _names_a_member(module: str) -> bool:
    """``from pkg.mod import Name`` also yields ``pkg.mod.Name``: keep only real modules."""
    leaf = module.rsplit(".", 1)[-1]
    return leaf[:1].isupper() or leaf.isupper() or leaf.startswith("_")


def test_function_level_imports_are_only_declared_lazy_loading() -> None:
    undeclared = []
    for path in sorted((REPO_ROOT / "autoglm_desktop").rglob("*.py")):
        importer = module_name(path)
        source = path.read_text(encoding="utf-8")
        for line, module in function_level_imports(source, package=package_of(path)):
            if (
                not (REPO_ROOT / (module.replace(".", "/") + ".py")).is_file()
                and not (REPO_ROOT / module.replace(".", "/") / "__init__.py").is_file()
            ):
                continue  # a name imported from a module, not a module
            if (importer, module) not in LAZY_IMPORTS:
                undeclared.append(f"{path.relative_to(REPO_ROOT)}:{line}: {module}")
    assert undeclared == [], (
        "import these at module level (or declare a lazy load in LAZY_IMPORTS, with why):\n"
        + "\n".join(undeclared)
    )


def import_cycles(graph: Any) -> list[tuple[str, str]]:
    """Each direct import ``a -> b`` that closes a cycle: ``b`` also leads back to ``a``."""
    return sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported in graph.modules and graph.chain_exists(importer=imported, imported=importer)
    )


def test_the_package_has_no_import_cycles() -> None:
    graph = grimp.build_graph("autoglm_desktop", cache_dir=None)  # with import-linter
    assert import_cycles(graph) == [], "import cycles (function-level imports count too)"


def test_the_cycle_finder_finds_cycles() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [("a", "b"), ("b", "c"), ("c", "a")]
