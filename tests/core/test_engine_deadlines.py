"""Every engine request ends: runaway chat templates, ignored stops, dead engines, absurd files.

Real engine processes on small synthetic models (their chat templates misbehave on cue) and on
the starter model. The tests assert outcomes (the error's type, which process answers); the
deadlines they set are only upper bounds, well under the tests' own timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from synthetic_gguf import SyntheticModel, hostile_chat_template, write_synthetic_gguf

from autoglm_desktop.core.common.errors import (
    ChatTemplateTimeoutError,
    EngineCrashedError,
    EngineHungError,
    GGUFFormatError,
    ModelFileError,
)
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings, StopReason
from autoglm_desktop.core.engine import EngineClient, EngineEvent, GenerationFinished, ModelLoaded
from autoglm_desktop.core.engine.client import EngineDeadlines
from autoglm_desktop.core.engine.time_limit import (
    Interrupted,
    StopRequested,
    TimeLimitExpired,
    time_limit,
)
from autoglm_desktop.core.models.gguf_info import read_gguf_info

pytestmark = pytest.mark.timeout(60)

SHORT = SamplingSettings(temperature=0.0, seed=1, max_tokens=4)


@pytest.fixture(autouse=True)
def _isolated_state_cache(app_home: Path) -> None:
    """Each test's KV state cache starts empty (the engine keeps it under the app's cache)."""


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "hostile.gguf"
    return write_synthetic_gguf(path, SyntheticModel(chat_template=hostile_chat_template()))


def engine_on(model: Path, deadlines: EngineDeadlines) -> Iterator[EngineClient]:
    client = EngineClient(deadlines=deadlines)
    try:
        events = list(client.load(LoadPlan(model_path=model, n_ctx=256)))
        assert isinstance(events[-1], ModelLoaded)
        yield client
    finally:
        client.shutdown()


@pytest.fixture
def limited_engine(hostile_model: Path) -> Iterator[EngineClient]:
    """The engine's own template limit is short; the client would wait much longer."""
    yield from engine_on(hostile_model, EngineDeadlines(template_limit_s=1.0, template_s=600))


@pytest.fixture
def unlimited_engine(hostile_model: Path) -> Iterator[EngineClient]:
    """The engine never gives up on a template by itself: only Stop or the client ends it."""
    yield from engine_on(
        hostile_model, EngineDeadlines(template_limit_s=3600, template_s=3.0, stop_grace_s=1.0)
    )


def say(client: EngineClient, text: str) -> list[EngineEvent]:
    return list(client.generate(turns=[ChatTurn(Role.USER, text)], sampling=SHORT))


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- the time limit on its own ----------------------------------------------------------


def test_time_limit_ends_a_python_loop_and_a_stop_ends_it_sooner() -> None:
    with pytest.raises(TimeLimitExpired), time_limit(seconds=0.2, stop_requested=lambda: False):
        while True:
            pass
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(StopRequested), time_limit(seconds=3600, stop_requested=stop.is_set):
        while True:
            pass


def test_time_limit_leaves_nothing_behind_after_quick_work() -> None:
    for _ in range(200):  # the watchdog often fires just as the body ends
        with (
            contextlib.suppress(Interrupted),
            time_limit(seconds=0.001, stop_requested=lambda: True, poll_seconds=0.0005),
        ):
            sum(range(100))
    total = sum(range(100_000))  # an exception still pending would be raised by now
    assert total == 4_999_950_000


# -- the engine's own template limit ----------------------------------------------------


@pytest.mark.parametrize("runaway", ["loop", "macro", "lipsum"])
def test_runaway_template_is_cut_short_by_the_engine(
    limited_engine: EngineClient, runaway: str
) -> None:
    pid = limited_engine.pid
    with pytest.raises(ChatTemplateTimeoutError, match="chat template did not finish") as error:
        say(limited_engine, runaway)
    assert not error.value.restarted
    events = say(limited_engine, "hello")  # the same engine, model still loaded
    assert isinstance(events[-1], GenerationFinished)
    assert not any(isinstance(e, ModelLoaded) for e in events)
    assert limited_engine.pid == pid


def test_stop_during_a_runaway_template_ends_the_reply(unlimited_engine: EngineClient) -> None:
    pid = unlimited_engine.pid
    timer = threading.Timer(0.5, unlimited_engine.request_stop)
    timer.start()
    events = say(unlimited_engine, "loop")
    timer.join()
    last = events[-1]
    assert isinstance(last, GenerationFinished)
    assert last.stats.stop_reason == StopReason.STOPPED.value
    assert unlimited_engine.pid == pid


# -- the client's deadlines: the engine is killed and restarted -------------------------


def test_template_past_the_clients_deadline_restarts_the_engine(
    unlimited_engine: EngineClient,
) -> None:
    pid = unlimited_engine.pid
    assert pid is not None
    with pytest.raises(EngineHungError, match="chat template did not finish") as error:
        say(unlimited_engine, "loop")
    assert error.value.restarted and not isinstance(error.value, ChatTemplateTimeoutError)
    assert not is_alive(pid)
    events = say(unlimited_engine, "hello")
    assert any(isinstance(e, ModelLoaded) for e in events)
    assert isinstance(events[-1], GenerationFinished)
    assert unlimited_engine.pid not in (None, pid)


def test_stop_the_engine_cannot_honour_restarts_it(unlimited_engine: EngineClient) -> None:
    pid = unlimited_engine.pid
    assert pid is not None
    timer = threading.Timer(0.5, unlimited_engine.request_stop)
    timer.start()
    with pytest.raises(EngineHungError, match="did not stop") as error:
        say(unlimited_engine, "power")
    timer.join()
    assert error.value.restarted and "chat template" in str(error.value)
    assert not is_alive(pid)
    assert isinstance(say(unlimited_engine, "hello")[-1], GenerationFinished)


# -- dead engines and absurd files ------------------------------------------------------


def test_engine_killed_during_a_load_is_reloaded_by_the_next_message(
    starter_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = EngineClient()
    start_process = client._start_process

    def start_and_kill(*, hide_gpus: bool = False) -> None:
        start_process(hide_gpus=hide_gpus)
        assert client.pid is not None
        os.kill(client.pid, signal.SIGKILL)

    plan = LoadPlan(model_path=starter_model, n_ctx=512)
    try:
        monkeypatch.setattr(client, "_start_process", start_and_kill)
        with pytest.raises(EngineCrashedError, match="killed"):
            list(client.load(plan))
        monkeypatch.undo()
        assert client.plan == plan
        events = say(client, "Say hi.")
        assert any(isinstance(e, ModelLoaded) for e in events)
        assert isinstance(events[-1], GenerationFinished)
    finally:
        client.shutdown()


def test_engine_that_died_while_idle_is_reported_once(starter_model: Path) -> None:
    client = EngineClient()
    try:
        list(client.load(LoadPlan(model_path=starter_model, n_ctx=512)))
        assert client.check_engine() is None
        assert client.pid is not None
        pid = client.pid
        os.kill(pid, signal.SIGKILL)
        while (error := client.check_engine()) is None:
            assert is_alive(pid), "the engine is gone but the client did not say so"
        assert isinstance(error, EngineCrashedError)
        assert client.check_engine() is None
        assert isinstance(say(client, "Say hi.")[-1], GenerationFinished)
    finally:
        client.shutdown()


@pytest.fixture(scope="module")
def many_keys_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "keys.gguf"
    return write_synthetic_gguf(path, SyntheticModel(extra_keys=200_000))


def test_absurd_metadata_key_count_is_refused(many_keys_model: Path) -> None:
    with pytest.raises(GGUFFormatError, match="metadata entries"):
        read_gguf_info(many_keys_model)
    client = EngineClient(deadlines=EngineDeadlines(load_silence_s=20))
    try:
        with pytest.raises(ModelFileError, match="metadata entries"):
            list(client.load(LoadPlan(model_path=many_keys_model, n_ctx=256)))
        assert client.plan is None
    finally:
        client.shutdown()
