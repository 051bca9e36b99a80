"""The whole hostile-GGUF corpus through every way the app opens a model; a table per category.

For each case of ``tests/hostile/gguf_corpus.py``: ``plan`` (the CLI's code) and the library's
*Import*, in a worker process limited to 4 GiB of address space, the engine (a real llama.cpp
process under the same limit: load, then a two-token reply) and ``chat`` (the CLI in its own
process, under the same limit); the library's scan runs once over each category's folder, in
the worker. Each run is *clean* (success or one
typed error, in time), *crashed* (the app's own process died or printed a traceback), *hung*
(past its bound) or *noisy* (it ended, but printed more than one clear line, or escape
sequences, on the terminal); a clean run is *wrong* when it loaded a case that must be refused
or refused one that must load. ``tests/hostile`` runs a sample of the same on every CI run.

    python scripts/red_team.py [--paths plan,library,engine,chat] [--per-category N]
                               [--chat-per-category N] [--category NAME] [--corpus DIR]
                               [--show-failures] [--verbose]

Without ``--per-category`` every case runs every path (``engine`` and ``chat`` take a second
or a few per case: ``--chat-per-category 5`` runs ``chat`` on 5 cases spread over each category).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "hostile")]

from gguf_corpus import Case, build_corpus, categories  # noqa: E402
from hostile_runs import (  # noqa: E402
    FAST_DEADLINES,
    STATUSES,
    LimitedEngineClient,
    Outcome,
    against_expectation,
    limited_worker,
    run_chat_cli,
    run_engine,
    run_in_worker,
    run_library_import,
    run_library_scan,
    run_plan,
)

from autoglm_desktop.core.common import paths  # noqa: E402

PATHS = ("plan", "library", "engine", "chat")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--paths", default=",".join(PATHS), help="comma-separated: " + ", ".join(PATHS)
    )
    parser.add_argument("--per-category", type=int, default=0, help="at most N cases a category")
    parser.add_argument(
        "--chat-per-category", type=int, default=0, help="at most N cases a category for chat"
    )
    parser.add_argument(
        "--corpus", type=Path, help="where to write the corpus (default: a temp dir)"
    )
    parser.add_argument("--show-failures", action="store_true", help="print every run not clean")
    parser.add_argument("--category", action="append", help="only this category (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print each run as it ends")
    args = parser.parse_args()
    chosen = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = set(chosen) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="red-team-") as scratch:
        home = Path(scratch) / "home"
        home.mkdir()
        paths.set_base_dir(home)
        corpus_dir = args.corpus or Path(scratch) / "corpus"
        cases = build_corpus(corpus_dir)
        if args.category:
            cases = [case for case in cases if case.category in args.category]
        print(f"corpus: {len(cases)} cases in {corpus_dir}", flush=True)
        table = run_all(
            cases,
            chosen,
            args.per_category,
            home=home,
            verbose=args.verbose,
            chat_per_category=args.chat_per_category,
        )
    print_table(table, show_failures=args.show_failures)
    return 0 if all(o.clean for runs in table.values() for _, _, o in runs) else 1


Runs = dict[str, list[tuple[str, str, Outcome]]]  # category -> (path, case, outcome)


def run_all(
    cases: list[Case],
    chosen: list[str],
    per_category: int,
    *,
    home: Path,
    verbose: bool = False,
    chat_per_category: int = 0,
) -> Runs:
    table: Runs = collections.defaultdict(list)
    client = LimitedEngineClient(deadlines=FAST_DEADLINES, log_path=home / "engine.log")
    worker = limited_worker()
    runners: dict[str, Callable[[Case], Outcome]] = {
        "plan": lambda case: run_in_worker(worker, run_plan, case, home=home),
        "library": lambda case: run_in_worker(worker, run_library_import, case, home=home),
        "engine": lambda case: run_engine(client, case),
        "chat": lambda case: run_chat_cli(case, home=home),
    }
    try:
        for category, members in categories(cases):
            picked = members[:per_category] if per_category else members
            started = time.monotonic()
            if "library" in chosen:
                folder = picked[0].path.parent
                outcome = run_in_worker(worker, run_library_scan, folder, home=home)
                table[category].append(("library-scan", category, outcome))
            chat_cases = picked
            if chat_per_category:  # spread over the category
                step = max(1, len(picked) // chat_per_category)
                chat_cases = picked[::step][:chat_per_category]
            for case in picked:
                for path in chosen:
                    if path == "chat" and case not in chat_cases:
                        continue
                    outcome = against_expectation(case, runners[path](case))
                    table[category].append((path, case.name, outcome))
                    if verbose:
                        detail = outcome.detail.replace("\n", " | ")[:160]
                        print(
                            f"    {outcome.status:7} {outcome.seconds:5.1f} s {path:7} "
                            f"{case.name!r}: {detail!r}",
                            flush=True,
                        )
            done = table[category]
            clean = sum(o.clean for _, _, o in done)
            print(
                f"  {category:14} {len(done):5} runs, {clean:5} clean "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    finally:
        client.shutdown()
        worker.shutdown()
    return table


def print_table(table: Runs, *, show_failures: bool) -> None:
    header = f"| {'category':14} | tried | " + " | ".join(f"{s:7}" for s in STATUSES) + " |"
    print()
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    totals: collections.Counter[str] = collections.Counter()
    for category, runs in table.items():
        counts = collections.Counter(o.status for _, _, o in runs)
        totals.update(counts)
        totals["tried"] += len(runs)
        cells = " | ".join(f"{counts[s]:7}" for s in STATUSES)
        print(f"| {category:14} | {len(runs):5} | {cells} |")
    cells = " | ".join(f"{totals[s]:7}" for s in STATUSES)
    print(f"| {'total':14} | {totals['tried']:5} | {cells} |")
    per_path: collections.Counter[tuple[str, str]] = collections.Counter(
        (path, o.status) for runs in table.values() for path, _, o in runs
    )
    print()
    for path in ("plan", "library", "library-scan", "engine", "chat"):
        row = {s: per_path[(path, s)] for s in STATUSES}
        if sum(row.values()):
            print(f"  {path:13} " + "  ".join(f"{s} {n}" for s, n in row.items()))
    if show_failures:
        print()
        for category, runs in table.items():
            for path, name, outcome in runs:
                if not outcome.clean:
                    detail = outcome.detail.replace("\n", " | ")[:600]
                    print(f"{outcome.status:7} {path:8} {category}/{name!r}: {detail!r}")


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.exit(main())
