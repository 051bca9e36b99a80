"""The server over an engine the window shares, and a thinking model's reasoning.

Models come and go under the server (503 while none is loaded, a stream cut short with the
reason), every request reaches the request log, and the reasoning comes apart from the answer.

Real HTTP on 127.0.0.1 with the official ``openai`` client; the engine is the real starter
model, copied with a chat template that opens ``<think>`` (so what SmolLM2 writes first is
reasoning), loaded to decode two replies together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
from gguf_copy import THINKING_CHATML, copy_with_chat_template

from autoglm_desktop.core.common.errors import NoModelLoadedError
from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.engine.request_queue import EngineQueue
from autoglm_desktop.core.engine.shared_engine import LOADING, SharedEngine, Unavailable
from autoglm_desktop.core.server import ServerConfig, ServerThread, build_app
from autoglm_desktop.core.server.request_log import RequestRecord

API_KEY = "sharing-key"
WAIT_S = 60.0
HELLO = [{"role": "user", "content": "What is two plus two?"}]


@dataclass
class Served:
    thread: ServerThread
    shared: SharedEngine
    queue: EngineQueue
    client: EngineClient
    model: str
    api: openai.OpenAI
    records: list[RequestRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, record: RequestRecord) -> None:
        with self.lock:
            self.records.append(record)

    def logged(self) -> list[RequestRecord]:
        with self.lock:
            return list(self.records)

    def wait_for(self, count: int) -> list[RequestRecord]:
        """The records once ``count`` are in (a record follows its response's last byte)."""
        deadline = time.monotonic() + WAIT_S
        while len(records := self.logged()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return records


@pytest.fixture(scope="module")
def served(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("thinking-server")
    model = copy_with_chat_template(
        starter_model, folder / "SmolLM2-thinking.gguf", template=THINKING_CHATML
    )
    client = EngineClient()
    plan = LoadPlan(model_path=model, n_ctx=1024, kv_cache_disk_bytes=0)
    list(client.load(plan, parallel=2))
    queue = EngineQueue(client)
    shared = SharedEngine(queue)
    config = ServerConfig(port=0, api_key=API_KEY)
    records: list[RequestRecord] = []
    holder: list[Served] = []
    app = build_app(engine=shared, config=config, on_request=lambda r: holder[0].log(r))
    thread = ServerThread(app, config=config)
    thread.start()
    api = openai.OpenAI(base_url=thread.base_url, api_key=API_KEY, max_retries=0, timeout=120.0)
    holder.append(Served(thread, shared, queue, client, model.stem, api, records))
    try:
        yield holder[0]
    finally:
        api.close()
        thread.stop()
        current = shared.current()
        if isinstance(current, EngineQueue):
            current.close()
        client.shutdown()


def reasoning_of(extra: dict[str, object] | None) -> str:
    value = (extra or {}).get("reasoning_content")
    return value if isinstance(value, str) else ""


def test_a_thinking_models_reasoning_comes_apart_whole_and_streamed(served: Served) -> None:
    whole = served.api.chat.completions.create(
        model=served.model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=24,
        temperature=0,
    )
    message = whole.choices[0].message
    reasoning = reasoning_of(message.model_extra)
    assert reasoning, message  # the prompt opened <think>: what the model writes is reasoning
    assert "<think>" not in reasoning and "<think>" not in (message.content or "")
    stream = served.api.chat.completions.create(
        model=served.model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=24,
        temperature=0,
        stream=True,
    )
    chunks = [c for c in stream if c.choices]
    streamed = "".join(reasoning_of(c.choices[0].delta.model_extra) for c in chunks)
    answer = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == reasoning
    assert answer == (message.content or "")


def test_thinking_switched_off_by_the_request_gives_only_an_answer(served: Served) -> None:
    reply = served.api.chat.completions.create(
        model=served.model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=16,
        temperature=0,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    message = reply.choices[0].message
    assert message.content
    assert reasoning_of(message.model_extra) == ""


def test_earlier_reasoning_goes_back_as_reasoning_content(served: Served) -> None:
    thought = "The user greets me."
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!", "reasoning_content": thought},
        {"role": "user", "content": "How are you?"},
    ]
    reply = served.api.chat.completions.create(
        model=served.model,
        messages=messages,  # type: ignore[arg-type]
        max_tokens=4,
        temperature=0,
    )
    assert reply.usage is not None
    plain = served.api.chat.completions.create(
        model=served.model,
        messages=[{**m, "reasoning_content": None} for m in messages],  # type: ignore[misc]
        max_tokens=4,
        temperature=0,
    )
    assert plain.usage is not None
    # The template writes the earlier thought into the prompt: it costs tokens.
    assert reply.usage.prompt_tokens > plain.usage.prompt_tokens


def test_the_request_log_hears_every_request(served: Served) -> None:
    before = len(served.logged())
    served.api.chat.completions.create(
        model=served.model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=5,
        temperature=0,
    )
    with pytest.raises(openai.NotFoundError):
        served.api.chat.completions.create(model="nope", messages=HELLO)  # type: ignore[arg-type]
    assert httpx.get(f"{served.thread.base_url}/models").status_code == 401
    records = served.wait_for(before + 3)[before:]
    assert [(r.method, r.path, r.status) for r in records] == [
        ("POST", "/v1/chat/completions", 200),
        ("POST", "/v1/chat/completions", 404),
        ("GET", "/v1/models", 401),
    ]
    answered = records[0]
    assert answered.prompt_tokens > 5 and 0 < answered.completion_tokens <= 5
    assert answered.client == "127.0.0.1"
    assert all(r.duration_s >= 0 and r.started > 0 for r in records)
    assert records[1].completion_tokens == 0


def test_while_no_model_is_loaded_requests_get_503_with_the_reason(served: Served) -> None:
    queue = served.shared.withdraw(Unavailable(LOADING, loading=True))
    assert queue is served.queue
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            served.api.chat.completions.create(model=served.model, messages=HELLO)  # type: ignore[arg-type]
        assert caught.value.status_code == 503
        assert caught.value.code == "model_not_loaded"
        assert "loading a model" in caught.value.message
        assert caught.value.response.headers["retry-after"]
        assert served.api.models.list().data == []
        health = httpx.get(served.thread.base_url.removesuffix("/v1") + "/health")
        assert health.status_code == 503 and health.json()["status"] == "loading model"
    finally:
        served.shared.use(queue)
    reply = served.api.chat.completions.create(
        model=served.model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=4,
    )
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_a_model_change_mid_stream_ends_the_stream_with_the_reason(served: Served) -> None:
    """The window takes the engine back to load another model: the reply ends with an error."""
    original = served.shared.withdraw(Unavailable())
    assert original is not None
    original.close()  # the window's worker hands the engine to a new queue
    changing = EngineQueue(served.client)
    served.shared.use(changing)
    try:
        stream = served.api.chat.completions.create(
            model=served.model,
            messages=[{"role": "user", "content": "Tell me a very long story."}],
            max_tokens=400,
            temperature=1.0,
            stream=True,
        )
        events = iter(stream)
        next(events)  # the reply has begun
        reason = "AutoGLM Desktop is loading another model."
        gone = served.shared.withdraw(Unavailable(reason, loading=True))
        assert gone is changing
        changing.close(error=NoModelLoadedError(reason))
        with pytest.raises(openai.APIError) as caught:
            for _event in events:
                pass
        assert reason in str(caught.value)
        with pytest.raises(openai.APIStatusError) as refused:
            served.api.chat.completions.create(model=served.model, messages=HELLO)  # type: ignore[arg-type]
        assert refused.value.status_code == 503
    finally:
        served.queue = EngineQueue(served.client)
        served.shared.use(served.queue)
