"""Total throughput of ``serve`` with 1, 2, 4 and 8 concurrent streaming clients.

``autoglm-desktop serve --parallel 8`` runs as a subprocess; for each client count, that many
threads of the official ``openai`` client each stream one greedy reply to a different
question, all started together. Printed per count: the total tokens/s (every client's tokens
over the wall time from the start to the last reply's end), each client's TTFT, and the total
against one client's. Continuous batching should make 4 clients' total at least 2x one's.

    python bench/api_concurrency.py [--model PATH] [--max-tokens 128] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_process import API_KEY, serve

QUESTIONS = [
    "How does a bicycle work?",
    "Why is the sky blue?",
    "What is a prime number?",
    "How do plants grow?",
    "What makes bread rise?",
    "How does a compass work?",
    "Why do cats purr?",
    "What is the moon made of?",
]
COUNTS = (1, 2, 4, 8)


@dataclass
class ClientRun:
    ttft_s: float
    tokens: int
    ended: float


def stream_one(api: object, *, model: str, question: str, max_tokens: int, go: float) -> ClientRun:
    import openai

    assert isinstance(api, openai.OpenAI)
    first = 0.0
    tokens = 0
    stream = api.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": question}],
        max_tokens=max_tokens,
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and not first:
            first = time.perf_counter()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return ClientRun(ttft_s=first - go, tokens=tokens, ended=time.perf_counter())


def round_of(
    api: object, *, model: str, clients: int, max_tokens: int
) -> tuple[float, list[float]]:
    """One round of ``clients`` at once: total tokens/s and each client's TTFT."""
    results: list[ClientRun] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    go = 0.0

    def client(index: int) -> None:
        barrier.wait()
        run = stream_one(api, model=model, question=QUESTIONS[index], max_tokens=max_tokens, go=go)
        with lock:
            results.append(run)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    go = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    wall = max(r.ended for r in results) - go
    return sum(r.tokens for r in results) / wall, sorted(r.ttft_s for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per count (median kept)")
    parser.add_argument("--threads", type=int, default=None, help="default: the plan's")
    args = parser.parse_args()

    import openai

    from autoglm_desktop.core.common import paths
    from autoglm_desktop.core.models.starter_model import ensure_starter_model

    model = args.model or ensure_starter_model(models_dir=paths.models_dir()).path
    options = ["--ctx", str(args.ctx), "--parallel", str(max(COUNTS))]
    if args.threads:
        options += ["--threads", str(args.threads)]
    rows = []
    with tempfile.TemporaryDirectory() as home, serve(model, *options, home=Path(home)) as url:
        api = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0, timeout=600)
        round_of(api, model=model.stem, clients=1, max_tokens=16)  # warm-up
        for clients in COUNTS:
            rounds = [
                round_of(api, model=model.stem, clients=clients, max_tokens=args.max_tokens)
                for _ in range(args.rounds)
            ]
            total = statistics.median(r[0] for r in rounds)
            ttfts = min(rounds, key=lambda r: abs(r[0] - total))[1]
            rows.append((clients, total, ttfts))
        api.close()

    print(
        f"model: {model.name}  n_ctx={args.ctx}  max_tokens={args.max_tokens}  "
        f"rounds={args.rounds}  --parallel {max(COUNTS)}"
    )
    print(f"{'clients':>7}{'total tok/s':>13}{'x one client':>14}  each client's TTFT (s)")
    one = rows[0][1]
    for clients, total, ttfts in rows:
        shown = " ".join(f"{t:.2f}" for t in ttfts)
        print(f"{clients:>7}{total:>13.1f}{total / one:>14.2f}  {shown}")


if __name__ == "__main__":
    main()
