"""Qt-specific test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autoglm_desktop.core.common import paths


@pytest.fixture
def installed_model(app_home: Path, starter_model: Path) -> Path:
    """The starter model, linked into the (temporary) app's models folder as a user has it."""
    link = paths.models_dir() / starter_model.name
    os.symlink(starter_model, link)
    return link
