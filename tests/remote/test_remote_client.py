"""The remote engine against real servers on 127.0.0.1: replies, figures, Stop and every fault."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_server import PARTIAL_WORDS, REPLY_WORDS, RETRY_AFTER, THOUGHTS, FaultServer
from keyring.backends import fail
from remote_helpers import MemoryKeyring, ServerUnderTest

from autoglm_desktop.core.common import errors
from autoglm_desktop.core.common.types import ChatTurn, Role, SamplingSettings, StopReason
from autoglm_desktop.core.engine.events import (
    EngineEvent,
    GenerationFinished,
    ReasoningChunk,
    TokenChunk,
    collect_reply,
)
from autoglm_desktop.core.remote.client import RemoteChatClient, check_connection
from autoglm_desktop.core.remote.keys import KEYRING_SERVICE, ApiKeyStore
from autoglm_desktop.core.remote.openai_api import RemoteTimeouts, retry_after_seconds
from autoglm_desktop.core.remote.servers import (
    RemoteServer,
    RemoteTarget,
    load_remote_servers,
    new_server,
    normalize_base_url,
    save_remote_servers,
)

HELLO = (ChatTurn(role=Role.USER, content="Say hello in one short sentence."),)
SHORT = SamplingSettings(max_tokens=24, seed=7)


def remote(
    base_url: str, *, model: str, key: str | None, stall_s: float = 60.0
) -> tuple[RemoteChatClient, RemoteTarget]:
    """A client whose keyring holds ``key``, and the target ``model`` of that server."""
    server = new_server(name="Test server", base_url=base_url, has_key=key is not None)
    keys = ApiKeyStore(backend=MemoryKeyring())
    if key is not None:
        keys.set(server.id, key)
    client = RemoteChatClient(keys=keys, timeouts=RemoteTimeouts(connect_s=5, stall_s=stall_s))
    return client, RemoteTarget(server=server, model=model)


def events_until_error(events: Iterator[EngineEvent]) -> tuple[str, BaseException | None]:
    text = []
    try:
        for event in events:
            if isinstance(event, TokenChunk):
                text.append(event.text)
    except errors.RemoteError as error:
        return "".join(text), error
    return "".join(text), None


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------- real servers


def test_test_connection_lists_the_servers_models(openai_server: ServerUnderTest) -> None:
    check = check_connection(base_url=openai_server.base_url, api_key=openai_server.api_key)
    assert openai_server.model in check.models
    assert check.seconds > 0


def test_a_reply_streams_with_its_figures(openai_server: ServerUnderTest) -> None:
    client, target = remote(
        openai_server.base_url, model=openai_server.model, key=openai_server.api_key
    )
    events = list(client.generate(target=target, turns=HELLO, sampling=SHORT))
    chunks = [e for e in events if isinstance(e, TokenChunk)]
    assert len(chunks) >= 2
    assert isinstance(events[-1], GenerationFinished)
    reply = collect_reply(events)
    assert reply.text.strip()
    stats = reply.stats
    assert stats.stop_reason in (StopReason.EOS.value, StopReason.LENGTH.value)
    assert 1 <= stats.generated_tokens <= SHORT.max_tokens
    assert stats.ttft_s > 0
    assert stats.tokens_per_s > 0
    assert stats.total_s >= stats.ttft_s


def test_the_system_prompt_and_history_reach_the_server(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="echo", key="fault-key")
    turns = (
        ChatTurn(role=Role.USER, content="My name is Ada."),
        ChatTurn(role=Role.ASSISTANT, content="Nice to meet you, Ada."),
        ChatTurn(role=Role.USER, content="What is my name?"),
    )
    sampling = SamplingSettings(max_tokens=16, temperature=0.2, top_p=0.9)
    collect_reply(
        client.generate(target=target, turns=turns, system_prompt="Be brief.", sampling=sampling)
    )
    sent = faults.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.2, 0.9, 16)
    assert "seed" not in sent  # -1: a new seed each time, the server's choice


def test_stop_ends_the_reply_at_once(openai_server: ServerUnderTest) -> None:
    client, target = remote(
        openai_server.base_url, model=openai_server.model, key=openai_server.api_key
    )
    long = SamplingSettings(max_tokens=2000, seed=3)
    turns = (ChatTurn(role=Role.USER, content="Write a very long story about a lighthouse."),)
    events = client.generate(target=target, turns=turns, sampling=long)
    pieces = 0
    stopped_at = None
    finished = None
    for event in events:
        if isinstance(event, TokenChunk):
            pieces += 1
            if pieces == 3:
                client.request_stop()
                stopped_at = time.monotonic()
        elif isinstance(event, GenerationFinished):
            finished = event
    assert stopped_at is not None and finished is not None
    assert time.monotonic() - stopped_at < 5.0
    assert finished.stats.stop_reason == StopReason.STOPPED.value
    assert finished.stats.generated_tokens < long.max_tokens
    # The server is free again: the next reply comes.
    assert collect_reply(client.generate(target=target, turns=HELLO, sampling=SHORT)).text


def test_a_wrong_key_is_refused_clearly(openai_server: ServerUnderTest) -> None:
    if openai_server.api_key is None:
        pytest.skip("this server runs without a key")
    with pytest.raises(errors.RemoteAuthError, match="refused the API key"):
        check_connection(base_url=openai_server.base_url, api_key="wrong-key")
    client, target = remote(openai_server.base_url, model=openai_server.model, key="wrong-key")
    text, error = events_until_error(client.generate(target=target, turns=HELLO))
    assert text == ""
    assert isinstance(error, errors.RemoteAuthError)
    assert "Settings → Remote servers" in str(error)


# --------------------------------------------------------------------------- faults


def test_an_unreachable_server_says_so() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(errors.RemoteUnreachableError, match="Could not reach") as caught:
        check_connection(base_url=url, api_key=None, server_name="Nobody")
    assert url in str(caught.value)
    client, target = remote(url, model="any", key=None)
    text, error = events_until_error(client.generate(target=target, turns=HELLO))
    assert text == "" and isinstance(error, errors.RemoteUnreachableError)
    assert "Test server" in str(error)


def test_a_server_that_never_accepts_the_connection_is_unreachable() -> None:
    """A listening socket whose backlog is full drops new connections: the connect times out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):  # fill the accept queue; further SYNs are dropped
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            url = f"http://127.0.0.1:{port}/v1"
            client, target = remote(url, model="any", key=None)
            client._timeouts = RemoteTimeouts(connect_s=1.0, stall_s=60)
            started = time.monotonic()
            text, error = events_until_error(client.generate(target=target, turns=HELLO))
        finally:
            for filler in fillers:
                filler.close()
    assert text == ""
    assert isinstance(error, errors.RemoteUnreachableError), error
    assert "no answer in time" in str(error)
    assert time.monotonic() - started < 30


def test_a_servers_model_list_is_outside_text(faults: FaultServer) -> None:
    faults.extra_models = [
        "<b>bold</b>",
        "esc\x1b[31mred",
        "x" * 300,
        *(f"m{i:05}" for i in range(2000)),
    ]
    check = check_connection(base_url=faults.base_url, api_key="fault-key")
    assert "<b>bold</b>" in check.models  # kept as it is: the window shows it as plain text
    assert not any("\x1b" in m or len(m) > 256 for m in check.models)
    assert len(check.models) == 1000


def test_the_fault_server_streams_a_whole_reply(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="echo", key="fault-key")
    reply = collect_reply(client.generate(target=target, turns=HELLO, sampling=SHORT))
    assert reply.text == "".join(REPLY_WORDS)
    assert reply.stats.prompt_tokens == 11  # from the usage chunk
    assert reply.stats.generated_tokens == len(REPLY_WORDS)
    assert reply.stats.context_used == 11 + len(REPLY_WORDS)
    sent = faults.requests[-1]
    assert sent["model"] == "echo" and sent["stream"] is True
    assert sent["max_tokens"] == SHORT.max_tokens and sent["seed"] == SHORT.seed
    assert sent["messages"] == [{"role": "user", "content": HELLO[0].content}]


def test_a_thinking_models_reasoning_comes_as_reasoning(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="think", key="fault-key")
    events = list(client.generate(target=target, turns=HELLO))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ReasoningChunk"] * len(THOUGHTS) + ["TokenChunk"] * len(REPLY_WORDS) + [
        "GenerationFinished"
    ]
    reply = collect_reply(events)
    assert reply.reasoning == "".join(THOUGHTS)
    assert reply.text == "".join(REPLY_WORDS)
    first = next(e for e in events if isinstance(e, ReasoningChunk))
    assert first.text == THOUGHTS[0]


def test_a_bad_key_gets_401(faults: FaultServer) -> None:
    with pytest.raises(errors.RemoteAuthError, match="401"):
        check_connection(base_url=faults.base_url, api_key="nope", server_name="Faulty")
    client, target = remote(faults.base_url, model="echo", key=None)
    _, error = events_until_error(client.generate(target=target, turns=HELLO))
    assert isinstance(error, errors.RemoteAuthError)
    assert "“Test server” refused the API key (401: Incorrect API key provided.)" in str(error)


def test_an_unknown_model_gets_404(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="no-such-model", key="fault-key")
    text, error = events_until_error(client.generate(target=target, turns=HELLO))
    assert text == ""
    assert isinstance(error, errors.RemoteModelNotFoundError)
    assert "has no model “no-such-model” (404" in str(error)
    assert "Test connection" in str(error)


def test_a_rate_limit_says_when_to_try_again(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="rate-limit", key="fault-key")
    started = time.monotonic()
    _, error = events_until_error(client.generate(target=target, turns=HELLO))
    assert isinstance(error, errors.RemoteRateLimitError)
    assert error.retry_after_s == RETRY_AFTER
    assert f"Try again in {RETRY_AFTER} seconds." in str(error)
    assert time.monotonic() - started < RETRY_AFTER  # told at once, not retried silently
    assert len(faults.requests) == 1


def test_retry_after_reads_seconds_dates_and_milliseconds() -> None:
    assert retry_after_seconds({"retry-after": "12"}) == 12
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    date = retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert date == 0.0  # a date in the past: now
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_a_server_error_is_reported_with_what_the_server_said(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="boom", key="fault-key")
    text, error = events_until_error(client.generate(target=target, turns=HELLO))
    assert text == ""
    assert isinstance(error, errors.RemoteServerError)
    assert "(500: The GPU caught fire.)" in str(error)


@pytest.mark.parametrize("model", ["drop", "error-mid", "no-finish"])
def test_a_reply_cut_short_keeps_its_part(faults: FaultServer, model: str) -> None:
    client, target = remote(faults.base_url, model=model, key="fault-key")
    text, error = events_until_error(client.generate(target=target, turns=HELLO))
    assert text == "".join(PARTIAL_WORDS)
    assert isinstance(error, errors.RemoteStreamInterruptedError)
    assert "kept, marked interrupted" in str(error)


def test_a_stalled_stream_is_stopped_and_closed(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="stall", key="fault-key", stall_s=1.0)
    text, error = events_until_error(client.generate(target=target, turns=HELLO))
    assert text == "".join(PARTIAL_WORDS)
    assert isinstance(error, errors.RemoteStalledError)
    assert "sent nothing for 1 seconds in the middle of the reply" in str(error)
    assert faults.gone.wait(10), "the server still streams to a client that gave up"


def test_a_server_that_never_answers_is_given_up(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="stall-first", key="fault-key", stall_s=1.0)
    started = time.monotonic()
    text, error = events_until_error(client.generate(target=target, turns=HELLO))
    assert text == ""
    assert isinstance(error, errors.RemoteStalledError)
    assert "after the request" in str(error)
    assert time.monotonic() - started < 30
    assert faults.gone.wait(10)


def test_stop_from_another_thread_closes_the_stream(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="endless", key="fault-key")
    first = threading.Event()
    stopped_at: list[float] = []

    def stop_after_first_token() -> None:
        first.wait(30)
        stopped_at.append(time.monotonic())
        client.request_stop()

    stopper = threading.Thread(target=stop_after_first_token)
    stopper.start()
    finished = None
    for event in client.generate(target=target, turns=HELLO):
        if isinstance(event, TokenChunk):
            first.set()
        elif isinstance(event, GenerationFinished):
            finished = event
    stopper.join()
    assert finished is not None
    assert finished.stats.stop_reason == StopReason.STOPPED.value
    assert time.monotonic() - stopped_at[0] < 5
    assert faults.gone.wait(10), "Stop left the stream open"
    assert faults.gone_at is not None and faults.gone_at - stopped_at[0] < 5


def test_stop_before_the_server_answers(faults: FaultServer) -> None:
    client, target = remote(faults.base_url, model="stall-first", key="fault-key")
    threading.Timer(0.5, client.request_stop).start()
    events = list(client.generate(target=target, turns=HELLO))
    assert isinstance(events[-1], GenerationFinished)
    assert events[-1].stats.stop_reason == StopReason.STOPPED.value
    assert faults.gone.wait(10)


def test_offline_mode_blocks_the_hub_but_not_a_chosen_server(
    faults: FaultServer, isolated_hub_state: None
) -> None:
    from autoglm_desktop.core.hub.client import HubClient, search_models
    from autoglm_desktop.core.hub.settings import HubSettings

    hub = HubClient(settings=HubSettings(offline=True), token=False)
    with pytest.raises(errors.OfflineModeError):
        search_models(hub, "tiny")
    client, target = remote(faults.base_url, model="echo", key="fault-key")
    assert collect_reply(client.generate(target=target, turns=HELLO)).text


# --------------------------------------------------------------------------- keys and settings


def test_keys_go_to_the_keyring_never_to_the_settings_file(app_home: Path) -> None:
    backend = MemoryKeyring()
    keys = ApiKeyStore(backend=backend)
    server = new_server(name=" GPU  box ", base_url="gpu-box:8000", has_key=True)
    assert server.name == "GPU box"
    assert server.base_url == "http://gpu-box:8000/v1"
    status = keys.set(server.id, "sk-secret-123")
    assert status.persistent
    assert backend.passwords == {(KEYRING_SERVICE, server.id): "sk-secret-123"}
    save_remote_servers([server.updated(models=("a", "b"))])
    stored = (app_home / "config").rglob("remote_servers.json")
    text = next(iter(stored)).read_text()
    assert "sk-secret" not in text
    assert load_remote_servers() == [server.updated(models=("a", "b"))]
    assert ApiKeyStore(backend=backend).get(server.id) == "sk-secret-123"
    keys.delete(server.id)
    assert keys.get(server.id) is None


def test_without_a_keyring_keys_last_the_session_only() -> None:
    keys = ApiKeyStore(backend=fail.Keyring())
    keys._resolved = False  # as on a machine where keyring finds only its fail backend
    import keyring

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        status = keys.status()
        assert not status.persistent and status.backend == ""
        assert not keys.set("s1", "k1").persistent
        assert keys.get("s1") == "k1"
        assert ApiKeyStore().get("s1") is None  # the next session asks again
    finally:
        keyring.set_keyring(previous)
    server = RemoteServer(id="s2", name="Box", base_url="http://127.0.0.1:9/v1", has_key=True)
    client = RemoteChatClient(keys=keys)
    with pytest.raises(errors.RemoteKeyMissingError, match="Enter it again"):
        list(client.generate(target=RemoteTarget(server=server, model="m"), turns=HELLO))


def test_a_failing_keyring_falls_back_to_the_session() -> None:
    class BrokenKeyring(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise RuntimeError("the keyring is locked")

    keys = ApiKeyStore(backend=BrokenKeyring())
    status = keys.set("s1", "k1")
    assert not status.persistent and "locked" in status.backend
    assert keys.get("s1") == "k1"


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("http://10.0.0.5:8000/v1/", "http://10.0.0.5:8000/v1"),
        ("localhost:11434", "http://localhost:11434/v1"),
        ("https://api.example.com", "https://api.example.com/v1"),
        ("http://box:1234/api/v1", "http://box:1234/api/v1"),
    ],
)
def test_addresses_are_normalized(typed: str, normalized: str) -> None:
    assert normalize_base_url(typed) == normalized


@pytest.mark.parametrize(
    "typed", ["", "ftp://box", "http://", "http://box:port/v1", "http://b/?x=1"]
)
def test_bad_addresses_are_refused(typed: str) -> None:
    with pytest.raises(errors.RemoteSettingsError):
        normalize_base_url(typed)


def test_damaged_entries_are_skipped(app_home: Path) -> None:
    from autoglm_desktop.core.common.settings_file import write_json_object
    from autoglm_desktop.core.remote.servers import remote_servers_path

    good: dict[str, Any] = {"id": "a", "name": "A", "base_url": "http://a:1/v1", "models": ["m"]}
    remote_servers_path().parent.mkdir(parents=True, exist_ok=True)
    write_json_object(
        remote_servers_path(), {"servers": [good, {"id": 3}, "x", {**good, "id": ""}]}
    )
    assert [s.id for s in load_remote_servers()] == ["a"]


def test_stop_while_the_key_is_read_ends_the_reply_without_a_request(faults: FaultServer) -> None:
    client_box: list[RemoteChatClient] = []

    class StoppingKeyring(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            client_box[0].request_stop()  # as the user pressing Stop meanwhile
            return "fault-key"

    server = new_server(name="Faulty", base_url=faults.base_url, has_key=True)
    client = RemoteChatClient(keys=ApiKeyStore(backend=StoppingKeyring()))
    client_box.append(client)
    events = list(client.generate(target=RemoteTarget(server=server, model="echo"), turns=HELLO))
    assert len(events) == 1 and isinstance(events[0], GenerationFinished)
    assert events[0].stats.stop_reason == StopReason.STOPPED.value
    assert faults.hits == 0
