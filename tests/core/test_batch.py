"""Continuous batching: several replies decoded together by the real engine (starter model)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp.llama_cpp as llama_lib
import pytest

from autoglm_desktop.core.common.errors import NoModelLoadedError, RequestError, ServerBusyError
from autoglm_desktop.core.common.types import GenerationStats, LoadPlan, SamplingSettings
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.engine.batch import BatchDecoder
from autoglm_desktop.core.engine.events import EngineEvent, GenerationFinished, TokenChunk
from autoglm_desktop.core.engine.protocol import GenerateRequest, ReplyOptions
from autoglm_desktop.core.engine.request_queue import (
    SOURCE_API,
    SOURCE_WINDOW,
    Delivery,
    Ended,
    EngineQueue,
    QueueSnapshot,
    RequestOutcome,
    Ticket,
)
from autoglm_desktop.core.engine.runtime import LlamaRuntime
from autoglm_desktop.core.engine.thread_governor import ThreadGovernor, ThreadSetting
from autoglm_desktop.core.machine.cpu_share import CpuShare

WAIT_S = 120.0
PARALLEL = 4
MAX_WAITING = 8
OUTCOMES: list[RequestOutcome] = []  # what the module's queue told its listener
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8,"  # the starter model goes on counting for a long time


@dataclass
class Reply:
    """One request's deliveries, gathered from the queue's thread."""

    items: queue.Queue[Delivery] = field(default_factory=queue.Queue)
    first_text: threading.Event = field(default_factory=threading.Event)

    def sink(self, item: Delivery) -> None:
        if isinstance(item, TokenChunk):
            self.first_text.set()
        self.items.put(item)

    def result(self) -> tuple[str, GenerationStats | None, Ended]:
        text, stats = [], None
        while True:
            item = self.items.get(timeout=WAIT_S)
            if isinstance(item, TokenChunk):
                text.append(item.text)
            elif isinstance(item, GenerationFinished):
                stats = item.stats
            elif isinstance(item, Ended):
                return "".join(text), stats, item


def completion(prompt: str, *, max_tokens: int, **options: object) -> GenerateRequest:
    return GenerateRequest(
        turns=(),
        system_prompt="",
        sampling=SamplingSettings(temperature=0.0, max_tokens=max_tokens, repeat_penalty=1.0),
        options=ReplyOptions(prompt_text=prompt, trim_to_fit=False, **options),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def engine(starter_model: Path) -> Iterator[EngineQueue]:
    client = EngineClient()
    list(
        client.load(
            LoadPlan(model_path=starter_model, n_ctx=1024, kv_cache_disk_bytes=0), parallel=PARALLEL
        )
    )
    engine_queue = EngineQueue(client, max_waiting=MAX_WAITING, on_outcome=OUTCOMES.append)
    yield engine_queue
    engine_queue.close()
    client.shutdown()


def submit(engine: EngineQueue, request: GenerateRequest, **kwargs: object) -> tuple[Ticket, Reply]:
    reply = Reply()
    return engine.submit(request, sink=reply.sink, **kwargs), reply  # type: ignore[arg-type]


def test_requests_arriving_mid_reply_join_the_batch(engine: EngineQueue) -> None:
    _, long = submit(engine, completion(COUNTING, max_tokens=160))
    assert long.first_text.wait(WAIT_S)
    others = [submit(engine, completion(f"{n}, {n + 1},", max_tokens=24))[1] for n in (10, 20, 30)]
    results = [r.result() for r in [long, *others]]
    for text, stats, ended in results:
        assert ended.error is None
        assert text
        assert stats is not None and stats.generated_tokens > 0
    long_stats = results[0][1]
    assert long_stats is not None and long_stats.batched_with >= 1  # decoded alongside others


def test_stop_strings_and_limits_hold_in_the_batch(engine: EngineQueue) -> None:
    free_text = submit(engine, completion(COUNTING, max_tokens=30))[1].result()[0]
    stop = " 12,"
    assert stop in free_text
    text, stats, _ = submit(engine, completion(COUNTING, max_tokens=30, stop=(stop,)))[1].result()
    assert text == free_text[: free_text.index(stop)]
    assert stats is not None and stats.stop_reason == "eos"
    _, stats, _ = submit(engine, completion(COUNTING, max_tokens=7))[1].result()
    assert stats is not None and stats.generated_tokens == 7 and stats.stop_reason == "length"


def test_cancelling_one_reply_leaves_the_others_running(engine: EngineQueue) -> None:
    ticket, doomed = submit(engine, completion(COUNTING, max_tokens=400))
    _, kept = submit(engine, completion(COUNTING, max_tokens=40))
    assert doomed.first_text.wait(WAIT_S)
    ticket.cancel()
    _, stats, ended = doomed.result()
    assert ended.error is None
    assert stats is not None and stats.stop_reason == "stopped" and stats.generated_tokens < 400
    outcome = engine.outcome(ticket.request_id)
    assert outcome is not None and outcome.stop_reason == "stopped"
    _, kept_stats, _ = kept.result()
    assert kept_stats is not None and kept_stats.stop_reason == "length"


def test_a_bad_request_fails_alone(engine: EngineQueue) -> None:
    _, good = submit(engine, completion(COUNTING, max_tokens=20))
    _, bad = submit(engine, completion("x", max_tokens=5, json_schema="{not json"))
    _, _, bad_end = bad.result()
    assert isinstance(bad_end.error, RequestError)
    _, stats, good_end = good.result()
    assert good_end.error is None and stats is not None and stats.generated_tokens == 20


def test_replies_that_do_not_fit_together_wait_their_turn(engine: EngineQueue) -> None:
    first = submit(engine, completion(COUNTING, max_tokens=700))[1]  # most of the 1024 cells
    second = submit(engine, completion(COUNTING, max_tokens=700))[1]
    for reply in (first, second):
        _, stats, ended = reply.result()
        assert ended.error is None
        assert stats is not None and stats.batched_with == 0


def test_an_exclusive_request_runs_alone_between_batches(engine: EngineQueue) -> None:
    _, batched = submit(engine, completion(COUNTING, max_tokens=40))
    _, alone = submit(engine, completion("The sky is", max_tokens=10), exclusive=True)
    _, after = submit(engine, completion(COUNTING, max_tokens=10))
    for reply in (batched, alone, after):
        text, stats, ended = reply.result()
        assert ended.error is None and text and stats is not None


def test_a_prompt_that_goes_on_from_a_finished_one_reuses_its_cells(engine: EngineQueue) -> None:
    opening = "Numbers: " + COUNTING  # read for the first time here
    first_text, first, _ = submit(engine, completion(opening, max_tokens=12))[1].result()
    assert first is not None and first.evaluated_prompt_tokens >= first.prompt_tokens - 1
    follow_up = opening + first_text + " and then"
    _, second, ended = submit(engine, completion(follow_up, max_tokens=8))[1].result()
    assert ended.error is None
    assert second is not None and second.generated_tokens > 0
    # Only what follows the first reply's cells is read again.
    assert second.evaluated_prompt_tokens < second.prompt_tokens - first.prompt_tokens


def test_a_prompt_that_starts_like_a_reply_being_written_shares_its_cells(
    engine: EngineQueue,
) -> None:
    opening = "Shared opening: " + COUNTING  # read for the first time here
    _, running = submit(engine, completion(opening + " 9,", max_tokens=60))
    assert running.first_text.wait(WAIT_S)
    text, second, ended = submit(engine, completion(opening + " nine", max_tokens=8))[1].result()
    _, first, _ = running.result()
    assert ended.error is None and text
    assert first is not None and second is not None
    # The opening's cells are shared with the first reply's sequence: only the end is read.
    assert second.evaluated_prompt_tokens <= second.prompt_tokens - first.prompt_tokens + 3


def test_the_queue_holds_what_the_batch_has_no_slot_for_and_refuses_more(
    engine: EngineQueue,
) -> None:
    tickets: list[Ticket] = []
    replies: list[Reply] = []
    with pytest.raises(ServerBusyError):
        for n in range(PARALLEL + MAX_WAITING + 1):
            ticket, reply = submit(engine, completion(f"{n}: {COUNTING}", max_tokens=400))
            tickets.append(ticket)
            replies.append(reply)
    # Refused only once every slot was taken and MAX_WAITING more were waiting.
    assert MAX_WAITING <= len(tickets) <= PARALLEL + MAX_WAITING
    for ticket in reversed(tickets):
        ticket.cancel()
    for reply in replies:
        _, stats, ended = reply.result()
        assert ended.error is None
        assert stats is None or stats.stop_reason == "stopped"


def test_a_caller_on_its_own_thread_streams_its_reply_in_turn(engine: EngineQueue) -> None:
    request = completion("The sky is", max_tokens=12)
    events = list(engine.stream(request))
    assert any(isinstance(e, TokenChunk) for e in events)
    finished = [e for e in events if isinstance(e, GenerationFinished)]
    assert len(finished) == 1 and finished[0].stats.generated_tokens > 0
    assert any(o.request_id == finished[0].request_id for o in OUTCOMES)  # the listener heard


def test_leaving_a_stream_early_cancels_its_request(engine: EngineQueue) -> None:
    events = engine.stream(completion(COUNTING, max_tokens=400))
    first = next(e for e in events if isinstance(e, TokenChunk))
    assert first.text
    events.close()  # the caller leaves (closing the generator cancels the request)
    deadline = time.monotonic() + WAIT_S
    while not any(o.stop_reason == "stopped" for o in OUTCOMES[-1:]):
        assert time.monotonic() < deadline, OUTCOMES[-3:]
        time.sleep(0.05)


def test_one_sources_requests_are_cancelled_with_its_reason_the_others_go_on(
    engine: EngineQueue,
) -> None:
    _, api = submit(engine, completion(COUNTING, max_tokens=400))
    assert api.first_text.wait(WAIT_S)
    _, window = submit(
        engine, completion("The sky is", max_tokens=6), exclusive=True, source=SOURCE_WINDOW
    )
    _, api_waiting = submit(engine, completion(COUNTING, max_tokens=10))
    snapshot = engine.snapshot()
    assert snapshot.running == (SOURCE_API,)  # the window's waits for the batch to end
    assert snapshot.waiting == (SOURCE_WINDOW, SOURCE_API)
    reason = NoModelLoadedError("The local server was turned off.")
    engine.cancel_source(SOURCE_API, error=reason)
    for cancelled in (api, api_waiting):
        _, stats, ended = cancelled.result()
        assert ended.error is reason
        assert stats is None or stats.stop_reason == "stopped"
    text, stats, ended = window.result()
    assert ended.error is None and text and stats is not None
    assert engine.snapshot() == QueueSnapshot()


def test_the_windows_requests_wait_even_when_the_queue_is_full(engine: EngineQueue) -> None:
    with pytest.raises(ServerBusyError):
        for n in range(PARALLEL + MAX_WAITING + 1):
            submit(engine, completion(f"{n}: {COUNTING}", max_tokens=400))
    _, window = submit(
        engine, completion("The sky is", max_tokens=4), exclusive=True, source=SOURCE_WINDOW
    )
    assert SOURCE_WINDOW in engine.snapshot().waiting
    engine.cancel_source(SOURCE_API)
    _, stats, ended = window.result()
    assert ended.error is None and stats is not None and stats.generated_tokens > 0


def test_a_queue_closed_with_a_reason_ends_its_requests_and_refuses_new_ones(
    engine: EngineQueue,
) -> None:
    """A second queue over the module's idle engine, closed as the window changes models."""
    other = EngineQueue(engine.client)
    _, running = submit(other, completion(COUNTING, max_tokens=400))
    assert running.first_text.wait(WAIT_S)
    _, waiting = submit(other, completion(COUNTING, max_tokens=8), exclusive=True)
    reason = NoModelLoadedError("Another model is loading.")
    other.close(error=reason)
    for reply in (running, waiting):
        assert reply.result()[2].error is reason
    with pytest.raises(NoModelLoadedError):
        other.submit(completion("x", max_tokens=1), sink=lambda _item: None)


def test_the_batch_follows_the_thread_governor(starter_model: Path) -> None:
    """A load that appears while replies are decoded together moves llama.cpp to one thread.

    (Fake clock and load, as in test_engine's test of the single-reply path.)
    """
    readings = {"count": 0}
    clock = {"now": 0.0}

    def read_load() -> CpuShare:
        readings["count"] += 1
        other = 0.0 if readings["count"] <= 2 else 2.0  # idle until the batch is under way
        return CpuShare(window_s=1.0, capacity_cores=2.0, busy_cores=2.0, own_cores=2.0 - other)

    def tick() -> float:
        clock["now"] += 1.0  # every step ends a reading interval
        return clock["now"]

    def factory(_plan: LoadPlan, start: ThreadSetting) -> ThreadGovernor:
        return ThreadGovernor(
            current=start, ceiling=2, batch_ceiling=2, read_load=read_load, clock=tick
        )

    finished: list[GenerationStats] = []

    def emit(_request_id: str, event: EngineEvent) -> None:
        if isinstance(event, GenerationFinished):
            finished.append(event.stats)

    runtime = LlamaRuntime(
        stop_requested=lambda: False, emit=lambda _e: None, governor_factory=factory
    )
    try:
        plan = LoadPlan(model_path=starter_model, n_ctx=512, n_threads=2, n_threads_batch=2)
        runtime.load(plan, parallel=2)
        decoder = BatchDecoder(runtime, emit=emit, fail=lambda _id, error: pytest.fail(str(error)))
        for n in (10, 20):
            decoder.add(completion(f"{n}, {n + 1},", max_tokens=12))
        while decoder.busy:
            decoder.step()
        decoder.close()
        governor = runtime.thread_governor
        assert governor is not None
        threads = llama_lib.llama_n_threads(runtime.llama.ctx)
    finally:
        runtime.close()
    assert len(finished) == 2 and all(stats.generated_tokens > 2 for stats in finished)
    assert governor.current.n_threads == 1 and governor.changes == 1
    assert threads == 1  # applied to llama.cpp, not only decided
