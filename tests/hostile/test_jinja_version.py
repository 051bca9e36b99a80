"""An old Jinja2 is refused at start-up, with a clear message, by the window and the commands.

Jinja2 before 3.1.6 has sandbox escapes (CVE-2024-56201, CVE-2024-56326, CVE-2025-27516), and
models' chat templates run in that sandbox.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

from autoglm_desktop import cli
from autoglm_desktop.cli import window_command
from autoglm_desktop.core.common import dependencies
from autoglm_desktop.core.common.dependencies import MIN_JINJA2, check_jinja2, version_at_least
from autoglm_desktop.core.common.errors import DependencyError

if sys.version_info >= (3, 11):
    import tomllib
else:  # huggingface_hub needs tomli on Python 3.10, so it is there
    tomllib = pytest.importorskip("tomli")

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("version", "safe"),
    [
        ("3.1.6", True),
        ("3.1.7", True),
        ("3.2.0", True),
        ("3.2.0rc1", True),
        ("4.0", True),
        ("3.1.6.post1", True),
        ("3.1.5", False),
        ("3.1.6rc1", False),
        ("3.1.6.dev0", False),
        ("3.0.3", False),
        ("2.11.3", False),
        ("3.1", False),
        ("", False),
        ("unknown", False),
    ],
)
def test_versions_are_compared_as_releases(version: str, safe: bool) -> None:
    assert version_at_least(version, MIN_JINJA2) is safe


def test_the_installed_jinja2_passes() -> None:
    check_jinja2()


@pytest.fixture
def old_jinja2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dependencies, "jinja2_version", lambda: "3.1.5")


def test_a_command_with_an_old_jinja2_stops_with_one_clear_line(
    old_jinja2: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["models"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "autoglm-desktop: error: This app needs Jinja2 3.1.6 or newer to run models' chat "
        "templates safely, but version 3.1.5 is installed. Update it (pip install --upgrade "
        '"jinja2>=3.1.6") or reinstall the app.\n'
    )


def test_the_window_with_an_old_jinja2_shows_why_instead_of_opening(
    old_jinja2: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(window_command, "show_startup_error", shown.append)

    def must_not_open(**_kwargs: object) -> int:
        raise AssertionError("the window opened with an unsafe Jinja2")

    monkeypatch.setattr(window_command, "open_window", must_not_open)
    assert cli.main([]) == 2
    assert len(shown) == 1 and "Jinja2 3.1.6 or newer" in shown[0]
    assert "Jinja2 3.1.6 or newer" in capsys.readouterr().err


def test_a_missing_jinja2_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dependencies, "jinja2_version", lambda: None)
    with pytest.raises(DependencyError, match="it is not installed"):
        check_jinja2()


def test_a_frozen_app_without_package_metadata_asks_jinja2_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PyInstaller bundles do not carry jinja2's metadata unless asked: the module knows."""
    import jinja2

    def no_metadata(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", no_metadata)
    assert dependencies.jinja2_version() == jinja2.__version__
    check_jinja2()


def test_pyproject_declares_the_safe_jinja2() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [r for r in project["dependencies"] if re.match(r"(?i)jinja2\b", r)]
    assert [re.sub(r"\s", "", r) for r in declared] == ["jinja2>=3.1.6"]
