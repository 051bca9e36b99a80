"""The engine process with real llama.cpp on the real starter model."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from autoglm_desktop.core.common.errors import (
    AutoGLMError,
    EngineCrashedError,
    ModelFileError,
    NoModelLoadedError,
    OperationCancelledError,
    PromptTooLongError,
)
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings, StopReason
from autoglm_desktop.core.engine import (
    ContextTrimmed,
    EngineClient,
    EngineEvent,
    GenerationFinished,
    LoadProgress,
    ModelLoaded,
    TokenChunk,
)
from autoglm_desktop.core.engine.protocol import GenerateRequest, Stage
from autoglm_desktop.core.engine.runtime import LlamaRuntime
from autoglm_desktop.core.engine.thread_governor import ThreadGovernor, ThreadSetting
from autoglm_desktop.core.machine.cpu_share import CpuShare

GREEDY = SamplingSettings(temperature=0.0, seed=7, max_tokens=48)


@pytest.fixture(autouse=True)
def _isolated_state_cache(app_home: Path) -> None:
    """Each test's KV state cache starts empty (the engine keeps it under the app's cache)."""


@pytest.fixture
def engine(starter_model: Path) -> Iterator[EngineClient]:
    client = EngineClient()
    events = list(client.load(LoadPlan(model_path=starter_model, n_ctx=2048)))
    assert isinstance(events[-1], ModelLoaded)
    yield client
    client.shutdown()


def ask(text: str) -> list[ChatTurn]:
    return [ChatTurn(Role.USER, text)]


def collect(events: Iterable[EngineEvent]) -> tuple[str, list[EngineEvent]]:
    seen = list(events)
    return "".join(e.text for e in seen if isinstance(e, TokenChunk)), seen


def finished(events: list[EngineEvent]) -> GenerationFinished:
    last = events[-1]
    assert isinstance(last, GenerationFinished)
    return last


def test_load_reports_progress_and_model_info(starter_model: Path) -> None:
    client = EngineClient()
    try:
        events = list(client.load(LoadPlan(model_path=starter_model, n_ctx=1024)))
    finally:
        client.shutdown()
    fractions = [e.fraction for e in events if isinstance(e, LoadProgress)]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    info = events[-1]
    assert isinstance(info, ModelLoaded)
    assert info.info.architecture == "llama"
    assert info.info.n_ctx == 1024 and info.info.n_ctx_train >= 2048
    assert info.info.has_chat_template


def test_reply_streams_in_many_chunks_with_stats(engine: EngineClient) -> None:
    text, events = collect(
        engine.generate(turns=ask("Write three sentences about the sea."), sampling=GREEDY)
    )
    chunks = [e for e in events if isinstance(e, TokenChunk)]
    stats = finished(events).stats
    assert len(chunks) >= 5 and text.strip()
    assert stats.generated_tokens >= len(chunks) - 1
    assert stats.prompt_tokens > 0 and stats.ttft_s > 0 and stats.tokens_per_s > 0
    assert stats.context_used <= stats.context_size == 2048


def test_next_turn_reuses_the_cached_prefix(engine: EngineClient) -> None:
    turns = ask("Name a colour.")
    first_text, first = collect(engine.generate(turns=turns, sampling=GREEDY))
    turns += [ChatTurn(Role.ASSISTANT, first_text), ChatTurn(Role.USER, "Another one?")]
    _, second = collect(engine.generate(turns=turns, sampling=GREEDY))
    stats = finished(second).stats
    assert stats.evaluated_prompt_tokens < stats.prompt_tokens / 2
    assert finished(first).stats.evaluated_prompt_tokens == finished(first).stats.prompt_tokens


def test_stop_mid_reply_ends_quickly_and_keeps_engine_usable(engine: EngineClient) -> None:
    long_story = SamplingSettings(temperature=0.8, seed=3, max_tokens=1500)
    chunks = 0
    events: list[EngineEvent] = []
    for event in engine.generate(turns=ask("Tell a very long story."), sampling=long_story):
        events.append(event)
        if isinstance(event, TokenChunk):
            chunks += 1
            if chunks == 5:
                engine.request_stop()
    stats = finished(events).stats
    assert stats.stop_reason == StopReason.STOPPED.value
    assert stats.generated_tokens < 20
    text, _ = collect(engine.generate(turns=ask("Say hi."), sampling=GREEDY))
    assert text.strip()


def test_stop_during_prompt_evaluation(starter_model: Path) -> None:
    client = EngineClient()
    # Small batches make a long prompt take many llama_decode calls.
    list(client.load(LoadPlan(model_path=starter_model, n_ctx=4096, n_batch=32, n_ubatch=32)))
    try:
        prompt = "Summarise: " + "the quick brown fox jumps over the lazy dog " * 300
        timer = threading.Timer(0.3, client.request_stop)
        timer.start()
        _, events = collect(client.generate(turns=ask(prompt), sampling=GREEDY))
        timer.join()
        stats = finished(events).stats
        assert stats.stop_reason == StopReason.STOPPED.value
        assert stats.generated_tokens == 0
        assert not any(isinstance(e, TokenChunk) for e in events)
        # The half-evaluated prompt must not poison the cache for the next request.
        text, again = collect(client.generate(turns=ask("Say hi."), sampling=GREEDY))
        assert text.strip() and finished(again).stats.stop_reason != StopReason.STOPPED.value
    finally:
        client.shutdown()


def test_stop_after_the_weights_are_read_still_cancels_the_load(starter_model: Path) -> None:
    """A Stop that lands once llama.cpp has read the weights ends the load's later steps."""
    stop = {"requested": False}

    def report_stage(stage: Stage) -> None:
        if stage is Stage.LOAD:  # the chat template is compiled; its analysis comes next
            stop["requested"] = True

    runtime = LlamaRuntime(
        stop_requested=lambda: stop["requested"], emit=lambda _e: None, report_stage=report_stage
    )
    plan = LoadPlan(model_path=starter_model, n_ctx=512)
    try:
        with pytest.raises(OperationCancelledError, match="cancelled"):
            runtime.load(plan)
        with pytest.raises(NoModelLoadedError):
            runtime.render_prompt(ask("hello"))
        stop["requested"], runtime._report_stage = False, lambda _stage: None
        assert runtime.load(plan).n_ctx == 512  # the cancelled load left nothing behind
    finally:
        runtime.close()


def test_killed_engine_is_reported_and_restarted(engine: EngineClient) -> None:
    pid = engine.pid
    assert pid is not None
    received = []
    with pytest.raises(EngineCrashedError) as crash:
        for event in engine.generate(
            turns=ask("Count from one to one hundred."),
            sampling=SamplingSettings(seed=1, max_tokens=500),
        ):
            if isinstance(event, TokenChunk):
                received.append(event.text)
                if len(received) == 3:
                    os.kill(pid, signal.SIGKILL)
    assert crash.value.exitcode == -signal.SIGKILL
    assert "memory" in str(crash.value)
    assert len(received) >= 3
    assert not engine.is_running
    # The next request starts a fresh engine on the same model, transparently.
    text, events = collect(engine.generate(turns=ask("Say hi."), sampling=GREEDY))
    assert any(isinstance(e, ModelLoaded) for e in events)
    assert text.strip() and engine.pid != pid


def test_conversation_longer_than_context_is_trimmed(starter_model: Path) -> None:
    client = EngineClient()
    list(client.load(LoadPlan(model_path=starter_model, n_ctx=512)))
    try:
        turns: list[ChatTurn] = []
        for i in range(40):
            turns.append(
                ChatTurn(Role.USER, f"Fact number {i}: the sky is blue and grass is green.")
            )
            turns.append(ChatTurn(Role.ASSISTANT, f"Noted fact {i}. Anything else you want?"))
        turns.append(ChatTurn(Role.USER, "What colour is the sky?"))
        sampling = SamplingSettings(temperature=0.0, max_tokens=64)
        text, events = collect(
            client.generate(turns=turns, system_prompt="Answer briefly.", sampling=sampling)
        )
        trimmed = [e for e in events if isinstance(e, ContextTrimmed)]
        assert len(trimmed) == 1 and trimmed[0].dropped_messages > 0
        stats = finished(events).stats
        assert stats.trimmed_messages == trimmed[0].dropped_messages
        assert stats.context_used <= 512
        assert text.strip()
    finally:
        client.shutdown()


def test_message_longer_than_context_gives_typed_error(starter_model: Path) -> None:
    client = EngineClient()
    list(client.load(LoadPlan(model_path=starter_model, n_ctx=256)))
    try:
        with pytest.raises(PromptTooLongError):
            list(client.generate(turns=ask("word " * 2000), sampling=GREEDY))
        text, _ = collect(client.generate(turns=ask("Hi"), sampling=GREEDY))
        assert text.strip()
    finally:
        client.shutdown()


def test_missing_and_non_gguf_files_give_model_file_error(tmp_path: Path) -> None:
    client = EngineClient()
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("hello")
    try:
        with pytest.raises(ModelFileError, match="does not exist"):
            list(client.load(LoadPlan(model_path=tmp_path / "missing.gguf")))
        with pytest.raises(ModelFileError, match="not a GGUF"):
            list(client.load(LoadPlan(model_path=not_a_model)))
        assert client.plan is None
    finally:
        client.shutdown()


def test_damaged_gguf_never_escapes_as_an_untyped_error(
    tmp_path: Path, starter_model: Path
) -> None:
    damaged = tmp_path / "damaged.gguf"
    with starter_model.open("rb") as source:
        damaged.write_bytes(source.read(4096))  # valid header, the rest cut off
    client = EngineClient()
    try:
        with pytest.raises(AutoGLMError):
            list(client.load(LoadPlan(model_path=damaged)))
        events = list(client.load(LoadPlan(model_path=starter_model, n_ctx=512)))
        assert isinstance(events[-1], ModelLoaded)
    finally:
        client.shutdown()


def test_generate_without_model_raises(tmp_path: Path) -> None:
    with pytest.raises(NoModelLoadedError):
        list(EngineClient().generate(turns=ask("hi")))


def test_unload_ends_the_engine_process(engine: EngineClient) -> None:
    pid = engine.pid
    assert pid is not None and engine.is_running
    engine.unload(keep_plan=True)
    assert not engine.is_running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    text, events = collect(engine.generate(turns=ask("Say hi."), sampling=GREEDY))
    assert any(isinstance(e, ModelLoaded) for e in events) and text.strip()


def test_abandoned_request_leaves_the_pipe_clean(engine: EngineClient) -> None:
    stream = engine.generate(
        turns=ask("Tell a long story."), sampling=SamplingSettings(max_tokens=400)
    )
    for event in stream:
        if isinstance(event, TokenChunk):
            break
    stream.close()  # e.g. the UI went away mid-reply
    text, events = collect(engine.generate(turns=ask("Say hi."), sampling=GREEDY))
    assert text.strip() and finished(events).stats.stop_reason == StopReason.EOS.value


def test_a_plan_without_gpu_loads_and_answers(starter_model: Path) -> None:
    client = EngineClient()
    try:
        plan = LoadPlan(model_path=starter_model, n_ctx=512, n_gpu_layers=99, use_gpu=False)
        events = list(client.load(plan))
        assert isinstance(events[-1], ModelLoaded)
        text, _ = collect(client.generate(turns=ask("Say hi."), sampling=GREEDY))
        assert text.strip()
    finally:
        client.shutdown()


def test_threads_the_user_fixed_stay_fixed(starter_model: Path) -> None:
    client = EngineClient()
    try:
        plan = LoadPlan(model_path=starter_model, n_ctx=512, n_threads=1, adaptive_threads=False)
        list(client.load(plan))
        _, events = collect(client.generate(turns=ask("Say hi."), sampling=GREEDY))
        stats = finished(events).stats
        assert stats.n_threads == 1 and stats.thread_changes == 0
    finally:
        client.shutdown()


def test_the_runtime_applies_the_governors_thread_change_mid_reply(starter_model: Path) -> None:
    """A load that appears during the reply moves llama.cpp to one thread (fake clock/load)."""
    readings = {"count": 0}
    clock = {"now": 0.0}

    def read_load() -> CpuShare:
        readings["count"] += 1
        other = 0.0 if readings["count"] <= 2 else 2.0  # idle until the reply has begun
        return CpuShare(window_s=1.0, capacity_cores=2.0, busy_cores=2.0, own_cores=2.0 - other)

    def tick() -> float:
        clock["now"] += 1.0  # every token ends a reading interval
        return clock["now"]

    def factory(_plan: LoadPlan, start: ThreadSetting) -> ThreadGovernor:
        return ThreadGovernor(
            current=start, ceiling=2, batch_ceiling=2, read_load=read_load, clock=tick
        )

    runtime = LlamaRuntime(
        stop_requested=lambda: False, emit=lambda _e: None, governor_factory=factory
    )
    try:
        runtime.load(LoadPlan(model_path=starter_model, n_ctx=512, n_threads=2, n_threads_batch=2))
        request = GenerateRequest(
            turns=tuple(ask("Count to ten.")), system_prompt="", sampling=GREEDY
        )
        stats = runtime.generate(request)
    finally:
        runtime.close()
    assert stats.generated_tokens > 2
    assert stats.n_threads == 1 and stats.thread_changes == 1
