"""Checks, at start-up, that the libraries the app's safety relies on are recent enough.

Model files carry chat templates, which run in Jinja2's sandbox. Jinja2 before 3.1.6 has
sandbox escapes (CVE-2024-56201, CVE-2024-56326, CVE-2025-27516), so an older one is refused:
a model file must never run code. Version numbers are compared by hand: the ``packaging``
library is not one of the app's dependencies.
"""

from __future__ import annotations

import importlib.metadata
import re

from autoglm_desktop.core.common.errors import DependencyError

MIN_JINJA2 = (3, 1, 6)
_VERSION = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)")
_PRE_RELEASE = re.compile(r"[-_.]?(a|b|c|rc|alpha|beta|pre|preview|dev)", re.IGNORECASE)


def jinja2_version() -> str | None:
    """The installed Jinja2's version, or None when it is not installed."""
    try:
        return importlib.metadata.version("jinja2")
    except importlib.metadata.PackageNotFoundError:  # a frozen app may lack the metadata
        try:
            import jinja2
        except ImportError:
            return None
        return str(getattr(jinja2, "__version__", "0"))


def version_at_least(version: str, minimum: tuple[int, int, int]) -> bool:
    """Whether ``version`` (``"3.1.6"``, ``"3.2.0rc1"``...) is ``minimum`` or newer.

    A pre-release of ``minimum`` itself (``"3.1.6rc1"``) is older than it.
    """
    match = _VERSION.match(version.strip())
    if match is None:
        return False
    numbers = tuple(int(part or 0) for part in match.group(1, 2, 3))
    if numbers != minimum:
        return numbers > minimum
    return _PRE_RELEASE.match(match.group(4)) is None


def check_jinja2() -> None:
    """Refuse to start with a Jinja2 whose sandbox has known escapes.

    Raises:
        DependencyError: Jinja2 is missing or older than 3.1.6.
    """
    version = jinja2_version()
    if version is not None and version_at_least(version, MIN_JINJA2):
        return
    found = f"version {version} is installed" if version else "it is not installed"
    needed = ".".join(map(str, MIN_JINJA2))
    raise DependencyError(
        f"This app needs Jinja2 {needed} or newer to run models' chat templates safely, but "
        f'{found}. Update it (pip install --upgrade "jinja2>={needed}") or reinstall the app.'
    )
