"""Run the core's tests with PySide6 made unimportable, proving the core works without Qt.

The core's tests: tests/core, and the remote engine's in tests/remote/test_remote_client.py.

Usage: ``python tests/run_core_without_qt.py [extra pytest args]``. Exits with pytest's code.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from pathlib import Path

import pytest

BLOCKED_PACKAGES = frozenset({"PySide6", "shiboken6"})
CORE_TESTS = Path(__file__).resolve().parent / "core"
# The remote engine's core tests sit with their servers, in tests/remote.
REMOTE_CORE_TESTS = Path(__file__).resolve().parent / "remote" / "test_remote_client.py"

# pytest-qt's settings in pyproject.toml; with the plugin off, --strict-config would reject them.
PYTEST_QT_INI_KEYS = (
    "qt_api",
    "qt_log_level_fail",
    "qt_log_ignore",
    "qt_log_format",
    "qt_no_exception_capture",
    "qt_default_raising",
    "qt_wait_signal_raising",
    "qt_qapp_name",
)


class QtBlocker(importlib.abc.MetaPathFinder):
    """Makes every import of PySide6 or shiboken6 fail, as on a machine without Qt."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in BLOCKED_PACKAGES:
            raise ModuleNotFoundError(
                f"{fullname} is blocked: the core must work without Qt", name=fullname
            )
        return None


class PytestQtIniKeys:
    """Declares pytest-qt's ini keys so the config stays valid with the plugin disabled."""

    @staticmethod
    def pytest_addoption(parser: pytest.Parser) -> None:
        for key in PYTEST_QT_INI_KEYS:
            parser.addini(key, help="pytest-qt setting (unused: Qt is blocked in this run)")


def main(extra_args: Sequence[str]) -> int:
    already_loaded = BLOCKED_PACKAGES & {name.partition(".")[0] for name in sys.modules}
    if already_loaded:
        print(f"error: {sorted(already_loaded)} imported before the blocker", file=sys.stderr)
        return 2
    sys.meta_path.insert(0, QtBlocker())
    # The plugin registers as "pytest-qt" (its entry point name), so that is what -p no: takes.
    args = [str(CORE_TESTS), str(REMOTE_CORE_TESTS), "-p", "no:pytest-qt", *extra_args]
    return int(pytest.main(args, plugins=[PytestQtIniKeys()]))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
