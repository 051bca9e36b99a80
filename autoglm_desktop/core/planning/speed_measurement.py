"""Measure this PC's llama.cpp speed once, for the speed forecast.

The measurement writes synthetic models (zeros in llama.cpp's real layouts: the kernels do not
look at values): per weight type two too big for the CPU caches (256 MB), one 2048 wide whose
written tokens are timed (after a short prompt) and one 1024 wide whose prompts are, and one 512
wide, 24 layers, whose prompts set the type's cost per row; four small ones that vary only the
layer count, the sharing of KV heads and the vocabulary, and Q4_K models of other widths for the
width factors (every job in three interleaved turns, medians). A prompt, too, reads every weight
from memory, so it is timed on models as big and as deep as real ones: 4-layer models (15-100
MB) read prompts 15-35 % faster per weight than the same layers 24 deep, and forecasts fitted on
them came out that much too fast. It times each through llama.cpp, as the bench times real
models (a 256-token prompt, then the median gap between written tokens once settled), at the
thread counts the app runs with (one, and the tuner's ceilings for writing and for prompts), in
a child process (and, with a GPU, with every layer there, and with half, in three turns spread
over the measurement); it solves :mod:`speed_forecast`'s cost model for this machine by least
squares: about eight minutes on a 2-core laptop; :mod:`speed_profile` keeps the result.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.settings_file import write_json_object
from autoglm_desktop.core.engine.llama_timing import LlamaTiming, TimingJob, iter_timings
from autoglm_desktop.core.machine.hardware import HardwareSnapshot
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel, write_synthetic_gguf
from autoglm_desktop.core.planning.speed_forecast import (
    MEASURED_TYPES,
    PROMPT_BATCH_TOKENS,
    GpuSpeed,
    SpeedCoefficients,
    Workload,
    as_on_gpu,
    decode_terms,
    forecast_speed,
    last_token_seconds,
    memory_factor,
    prompt_terms,
    prompt_type_factors,
    repeating_layers_on_gpu,
    resident_share,
    width_factor,
    workload_of,
)
from autoglm_desktop.core.planning.speed_profile import (
    MachineSpeed,
    machine_key,
    save_machine_speed,
)
from autoglm_desktop.core.planning.tuner import thread_ceilings

PROMPT_TOKENS = 256  # as the bench's prompts (llama_timing's default)
DECODE_TOKENS = 32  # as the bench's
# A big model's written tokens are timed after a short prompt, apart from its prompts: what a
# longer context adds, the attention, is measured on the narrow models, and in a 512-wide
# model of 133 layers it would be a third of the bytes read, blurring the width factor.
STREAM_PROMPT_TOKENS = 8
STREAM_DECODE_TOKENS = 16
PROMPT_ONLY_DECODE_TOKENS = 3  # a job there for its prompt
STREAM_BYTES = 256_000_000  # a big model's weights: more than CPU caches hold
STREAM_MIN_LAYERS = 6
OUTPUT_TYPE = "q6_k"
OUTPUT_MODEL = f"output-{OUTPUT_TYPE}"
OUTPUT_FIT_ROUNDS = 3  # the fit, the output and cache factors, each given the others' last
# A Q4_K model a fifth the size of the CPU's last-level cache, whose reads stay there: a byte
# read from the cache costs what its written tokens took over what memory's cost gives them.
# On a cache too small for one 512-wide layer, none (real models do not fit in it either).
CACHE_MODEL = "cache-q4_k"
CACHE_MODEL_SHARE = 5
GPU_MEMORY_MODEL = "gpu-memory"
GPU_BATCH_MODEL = "gpu-batch"
# Prompts: the type models are 1024 wide (heads 128 long, the feed-forward 2.75 times as wide),
# so that 256 MB is ten layers or more of every type: a prompt of a model with few layers costs
# less per weight (a 4096-wide model of 2 layers 27 % less than one of 8), and real models have
# 16 to 40. A prompt's cost per weight falls with width as a + c / row length (per type, below);
# above two threads a 3072-wide model adds a width factor (below). Written tokens: the stream
# models, 2048 wide (as many 1-3B models), and Q4_K models 512 (the narrow one), 1024 (the type
# model) and 4096 wide for the decode width factors.
WIDTH_TYPE = "q4_k"
DECODE_REFERENCE_WIDTH = 2048
PROMPT_REFERENCE_WIDTH = 1024
# Each type's prompts are timed 1024 and 512 wide too: a prompt's dot products each cost
# something besides their weights (per row), and how much differs by type (the kernels): the
# 512-wide models, as deep as small real models, set that cost. (A Q4_K width factor for every
# type put the starter's Q4_1 prompts 32 % too fast, or, measured once, 2048-wide Q4_0 and
# Q5_K models' 12-27 % too slow.)
NARROW_WIDTH = 512
WIDTHS = (NARROW_WIDTH, 4096)  # the decode width factors' models (Q4_K)
WIDTH_TURNS = 3
# On many threads a wide model's prompt costs less per weight than the 1024-wide reference's:
# the H200 host's 3B (3072 wide) against its 0.5B (1280), per weight, 1.09 at 2 threads, 0.93
# at 8 and 0.69 at 16, and its prompts came out 13-25 % too slow on 16 in five runs. So above
# two threads a 3072-wide Q4_K model's prompts are timed too, 8 layers deep (520 MB: the
# 256 MB one 4096 wide has 3 layers, and gave this machine's 3B prompts a factor of 0.57-0.69,
# 9-27 % too fast); at two or fewer wider models take the reference's cost.
WIDE_PROMPT_WIDTH = 3072
WIDE_PROMPT_LAYERS = 8
WIDE_PROMPT_MIN_THREADS = 3
NARROW_MODEL_LAYERS = 24
GPU_NARROW_MODEL = "gpu-narrow"
GPU_MIDDLE_MODEL = "gpu-middle"
# With half its layers on the GPU, the narrow model (many layers of a real width, few bytes)
# sets the offload's cost per CPU layer, the memory model (big layers) per byte, and the
# middle one between them, so that one disturbed run does not set either alone (a narrow
# model's split runs once took 35 % longer than in the run before). All three share KV heads
# as real models do: split models that shared none (the narrow width model, the Q4_K type
# model) cost 1.6-2.6 ms a CPU layer against real models' ~0.6, and forecast their split
# prompts 20-33 % too slow.
OFFLOAD_MODELS = (GPU_NARROW_MODEL, GPU_MIDDLE_MODEL, GPU_MEMORY_MODEL)
ALL_LAYERS = 999  # n_gpu_layers for "every layer and the output on the GPU"
CALIBRATION_FILE = "speed_calibration.json"  # in the cache folder, beside the profile


@dataclass(frozen=True)
class SpeedMeasurementProgress:
    done: int
    total: int


def calibration_models(*, cache_bytes: int | None = None) -> dict[str, SyntheticModel]:
    """The synthetic models the measurement times, by name.

    ``type-*`` and ``stream-*``: each weight type in models too big for the CPU caches, 1024
    wide for its cost per weight of a prompt, 2048 wide for its cost per byte written;
    ``narrow-*``: each type 512 wide and 24 layers deep, for its cost per row of a prompt;
    ``tiny``, ``deep``, ``deep-shared-kv`` and ``wide-vocabulary``: the fixed costs per token,
    per layer (with and without shared KV heads) and per vocabulary entry; ``width-*``: Q4_K
    at other widths (the decode width factors, with ``narrow-q4_k``; the 3072-wide one's
    prompts, above two threads); with ``cache_bytes`` (the last-level cache), ``cache-q4_k``
    (see :data:`CACHE_MODEL`).
    """
    models = {f"type-{kind}": _big_model(PROMPT_REFERENCE_WIDTH, kind) for kind in MEASURED_TYPES}
    # At least STREAM_MIN_LAYERS deep: their prompts give each type's width factor, and a
    # prompt of a model with few layers costs less per weight (a 2048-wide Q8_0 one of 4 layers
    # 10 % less than one of 16; 256 MB of F16 is 2 layers).
    models |= {
        f"stream-{kind}": _at_least(_big_model(DECODE_REFERENCE_WIDTH, kind), STREAM_MIN_LAYERS)
        for kind in MEASURED_TYPES
    }
    # Models this narrow are small ones (SmolLM2-135M, Gemma 3 270M: 18-30 layers, 100-250 MB,
    # much of it vocabulary), and partly in the CPU's caches as they are: the narrow models are
    # as deep as they are, not 256 MB (133 layers), whose extra layers' overhead came out as a
    # 1.42 prompt factor on 16 threads and forecast their prompts 19-36 % too slow.
    models |= {
        f"narrow-{kind}": replace(_big_model(NARROW_WIDTH, kind), n_layer=NARROW_MODEL_LAYERS)
        for kind in MEASURED_TYPES
    }
    # Narrow layers (a few kilobytes of weights): their time is the per-layer overhead.
    narrow = SyntheticModel(n_embd=64, n_head=2, n_head_kv=2, head_dim=64, n_ff=128)
    models["tiny"] = replace(narrow, n_layer=1)
    models["deep"] = replace(narrow, n_layer=24)
    # Two query heads on one KV head: grouped-query attention, as most models since Llama 2.
    models["deep-shared-kv"] = replace(narrow, n_layer=24, n_head_kv=1)
    models["wide-vocabulary"] = SyntheticModel(
        n_layer=1, n_embd=64, n_head=2, n_head_kv=2, n_ff=128, vocab_size=262144
    )
    # A big vocabulary 2048 wide (Llama 3's, 215 MB in Q6_K, the output type of Q4_K_M files)
    # on two layers: its output matrix's cost per byte, against the stream models' layers.
    models[OUTPUT_MODEL] = replace(
        _big_model(DECODE_REFERENCE_WIDTH, OUTPUT_TYPE), n_layer=2, vocab_size=128256
    )
    for width in WIDTHS:
        if width != NARROW_WIDTH:  # that one is narrow-q4_k
            models[f"width-{width}"] = _big_model(width, WIDTH_TYPE)
    wide = _big_model(WIDE_PROMPT_WIDTH, WIDTH_TYPE)
    models[f"width-{WIDE_PROMPT_WIDTH}"] = replace(wide, n_layer=WIDE_PROMPT_LAYERS)
    cached = _cache_model(cache_bytes or 0)
    if cached is not None:
        models[CACHE_MODEL] = cached
    return models


def _cache_model(cache_bytes: int) -> SyntheticModel | None:
    """Q4_K layers of about a fifth of ``cache_bytes``: 1024 wide where one fits, else 512."""
    target = cache_bytes // CACHE_MODEL_SHARE
    for width in (PROMPT_REFERENCE_WIDTH, NARROW_WIDTH):
        layer = replace(_big_model(width, WIDTH_TYPE), n_layer=1)
        layers = target // layer.layer_bytes()[0]
        if layers >= 1:
            return replace(layer, n_layer=layers)
    return None


def _at_least(model: SyntheticModel, layers: int) -> SyntheticModel:
    return replace(model, n_layer=max(model.n_layer, layers))


def _big_model(width: int, weight_type: str) -> SyntheticModel:
    """A model ``width`` wide of about :data:`STREAM_BYTES` in ``weight_type``."""
    n_ff = max(256, round(width * 2.75 / 256) * 256)  # K-quant rows come in blocks of 256
    heads = max(1, width // 128)
    layer = SyntheticModel(
        n_layer=1, n_embd=width, n_head=heads, n_head_kv=heads, n_ff=n_ff, weight_type=weight_type
    )
    return replace(layer, n_layer=max(1, round(STREAM_BYTES / layer.layer_bytes()[0])))


def gpu_calibration_models() -> dict[str, SyntheticModel]:
    """The models timed on the GPU: fixed costs, real layers, and one big (1.5 GB)."""
    cpu = calibration_models()
    models: dict[str, SyntheticModel] = {n: cpu[n] for n in ("tiny", "wide-vocabulary") if n in cpu}
    # A GPU's cost per layer comes from 24 layers shaped as small real models' (query heads 64
    # long, four to a KV head), not the 64-wide deep ones (32 against 42 µs a written token on
    # the H200) nor the narrow width model (4 heads 128 long, none shared): real models' layers
    # took 25-40 % longer than its 36 µs, and their tokens came out that much too fast.
    models[GPU_NARROW_MODEL] = SyntheticModel(
        n_layer=NARROW_MODEL_LAYERS, n_embd=512, n_head=8, n_head_kv=2, n_ff=1536,
        weight_type=WIDTH_TYPE,
    )  # fmt: skip
    # Split, between the narrow and the memory model: 24 layers 1024 wide (152 MB).
    models[GPU_MIDDLE_MODEL] = SyntheticModel(
        n_layer=NARROW_MODEL_LAYERS, n_embd=1024, n_head=16, n_head_kv=4, n_ff=2816,
        weight_type=WIDTH_TYPE,
    )  # fmt: skip
    # A small model of real width: the GPU's cost per weight of a batch.
    models[GPU_BATCH_MODEL] = SyntheticModel(
        n_layer=4, n_embd=1024, n_head=8, n_head_kv=8, n_ff=2816, weight_type=WIDTH_TYPE
    )
    # The models a PC splits between GPU and CPU are 7-9B ones, mostly Q4_K_M: the memory
    # model is 12 layers of Llama 3 8B's shape in Q4_K (1.5 GB). (One of 28 2048-wide Q8_0
    # layers sent its bytes at 133 ps/B when split, a 3072-wide Q4_K model at ~185.)
    models[GPU_MEMORY_MODEL] = SyntheticModel(
        n_layer=12, n_embd=4096, n_head=32, n_head_kv=8, n_ff=14336, weight_type=WIDTH_TYPE
    )
    return models


def thread_counts_to_measure(hardware: HardwareSnapshot) -> list[int]:
    """The counts the app runs with: 1, the tuner's most for writing and for prompts, and half.

    Costs change with threads unevenly (memory saturates, arithmetic keeps scaling, barriers
    cost more), so the counts used are measured, not extrapolated; half the writing ceiling
    is there for a busy PC, whose count the tuner lowers.
    """
    writing, prompts = thread_ceilings(hardware)
    return sorted({1, max(1, writing // 2), writing, prompts})


def iter_measure_speed(
    *, hardware: HardwareSnapshot, threads: Sequence[int] | None = None
) -> Generator[SpeedMeasurementProgress | MachineSpeed, None, None]:
    """Measure, yielding progress, then the profile (also saved). Stop iterating to cancel.

    Raises:
        SpeedMeasurementError: llama.cpp failed on a calibration model.
    """
    counts = list(threads or thread_counts_to_measure(hardware))
    cache_bytes = hardware.cpu.last_level_cache_bytes or 0
    models = calibration_models(cache_bytes=cache_bytes)
    if CACHE_MODEL not in models:
        cache_bytes = 0  # no factor measured: none used
    if max(counts) < WIDE_PROMPT_MIN_THREADS:
        models.pop(f"width-{WIDE_PROMPT_WIDTH}", None)  # not timed: not written either
    gpu_name = hardware.gpus[0].name if hardware.gpus else None
    gpu_models = gpu_calibration_models() if gpu_name else {}
    work_dir = Path(tempfile.mkdtemp(prefix="speed-", dir=paths.cache_dir()))
    try:
        files = {
            name: write_synthetic_gguf(work_dir / f"{name}.gguf", model)
            for name, model in {**models, **gpu_models}.items()
        }
        # Every cost rests on one or two models: the width factors on one model each against
        # the type model, a type's cost per row on its narrow model against its type model, a
        # small model's token on the tiny models' fixed and per-layer costs (thread barriers,
        # which another program's spell sways most: one run each moved up to 26 % between two
        # runs on the H200 host's two cores), and each type's cost per byte written on one
        # stream model (one run of the Q4_1 one here took 26 ms a token, another 18; the Q5_K
        # type model's prompt 0.55 s, then 0.34 and 0.36). So every job is timed in
        # WIDTH_TURNS interleaved turns, and the medians taken.
        cpu_jobs = [
            job
            for _ in range(WIDTH_TURNS)
            for count in counts
            for name in models
            for job in _jobs(files, name, count)
        ]
        # Everything on the GPU (a token there takes a millisecond, which the host's hiccups
        # sway), and half the layers there, as a model too big for the GPU: each CPU layer's
        # batch goes over (per layer and per byte: narrow layers, middling, and big ones). (With
        # none there, the memory model sent its bytes a third faster than models split so.)
        both = {**models, **gpu_models}
        gpu_turn = [
            _job(files, name, threads=counts[-1], gpu_layers=ALL_LAYERS) for name in gpu_models
        ] + [
            _job(files, name, threads=counts[-1], gpu_layers=max(1, both[name].n_layer // 2))
            for name in (OFFLOAD_MODELS if gpu_name else ())
        ]
        # The GPU's turns are spread over the whole measurement, each after a share of the CPU's
        # jobs: a spell of load from other programs (tens of seconds on a shared host: the
        # narrow split model's three turns in a row once took 35 % longer than in the run
        # before) then sways one turn, which the median leaves out, not all three.
        jobs = []
        for turn in range(WIDTH_TURNS):
            share = slice(
                turn * len(cpu_jobs) // WIDTH_TURNS, (turn + 1) * len(cpu_jobs) // WIDTH_TURNS
            )
            jobs += cpu_jobs[share] + gpu_turn
        yield SpeedMeasurementProgress(done=0, total=len(jobs))
        timings: list[LlamaTiming] = []
        for timing in iter_timings(jobs=jobs):
            timings.append(timing)
            yield SpeedMeasurementProgress(done=len(timings), total=len(jobs))
        names = {path: name for name, path in files.items()}
        samples = [
            _Sample(names[t.job.model_path], workload_of(read_gguf_info(t.job.model_path)), t)
            for t in _medians(timings)
        ]
        _save_calibration_timings(
            samples, runs=timings, shapes={**models, **gpu_models}, cache_bytes=cache_bytes
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    speed = MachineSpeed(
        machine=machine_key(hardware),
        measured_at=time.time(),
        coefficients=tuple(_fit_cpu(count, samples, cache_bytes=cache_bytes) for count in counts),
        gpu=_fit_gpu_samples(gpu_name, samples, threads=counts[-1], cache_bytes=cache_bytes)
        if gpu_name
        else None,
    )
    save_machine_speed(speed)
    yield speed


def _save_calibration_timings(
    samples: Sequence[_Sample],
    *,
    runs: Sequence[LlamaTiming],
    shapes: Mapping[str, SyntheticModel],
    cache_bytes: int,
) -> None:
    """The timings the profile was fitted on and the models' shapes, kept beside it.

    How a forecast came about: ``bench/speed_refit.py`` refits them; each job's turns
    (prompt seconds, seconds per written token) show how much one run sways.
    """
    turns: dict[TimingJob, list[list[float]]] = {}
    for run in runs:
        turns.setdefault(run.job, []).append(
            [run.prompt_seconds, run.decode_seconds / max(1, run.decoded)]
        )
    write_json_object(
        paths.cache_dir() / CALIBRATION_FILE,
        {
            "cache_bytes": cache_bytes,
            "shapes": {name: asdict(shape) for name, shape in shapes.items()},
            "timings": [
                {
                    "model": s.name,
                    "threads": s.timing.job.threads,
                    "gpu": s.timing.job.gpu,
                    "gpu_layers": s.timing.job.n_gpu_layers,
                    "prompt_tokens": s.timing.job.prompt_tokens,
                    "decode_tokens": s.timing.job.decode_tokens,
                    "prompt_seconds": s.timing.prompt_seconds,
                    "seconds_per_written_token": s.timing.decode_seconds / s.timing.decoded,
                    "turns": turns.get(s.timing.job, []),
                }
                for s in samples
            ],
        },
    )


def _medians(timings: Sequence[LlamaTiming]) -> list[LlamaTiming]:
    """One timing per job: the median prompt time and token gap of its turns."""
    turns: dict[TimingJob, list[LlamaTiming]] = {}
    for timing in timings:
        turns.setdefault(timing.job, []).append(timing)
    return [
        LlamaTiming(
            job=job,
            prompt_seconds=statistics.median(t.prompt_seconds for t in runs),
            decode_seconds=statistics.median(t.decode_seconds / t.decoded for t in runs)
            * runs[0].decoded,
            decoded=runs[0].decoded,
        )
        for job, runs in turns.items()
    ]


@dataclass(frozen=True)
class _Sample:
    name: str
    workload: Workload
    timing: LlamaTiming


def _jobs(files: dict[str, Path], name: str, threads: int) -> list[TimingJob]:
    """The CPU jobs of one model: written tokens after a short prompt, or a prompt, or both."""
    writing = _job(files, name, threads=threads, prompt_tokens=STREAM_PROMPT_TOKENS)
    reading = _job(files, name, threads=threads, decode_tokens=PROMPT_ONLY_DECODE_TOKENS)
    if name.startswith("stream-"):
        return [writing, reading]
    if name in (OUTPUT_MODEL, CACHE_MODEL):
        return [writing]
    if name.startswith(("type-", "narrow-")):
        return [writing, reading] if name.endswith(f"-{WIDTH_TYPE}") else [reading]
    if name.startswith("width-"):
        width = int(name.removeprefix("width-"))
        if width == WIDE_PROMPT_WIDTH:
            return [reading] if threads >= WIDE_PROMPT_MIN_THREADS else []
        return [writing, reading] if width < PROMPT_REFERENCE_WIDTH else [writing]
    return [_job(files, name, threads=threads)]


def _is_big(name: str) -> bool:
    return name.startswith(("type-", "narrow-", "stream-", "width-", "output-", "cache-"))


def _job(
    files: dict[str, Path],
    name: str,
    *,
    threads: int,
    gpu_layers: int | None = None,
    prompt_tokens: int = PROMPT_TOKENS,
    decode_tokens: int | None = None,
) -> TimingJob:
    if decode_tokens is None:
        big = _is_big(name) and gpu_layers is None
        memory = name == GPU_MEMORY_MODEL and gpu_layers is not None and gpu_layers < ALL_LAYERS
        decode_tokens = STREAM_DECODE_TOKENS if big or memory else DECODE_TOKENS
    return TimingJob(
        model_path=files[name],
        threads=threads,
        n_gpu_layers=gpu_layers or 0,
        gpu=gpu_layers is not None,
        prompt_tokens=prompt_tokens,
        decode_tokens=decode_tokens,
    )


def _writes(timing: LlamaTiming) -> bool:
    """Whether the timing's written tokens count (not a job there for its prompt)."""
    return timing.job.decode_tokens > PROMPT_ONLY_DECODE_TOKENS


def _reads(timing: LlamaTiming) -> bool:
    """Whether the timing's prompt counts (not a short one before written tokens)."""
    return timing.job.prompt_tokens == PROMPT_TOKENS


def _fit_cpu(threads: int, samples: Sequence[_Sample], *, cache_bytes: int) -> SpeedCoefficients:
    mine = [s for s in samples if not s.timing.job.gpu and s.timing.job.threads == threads]
    small = [(s.workload, s.timing) for s in mine if not _is_big(s.name)]
    stream = [(s.workload, s.timing) for s in mine if s.name.startswith("stream-")]
    writing = [(w, t) for w, t in stream if _writes(t)]
    types = [
        (s.workload, s.timing)
        for s in mine
        if s.name.startswith(("type-", "narrow-")) and _reads(s.timing)
    ]
    output = [(s.workload, s.timing) for s in mine if s.name == OUTPUT_MODEL]
    cache = [(s.workload, s.timing) for s in mine if s.name == CACHE_MODEL]
    # The Q4_K type and narrow models (1024 and 512 wide) are decode width models too; their
    # written tokens, with the stream models' and the tiny ones', set the cost per row.
    widths = [
        (s.workload, s.timing)
        for s in mine
        if s.name.startswith("width-") or s.name in (f"type-{WIDTH_TYPE}", f"narrow-{WIDTH_TYPE}")
    ]
    writing += [(w, t) for w, t in widths if _writes(t)]
    factor = cached = 1.0
    for _ in range(OUTPUT_FIT_ROUNDS):
        coefficients = fit_coefficients(
            threads=threads,
            writing=small + writing,
            reading=small + types,
            output_factor=factor,
            fixed_from=small,
            cache_bytes=cache_bytes,
            cached_factor=cached,
        )
        factor = output_factor(coefficients, output) if output else 1.0
        if cache:
            coefficients = replace(coefficients, decode_output_factor=factor)
            widths_known = with_width_factors(
                coefficients, decode=[(w, t) for w, t in widths if _writes(t)], prompt=[]
            )
            cached = cached_factor(widths_known, cache)
    coefficients = replace(coefficients, decode_output_factor=factor, decode_cached_factor=cached)
    coefficients = with_type_width_factors(
        coefficients, prompt=[(w, t) for w, t in stream if _reads(t)]
    )
    return with_width_factors(
        coefficients,
        decode=[(w, t) for w, t in widths if _writes(t)],
        prompt=[(w, t) for w, t in widths if _reads(t) and w.width > PROMPT_REFERENCE_WIDTH],
    )


def _fit_gpu_samples(
    name: str, samples: Sequence[_Sample], *, threads: int, cache_bytes: int
) -> GpuSpeed:
    on_gpu = [s for s in samples if s.timing.job.gpu]
    full = [(s.workload, s.timing) for s in on_gpu if s.timing.job.n_gpu_layers >= ALL_LAYERS]
    split = [(s.workload, s.timing) for s in on_gpu if s.timing.job.n_gpu_layers < ALL_LAYERS]
    cpu = _fit_cpu(threads, samples, cache_bytes=cache_bytes)
    return fit_gpu(name=name, cpu=cpu, full=full, split=split)


Sample = tuple[Workload, LlamaTiming]


def fit_coefficients(
    *,
    threads: int,
    writing: Sequence[Sample],
    reading: Sequence[Sample],
    one_type: bool = False,
    output_factor: float = 1.0,
    fixed_from: Sequence[Sample] = (),
    cache_bytes: int = 0,
    cached_factor: float = 1.0,
) -> SpeedCoefficients:
    """Least-squares costs (none negative) explaining the timings of the calibration models.

    ``writing``: the timings whose written tokens are fitted (models streamed from memory, and
    the small ones for the fixed costs); ``reading``: those whose prompts are (the same).
    ``one_type``: one cost per byte and per weight for all weight types, and none per row (a
    GPU, whose memory is fast enough that small models cannot tell the types apart).
    ``output_factor``: the output matrix's cost per byte relative to its type's.
    ``fixed_from``: the small models alone set a written token's fixed costs (per token, layer,
    shared-KV layer and vocabulary entry), and the others' remaining time its costs per byte
    and per row: fitted together, the cost per row took the per-layer cost's share as well
    (0 µs a layer), and small narrow models of many layers came out 20-30 % too fast.
    ``cache_bytes`` and ``cached_factor``: the last-level cache and a byte's cost read from it,
    relative to memory (see :func:`memory_factor`).
    """
    cache = SpeedCoefficients(
        threads=threads,
        decode_fixed=0.0,
        decode_per_layer=0.0,
        decode_per_vocab=0.0,
        cache_bytes=cache_bytes,
        decode_cached_factor=cached_factor,
    )
    decode_rows, decode_times = [], []
    for workload, timing in writing:
        context = timing.job.prompt_tokens
        decode_rows.append(
            decode_terms(
                workload,
                context_tokens=context,
                output_factor=output_factor,
                memory=memory_factor(cache, workload.read_bytes(context)),
                cached=cached_factor,
            )
        )
        decode_times.append(timing.decode_seconds / timing.decoded)
    if fixed_from and not one_type:
        decode = _solve_fixed_first(
            decode_rows, decode_times, fixed=[id(t) for _, t in fixed_from], writing=writing
        )
    else:
        decode = _solve(decode_rows, decode_times, fixed_columns=4, one_type=one_type)
    n_types = len(MEASURED_TYPES)
    costs = dict(zip(MEASURED_TYPES, decode[4 : 4 + n_types], strict=True))
    partial = SpeedCoefficients(
        threads=threads,
        decode_fixed=decode[0],
        decode_per_layer=decode[1],
        decode_per_shared_kv_layer=decode[2],
        decode_per_vocab=decode[3],
        decode_per_byte=costs,
        decode_per_row=decode[4 + n_types],
        decode_output_factor=output_factor,
        cache_bytes=cache_bytes,
        decode_cached_factor=cached_factor,
    )
    prompt_rows, prompt_times = [], []
    for workload, timing in reading:
        tokens = timing.job.prompt_tokens
        prompt_rows.append(prompt_terms(workload, prompt_tokens=tokens))
        # The last token's logits and sampling are the writing costs' share of a prompt.
        last = last_token_seconds(workload, partial)
        prompt_times.append(max(0.0, timing.prompt_seconds - last) / tokens)
    prompt = _solve(prompt_rows, prompt_times, fixed_columns=3, one_type=one_type)
    return replace(
        partial,
        prompt_fixed=prompt[0],
        prompt_per_layer=prompt[1],
        prompt_per_shared_kv_layer=prompt[2],
        prompt_per_weight=dict(zip(MEASURED_TYPES, prompt[3 : 3 + n_types], strict=True)),
        prompt_per_row=dict(zip(MEASURED_TYPES, prompt[3 + n_types :], strict=True)),
    )


def with_width_factors(
    coefficients: SpeedCoefficients, *, decode: Sequence[Sample], prompt: Sequence[Sample]
) -> SpeedCoefficients:
    """``coefficients`` with the width factors the width models' timings give.

    Each factor is what the model's weights took, once the fitted fixed, per-layer,
    vocabulary and attention costs are taken off, over what the fitted cost per weight type
    gives them; the reference widths (the calibration models') are 1 by definition.
    """
    decode_factors = {DECODE_REFERENCE_WIDTH: 1.0}
    for workload, timing in decode:
        memory = _memory(coefficients, workload, timing)
        terms = decode_terms(
            workload,
            context_tokens=timing.job.prompt_tokens,
            output_factor=coefficients.decode_output_factor,
            memory=memory,
            cached=coefficients.decode_cached_factor,
        )
        weights = _weights_part(workload.layer_bytes, coefficients.decode_per_byte) * memory
        other = _dot(_decode_costs(coefficients), terms) - weights
        measured = timing.decode_seconds / timing.decoded
        decode_factors[workload.width] = _factor(measured - other, weights)
    with_decode = replace(
        coefficients,
        decode_width_factors=_monotone(decode_factors, reference=DECODE_REFERENCE_WIDTH),
    )
    prompt_factors = {PROMPT_REFERENCE_WIDTH: 1.0}
    for workload, timing in prompt:
        factors = prompt_type_factors(coefficients, workload.width)
        weights, other = _prompt_parts(coefficients, workload, timing, type_factors=factors)
        measured = max(0.0, timing.prompt_seconds - last_token_seconds(workload, with_decode))
        per_token = measured / timing.job.prompt_tokens
        prompt_factors[workload.width] = _factor(per_token - other, weights)
    return replace(
        with_decode,
        prompt_width_factors=_monotone(prompt_factors, reference=PROMPT_REFERENCE_WIDTH),
    )


def output_factor(coefficients: SpeedCoefficients, output: Sequence[Sample]) -> float:
    """The output matrix's cost per byte over its type's, from models with a big vocabulary.

    What their tokens took beyond the fitted costs of everything else (the vocabulary's
    sampling among them), over what the type's cost per byte gives their output matrices.
    """
    found = []
    for workload, timing in output:
        memory = _memory(coefficients, workload, timing)
        terms = decode_terms(
            workload,
            context_tokens=timing.job.prompt_tokens,
            output_factor=0.0,
            memory=memory,
            cached=coefficients.decode_cached_factor,
        )
        other = _dot(_decode_costs(coefficients), terms)
        matrix = _weights_part(workload.output_bytes, coefficients.decode_per_byte) * memory
        found.append(_factor(timing.decode_seconds / timing.decoded - other, matrix))
    return statistics.median(found)


def cached_factor(coefficients: SpeedCoefficients, cache: Sequence[Sample]) -> float:
    """A byte's cost read from the last-level cache over one from memory (0.05 to 1).

    From models whose reads the cache holds (:data:`CACHE_MODEL`): what their tokens took
    beyond the fitted costs of everything else, over what their bytes cost from memory (the
    width factor at their width included), given the share of their reads the cache serves.
    """
    found = []
    for workload, timing in cache:
        context = timing.job.prompt_tokens
        share = resident_share(workload.read_bytes(context), coefficients.cache_bytes)
        if share <= 0:
            continue
        terms = {
            memory: decode_terms(
                workload,
                context_tokens=context,
                width_factor=width_factor(coefficients.decode_width_factors, workload.width),
                output_factor=coefficients.decode_output_factor,
                memory=memory,
                cached=coefficients.decode_cached_factor,
            )
            for memory in (0.0, 1.0)
        }
        other = _dot(_decode_costs(coefficients), terms[0.0])
        from_memory = _dot(_decode_costs(coefficients), terms[1.0]) - other
        ratio = _factor(timing.decode_seconds / timing.decoded - other, from_memory)
        found.append(1.0 - (1.0 - ratio) / share)  # ratio = 1 - share * (1 - factor)
    return min(1.0, max(0.05, statistics.median(found))) if found else 1.0


def _memory(coefficients: SpeedCoefficients, workload: Workload, timing: LlamaTiming) -> float:
    """The memory factor of a calibration model's written tokens (see :func:`memory_factor`)."""
    return memory_factor(coefficients, workload.read_bytes(timing.job.prompt_tokens))


def with_type_width_factors(
    coefficients: SpeedCoefficients, *, prompt: Sequence[Sample]
) -> SpeedCoefficients:
    """``coefficients`` with each type's prompt width factor, from models of one type each.

    A factor is what the model's weights and rows took, the rest of the fitted costs taken
    off, over what the type's fitted costs give them; at the type models' width it is 1.
    """
    factors: dict[str, dict[int, float]] = {}
    for workload, timing in prompt:
        kind = max(workload.weights_per_token, key=lambda k: workload.weights_per_token[k])
        weights, other = _prompt_parts(coefficients, workload, timing, type_factors={})
        measured = max(0.0, timing.prompt_seconds - last_token_seconds(workload, coefficients))
        factor = _factor(measured / timing.job.prompt_tokens - other, weights)
        factors.setdefault(kind, {PROMPT_REFERENCE_WIDTH: 1.0})[workload.width] = factor
    return replace(coefficients, prompt_type_width_factors=factors)


def _prompt_parts(
    costs: SpeedCoefficients,
    workload: Workload,
    timing: LlamaTiming,
    *,
    type_factors: Mapping[str, float],
) -> tuple[float, float]:
    """A prompt token's seconds for the layers' weights and rows, and for everything else."""
    tokens = timing.job.prompt_tokens
    vector = _prompt_cost_vector(costs)
    full = _dot(vector, prompt_terms(workload, prompt_tokens=tokens, type_factors=type_factors))
    bare = replace(workload, weights_per_token={}, rows_per_token={})
    other = _dot(vector, prompt_terms(bare, prompt_tokens=tokens))
    return full - other, other


def _monotone(factors: dict[int, float], *, reference: int) -> dict[int, float]:
    """Factors that never rise with width, anchored at the reference width's 1.

    A wider row never costs more per weight: from the reference outwards, a narrower width
    takes at least the factor of the next wider one, a wider width at most that of the next
    narrower one, so one disturbed sample cannot turn the curve around.
    """
    result = {reference: 1.0}
    bound = 1.0
    for width in sorted((w for w in factors if w < reference), reverse=True):
        bound = max(bound, factors[width])
        result[width] = bound
    bound = 1.0
    for width in sorted(w for w in factors if w > reference):
        bound = min(bound, factors[width])
        result[width] = bound
    return dict(sorted(result.items()))


def _weights_part(amounts: Mapping[str, int], costs: Mapping[str, float]) -> float:
    return sum(amount * costs.get(kind, 0.0) for kind, amount in amounts.items())


def _decode_costs(c: SpeedCoefficients) -> list[float]:
    return (
        [
            c.decode_fixed,
            c.decode_per_layer,
            c.decode_per_shared_kv_layer,
            c.decode_per_vocab,
        ]
        + [c.decode_per_byte.get(kind, 0.0) for kind in MEASURED_TYPES]
        + [c.decode_per_row]
    )


def _prompt_cost_vector(c: SpeedCoefficients) -> list[float]:
    return (
        [c.prompt_fixed, c.prompt_per_layer, c.prompt_per_shared_kv_layer]
        + [c.prompt_per_weight.get(kind, 0.0) for kind in MEASURED_TYPES]
        + [c.prompt_per_row.get(kind, 0.0) for kind in MEASURED_TYPES]
    )


def _dot(costs: Sequence[float], amounts: Sequence[float]) -> float:
    return sum(c * a for c, a in zip(costs, amounts, strict=True))


def _factor(seconds: float, reference: float) -> float:
    """A width factor, kept within 1/4 to 4 (a timing disturbed by other programs)."""
    if reference <= 0:
        return 1.0
    return min(4.0, max(0.25, seconds / reference))


def _solve_fixed_first(
    rows: list[list[float]], times: list[float], *, fixed: list[int], writing: Sequence[Sample]
) -> list[float]:
    """A written token's costs: the first four columns from the ``fixed`` samples, then the rest."""
    small = [i for i, (_, timing) in enumerate(writing) if id(timing) in fixed]
    first = _nonnegative_least_squares([rows[i][:4] for i in small], [times[i] for i in small])
    others = [i for i in range(len(rows)) if i not in small]
    if not others:  # nothing big timed: no cost per byte or per row measured
        return first + [0.0] * (len(rows[0]) - 4)
    remaining = [max(times[i] - _dot(first, rows[i][:4]), 1e-9) for i in others]
    rest = _nonnegative_least_squares([rows[i][4:] for i in others], remaining)
    return first + rest


def _solve(
    rows: list[list[float]], times: list[float], *, fixed_columns: int, one_type: bool
) -> list[float]:
    """Costs per column; with ``one_type``, the first type columns share one cost.

    Columns: ``fixed_columns``, one per measured type, then the costs per row (which
    ``one_type`` leaves at 0).
    """
    if not one_type:
        return _nonnegative_least_squares(rows, times)
    n_types = len(MEASURED_TYPES)
    typed = slice(fixed_columns, fixed_columns + n_types)
    merged = [[*row[:fixed_columns], sum(row[typed])] for row in rows]
    solved = _nonnegative_least_squares(merged, times)
    extra = len(rows[0]) - fixed_columns - n_types if rows else 0
    return solved[:fixed_columns] + [solved[fixed_columns]] * n_types + [0.0] * extra


def fit_gpu_layers(*, threads: int, full: Sequence[Sample]) -> SpeedCoefficients:
    """The GPU's costs from runs with every layer there (one cost per byte for all types).

    The layers are counted as :func:`as_on_gpu` has them: fitted freely, a cost per shared-KV
    layer (only the memory model's layers share KV heads) took that model's bytes (29 µs a
    layer, 0 per byte) and small real models' tokens came out 22-40 % too slow on the H200.
    """
    return fit_coefficients(
        threads=threads,
        writing=[(as_on_gpu(work, writing=True), timing) for work, timing in full],
        reading=[(as_on_gpu(work, writing=False), timing) for work, timing in full],
        one_type=True,
    )


def fit_gpu(
    *,
    name: str,
    cpu: SpeedCoefficients,
    full: Sequence[Sample],
    split: Sequence[Sample],
) -> GpuSpeed:
    """The GPU's costs: runs with every layer there, and runs with some layers on the CPU.

    With layers left on the CPU, what a prompt costs beyond the GPU's products is the offload
    of each CPU layer's batch: a round trip per product (per layer) and the weights sent over
    (per byte). Models split so, one of many narrow layers, one of big ones (the memory
    model) and one between, tell the two apart.
    """
    bare = GpuSpeed(
        name=name, coefficients=fit_gpu_layers(threads=cpu.threads, full=full), upload_per_byte=0.0
    )
    rows, extras = [], []
    for workload, timing in split:
        tokens = timing.job.prompt_tokens
        gpu_layers = timing.job.n_gpu_layers
        forecast = forecast_speed(
            workload=workload,
            profile=[cpu],
            threads=cpu.threads,
            prompt_tokens=tokens,
            gpu=bare,
            gpu_layers=gpu_layers,
        )
        assert forecast is not None
        batches = -(-tokens // PROMPT_BATCH_TOKENS)
        extra = (timing.prompt_seconds - tokens / forecast.prompt_tokens_per_s) / batches
        cpu_layers = workload.n_layer - repeating_layers_on_gpu(workload, gpu_layers)
        sent = cpu_layers / max(1, workload.n_layer) * sum(workload.layer_bytes.values())
        rows.append([float(cpu_layers), sent])
        extras.append(max(extra, 1e-9))
    per_layer, per_byte = _nonnegative_least_squares(rows, extras)
    return replace(bare, upload_per_byte=per_byte, offload_per_layer=per_layer)


def _nonnegative_least_squares(rows: list[list[float]], times: list[float]) -> list[float]:
    """Least squares with every coefficient ≥ 0: drop negative ones and solve again.

    Rows are scaled to relative error first, so a 2 ms model counts as much as a 200 ms one.
    """
    matrix = np.asarray(rows, dtype=float)
    target = np.asarray(times, dtype=float)
    weight = 1.0 / np.maximum(target, 1e-9)
    matrix, target = matrix * weight[:, None], target * weight
    scale = np.maximum(np.abs(matrix).max(axis=0), 1e-30)  # columns of bytes vs counts
    active = np.abs(matrix).max(axis=0) > 0  # a column no model exercises costs nothing
    solution = np.zeros(matrix.shape[1])
    for _ in range(matrix.shape[1]):
        solved, *_ = np.linalg.lstsq(matrix[:, active] / scale[active], target, rcond=None)
        solution[:] = 0.0
        solution[active] = solved / scale[active]
        if (solution >= 0).all():
            break
        active &= solution > 0
    return [float(max(0.0, value)) for value in solution]
