"""The local server, called by the official ``openai`` client over real HTTP on 127.0.0.1.

One engine (the real starter model) and one server serve the whole module; each test is one
kind of call a program would make.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
from pydantic import BaseModel, Field

from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.engine.request_queue import EngineQueue
from autoglm_desktop.core.server import ServerConfig, ServerThread, build_app

API_KEY = "test-key-123"
MAX_BODY = 64 * 1024
MAX_TOKENS = 512
PARALLEL = 4  # replies decoded together
HELLO = [{"role": "user", "content": "Write a short poem about the sea."}]


class Server:
    def __init__(self, thread: ServerThread, queue: EngineQueue, model: str) -> None:
        self.thread, self.queue, self.model = thread, queue, model
        self._clients: dict[str, openai.OpenAI] = {}

    def client(self, api_key: str = API_KEY) -> openai.OpenAI:
        """One client per key for the module (its connection pool is shared by threads)."""
        if api_key not in self._clients:
            self._clients[api_key] = openai.OpenAI(
                base_url=self.thread.base_url, api_key=api_key, max_retries=0, timeout=120.0
            )
        return self._clients[api_key]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


@pytest.fixture(scope="module")
def server(starter_model: Path) -> Iterator[Server]:
    client = EngineClient()
    plan = LoadPlan(model_path=starter_model, n_ctx=2048, kv_cache_disk_bytes=0)
    list(client.load(plan, parallel=PARALLEL))
    queue = EngineQueue(client)
    config = ServerConfig(
        port=0, api_key=API_KEY, max_body_bytes=MAX_BODY, max_tokens_limit=MAX_TOKENS
    )
    thread = ServerThread(build_app(engine=queue, config=config), config=config)
    thread.start()
    running = Server(thread, queue, starter_model.stem)
    try:
        yield running
    finally:
        running.close()
        thread.stop()
        queue.close()
        client.shutdown()


def test_models_lists_the_loaded_model(server: Server) -> None:
    models = server.client().models.list()
    assert [m.id for m in models.data] == [server.model]
    assert server.client().models.retrieve(server.model).id == server.model


def test_chat_completion_with_usage(server: Server) -> None:
    reply = server.client().chat.completions.create(
        model=server.model,
        messages=HELLO,
        max_tokens=24,
        temperature=0,  # type: ignore[arg-type]
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 5
    assert 0 < reply.usage.completion_tokens <= 24
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streamed_chat_gives_the_same_text_as_a_whole_one(server: Server) -> None:
    client = server.client()
    whole = client.chat.completions.create(
        model=server.model,
        messages=HELLO,
        max_tokens=30,
        temperature=0,  # type: ignore[arg-type]
    )
    stream = client.chat.completions.create(
        model=server.model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=30,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == whole.choices[0].finish_reason
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]


def test_text_completion_streamed_and_not(server: Server) -> None:
    client = server.client()
    whole = client.completions.create(
        model=server.model, prompt="The capital of France is", max_tokens=12, temperature=0
    )
    assert whole.choices[0].text
    assert whole.usage is not None and whole.usage.completion_tokens > 0
    stream = client.completions.create(
        model=server.model,
        prompt="The capital of France is",
        max_tokens=12,
        temperature=0,
        stream=True,
    )
    assert "".join(c.choices[0].text for c in stream) == whole.choices[0].text


class Person(BaseModel):
    name: str = Field(max_length=24)
    age: int = Field(ge=0, le=150)


def test_json_schema_output_parses_and_validates(server: Server) -> None:
    reply = server.client().chat.completions.create(
        model=server.model,
        messages=[{"role": "user", "content": "Describe a person as JSON."}],
        max_tokens=200,
        temperature=0.7,
        seed=3,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": Person.model_json_schema()},
        },
    )
    content = reply.choices[0].message.content or ""
    person = Person.model_validate_json(content)
    assert person.name == json.loads(content)["name"]


def test_json_object_output_parses(server: Server) -> None:
    # An object the model only has to copy: a small model left to invent one may write it
    # for longer than any limit (the grammar keeps it an object all the same).
    reply = server.client().chat.completions.create(
        model=server.model,
        messages=[
            {"role": "system", "content": "You reply with JSON only."},
            {"role": "user", "content": 'Repeat this JSON exactly: {"ok": true, "n": 1}'},
        ],
        max_tokens=100,
        temperature=0,
        response_format={"type": "json_object"},
    )
    content = reply.choices[0].message.content or ""
    assert reply.choices[0].finish_reason == "stop", content
    assert isinstance(json.loads(content), dict)


def test_stop_string_ends_the_reply_before_it(server: Server) -> None:
    client = server.client()
    free = client.completions.create(
        model=server.model, prompt="One, two, three, four,", max_tokens=40, temperature=0
    )
    text = free.choices[0].text
    words = [w for w in text.split() if len(w) > 2]
    assert len(words) > 2, text
    stop = words[len(words) // 2]
    cut = client.completions.create(
        model=server.model,
        prompt="One, two, three, four,",
        max_tokens=40,
        temperature=0,
        stop=[stop],
    )
    assert cut.choices[0].text == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


def test_same_seed_gives_the_same_text(server: Server) -> None:
    client = server.client()

    def sample(seed: int) -> str:
        reply = client.chat.completions.create(
            model=server.model,
            messages=HELLO,  # type: ignore[arg-type]
            max_tokens=40,
            temperature=1.0,
            seed=seed,
        )
        return reply.choices[0].message.content or ""

    first = sample(1234)
    sample(99)  # another reply in between: the engine's state must not matter
    assert sample(1234) == first
    assert first


def test_a_wrong_api_key_is_refused(server: Server) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        server.client(api_key="wrong").models.list()
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    response = httpx.get(f"{server.thread.base_url}/models")  # no key at all
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_an_unknown_model_is_404(server: Server) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        server.client().chat.completions.create(model="gpt-9", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"


def test_n_above_one_is_refused_clearly(server: Server) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        server.client().chat.completions.create(model=server.model, messages=HELLO, n=2)  # type: ignore[arg-type]
    assert caught.value.param == "n"
    assert "n > 1 is not supported" in str(caught.value)


def test_bad_parameters_are_400_with_their_name(server: Server) -> None:
    client = server.client()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=server.model, messages=HELLO, temperature=5)  # type: ignore[arg-type]
    assert caught.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=server.model, messages=HELLO, max_tokens=10**6)  # type: ignore[arg-type]
    assert caught.value.param == "max_tokens"
    response = httpx.post(
        f"{server.thread.base_url}/chat/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_a_body_too_large_is_413(server: Server) -> None:
    huge = [{"role": "user", "content": "x" * (MAX_BODY + 1)}]
    with pytest.raises(openai.APIStatusError) as caught:
        server.client().chat.completions.create(model=server.model, messages=huge)  # type: ignore[arg-type]
    assert caught.value.status_code == 413


def test_a_prompt_longer_than_the_context_is_400(server: Server) -> None:
    long = [{"role": "user", "content": "word " * 4000}]
    with pytest.raises(openai.BadRequestError) as caught:
        server.client().chat.completions.create(model=server.model, messages=long)  # type: ignore[arg-type]
    assert caught.value.code == "context_length_exceeded"


def test_embeddings_are_unit_vectors_one_per_text(server: Server) -> None:
    client = server.client()
    texts = ["The cat sleeps.", "Stock prices fell today.", "The cat sleeps."]
    result = client.embeddings.create(model=server.model, input=texts)  # base64 by default
    vectors = [item.embedding for item in sorted(result.data, key=lambda d: d.index)]
    assert len(vectors) == 3
    assert len({len(v) for v in vectors}) == 1 and len(vectors[0]) > 16
    for vector in vectors:
        assert abs(sum(x * x for x in vector) - 1.0) < 1e-3
    assert vectors[0] == pytest.approx(vectors[2], abs=1e-5)
    assert vectors[0] != pytest.approx(vectors[1], abs=1e-3)
    assert result.usage.prompt_tokens > 6
    as_floats = client.embeddings.create(
        model=server.model, input="The cat sleeps.", encoding_format="float"
    )
    assert as_floats.data[0].embedding == pytest.approx(vectors[0], abs=1e-5)


def test_embeddings_of_token_arrays_are_refused_clearly(server: Server) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        server.client().embeddings.create(model=server.model, input=[[1, 2, 3]])
    assert caught.value.param == "input"


def test_unknown_route_is_an_openai_404(server: Server) -> None:
    response = httpx.get(
        f"{server.thread.base_url}/nothing", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def wait_for_outcome(queue: EngineQueue, request_id: str, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        outcome = queue.outcome(request_id)
        if outcome is not None:
            return outcome.stop_reason
        time.sleep(0.05)
    raise AssertionError(f"request {request_id} never ended")


def test_a_client_that_disconnects_stops_its_generation(server: Server) -> None:
    stream = server.client().chat.completions.create(
        model=server.model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=MAX_TOKENS,
        temperature=1.0,
        stream=True,
    )
    first = next(iter(stream))
    stream.close()
    assert wait_for_outcome(server.queue, first.id) == "stopped"
    outcome = server.queue.outcome(first.id)
    assert outcome is not None and outcome.generated_tokens < MAX_TOKENS


def test_twenty_concurrent_clients_all_complete(server: Server) -> None:
    results: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def call(index: int) -> None:
        try:
            client = server.client()
            if index % 2:
                reply = client.chat.completions.create(
                    model=server.model,
                    messages=[{"role": "user", "content": f"Count to {index}."}],
                    max_tokens=8,
                )
                text = reply.choices[0].message.content or ""
            else:
                stream = client.chat.completions.create(
                    model=server.model,
                    messages=[{"role": "user", "content": f"Name {index} colours."}],
                    max_tokens=8,
                    stream=True,
                )
                text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            with lock:
                results.append(text)
        except BaseException as exc:
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert failures == []
    assert len(results) == 20
    assert all(results)


def test_cors_is_off_unless_origins_are_listed(server: Server) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    url = f"{server.thread.base_url}/chat/completions"
    assert "access-control-allow-origin" not in httpx.options(url, headers=preflight).headers
    config = ServerConfig(port=0, cors_origins=("https://app.example",))
    other = ServerThread(build_app(engine=server.queue, config=config), config=config)
    other.start()
    try:
        url = f"{other.base_url}/chat/completions"
        allowed = httpx.options(url, headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        refused = httpx.options(url, headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in refused.headers
        models = httpx.get(f"{other.base_url}/models", headers={"Origin": "https://app.example"})
        assert models.headers["access-control-allow-origin"] == "https://app.example"
    finally:
        other.stop()


def test_a_request_past_its_time_limit_ends_with_what_it_has(server: Server) -> None:
    config = ServerConfig(port=0, api_key=API_KEY, request_timeout_s=2.0, max_tokens_limit=2000)
    other = ServerThread(build_app(engine=server.queue, config=config), config=config)
    other.start()
    try:
        with openai.OpenAI(base_url=other.base_url, api_key=API_KEY, max_retries=0) as client:
            reply = client.completions.create(
                model=server.model, prompt="1, 2, 3, 4,", max_tokens=2000, temperature=0
            )
    finally:
        other.stop()
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens < 2000
