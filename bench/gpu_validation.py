"""The estimator and the tuner on an NVIDIA GPU: predicted vs measured VRAM, tokens/s, OOM checks.

Runs on the GPU machine (``bench/gpu_validation.sh`` installs the CUDA build of llama-cpp-python
first). Synthetic 1B/3B/8B llama-shaped models are written as sparse files on the spot. Parts:

``dry``      llama.cpp's own GPU compute buffers (a dry-run load that allocates nothing) across
             n_gpu_layers × n_ctx × KV type × micro-batch, next to the estimate (calibration).
``plans``    the tuner's plan on the whole GPU for each model × n_ctx × KV type: VRAM of the
             engine process (NVML) vs the estimate, and decode/prompt tokens/s.
``squeeze``  another process (PyTorch) takes most of the VRAM, leaving a few GiB; the auto plan
             for the 8B-shaped model is loaded (does it run out of memory?), then the most
             n_gpu_layers that really load and generate is searched for, to compare.

    python bench/gpu_validation.py --out DIR [--parts dry plans squeeze] [--deadline SECONDS]

It writes ``gpu_tables.txt`` (the tables) and ``gpu_rows.jsonl`` (every measurement) to DIR.
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
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

import estimate_accuracy as ea

from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.machine import hardware
from autoglm_desktop.core.models.gguf_info import GGUFInfo, read_gguf_info
from autoglm_desktop.core.planning.estimate import estimate_memory, max_gpu_layers
from autoglm_desktop.core.planning.tuner import memory_budget, plan_for

MIB = 1 << 20
GIB = 1 << 30
MODELS = (("1b", "q8_0", 20), ("3b", "q4_0", 20), ("8b", "q4_0", 20))
SQUEEZE_MODEL = ("8b", "q4_0", 20)
TOKENS = 64

# Holds GPU memory for the squeeze: reads a target of free bytes per line from stdin, frees
# what it holds and allocates down to that target, answers "ready <free bytes>".
_HOG = r"""
import sys, torch
torch.zeros(1, device="cuda")
held = []
for line in sys.stdin:
    target = int(line)
    held.clear()
    torch.cuda.empty_cache()
    for _ in range(4):
        free, _total = torch.cuda.mem_get_info()
        extra = free - target
        if extra < 32 * 2**20:
            break
        held.append(torch.empty(extra, dtype=torch.uint8, device="cuda"))
    print("ready", torch.cuda.mem_get_info()[0], flush=True)
"""


class Report:
    """Prints to stdout and to the tables file; appends JSON rows."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.tables: TextIO = (out / "gpu_tables.txt").open("a")
        self.rows = out / "gpu_rows.jsonl"

    def line(self, text: str = "") -> None:
        print(text, flush=True)
        self.tables.write(text + "\n")
        self.tables.flush()

    def row(self, kind: str, data: dict[str, Any]) -> None:
        with self.rows.open("a") as out:
            out.write(json.dumps({"part": kind, **data}) + "\n")


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def model_path(shape: str, weight: str) -> Path:
    return ea.synthetic_model(shape, weight)


def gpus_now() -> tuple[hardware.GpuReading, ...]:
    return tuple(hardware.read_nvidia_gpus())


# --------------------------------------------------------------------------------- dry runs

_DRY_SWEEP = r"""
import os, sys
import llama_cpp.llama_cpp as L
types = {"f16": 1, "q8_0": 8}
path, ngl, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
mp = L.llama_model_default_params()
mp.no_alloc = True
mp.load_mode = 0
mp.n_gpu_layers = ngl
model = L.llama_model_load_from_file(path.encode(), mp)
for config in configs:
    n_ctx, kv, ubatch = config.split(",")
    os.write(2, f"@@CONFIG {config}\n".encode())
    cp = L.llama_context_default_params()
    cp.n_ctx = int(n_ctx)
    cp.n_batch = cp.n_ubatch = int(ubatch)
    cp.flash_attn_type = 1
    cp.type_k = cp.type_v = types[kv]
    cp.swa_full = False
    ctx = L.llama_init_from_model(model, cp)
    L.llama_free(ctx)
os.write(2, b"@@END\n")
L.llama_model_free(model)
"""
_COMPUTE = re.compile(r"(\S+) compute buffer size =\s+([\d.]+) MiB")


def dry_sweep(path: Path, ngl: int, configs: list[tuple[int, str, int]]) -> dict[tuple, dict]:
    args = [f"{n_ctx},{kv},{ubatch}" for n_ctx, kv, ubatch in configs]
    done = subprocess.run(
        [sys.executable, "-c", _DRY_SWEEP, str(path), str(ngl), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    found: dict[tuple, dict] = {}
    current: tuple | None = None
    for text in done.stderr.splitlines():
        if text.startswith("@@CONFIG "):
            n_ctx, kv, ubatch = text.split()[1].split(",")
            current = (int(n_ctx), kv, int(ubatch))
            found[current] = {}
        elif current is not None and (match := _COMPUTE.search(text)):
            found[current][match.group(1)] = float(match.group(2))
    if done.returncode != 0:
        print(f"dry run {path.name} ngl={ngl}: rc {done.returncode}", done.stderr[-2000:])
    return found


def part_dry(report: Report, deadline: Deadline) -> None:
    gpus = gpus_now()
    report.line("## llama.cpp's GPU compute buffer (dry run) vs the estimate, flash attention")
    header = (
        f"{'model':10} {'ngl':>4} {'n_ctx':>6} {'KV':5} {'ubatch':>6} | {'CUDA0':>8} {'pred':>8} "
        f"| {'CUDA_Host':>9} | {'CPU':>7} {'pred CPU':>8}"
    )
    report.line(header)
    report.line("-" * len(header))
    for shape, weight, _ in MODELS:
        path = model_path(shape, weight)
        info = read_gguf_info(path)
        n_layer = max_gpu_layers(info) - 1
        for ngl in sorted({0, 1, 2, n_layer // 2, n_layer, n_layer + 1}):
            if deadline.left() < 20:
                report.line("(out of time)")
                return
            configs = [(c, kv, 512) for c in (4096, 32768) for kv in ("f16", "q8_0")]
            if ngl in (0, n_layer + 1):
                configs += [(4096, "f16", 128), (4096, "f16", 256), (2048, "q8_0", 512)]
            for (n_ctx, kv, ubatch), buffers in dry_sweep(path, ngl, configs).items():
                plan = LoadPlan(
                    model_path=path, n_ctx=n_ctx, n_gpu_layers=ngl, n_batch=max(512, ubatch),
                    n_ubatch=ubatch, type_k=kv, type_v=kv, flash_attn=True,
                )  # fmt: skip
                estimate = estimate_memory(info=info, plan=plan, gpus=gpus)
                gpu_pred = estimate.gpus[0].compute if estimate.gpus else 0
                report.line(
                    f"{shape + ' ' + weight:10} {ngl:>4} {n_ctx:>6} {kv:5} {ubatch:>6} | "
                    f"{buffers.get('CUDA0', 0.0):>8.1f} {gpu_pred / MIB:>8.1f} | "
                    f"{buffers.get('CUDA_Host', 0.0):>9.1f} | {buffers.get('CPU', 0.0):>7.1f} "
                    f"{estimate.ram.compute / MIB:>8.1f}"
                )
                report.row(
                    "dry",
                    {
                        "model": f"{shape} {weight}", "ngl": ngl, "n_ctx": n_ctx, "kv": kv,
                        "ubatch": ubatch, "buffers": buffers, "pred_gpu_compute": gpu_pred,
                        "pred_cpu_compute": estimate.ram.compute,
                        "pred_gpu_weights": estimate.gpus[0].weights if estimate.gpus else 0,
                        "pred_gpu_kv": estimate.gpus[0].kv_cache if estimate.gpus else 0,
                    },
                )  # fmt: skip
    report.line()


# ------------------------------------------------------------------------------------ plans


def part_plans(report: Report, deadline: Deadline, contexts: list[int], kvs: list[str]) -> None:
    report.line("## The tuner's plan on the whole GPU: VRAM (NVML, engine process) and speed")
    report.line("RSS columns: the engine's resident RAM; VRAM: NVML, the engine process")
    report.line(_capture(lambda: ea.print_header(gpu=True)).rstrip("\n"))
    rows: list[ea.Row] = []
    for shape, weight, words in MODELS:
        case = ea.Case(f"{shape} {weight.upper()}", model_path(shape, weight), words)
        for n_ctx in contexts:
            for kv in kvs:
                if deadline.left() < 30:
                    report.line("(out of time)")
                    return summarize_plans(report, rows)
                try:
                    row = ea.measure(case, n_ctx, kv, use_gpu=True, tokens=TOKENS)
                except Exception as exc:  # a failed load is a result too
                    report.line(f"{case.name} n_ctx {n_ctx} {kv}: FAILED {exc!r}"[:300])
                    continue
                rows.append(row)
                report.row("plans", asdict(row))
                text = _capture(lambda r=row: ea.print_row(r, gpu=True))
                report.line(text.rstrip("\n"))
    summarize_plans(report, rows)


def summarize_plans(report: Report, rows: list[ea.Row]) -> None:
    errors = [e for r in rows if (e := r.vram_error) is not None]
    if errors:
        worst = max(errors, key=abs)
        report.line(
            f"VRAM: {len(errors)} plans, median |error| {statistics.median(map(abs, errors)):.1f} %"
            f", worst {worst:+.1f} %"
        )
    report.line()


def _capture(print_something: Any) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_something()
    return buffer.getvalue()


# ---------------------------------------------------------------------------------- squeeze


@dataclass
class Attempt:
    label: str
    n_gpu_layers: int
    n_ctx: int
    kv: str
    loaded: bool
    error: str = ""
    vram_measured: int | None = None  # NVML, engine process
    vram_delta: int | None = None  # NVML, device used after minus before
    vram_predicted: int = 0
    free_before: int = 0
    tokens_per_s: float = 0.0
    prompt_tokens_per_s: float = 0.0


class Hog:
    """A PyTorch process that holds GPU memory (no llama.cpp in it)."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PYTHONPATH")}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOG],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def leave_free(self, free_bytes: int) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{free_bytes}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().split()
        if not answer or answer[0] != "ready":
            raise RuntimeError(f"the PyTorch process did not answer ({answer})")
        return int(answer[1])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def attempt(label: str, info: GGUFInfo, plan: LoadPlan, words: int) -> Attempt:
    """Load ``plan`` in a fresh engine, generate twice, read VRAM; a failure is recorded."""
    gpus = gpus_now()
    used_before = ea.gpu_used_bytes()
    estimate = estimate_memory(info=info, plan=plan, gpus=gpus)
    result = Attempt(
        label=label, n_gpu_layers=plan.n_gpu_layers, n_ctx=plan.n_ctx, kv=plan.type_k,
        loaded=False, vram_predicted=sum(estimate.vram_bytes),
        free_before=sum(g.free_bytes or 0 for g in gpus),
    )  # fmt: skip
    client = EngineClient()
    try:
        for _ in client.load(plan):
            pass
        first = ea.generate(client, words, TOKENS)
        stats = ea.generate(client, words, TOKENS)
        time.sleep(0.2)
        assert client.pid is not None
        readings = hardware.read_nvidia_gpus(our_pids={client.pid})
        result.vram_measured = sum(r.used_by_us_bytes or 0 for r in readings) or None
        result.vram_delta = sum(r.used_bytes or 0 for r in readings) - used_before
        result.loaded = True
        result.tokens_per_s = stats.tokens_per_s
        result.prompt_tokens_per_s = first.prompt_tokens / first.ttft_s if first.ttft_s else 0.0
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        client.shutdown()
    return result


def part_squeeze(report: Report, deadline: Deadline, levels: list[str]) -> None:
    shape, weight, words = SQUEEZE_MODEL
    path = model_path(shape, weight)
    info = read_gguf_info(path)
    top = max_gpu_layers(info)
    total = sum(g.total_bytes or 0 for g in gpus_now())
    margin = memory_budget(hardware.read_hardware(include_gpus=True)).gpu_margin_bytes[0]
    report.line(f"## {shape} {weight} with most of the VRAM taken by another process (PyTorch)")
    report.line(
        f"GPU total {total / GIB:.1f} GiB; the tuner keeps {margin / GIB:.2f} GiB free "
        "(its margin); ngl counts the output layer (max "
        f"{top}). 'auto' = the tuner's plan; 'max' = the most layers that really load and "
        "generate (searched)"
    )
    header = (
        f"{'free GiB':>8} {'plan':5} {'fits':4} {'ngl':>3} {'n_ctx':>6} {'KV':5} {'loaded':6} "
        f"{'VRAM MiB':>8} {'pred':>8} {'err %':>6} {'tok/s':>6} {'prompt t/s':>10}"
    )
    report.line(header)
    report.line("-" * len(header))
    hog = Hog()
    try:
        for level in levels:
            if deadline.left() < 60:
                report.line("(out of time)")
                break
            free_target = int(eval_level(level, margin) * GIB)
            free = hog.leave_free(free_target)
            squeeze_level(report, deadline, info, path, words, level, free)
    finally:
        hog.close()
    report.line()


def eval_level(level: str, margin: int) -> float:
    """'margin+3' = the tuner's margin plus 3 GiB; '3' = 3 GiB."""
    if level.startswith("margin+"):
        return margin / GIB + float(level.split("+", 1)[1])
    return float(level)


def squeeze_level(
    report: Report, deadline: Deadline, info: GGUFInfo, path: Path, words: int, level: str,
    free: int,
) -> None:  # fmt: skip
    snapshot = hardware.read_hardware(include_gpus=True, cpu_interval=0.3)
    tuned = plan_for(info=info, hardware=snapshot)
    auto = attempt("auto", info, tuned.plan, words)
    show(report, free, auto, fits=tuned.fits)
    report.row(
        "squeeze",
        {"level": level, "free": free, "fits": tuned.fits, "explanation": tuned.explanation,
         "budget": list(tuned.budget.gpu_bytes), **asdict(auto)},
    )  # fmt: skip
    # The most layers that really load, at the auto plan's context and KV type: first the most
    # the estimate allows in the free VRAM (no margin) and one more, then a bisection.
    top = max_gpu_layers(info)
    predicted = estimate_max_layers(info, tuned.plan, free)
    report.line(f"{'':>8} estimate: at most {predicted} layers fit in {free / GIB:.2f} GiB")
    good, bad = -1, top + 1
    best: Attempt | None = None
    if auto.loaded:
        good, best = auto.n_gpu_layers, auto
    else:
        bad = auto.n_gpu_layers
    tried = {auto.n_gpu_layers}
    guesses = [predicted, predicted + 1]
    while bad - good > 1 and deadline.left() > 45:
        mid = (good + bad) // 2  # good = -1: none known to load yet
        while guesses:
            guess = guesses.pop(0)
            if good < guess < bad and guess not in tried:
                mid = guess
                break
        tried.add(mid)
        trial = attempt("probe", info, replace(tuned.plan, n_gpu_layers=mid, use_gpu=True), words)
        report.row("squeeze", {"level": level, "free": free, **asdict(trial)})
        outcome = "loads" if trial.loaded else trial.error
        predicted_mib = trial.vram_predicted / MIB
        report.line(f"{'':>8} probe ngl {mid}: {outcome} (predicted {predicted_mib:.0f} MiB)")
        if trial.loaded:
            good, best = mid, trial
        else:
            bad = mid
    found = {"level": level, "free": free, "estimate_max": predicted, "max": good}
    report.row("squeeze_max", found)
    if best is not None and best is not auto:
        best.label = "max"
        show(report, free, best, fits=None)
    report.line(
        f"{'':>8} most layers that load: {good if good >= 0 else 'none'}; the estimate said "
        f"{predicted}; the tuner chose {auto.n_gpu_layers} "
        f"({'fits' if tuned.fits else 'does not fit'})"
    )
    report.line(f"{'':>8} tuner: {tuned.explanation}")


def estimate_max_layers(info: GGUFInfo, plan: LoadPlan, free: int) -> int:
    """The most n_gpu_layers whose estimated VRAM fits in ``free`` (-1: none)."""
    gpus = gpus_now()
    for layers in range(max_gpu_layers(info), -1, -1):
        estimate = estimate_memory(
            info=info, plan=replace(plan, n_gpu_layers=layers, use_gpu=True), gpus=gpus
        )
        if sum(estimate.vram_bytes) <= free:
            return layers
    return -1


def show(report: Report, free: int, row: Attempt, *, fits: bool | None) -> None:
    measured = row.vram_measured or row.vram_delta or 0
    error = (
        f"{100 * (row.vram_predicted - measured) / measured:>+6.1f}" if measured else f"{'-':>6}"
    )
    fit_text = "-" if fits is None else ("yes" if fits else "NO")
    report.line(
        f"{free / GIB:>8.2f} {row.label:5} {fit_text:4} {row.n_gpu_layers:>3} {row.n_ctx:>6} "
        f"{row.kv:5} {'yes' if row.loaded else 'NO':6} {measured / MIB:>8.0f} "
        f"{row.vram_predicted / MIB:>8.0f} {error} {row.tokens_per_s:>6.1f} "
        f"{row.prompt_tokens_per_s:>10.0f}"
    )
    if row.error:
        report.line(f"{'':>8} error: {row.error}")


# ------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--parts", nargs="+", default=["dry", "plans", "squeeze"])
    parser.add_argument("--deadline", type=float, default=540, help="seconds for everything")
    parser.add_argument("--ctx", type=int, nargs="+", default=[4096, 16384, 32768])
    parser.add_argument("--kv", nargs="+", default=["f16", "q8_0"])
    parser.add_argument(
        "--levels",
        nargs="+",
        default=["margin+3", "margin+1", "3", "1.5"],
        help="free VRAM for the squeeze (GiB, or the tuner's margin plus GiB)",
    )
    args = parser.parse_args()
    deadline = Deadline(args.deadline)
    report = Report(args.out)
    gpus = gpus_now()
    if not gpus:
        report.line("No NVIDIA GPU through NVML.")
        return 1
    report.line(
        f"# {gpus[0].name}: {(gpus[0].total_bytes or 0) / GIB:.1f} GiB, "
        f"{(gpus[0].free_bytes or 0) / GIB:.1f} GiB free; {os.cpu_count()} CPUs"
    )
    for part in args.parts:
        started = time.monotonic()
        try:
            if part == "dry":
                part_dry(report, deadline)
            elif part == "plans":
                part_plans(report, deadline, args.ctx, args.kv)
            elif part == "squeeze":
                part_squeeze(report, deadline, args.levels)
        except Exception:  # the other parts still run
            report.line(traceback.format_exc())
        report.line(f"({part}: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
