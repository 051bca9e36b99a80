"""The hostile-GGUF corpus through every way the app opens a model: each run ends cleanly.

``gguf_corpus.py`` writes 400+ cases (truncations at every structural boundary, wrong magic
and versions, absurd counts and lengths, wrong types for known keys, broken tensor tables,
tokenizers and chat templates, hostile names, paths that are not files). Every case goes
through ``plan`` and the library (scan and import), in a process with the same 4 GiB
address-space limit as the engine's; the engine (a real llama.cpp process
under a 4 GiB address-space limit: load, then a two-token reply) gets every case our reader
lets through to llama.cpp and one of each category it refuses (the engine refuses those with
the same reader before llama.cpp sees them); ``chat`` runs as a real command on a few. A run is
clean when it ends within its bound with success or one typed error (see ``hostile_runs``);
``scripts/red_team.py`` runs every case through every path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from gguf_corpus import CATEGORIES, Case, build_corpus
from hostile_runs import (
    FAST_DEADLINES,
    Outcome,
    SharedEngineClient,
    against_expectation,
    limited_worker,
    run_chat_cli,
    run_engine,
    run_in_worker,
    run_library_import,
    run_plan,
    scan_listing,
    with_home,
)

from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.models.gguf_info import read_gguf_info

pytestmark = pytest.mark.timeout(300)

# A few cases the real ``chat`` command runs (each costs a Python start and an engine start).
CHAT_CASES = (
    "valid/base",
    "truncated/at-000024-after-n_kv",
    "filesystem/fifo",
    "filesystem/directory",
    "names/model-name-terminal-title-and-clear",
    "known-keys/head-count-0",
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def limited() -> Iterator[ProcessPoolExecutor]:
    """Where plan, import and scan run: a process under the engine's memory limit."""
    with limited_worker() as worker:
        yield worker


@pytest.fixture(scope="module")
def engine() -> Iterator[SharedEngineClient]:
    client = SharedEngineClient(deadlines=FAST_DEADLINES)
    try:
        yield client
    finally:
        client.shutdown()


def in_category(corpus: list[Case], category: str) -> list[Case]:
    return [case for case in corpus if case.category == category]


def problems(runs: list[tuple[Case, Outcome]]) -> list[str]:
    """Runs that did not end cleanly, or that loaded what must be refused (and the reverse)."""
    found = []
    for case, outcome in runs:
        judged = against_expectation(case, outcome)
        if not judged.clean:
            found.append(f"{case.name!r} ({case.expect}): {judged.status}: {judged.detail[:300]}")
    return found


def test_the_corpus_has_every_category_and_200_files(corpus: list[Case]) -> None:
    assert {case.category for case in corpus} == set(CATEGORIES)
    written = [case for case in corpus if os.path.lexists(case.path)]
    assert len(written) >= 200
    fifo = next(case.path for case in corpus if case.name == "fifo")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("category", CATEGORIES)
def test_plan_ends_cleanly(
    app_home: Path, limited: ProcessPoolExecutor, corpus: list[Case], category: str
) -> None:
    runs = [
        (case, run_in_worker(limited, run_plan, case, home=app_home))
        for case in in_category(corpus, category)
    ]
    assert not problems(runs)


@pytest.mark.parametrize("category", CATEGORIES)
def test_library_import_ends_cleanly(
    app_home: Path, limited: ProcessPoolExecutor, corpus: list[Case], category: str
) -> None:
    runs = [
        (case, run_in_worker(limited, run_library_import, case, home=app_home))
        for case in in_category(corpus, category)
    ]
    assert not problems(runs)


def test_library_scan_of_the_corpus_lists_only_regular_files(
    app_home: Path, limited: ProcessPoolExecutor, corpus: list[Case]
) -> None:
    root = corpus[0].path.parents[1]
    outcome, listed = limited.submit(with_home, app_home, scan_listing, root).result()
    assert outcome.clean, outcome.detail
    assert listed
    for path in listed:  # no folder, FIFO, socket, device or symlink loop is offered
        assert stat.S_ISREG(os.stat(path).st_mode), path


def reaches_llama_cpp(case: Case) -> bool:
    """Whether our reader lets the case through (else the engine refuses it the same way)."""
    try:
        if not stat.S_ISREG(os.stat(case.path).st_mode):
            return False
        read_gguf_info(case.path)
    except (AutoGLMError, OSError):
        return False
    return True


@pytest.mark.parametrize("category", CATEGORIES)
def test_engine_ends_cleanly_under_a_memory_limit(
    app_home: Path, engine: SharedEngineClient, corpus: list[Case], category: str
) -> None:
    members = in_category(corpus, category)
    through = [case for case in members if reaches_llama_cpp(case)]
    refused = [case for case in members if case not in through][:1]
    runs = [(case, run_engine(engine, case)) for case in (*refused, *through)]
    assert not problems(runs)


@pytest.mark.parametrize("case_id", CHAT_CASES)
def test_chat_command_ends_cleanly(corpus: list[Case], tmp_path: Path, case_id: str) -> None:
    category, name = case_id.split("/")
    case = next(c for c in corpus if c.category == category and c.name == name)
    outcome = run_chat_cli(case, home=tmp_path)
    assert not problems([(case, outcome)])


def test_chat_command_keeps_llama_cpp_abort_noise_off_the_terminal(
    corpus: list[Case], tmp_path: Path
) -> None:
    """An epsilon of NaN makes llama.cpp abort (GGML_ASSERT) in the engine while it replies.

    ggml's abort may call a debugger for a backtrace: here one that never ends (as a gdb that
    looks for symbols on an unreachable network does) stands on the PATH. The engine must not
    wait for it, and the user sees the clear message, not the backtrace.
    """
    case = next(c for c in corpus if c.name == "float-nan")
    debuggers = tmp_path / "debuggers"
    debuggers.mkdir()
    for name in ("gdb", "lldb"):
        stuck = debuggers / name
        stuck.write_text("#!/bin/sh\nexec sleep 3600\n")
        stuck.chmod(0o755)
    path = f"{debuggers}{os.pathsep}{os.environ.get('PATH', '')}"
    outcome = run_chat_cli(case, home=tmp_path / "home", extra_env={"PATH": path})
    assert outcome.clean, outcome.detail
