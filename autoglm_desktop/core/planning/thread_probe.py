"""An optional quick measurement of decode speed at candidate thread counts, remembered.

The tuner's rule (threads = cores idle now) is right on most machines, but hybrid CPUs,
SMT and memory bandwidth can make fewer threads faster. :func:`probe_threads` loads the model
once per candidate and decodes a few dozen tokens (a few seconds for small models); the winner
is stored per machine, model and CPU load level in ``thread_probe.json`` under the cache folder,
and :func:`recall_threads` hands it to ``tuner.plan_for(measured_threads=...)`` next time.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.settings_file import read_json_object, write_json_object
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings
from autoglm_desktop.core.engine import EngineClient, EngineEvent, GenerationFinished
from autoglm_desktop.core.machine.hardware import HardwareSnapshot, idle_cores
from autoglm_desktop.core.models.gguf_info import GGUFInfo

PROBE_FILE = "thread_probe.json"
PROBE_PROMPT = "Write a short story about a lighthouse keeper."
DEFAULT_PROBE_TOKENS = 32


@dataclass(frozen=True)
class ThreadMeasurement:
    threads: int
    tokens_per_s: float


@dataclass(frozen=True)
class ThreadProbeResult:
    best_threads: int
    measurements: tuple[ThreadMeasurement, ...]


# Something that runs one generation with a plan and returns its events (the engine, or a fake).
Generate = Callable[[LoadPlan, int], Iterable[EngineEvent]]


def candidate_threads(hardware: HardwareSnapshot) -> list[int]:
    """1 up to the usable cores."""
    usable = max(1, hardware.cpu.usable_cores or 1)
    return list(range(1, usable + 1))


def iter_probe_threads(
    *,
    plan: LoadPlan,
    candidates: Sequence[int],
    tokens: int = DEFAULT_PROBE_TOKENS,
    generate: Generate | None = None,
) -> Iterator[ThreadMeasurement]:
    """Decode ``tokens`` tokens at each thread count, yielding each result as it comes.

    Stop iterating to cancel: nothing runs between two candidates.

    Raises:
        AutoGLMError: the model cannot be loaded or generation fails.
    """
    run = generate or _engine_generate
    for threads in candidates:
        candidate = replace(
            plan, n_threads=threads, n_threads_batch=threads, adaptive_threads=False
        )
        speed = 0.0
        for event in run(candidate, tokens):
            if isinstance(event, GenerationFinished):
                speed = event.stats.tokens_per_s
        yield ThreadMeasurement(threads=threads, tokens_per_s=speed)


def best_of(measurements: Iterable[ThreadMeasurement]) -> ThreadProbeResult:
    """The fastest thread count (the fewer threads on a tie)."""
    measured = tuple(measurements)
    best = max(measured, key=lambda m: (m.tokens_per_s, -m.threads))
    return ThreadProbeResult(best_threads=best.threads, measurements=measured)


def probe_threads(
    *,
    plan: LoadPlan,
    candidates: Sequence[int],
    tokens: int = DEFAULT_PROBE_TOKENS,
    generate: Generate | None = None,
) -> ThreadProbeResult:
    """Decode ``tokens`` tokens at each thread count and return the fastest."""
    return best_of(
        iter_probe_threads(plan=plan, candidates=candidates, tokens=tokens, generate=generate)
    )


def _engine_generate(plan: LoadPlan, tokens: int) -> list[EngineEvent]:
    client = EngineClient(log_path=paths.engine_log_path())  # llama.cpp output: never the terminal
    try:
        for _ in client.load(plan):
            pass
        sampling = SamplingSettings(max_tokens=tokens, temperature=0.0, seed=1)
        turns = [ChatTurn(role=Role.USER, content=PROBE_PROMPT)]
        return list(client.generate(turns=turns, sampling=sampling))
    finally:
        client.shutdown()


# ------------------------------------------------------------------------------ memory


def machine_key(hardware: HardwareSnapshot) -> str:
    cpu = hardware.cpu
    features = ",".join(sorted(cpu.features or ()))
    text = f"{hardware.system}|{hardware.machine}|{cpu.logical_cores}|{cpu.physical_cores}|"
    return hashlib.sha256((text + features).encode()).hexdigest()[:16]


def model_key(info: GGUFInfo) -> str:
    return f"{info.path.name}|{info.file_size}"


def busy_level(hardware: HardwareSnapshot) -> str:
    """Whole cores busy with other programs, as the key of a measurement."""
    usable = hardware.cpu.usable_cores or 1
    return str(max(0, math.floor(usable - idle_cores(hardware) + 0.5)))


def remember_threads(
    result: ThreadProbeResult,
    *,
    info: GGUFInfo,
    hardware: HardwareSnapshot,
    store: Path | None = None,
) -> None:
    """Store the fastest thread count for this machine, model and load level.

    Raises:
        SettingsFileError: the file could not be written.
    """
    path = store or paths.cache_dir() / PROBE_FILE
    data = read_json_object(path)
    entry = data.setdefault(machine_key(hardware), {}).setdefault(model_key(info), {})
    entry[busy_level(hardware)] = {
        "threads": result.best_threads,
        "tokens_per_s": {str(m.threads): round(m.tokens_per_s, 2) for m in result.measurements},
        "measured_at": time.time(),
    }
    write_json_object(path, data, indent=1)


def recall_threads(
    *, info: GGUFInfo, hardware: HardwareSnapshot, store: Path | None = None
) -> int | None:
    """The remembered best thread count for this machine, model and load level, if any."""
    data = read_json_object(store or paths.cache_dir() / PROBE_FILE)
    entry = data.get(machine_key(hardware), {}).get(model_key(info), {}).get(busy_level(hardware))
    threads = entry.get("threads") if isinstance(entry, dict) else None
    return threads if isinstance(threads, int) and threads > 0 else None
