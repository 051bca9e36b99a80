"""Total throughput of ``serve`` with 1, 2, 4 and 8 concurrent streaming clients.

``autoglm-desktop serve --parallel 8`` runs as a subprocess; for each client count, that many
threads of the official ``openai`` client each stream one greedy reply to a different
question, all started together. The questions ask for long answers, so every reply runs to
``--max-tokens`` (the starter model writes 128 tokens to each) and the batch stays full until
the end: the figure measures batching, not how soon some replies stop. Printed per count: the
total tokens/s (every client's tokens over the wall time from the start to the last reply's
end), the total against one client's, the tokens of a reply, the CPU time each generated
token cost the engine process, the server process (uvicorn, the engine queue) and the
clients (this process), and each client's TTFT. Counts are interleaved round by round.
Continuous batching should make 4 clients' total at least 2x one's.

With ``--config`` (repeatable) several servers run side by side, each with its own extra
``serve`` options, and their rounds are interleaved too, so machine noise hits them alike:

    python bench/api_concurrency.py [--model PATH] [--max-tokens 128] [--rounds 2]
                                    [--threads N] [--config "--threads 1" --config ""]
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from serve_process import API_KEY, serve_process

QUESTIONS = [
    "Explain in detail how a bicycle works.",
    "Write a short story about a dragon who learns to bake bread.",
    "Describe the water cycle step by step.",
    "Explain how plants grow, from seed to flower.",
    "Tell me about the history of the Roman Empire.",
    "Explain how a computer works, for a beginner.",
    "Describe a day in the life of a lighthouse keeper.",
    "Write a letter to a friend about your summer holiday.",
]
COUNTS = (1, 2, 4, 8)


@dataclass
class CpuClock:
    """CPU seconds used so far by the engine, the server and this process (the clients)."""

    server: psutil.Process
    engine: list[psutil.Process]

    @classmethod
    def of_serve(cls, pid: int) -> CpuClock:
        server = psutil.Process(pid)  # its children: the engine process (and its helpers)
        return cls(server=server, engine=server.children(recursive=True))

    def read(self) -> tuple[float, float, float]:
        def cpu(process: psutil.Process) -> float:
            times = process.cpu_times()
            return float(times.user + times.system)

        return (
            sum(cpu(process) for process in self.engine),
            cpu(self.server),
            cpu(psutil.Process()),
        )


@dataclass
class ClientRun:
    ttft_s: float
    tokens: int
    ended: float


@dataclass
class Round:
    """One round of some clients at once."""

    tokens_per_s: float
    tokens: int  # a reply's, the mean of the clients'
    ttfts: list[float]
    cpu_ms_per_token: tuple[float, float, float]  # engine, server, clients


@dataclass
class Server:
    """One ``serve`` process under test, and its rounds."""

    options: list[str]
    api: object
    clock: CpuClock
    runs: dict[int, list[Round]] = field(default_factory=dict)


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


def round_of(server: Server, *, model: str, clients: int, max_tokens: int) -> Round:
    """One round of ``clients`` at once."""
    results: list[ClientRun] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    go = 0.0

    def client(index: int) -> None:
        barrier.wait()
        run = stream_one(
            server.api, model=model, question=QUESTIONS[index], max_tokens=max_tokens, go=go
        )
        with lock:
            results.append(run)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu_before = server.clock.read()
    go = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    cpu_after = server.clock.read()
    wall = max(r.ended for r in results) - go
    tokens = sum(r.tokens for r in results)
    used = [(a - b) * 1e3 / tokens for b, a in zip(cpu_before, cpu_after, strict=True)]
    return Round(
        tokens_per_s=tokens / wall,
        tokens=round(tokens / clients),
        ttfts=sorted(r.ttft_s for r in results),
        cpu_ms_per_token=(used[0], used[1], used[2]),
    )


def report(server: Server) -> None:
    print(f"\nserve {' '.join(server.options)}")
    print(
        f"{'clients':>7}{'total tok/s':>13}{'x one client':>14}{'tokens':>8}  "
        f"{'CPU ms/token: engine server clients':>36}  each client's TTFT (s)"
    )
    one = statistics.median(r.tokens_per_s for r in server.runs[COUNTS[0]])
    for clients, rounds in server.runs.items():
        total = statistics.median(r.tokens_per_s for r in rounds)
        typical = min(rounds, key=lambda r: abs(r.tokens_per_s - total))
        cpu = [statistics.median(r.cpu_ms_per_token[i] for r in rounds) for i in range(3)]
        shown = " ".join(f"{t:.2f}" for t in typical.ttfts)
        print(
            f"{clients:>7}{total:>13.1f}{total / one:>14.2f}{typical.tokens:>8}  "
            f"{cpu[0]:>20.2f}{cpu[1]:>8.2f}{cpu[2]:>8.2f}  {shown}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the starter model")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per count (median kept)")
    parser.add_argument("--threads", type=int, default=None, help="default: the plan's")
    parser.add_argument(
        "--config",
        action="append",
        default=None,
        help="extra serve options of one server under test (repeat to compare servers)",
    )
    args = parser.parse_args()

    import openai

    from autoglm_desktop.core.common import paths
    from autoglm_desktop.core.models.starter_model import ensure_starter_model

    model = args.model or ensure_starter_model(models_dir=paths.models_dir()).path
    common = ["--ctx", str(args.ctx), "--parallel", str(max(COUNTS))]
    if args.threads:
        common += ["--threads", str(args.threads)]
    servers: list[Server] = []
    with contextlib.ExitStack() as stack:
        for config in args.config or [""]:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            options = [*common, *shlex.split(config)]
            url, pid = stack.enter_context(serve_process(model, *options, home=home))
            api = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0, timeout=600)
            stack.callback(api.close)
            server = Server(options, api, CpuClock.of_serve(pid), {c: [] for c in COUNTS})
            round_of(server, model=model.stem, clients=1, max_tokens=16)  # warm-up
            servers.append(server)
        for _ in range(args.rounds):  # interleaved: machine noise hits every count alike
            for clients in COUNTS:
                for server in servers:
                    server.runs[clients].append(
                        round_of(
                            server, model=model.stem, clients=clients, max_tokens=args.max_tokens
                        )
                    )

    print(
        f"model: {model.name}  n_ctx={args.ctx}  max_tokens={args.max_tokens}  rounds={args.rounds}"
    )
    for server in servers:
        report(server)


if __name__ == "__main__":
    main()
