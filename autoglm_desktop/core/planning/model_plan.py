"""The plan a model file loads with on this machine: the window's, and ``serve``'s."""

from __future__ import annotations

from pathlib import Path

from autoglm_desktop.core.engine.build import LlamaBuild, restrict_to_build
from autoglm_desktop.core.machine.hardware import HardwareSnapshot, read_hardware
from autoglm_desktop.core.models.gguf_info import GGUFInfo, read_gguf_info
from autoglm_desktop.core.planning.overrides import load_overrides
from autoglm_desktop.core.planning.thread_probe import recall_threads
from autoglm_desktop.core.planning.tuner import TunedPlan, plan_for


def tuned_plan(
    path: Path,
    *,
    hardware: HardwareSnapshot | None,
    build: LlamaBuild,
    info: GGUFInfo | None = None,
) -> TunedPlan:
    """The tuner's plan for ``path`` on this machine (reads the file's header unless given).

    The settings the user fixed for this model and the thread count measured for it count.
    """
    usable = restrict_to_build(hardware or read_hardware(), build)
    info = info or read_gguf_info(path)
    return plan_for(
        info=info,
        hardware=usable,
        overrides=load_overrides(path),
        model_path=path,
        measured_threads=recall_threads(info=info, hardware=usable),
    )
