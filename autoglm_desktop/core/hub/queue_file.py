"""Where the download queue is kept, and whether it holds unfinished work.

Kept apart from :mod:`core.hub.downloads` so the window can ask at start-up without loading
the hub client (huggingface_hub and the HTTP stack take a third of a second to import).
"""

from __future__ import annotations

from pathlib import Path

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.settings_file import read_json_object

UNFINISHED_STATES = frozenset({"queued", "running"})


def state_file_path() -> Path:
    return paths.data_dir() / "downloads.json"


def has_unfinished_downloads() -> bool:
    """Whether a download is waiting to start or continue (the app quit while it ran)."""
    jobs = read_json_object(state_file_path()).get("jobs")
    if not isinstance(jobs, list):
        return False
    return any(isinstance(job, dict) and job.get("state") in UNFINISHED_STATES for job in jobs)
