"""What the engine re-reads (real model): a full window, a switch away and back, a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from autoglm_desktop.core.common.types import (
    ChatTurn,
    GenerationStats,
    LoadPlan,
    Role,
    SamplingSettings,
)
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.engine.events import collect_reply
from autoglm_desktop.core.engine.prompt_tokens import PieceTokenizer

SAMPLING = SamplingSettings(temperature=0.0, seed=5, max_tokens=24)
SYSTEM = "Answer in one short sentence."
WORDS = "river cloud garden window lantern meadow castle bridge market winter silver violin"


def message(i: int) -> str:
    words = WORDS.split()
    return f"Note {i}: " + " ".join(words[(i + k) % len(words)] for k in range(24)) + ". Ok?"


class Chat:
    """One conversation sent through an engine, as the app sends it."""

    def __init__(self, first: int) -> None:
        self.turns: list[ChatTurn] = []
        self.next = first

    def say(self, client: EngineClient) -> tuple[GenerationStats, int]:
        self.turns.append(ChatTurn(Role.USER, message(self.next)))
        self.next += 1
        reply = collect_reply(
            client.generate(turns=self.turns, system_prompt=SYSTEM, sampling=SAMPLING)
        )
        self.turns.append(ChatTurn(Role.ASSISTANT, reply.text.strip()))
        return reply.stats, reply.dropped_messages


@pytest.fixture
def kv_dir(tmp_path: Path) -> Path:
    return tmp_path / "kv"


def start(model: Path, kv_dir: Path, **plan: object) -> EngineClient:
    client = EngineClient(kv_cache_dir=kv_dir)
    for _ in client.load(LoadPlan(model_path=model, **plan)):  # type: ignore[arg-type]
        pass
    return client


@pytest.fixture
def client(starter_model: Path, kv_dir: Path) -> Iterator[EngineClient]:
    client = start(starter_model, kv_dir, n_ctx=512)
    yield client
    client.shutdown()


def test_a_full_window_reads_only_the_new_turn(client: EngineClient) -> None:
    chat = Chat(0)
    untrimmed, trimmed = [], []
    while len(trimmed) < 4:
        stats, dropped = chat.say(client)
        (trimmed if dropped else untrimmed).append(stats)
        assert stats.context_used <= 512
    new_part = max(s.evaluated_prompt_tokens for s in untrimmed[1:])  # reply + new message
    for stats in trimmed:
        assert stats.evaluated_prompt_tokens <= 2 * new_part, stats
        assert stats.evaluated_prompt_tokens < stats.prompt_tokens / 3


def test_switching_back_reads_only_the_new_message(client: EngineClient) -> None:
    a, b = Chat(0), Chat(50)
    a.say(client)
    second, _ = a.say(client)
    b.say(client)
    back, _ = a.say(client)
    assert back.evaluated_prompt_tokens <= second.evaluated_prompt_tokens + 8
    assert back.evaluated_prompt_tokens < back.prompt_tokens / 2


def test_after_a_restart_the_first_turn_reads_only_the_new_message(
    starter_model: Path, kv_dir: Path
) -> None:
    a = Chat(0)
    client = start(starter_model, kv_dir, n_ctx=512)
    a.say(client)
    second, _ = a.say(client)
    client.shutdown()
    client = start(starter_model, kv_dir, n_ctx=512)
    try:
        again, _ = a.say(client)
    finally:
        client.shutdown()
    assert again.evaluated_prompt_tokens <= second.evaluated_prompt_tokens + 8
    # Another plan (here a longer context) must not use these states.
    other = start(starter_model, kv_dir, n_ctx=768)
    try:
        fresh, _ = a.say(other)
    finally:
        other.shutdown()
    assert fresh.evaluated_prompt_tokens == fresh.prompt_tokens


def test_damaged_state_files_are_removed_and_the_turn_reads_everything(
    starter_model: Path, kv_dir: Path
) -> None:
    a = Chat(0)
    client = start(starter_model, kv_dir, n_ctx=512)
    a.say(client)
    client.shutdown()
    files = list(kv_dir.glob("*/*.kv"))
    assert files
    for path in files:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    client = start(starter_model, kv_dir, n_ctx=512)
    try:
        stats, _ = a.say(client)
    finally:
        client.shutdown()
    assert stats.evaluated_prompt_tokens == stats.prompt_tokens
    assert not any(path.exists() for path in files)


def test_a_zero_budget_keeps_no_states(starter_model: Path, kv_dir: Path) -> None:
    client = start(starter_model, kv_dir, n_ctx=512, kv_cache_ram_bytes=0, kv_cache_disk_bytes=0)
    try:
        a, b = Chat(0), Chat(50)
        a.say(client)
        b.say(client)
        back, _ = a.say(client)
    finally:
        client.shutdown()
    assert back.evaluated_prompt_tokens > back.prompt_tokens / 2
    assert not list(kv_dir.glob("*/*.kv"))


def test_piecewise_tokenization_matches_whole_and_tokenizes_only_new_text(
    starter_model: Path,
) -> None:
    llm = llama_cpp.Llama(model_path=str(starter_model), vocab_only=True, verbose=False)

    def run(text: str, bos: bool, special: bool) -> list[int]:
        return list(llm.tokenize(text.encode(), add_bos=bos, special=special))

    pieces = PieceTokenizer(tokenize=run, special_texts=["<|im_start|>", "<|im_end|>"])
    parts: list[str] = []
    for i, role in enumerate(["system", "user", "assistant", "user"]):
        parts += [f"{'<|im_end|>' + chr(10) if i else ''}<|im_start|>{role}\n"]
        parts += [f"{message(i)} é ü 日本 \n\n"]
    parts.append("<|im_end|>\n")
    prompt = "".join(parts)
    assert pieces(parts, add_bos=True) == run(prompt, True, True)
    extended = [*parts[:-1], "<|im_end|>\n<|im_start|>assistant\n", "A reply."]
    extended += ["<|im_end|>\n<|im_start|>user\n", "More?", ""]
    for _ in range(4):  # past the first prompts, which are also tokenized whole to check
        pieces(parts, add_bos=True)
    before = pieces.tokenized_chars
    assert pieces(extended, add_bos=True) == run("".join(extended), True, True)
    assert pieces.tokenized_chars - before <= len("".join(extended)) - len(prompt)
