"""KV states of recent conversations, in RAM and on disk, found again by their token prefix.

A state is the bytes llama.cpp gives for one sequence (``llama_state_seq_get_data``) together
with the tokens it holds. Nothing here knows about conversations: a new prompt is matched
against the token lists of the stored states, so a conversation resumed after another one (or
after an app restart) finds its own state again. States live in RAM up to one byte budget and
in ``<folder>/<key>/`` on disk up to another, each evicted least-recently-used. The key names
the model file and the load plan, so a different model or plan never sees these states.

Disk writes happen on a background thread from bytes already copied out of llama.cpp, so they
never hold up the engine. Unreadable, truncated or corrupt files are removed and ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import struct
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"AGKV"
VERSION = 1
# magic, version, token count, data length, crc32 of tokens + data
_HEADER = struct.Struct("<4sIIQI")
SUFFIX = ".kv"


@dataclass(frozen=True)
class StoredTokens:
    """A stored state's identity and the tokens it holds (its data is fetched on demand)."""

    state_id: str
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class _RamEntry:
    tokens: tuple[int, ...]
    data: bytes


def state_id(tokens: Sequence[int]) -> str:
    """The name of the state holding exactly ``tokens``."""
    return hashlib.sha1(array("i", tokens).tobytes()).hexdigest()[:24]


def cache_key(*parts: object) -> str:
    """A folder name for one model file + plan; any change of a part gives another folder."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


class KvStateCache:
    """Recent KV states, least-recently-used first out, in RAM and in one disk folder.

    Use from one thread; the disk writer is internal.
    """

    def __init__(
        self, *, root: Path | None, key: str, ram_budget_bytes: int, disk_budget_bytes: int
    ) -> None:
        self._ram: OrderedDict[str, _RamEntry] = OrderedDict()
        self._ram_budget = max(0, ram_budget_bytes)
        self._disk_budget = max(0, disk_budget_bytes)
        self._root = root
        self._folder = root / key if root is not None and self._disk_budget > 0 else None
        self._lock = threading.Lock()
        self._disk: dict[str, tuple[int, ...]] = {}  # state id -> tokens, files in _folder
        self._queue: queue.Queue[tuple[str, tuple[int, ...], bytes] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        if self._folder is not None:
            self._folder.mkdir(parents=True, exist_ok=True)
            self._scan_disk()
            self._writer = threading.Thread(target=self._write_loop, name="kv-writer", daemon=True)
            self._writer.start()

    # -- queries -------------------------------------------------------------------------

    def entries(self) -> list[StoredTokens]:
        """Every stored state (RAM and disk), most recently used first."""
        seen = [StoredTokens(i, e.tokens) for i, e in reversed(self._ram.items())]
        ids = {s.state_id for s in seen}
        with self._lock:
            on_disk = [StoredTokens(i, t) for i, t in self._disk.items() if i not in ids]
        return seen + on_disk

    def get(self, entry: StoredTokens) -> bytes | None:
        """The state's data, or ``None`` when it is gone or its file turned out to be damaged."""
        ram = self._ram.get(entry.state_id)
        if ram is not None:
            self._ram.move_to_end(entry.state_id)
            return ram.data
        if self._folder is None:
            return None
        path = self._folder / f"{entry.state_id}{SUFFIX}"
        loaded = _read_state(path)
        if loaded is None or loaded[0] != entry.tokens:
            self._forget_file(entry.state_id)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used on disk too
        self._remember(entry.state_id, _RamEntry(loaded[0], loaded[1]))
        return loaded[1]

    @property
    def ram_bytes(self) -> int:
        return sum(len(e.data) for e in self._ram.values())

    # -- updates -------------------------------------------------------------------------

    def put(self, tokens: Sequence[int], data: bytes) -> None:
        """Store a state; it replaces the states whose tokens it extends, and goes to disk."""
        key = tuple(tokens)
        new_id = state_id(key)
        for old_id, old in list(self._ram.items()):
            if old_id != new_id and _is_prefix(old.tokens, key):
                del self._ram[old_id]
        self._remember(new_id, _RamEntry(key, data))
        if self._writer is not None and len(data) <= self._disk_budget:
            self._queue.put((new_id, key, data))

    def flush(self) -> None:
        """Wait until every queued disk write is done."""
        if self._writer is not None:
            self._queue.join()

    def close(self) -> None:
        """Finish the disk writes and stop the writer."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        self._ram.clear()

    # -- RAM -----------------------------------------------------------------------------

    def _remember(self, entry_id: str, entry: _RamEntry) -> None:
        self._ram.pop(entry_id, None)
        if len(entry.data) > self._ram_budget:
            return
        self._ram[entry_id] = entry
        total = self.ram_bytes
        while total > self._ram_budget:
            _, evicted = self._ram.popitem(last=False)
            total -= len(evicted.data)

    # -- disk ----------------------------------------------------------------------------

    def _scan_disk(self) -> None:
        assert self._folder is not None
        for path in self._folder.glob(f"*{SUFFIX}"):
            tokens = _read_tokens(path)
            if tokens is None:
                path.unlink(missing_ok=True)
            else:
                self._disk[path.stem] = tokens
        for leftover in self._folder.glob("*.tmp"):
            leftover.unlink(missing_ok=True)  # a write cut short by a crash

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._write(*item)
            except OSError:
                pass  # a full or read-only disk only costs the cache
            finally:
                self._queue.task_done()

    def _write(self, entry_id: str, tokens: tuple[int, ...], data: bytes) -> None:
        assert self._folder is not None
        path = self._folder / f"{entry_id}{SUFFIX}"
        token_bytes = array("i", tokens).tobytes()
        crc = zlib.crc32(data, zlib.crc32(token_bytes))
        header = _HEADER.pack(MAGIC, VERSION, len(tokens), len(data), crc)
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            handle.write(header)
            handle.write(token_bytes)
            handle.write(data)
        os.replace(temporary, path)
        with self._lock:
            superseded = [
                i for i, t in self._disk.items() if i != entry_id and _is_prefix(t, tokens)
            ]
            self._disk[entry_id] = tokens
        for old in superseded:
            self._forget_file(old)
        self._evict_disk()

    def _evict_disk(self) -> None:
        """Keep every key folder under the root within the disk budget, oldest out first."""
        assert self._root is not None
        files = []
        for path in self._root.glob(f"*/*{SUFFIX}"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= self._disk_budget:
                break
            total -= size
            if path.parent == self._folder:
                self._forget_file(path.stem)
            else:
                path.unlink(missing_ok=True)

    def _forget_file(self, entry_id: str) -> None:
        with self._lock:
            self._disk.pop(entry_id, None)
        if self._folder is not None:
            (self._folder / f"{entry_id}{SUFFIX}").unlink(missing_ok=True)


def _is_prefix(short: tuple[int, ...], long: tuple[int, ...]) -> bool:
    return len(short) <= len(long) and long[: len(short)] == short


def _read_header(handle: object) -> tuple[int, int, int] | None:
    raw = handle.read(_HEADER.size)  # type: ignore[attr-defined]
    if len(raw) != _HEADER.size:
        return None
    magic, version, n_tokens, n_data, crc = _HEADER.unpack(raw)
    if magic != MAGIC or version != VERSION:
        return None
    return int(n_tokens), int(n_data), int(crc)


def _read_tokens(path: Path) -> tuple[int, ...] | None:
    """The tokens of a state file whose size is right (its checksum is checked on load)."""
    try:
        with path.open("rb") as handle:
            header = _read_header(handle)
            if header is None:
                return None
            n_tokens, n_data, _ = header
            if path.stat().st_size != _HEADER.size + 4 * n_tokens + n_data:
                return None
            tokens = array("i")
            tokens.frombytes(handle.read(4 * n_tokens))
            return tuple(tokens)
    except (OSError, ValueError):
        return None


def _read_state(path: Path) -> tuple[tuple[int, ...], bytes] | None:
    try:
        with path.open("rb") as handle:
            header = _read_header(handle)
            if header is None:
                return None
            n_tokens, n_data, crc = header
            token_bytes = handle.read(4 * n_tokens)
            data = handle.read(n_data)
            if len(token_bytes) != 4 * n_tokens or len(data) != n_data or handle.read(1):
                return None
    except OSError:
        return None
    if zlib.crc32(data, zlib.crc32(token_bytes)) != crc:
        return None
    tokens = array("i")
    tokens.frombytes(token_bytes)
    return tuple(tokens), data
