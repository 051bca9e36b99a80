"""TTFT and decode speed: the window's path (EngineClient) vs ``serve`` through the openai client.

The window's path is the engine client the window's worker drives, in this process. The API
path is the whole server path: ``autoglm-desktop serve`` (a subprocess, as a user runs it) →
uvicorn → the engine queue → the engine process in batch mode → SSE → the official ``openai``
client. Both load the same model with the same context and thread count and write greedy
replies to the same questions, one side then the other, so machine noise hits both alike.
The TTFT of both sides is measured here, from the request to the first text; decode speed
is (tokens - 1) / (last text - first text), tokens as the engine counted them.

    python bench/api_overhead.py [--model PATH] [--runs 5] [--max-tokens 128] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_process import API_KEY, serve

PROMPT = "Explain in a few sentences how a bicycle works."  # prefixed with a run number
SYSTEM = "You are a helpful assistant."


@dataclass
class Run:
    ttft_s: float
    decode_tps: float
    tokens: int


def timed(started: float, first: float, last: float, tokens: int) -> Run:
    decode = (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0
    return Run(ttft_s=first - started, decode_tps=decode, tokens=tokens)


def window_run(client: object, *, prompt: str, max_tokens: int) -> Run:
    from autoglm_desktop.core.common.types import ChatTurn, Role, SamplingSettings
    from autoglm_desktop.core.engine import EngineClient, GenerationFinished, TokenChunk

    assert isinstance(client, EngineClient)
    sampling = SamplingSettings(temperature=0.0, max_tokens=max_tokens, repeat_penalty=1.0)
    started = time.perf_counter()
    first = last = 0.0
    tokens = 0
    events = client.generate(
        turns=[ChatTurn(Role.USER, prompt)], system_prompt=SYSTEM, sampling=sampling
    )
    for event in events:
        if isinstance(event, TokenChunk):
            last = time.perf_counter()
            first = first or last
        elif isinstance(event, GenerationFinished):
            tokens = event.stats.generated_tokens
    return timed(started, first, last, tokens)


def api_run(api: object, *, model: str, prompt: str, max_tokens: int) -> Run:
    import openai

    assert isinstance(api, openai.OpenAI)
    started = time.perf_counter()
    first = last = 0.0
    tokens = 0
    stream = api.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return timed(started, first, last, tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=None, help="default: the plan's")
    args = parser.parse_args()

    import openai

    from autoglm_desktop.core.common import paths
    from autoglm_desktop.core.common.types import LoadPlan
    from autoglm_desktop.core.engine import EngineClient
    from autoglm_desktop.core.engine.build import llama_build
    from autoglm_desktop.core.models.starter_model import ensure_starter_model
    from autoglm_desktop.core.planning.machine_plan import tuned_plan

    model = args.model or ensure_starter_model(models_dir=paths.models_dir()).path
    plan = tuned_plan(model, hardware=None, build=llama_build()).plan
    threads = args.threads or plan.n_threads or 1
    plan = LoadPlan(
        model_path=model,
        n_ctx=args.ctx,
        n_threads=threads,
        n_threads_batch=threads,
        adaptive_threads=False,
        kv_cache_disk_bytes=0,
    )
    options = ["--ctx", str(args.ctx), "--threads", str(threads)]
    with tempfile.TemporaryDirectory() as home, serve(model, *options, home=Path(home)) as url:
        paths.set_base_dir(Path(home))
        client = EngineClient()
        list(client.load(plan))
        api = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0, timeout=600)
        window_runs, api_runs = [], []
        for run in range(args.runs + 1):  # run 0 warms both up and is not counted
            prompt = f"Question {run}: {PROMPT}"
            window = window_run(client, prompt=prompt, max_tokens=args.max_tokens)
            via_api = api_run(api, model=model.stem, prompt=prompt, max_tokens=args.max_tokens)
            if run:
                window_runs.append(window)
                api_runs.append(via_api)
        api.close()
        client.shutdown()
        paths.set_base_dir(None)

    def median(runs: list[Run], field: str) -> float:
        return statistics.median(getattr(r, field) for r in runs)

    print(
        f"model: {model.name}  n_ctx={args.ctx}  threads={threads}  "
        f"max_tokens={args.max_tokens}  runs={args.runs}"
    )
    print(f"{'metric':<22}{'window path':>15}{'serve + openai':>17}{'api / window':>14}")
    for label, field, unit in (
        ("time to first token", "ttft_s", "s"),
        ("decode speed", "decode_tps", "tok/s"),
        ("tokens per reply", "tokens", ""),
    ):
        window, via_api = median(window_runs, field), median(api_runs, field)
        ratio = via_api / window if window else float("nan")
        print(f"{label:<22}{window:>12.3f} {unit:<5}{via_api:>11.3f} {unit:<5}{ratio:>11.3f}")
    print("(TTFT: lower is better, so api / window <= 1.05 is within 5 %; speed: >= 0.95)")


if __name__ == "__main__":
    main()
