"""The plan a model loads with on this PC now: the window and ``chat`` use this one function.

It reads the file's header, keeps only the GPUs the installed llama.cpp can use, applies the
settings the user fixed for the model and the thread count measured for it.
"""

from __future__ import annotations

from dataclasses import replace
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
    n_ctx: int | None = None,
) -> TunedPlan:
    """The tuner's plan for ``path`` on this machine (reads the file's header unless given).

    Args:
        path: the model file.
        hardware: live readings (None: read now).
        build: the installed llama.cpp's backends.
        info: the file's header, when already read.
        n_ctx: a context size fixed for this load (else the saved one, or the tuner's).

    Raises:
        ModelFileError: the file is missing, not a model, or damaged.
    """
    usable = restrict_to_build(hardware or read_hardware(), build)
    info = info or read_gguf_info(path)
    overrides = load_overrides(path)
    if n_ctx is not None:
        overrides = replace(overrides, n_ctx=n_ctx)
    return plan_for(
        info=info,
        hardware=usable,
        overrides=overrides,
        model_path=path,
        measured_threads=recall_threads(info=info, hardware=usable),
    )
