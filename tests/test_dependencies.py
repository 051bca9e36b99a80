"""Every third-party package the app imports is declared in pyproject.toml's dependencies."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # huggingface_hub needs tomli on Python 3.10, so it is there
    tomllib = pytest.importorskip("tomli")

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "autoglm_desktop"


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = set()
    for requirement in project["dependencies"]:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, f"cannot read the requirement {requirement!r}"
        names.add(normalized(match.group()))
    return names


def imported_top_level_names() -> dict[str, set[str]]:
    """Top-level names of every absolute import in the package (lazy ones too) -> modules."""
    found: dict[str, set[str]] = {}
    for source in sorted((REPO_ROOT / PACKAGE).rglob("*.py")):
        module = source.relative_to(REPO_ROOT).as_posix()
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=module)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(module)
    return found


def third_party_imports() -> dict[str, set[str]]:
    return {
        name: modules
        for name, modules in imported_top_level_names().items()
        if name not in sys.stdlib_module_names and name != PACKAGE
    }


def test_the_walk_finds_the_known_third_party_imports() -> None:
    names = third_party_imports()
    assert {"PySide6", "huggingface_hub", "httpx2", "filelock", "llama_cpp"} <= names.keys()
    assert "json" not in names and PACKAGE not in names


def test_every_imported_distribution_is_declared() -> None:
    declared = declared_distributions()
    distributions_of = importlib.metadata.packages_distributions()
    problems = []
    for name, modules in sorted(third_party_imports().items()):
        distributions = {normalized(d) for d in distributions_of.get(name, [])}
        where = ", ".join(sorted(modules))
        if not distributions:
            problems.append(f"{name} (imported by {where}) is not installed")
        elif not distributions & declared:
            problems.append(
                f"{name} (imported by {where}) comes from {sorted(distributions)}, "
                "which [project] dependencies does not declare"
            )
    assert not problems, "\n".join(problems)
