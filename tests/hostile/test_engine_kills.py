"""The engine killed, segfaulting or aborting during a load, a chat template, a reply, or idle.

(And Stop during a load that would never end: it ends, and the engine loads the next model.)

Real engine processes (limited to 4 GiB of address space) on synthetic models whose chat
templates misbehave on cue, so each phase lasts until the test ends it: a load whose template
never finishes, a template that loops on the message ``loop``, a reply of thousands of tokens
(zero weights never pick the end-of-text token). The signal comes from outside, as the OS's
out-of-memory killer or a crash in llama.cpp would end the process. Each time the client must
end the request with :class:`EngineCrashedError` saying what happened, keep what was streamed
before, and answer the next request with a fresh engine.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from core.synthetic_gguf import SyntheticModel, hostile_chat_template, write_synthetic_gguf
from hostile_runs import LimitedEngineClient

from autoglm_desktop.core.common.errors import EngineCrashedError, OperationCancelledError
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings
from autoglm_desktop.core.engine import (
    EngineClient,
    GenerationFinished,
    LoadProgress,
    ModelLoaded,
    TokenChunk,
)
from autoglm_desktop.core.engine.client import EngineDeadlines

pytestmark = pytest.mark.timeout(120)

SIGNALS = {
    "SIGKILL": (signal.SIGKILL, "killed"),
    "SIGSEGV": (signal.SIGSEGV, "segmentation fault"),
    "SIGABRT": (signal.SIGABRT, "aborted"),
}
# Nothing gives up on its own: only the signal ends a phase.
PATIENT = EngineDeadlines(template_limit_s=3600, template_s=3600, load_silence_s=3600)
LONG_REPLY = SamplingSettings(temperature=0.0, seed=1, max_tokens=3000)
SHORT_REPLY = SamplingSettings(temperature=0.0, seed=1, max_tokens=2)
# Loops whenever the conversation ends with the text "c": the engine renders a short sample
# conversation ending so when it loads a model, so the load never ends.
LOOP_ON_LOAD = (
    "{% if messages[-1]['content'] == 'c' %}"
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}{% endif %}"
)


@pytest.fixture(autouse=True)
def _isolated_state_cache(app_home: Path) -> None:
    """The engine keeps KV states under the app's cache: a fresh one per test."""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("kills")
    # Wide enough that a reply of 3,000 tokens takes seconds, small enough to load at once.
    shape = {"n_embd": 256, "n_layer": 4, "n_ff": 512, "n_ctx_train": 4096}
    return {
        "replies": write_synthetic_gguf(
            folder / "replies.gguf", SyntheticModel(chat_template=hostile_chat_template(), **shape)
        ),
        "never-loads": write_synthetic_gguf(
            folder / "never-loads.gguf",
            SyntheticModel(chat_template=LOOP_ON_LOAD + hostile_chat_template()),
        ),
    }


@pytest.fixture
def client() -> Iterator[EngineClient]:
    engine = LimitedEngineClient(deadlines=PATIENT)
    try:
        yield engine
    finally:
        engine.shutdown()


def plan(model: Path) -> LoadPlan:
    return LoadPlan(model_path=model, n_ctx=4096, n_batch=64, n_ubatch=64)


def crash(client: EngineClient, signum: int) -> None:
    assert client.pid is not None
    os.kill(client.pid, signum)


def assert_answers_next(client: EngineClient, pid: int | None) -> None:
    """The next message starts a fresh engine, reloads the model and gets its reply."""
    events = list(client.generate(turns=[ChatTurn(Role.USER, "hello")], sampling=SHORT_REPLY))
    assert any(isinstance(e, ModelLoaded) for e in events)
    assert isinstance(events[-1], GenerationFinished)
    assert client.pid not in (None, pid)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_engine_dies_during_a_load(
    client: EngineClient, models: dict[str, Path], name: str
) -> None:
    signum, words = SIGNALS[name]
    seen = []
    with pytest.raises(EngineCrashedError, match=words):
        for event in client.load(plan(models["never-loads"])):
            seen.append(event)
            if isinstance(event, LoadProgress) and len(seen) == 1:
                crash(client, signum)
    assert not any(isinstance(e, ModelLoaded) for e in seen)
    # The plan of a load cut short is kept (the next message would try it again); this model
    # never loads, so another one proves that the client starts a fresh engine.
    assert client.plan == plan(models["never-loads"])
    assert isinstance(list(client.load(plan(models["replies"])))[-1], ModelLoaded)
    reply = list(client.generate(turns=[ChatTurn(Role.USER, "hello")], sampling=SHORT_REPLY))
    assert isinstance(reply[-1], GenerationFinished)


def test_stop_ends_a_load_that_would_never_end(
    client: EngineClient, models: dict[str, Path]
) -> None:
    seen = []
    with pytest.raises(OperationCancelledError, match="cancelled"):
        for event in client.load(plan(models["never-loads"])):
            seen.append(event)
            if isinstance(event, LoadProgress) and len(seen) == 1:
                client.request_stop()
    assert not any(isinstance(e, ModelLoaded) for e in seen)
    assert client.plan is None  # a cancelled load is not tried again by the next message
    assert isinstance(list(client.load(plan(models["replies"])))[-1], ModelLoaded)
    reply = list(client.generate(turns=[ChatTurn(Role.USER, "hello")], sampling=SHORT_REPLY))
    assert isinstance(reply[-1], GenerationFinished)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_engine_dies_while_rendering_the_chat_template(
    client: EngineClient, models: dict[str, Path], name: str
) -> None:
    signum, words = SIGNALS[name]
    assert isinstance(list(client.load(plan(models["replies"])))[-1], ModelLoaded)
    pid = client.pid
    # The template loops for as long as the engine lives: the signal lands while it renders.
    timer = threading.Timer(0.5, crash, args=(client, signum))
    timer.start()
    try:
        with pytest.raises(EngineCrashedError, match=words):
            list(client.generate(turns=[ChatTurn(Role.USER, "loop")], sampling=SHORT_REPLY))
    finally:
        timer.join()
    assert client.plan is not None
    assert_answers_next(client, pid)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_engine_dies_mid_reply_and_the_partial_reply_is_kept(
    client: EngineClient, models: dict[str, Path], name: str
) -> None:
    signum, words = SIGNALS[name]
    list(client.load(plan(models["replies"])))
    pid = client.pid
    received: list[str] = []
    with pytest.raises(EngineCrashedError, match=words):
        for event in client.generate(
            turns=[ChatTurn(Role.USER, "Write a long story.")], sampling=LONG_REPLY
        ):
            assert not isinstance(event, GenerationFinished), "the reply ended before the signal"
            if isinstance(event, TokenChunk):
                received.append(event.text)
                if len(received) == 1:
                    crash(client, signum)
    assert received, "nothing was streamed before the crash"
    assert_answers_next(client, pid)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_engine_dies_while_idle(client: EngineClient, models: dict[str, Path], name: str) -> None:
    signum, words = SIGNALS[name]
    list(client.load(plan(models["replies"])))
    pid = client.pid
    assert pid is not None
    crash(client, signum)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # dead, not yet reaped by the client
    error = client.check_engine()
    assert isinstance(error, EngineCrashedError)
    assert words in str(error)
    assert client.check_engine() is None  # reported once
    assert_answers_next(client, pid)
