"""Raw llama.cpp timings of many synthetic models, for studying the speed forecast's cost model.

    python bench/speed_probe.py write DIR                  # every model below, and DIR/models.json
    python bench/speed_probe.py time DIR OUT.jsonl --threads 2 --models a,b [--gpu-layers N|half]
                                [--prompt 256] [--decode 32] [--runs 2] [--deadline UNIX_TIME]

Each timed job is one JSON line: the model, threads, GPU layers, the seconds of each prompt
and every gap between two written tokens (the engine's way, as ``llama_timing`` times them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

# synthetic models of the shapes the bench uses
sys.path.insert(0, str(Path(__file__).parent))


def all_models() -> dict[str, object]:
    from speed_forecast import HELD_OUT, SYNTHETIC

    from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel
    from autoglm_desktop.core.planning.speed_measurement import (
        calibration_models,
        gpu_calibration_models,
    )

    models: dict[str, object] = {}
    models.update(calibration_models())
    models.update(gpu_calibration_models())
    wide = SyntheticModel(n_embd=2048, n_head=16, n_head_kv=16, n_ff=5632)
    one = SyntheticModel(n_layer=1, n_embd=1024, n_head=8, n_head_kv=8, n_ff=2816)
    for kind in ("q4_0", "q4_1", "q5_0", "q8_0", "q4_k", "q5_k", "q6_k", "f16"):
        models[f"big-{kind}"] = replace(wide, n_layer=4 if kind == "f16" else 8, weight_type=kind)
        models[f"one-{kind}"] = replace(one, weight_type=kind)
    models.update({f"bench-{name}": spec for name, spec in SYNTHETIC.items()})
    models["held-gemma-mix"] = replace(
        SYNTHETIC["gemma-shape"],
        tensor_types=(("token_embd", "q8_0"), ("attn_v", "q8_0"), ("ffn_down", "q6_k")),
        name="held-gemma-mix",
    )
    models["held-qwen1.5b-mix"] = HELD_OUT["qwen1.5b-mix"]
    models["held-tinyllama-q4_0"] = HELD_OUT["tinyllama-q4_0"]
    return models


def write(folder: Path) -> None:
    from autoglm_desktop.core.models.gguf_info import read_gguf_info
    from autoglm_desktop.core.models.synthetic_gguf import write_synthetic_gguf

    folder.mkdir(parents=True, exist_ok=True)
    described = {}
    for name, spec in all_models().items():
        path = folder / f"{name}.gguf"
        if not path.is_file():
            write_synthetic_gguf(path, spec)  # type: ignore[arg-type]
        info = read_gguf_info(path)
        described[name] = {
            "file_size": info.file_size,
            "n_layer": info.n_layer,
            "n_embd": info.n_embd,
            "n_head": info.n_head,
            "n_head_kv": info.n_head_kv,
            "key_length": info.key_length,
            "vocab": info.vocab_size,
            "tensors": [[t.name, t.type_name, list(t.shape), t.n_bytes] for t in info.tensors],
        }
        print(f"wrote {name}: {info.file_size / 1e6:.0f} MB", flush=True)
    (folder / "models.json").write_text(json.dumps(described))


def time_models(args: argparse.Namespace) -> None:
    from autoglm_desktop.core.engine.process import prepare_native_process

    gpu = args.gpu_layers is not None
    prepare_native_process(hide_gpus=not gpu)
    import llama_cpp  # noqa: F401  (before numpy: the GPU image crashes the other way round)

    from autoglm_desktop.core.engine.llama_timing import TimingJob, _generate, open_for_timing

    described = json.loads((args.folder / "models.json").read_text())
    with open(args.out, "a") as out:
        for name in args.models.split(","):
            if args.deadline and time.time() > args.deadline:
                print(f"deadline: skipped {name}", flush=True)
                continue
            n_layer = described[name]["n_layer"]
            layers = 0
            if gpu:
                layers = n_layer // 2 if args.gpu_layers == "half" else int(args.gpu_layers)
            job = TimingJob(
                model_path=args.folder / f"{name}.gguf",
                threads=args.threads,
                n_gpu_layers=layers,
                gpu=gpu,
                prompt_tokens=args.prompt,
                decode_tokens=args.decode,
            )
            started = time.perf_counter()
            llm = open_for_timing(job)
            loaded = time.perf_counter()
            try:
                _generate(llm, job, first_token=1, warm_up=True)
                warmed = time.perf_counter()
                runs = [
                    _generate(llm, job, first_token=2 + run, warm_up=False)
                    for run in range(args.runs)
                ]
            finally:
                llm.close()
            record = {
                "model": name,
                "section": args.section,
                "threads": args.threads,
                "gpu": gpu,
                "gpu_layers": layers,
                "prompt_tokens": args.prompt,
                "decode_tokens": args.decode,
                "load_s": loaded - started,
                "warm_s": warmed - loaded,
                "total_s": time.perf_counter() - started,
                "prompt_s": [p for p, _ in runs],
                "gaps": [g for _, g in runs],
            }
            out.write(json.dumps(record) + "\n")
            out.flush()
            gaps = sorted(gap for _, run_gaps in runs for gap in run_gaps)
            print(
                f"{args.section} {name} t={args.threads} ngl={layers}: "
                f"prompt {args.prompt / min(p for p, _ in runs):.1f} tok/s, "
                f"decode {1 / gaps[len(gaps) // 2]:.1f} tok/s ({record['total_s']:.1f} s)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("folder", type=Path)
    t = sub.add_parser("time")
    t.add_argument("folder", type=Path)
    t.add_argument("out", type=Path)
    t.add_argument("--section", default="")
    t.add_argument("--threads", type=int, required=True)
    t.add_argument("--models", required=True)
    t.add_argument("--gpu-layers", default=None)
    t.add_argument("--prompt", type=int, default=256)
    t.add_argument("--decode", type=int, default=32)
    t.add_argument("--runs", type=int, default=2)
    t.add_argument("--deadline", type=float, default=0.0)
    args = parser.parse_args()
    if args.command == "write":
        write(args.folder)
    else:
        time_models(args)


if __name__ == "__main__":
    main()
