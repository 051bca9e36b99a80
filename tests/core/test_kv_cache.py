"""The KV state store on its own: budgets, LRU order, disk persistence, damaged files."""

from __future__ import annotations

import os
from pathlib import Path

from autoglm_desktop.core.engine.kv_cache import KvStateCache, state_id

MIB = 1024**2


def store(root: Path, *, key: str = "k", ram: int = 10 * MIB, disk: int = 10 * MIB) -> KvStateCache:
    return KvStateCache(root=root, key=key, ram_budget_bytes=ram, disk_budget_bytes=disk)


def tokens(first: int, n: int = 50) -> tuple[int, ...]:
    return tuple(range(first, first + n))


def test_ram_budget_evicts_least_recently_used(tmp_path: Path) -> None:
    cache = store(tmp_path, ram=3000, disk=0)
    a, b, c = tokens(0), tokens(1000), tokens(2000)
    cache.put(a, b"a" * 1000)
    cache.put(b, b"b" * 1000)
    assert cache.get(cache.entries()[-1]) == b"a" * 1000  # a is now the most recent
    cache.put(c, b"c" * 1500)  # over budget: b, the least recently used, goes
    assert {e.tokens for e in cache.entries()} == {a, c}
    assert cache.ram_bytes <= 3000
    cache.close()


def test_a_longer_state_of_the_same_conversation_replaces_the_shorter(tmp_path: Path) -> None:
    cache = store(tmp_path)
    cache.put(tokens(0, 50), b"x" * 100)
    cache.put(tokens(0, 80), b"y" * 100)
    cache.flush()
    assert [e.tokens for e in cache.entries()] == [tokens(0, 80)]
    assert [p.stem for p in (tmp_path / "k").glob("*.kv")] == [state_id(tokens(0, 80))]
    cache.close()


def test_states_persist_on_disk_for_the_same_key_only(tmp_path: Path) -> None:
    cache = store(tmp_path)
    cache.put(tokens(0), b"state" * 100)
    cache.close()
    again = store(tmp_path)
    (entry,) = again.entries()
    assert entry.tokens == tokens(0) and again.get(entry) == b"state" * 100
    again.close()
    other = store(tmp_path, key="another model or plan")
    assert other.entries() == []
    other.close()


def test_disk_budget_evicts_the_oldest_files_of_any_key(tmp_path: Path) -> None:
    old = store(tmp_path, key="old", ram=0)
    old.put(tokens(0), b"o" * 6000)
    old.close()
    (old_file,) = (tmp_path / "old").glob("*.kv")
    os.utime(old_file, (1, 1))
    cache = store(tmp_path, ram=0, disk=9000)
    cache.put(tokens(1000), b"a" * 4000)
    cache.flush()
    assert not old_file.exists()  # a plan no longer used makes room first
    first = tmp_path / "k" / f"{state_id(tokens(1000))}.kv"
    os.utime(first, (2, 2))
    cache.put(tokens(2000), b"b" * 4000)
    cache.flush()
    cache.put(tokens(3000), b"c" * 4000)
    cache.flush()
    on_disk = {p.stem for p in (tmp_path / "k").glob("*.kv")}
    assert on_disk == {state_id(tokens(2000)), state_id(tokens(3000))}
    assert sum(p.stat().st_size for p in tmp_path.glob("*/*.kv")) <= 9000
    assert {e.tokens for e in cache.entries()} == {tokens(2000), tokens(3000)}
    cache.close()


def test_truncated_or_corrupt_files_are_ignored_and_removed(tmp_path: Path) -> None:
    cache = store(tmp_path, ram=0)
    cache.put(tokens(0), b"a" * 1000)
    cache.put(tokens(1000), b"b" * 1000)
    cache.put(tokens(2000), b"c" * 1000)
    cache.close()
    folder = tmp_path / "k"
    truncated = folder / f"{state_id(tokens(0))}.kv"
    truncated.write_bytes(truncated.read_bytes()[:-10])
    flipped = folder / f"{state_id(tokens(1000))}.kv"
    data = bytearray(flipped.read_bytes())
    data[-5] ^= 0xFF
    flipped.write_bytes(bytes(data))
    (folder / "garbage.kv").write_bytes(b"not a state")
    again = store(tmp_path, ram=0)
    assert not truncated.exists() and not (folder / "garbage.kv").exists()
    by_tokens = {e.tokens: e for e in again.entries()}
    assert set(by_tokens) == {tokens(1000), tokens(2000)}
    assert again.get(by_tokens[tokens(1000)]) is None  # checksum: found out on load
    assert not flipped.exists()
    assert again.get(by_tokens[tokens(2000)]) == b"c" * 1000
    again.close()


def test_without_a_folder_states_stay_in_ram(tmp_path: Path) -> None:
    cache = KvStateCache(root=None, key="k", ram_budget_bytes=MIB, disk_budget_bytes=MIB)
    cache.put(tokens(0), b"x")
    assert len(cache.entries()) == 1
    cache.close()
    assert list(tmp_path.iterdir()) == []
