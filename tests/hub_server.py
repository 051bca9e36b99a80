"""A local stand-in for the Hugging Face hub: a real HTTP server on 127.0.0.1 (tests, benches).

It implements what huggingface_hub calls for search, repository detail and downloads, the way
the hub answers them:

* ``GET /api/models`` (search, tag filter, sort, ``expand``, pagination by ``Link`` header),
* ``GET /api/models/{repo}[/revision/{rev}]`` (``?blobs=true``: siblings with size and LFS hash),
* ``GET /api/models/{repo}/tree/{rev}[/{path}]`` (tree listing, paginated),
* ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``: small files answered directly with their git ETag;
  LFS files answered with a 302 to a second server (the "CDN", another origin, as on the real hub)
  carrying ``X-Linked-Etag`` (the SHA-256), ``X-Linked-Size`` and ``X-Repo-Commit``,
* the CDN serves blobs with ``Range`` requests (206, ``Content-Range``, 416),
* gated repositories: 401 (no token) or 403 (token without access) with ``X-Error-Code: GatedRepo``;
  unknown tokens get 401 "Invalid credentials in Authorization header"; private repositories
  look missing (401 ``RepoNotFound``),
* used as an HTTP proxy (absolute-form request lines), it answers for any host.

It counts connections, requests and body bytes per file, and injects faults into blob
transfers: stall, drop the connection, corrupt a byte, or hold at a byte until released.
Downloads (no ``Range``, or an open one: ``bytes=N-``) and header probes (a closed range,
``bytes=A-B``, as the app reads GGUF headers before downloading) are counted apart, and a fault
hits one kind or the other.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import socket
import socketserver
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {size}\n"
_SEND_CHUNK = 1 << 20
_HASH_CACHE: dict[tuple[str, int, float], str] = {}


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class HubFile:
    """A file of a repository: bytes in memory, or a file on disk (served without copying)."""

    path: str
    data: bytes | None = None
    source: Path | None = None
    lfs: bool | None = None  # None: LFS for .gguf files and anything over 10 MB

    def __post_init__(self) -> None:
        if (self.data is None) == (self.source is None):
            raise ValueError("give data or source")
        self.size = len(self.data) if self.data is not None else self.source.stat().st_size  # type: ignore[union-attr]
        self.sha256 = self._sha256()
        if self.lfs is None:
            self.lfs = self.path.endswith(".gguf") or self.size > 10_000_000
        if self.lfs:
            self.pointer = LFS_POINTER.format(sha=self.sha256, size=self.size).encode()
            self.blob_id = git_blob_oid(self.pointer)
        else:
            self.pointer = b""
            self.blob_id = git_blob_oid(self.read(0, self.size))

    def _sha256(self) -> str:
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        assert self.source is not None
        stat = self.source.stat()
        key = (str(self.source), stat.st_size, stat.st_mtime)
        if key not in _HASH_CACHE:
            digest = hashlib.sha256()
            with open(self.source, "rb") as file:
                while chunk := file.read(_SEND_CHUNK):
                    digest.update(chunk)
            _HASH_CACHE[key] = digest.hexdigest()
        return _HASH_CACHE[key]

    def read(self, start: int, end: int) -> bytes:
        if self.data is not None:
            return self.data[start:end]
        assert self.source is not None
        with open(self.source, "rb") as file:
            file.seek(start)
            return file.read(end - start)

    def chunks(self, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        position = start
        if self.data is not None:
            while position < end:
                chunk = self.data[position : min(end, position + _SEND_CHUNK)]
                yield position, chunk
                position += len(chunk)
            return
        assert self.source is not None
        with open(self.source, "rb") as file:
            file.seek(start)
            while position < end:
                chunk = file.read(min(_SEND_CHUNK, end - position))
                if not chunk:
                    return
                yield position, chunk
                position += len(chunk)


@dataclass
class HubRepo:
    repo_id: str
    files: list[HubFile]
    gated: Literal[False, "auto", "manual"] = False
    private: bool = False
    downloads: int = 0
    likes: int = 0
    last_modified: str = "2025-01-01T00:00:00.000Z"
    tags: list[str] = field(default_factory=lambda: ["gguf", "text-generation"])
    license: str | None = "apache-2.0"
    gguf: dict[str, Any] | None = None
    sha: str = field(default_factory=lambda: uuid.uuid4().hex + uuid.uuid4().hex[:8])

    def file(self, path: str) -> HubFile | None:
        return next((f for f in self.files if f.path == path), None)


@dataclass
class Fault:
    """A failure injected into blob transfers of ``path`` (any file when ``None``)."""

    kind: Literal["stall", "drop", "corrupt", "hold"]
    at_byte: int
    path: str | None = None
    times: int = 1  # how many responses it hits
    seconds: float = 5.0  # stall duration
    probes: bool = False  # hit header probes (closed ranges) instead of downloads
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    hits: int = 0


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, hub: HubServer, role: str) -> None:
        self.hub = hub
        self.role = role
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients hanging up are normal
            super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.hub.lock:
            self.hub.connections[self.role] += 1
        super().process_request(request, client_address)


class HubServer:
    """The fake hub (and its CDN). Use as a context manager; ``url`` is the endpoint."""

    def __init__(self, *, page_size: int = 3, tree_page_size: int = 1000) -> None:
        self.page_size = page_size
        self.tree_page_size = tree_page_size
        self.repos: dict[str, HubRepo] = {}
        self.tokens: dict[str, set[str]] = {}  # token -> gated/private repos it may read
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connections: Counter[str] = Counter()
        self.requests: list[tuple[str, str, str, dict[str, str]]] = []  # role, method, path, hdrs
        self.bytes_served: Counter[str] = Counter()  # download body bytes per repo file path
        self.probe_bytes_served: Counter[str] = Counter()  # header probe body bytes per path
        self.range_starts: list[tuple[str, int]] = []
        self.proxied = 0
        self._hub = _Server(self, "hub")
        self._cdn = _Server(self, "cdn")
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def add_repo(self, repo: HubRepo) -> HubRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def add_fault(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def grant(self, token: str, *repo_ids: str) -> None:
        self.tokens.setdefault(token, set()).update(repo_ids)

    @property
    def total_connections(self) -> int:
        return sum(self.connections.values())

    def start(self) -> HubServer:
        for server in (self._hub, self._cdn):
            thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for fault in self.faults:
            fault.release.set()
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def take_fault(self, path: str, start: int, end: int, *, probe: bool = False) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.hits >= fault.times or (fault.path not in (None, path)):
                    continue
                if fault.probes != probe:
                    continue
                if start <= fault.at_byte < end:
                    fault.hits += 1
                    return fault
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    @property
    def hub(self) -> HubServer:
        return self.server.hub

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    # ------------------------------------------------------------------ routing

    def _dispatch(self, method: str) -> None:
        target = self.path
        if target.startswith(("http://", "https://")):  # used as a forward proxy
            with self.hub.lock:
                self.hub.proxied += 1
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        parts = urlsplit(target)
        path, query = unquote(parts.path), parse_qs(parts.query)
        with self.hub.lock:
            self.hub.requests.append((self.server.role, method, target, dict(self.headers)))
        try:
            if self.server.role == "cdn":
                self._cdn(method, path)
            elif path == "/api/models":
                self._search(query)
            elif path.startswith("/api/models/"):
                self._model_api(path.removeprefix("/api/models/"), query)
            elif "/resolve/" in path:
                self._resolve(method, path)
            else:
                self._error(404, None, "Not found")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ------------------------------------------------------------------ API

    def _search(self, query: dict[str, list[str]]) -> None:
        text = (query.get("search") or [""])[0].lower()
        tags = set(query.get("filter", []))
        author = (query.get("author") or [None])[0]
        repos = [
            r
            for r in self.hub.repos.values()
            if not r.private
            and text in r.repo_id.lower()
            and tags <= set(r.tags)
            and (author is None or r.repo_id.split("/")[0] == author)
        ]
        sort = (query.get("sort") or [None])[0]
        key = {"downloads": "downloads", "likes": "likes", "lastModified": "last_modified"}
        if sort in key:
            repos.sort(key=lambda r: getattr(r, key[sort]), reverse=True)
        limit = int((query.get("limit") or ["1000"])[0])
        offset = int((query.get("cursor") or ["0"])[0])
        size = min(limit, self.hub.page_size)
        page = repos[offset : offset + size]
        expand = query.get("expand")
        items = [self._model_json(r, blobs=False, expand=expand) for r in page]
        headers = {}
        if offset + size < len(repos):
            params = {k: v for k, v in query.items() if k != "cursor"}
            params["cursor"] = [str(offset + size)]
            headers["Link"] = (
                f'<{self._base()}/api/models?{urlencode(params, doseq=True)}>; rel="next"'
            )
        self._json(200, items, headers)

    def _model_api(self, rest: str, query: dict[str, list[str]]) -> None:
        segments = rest.split("/")
        if len(segments) < 2:
            return self._error(404, "RepoNotFound", "Repository not found")
        repo = self._readable_repo("/".join(segments[:2]), for_files=False)
        if repo is None:
            return None
        tail = segments[2:]
        if not tail:
            return self._json(200, self._model_json(repo, blobs=_flag(query, "blobs")))
        if tail[0] == "revision" and len(tail) >= 2:
            if not self._revision_ok(repo, tail[1]):
                return None
            return self._json(200, self._model_json(repo, blobs=_flag(query, "blobs")))
        if tail[0] == "tree" and len(tail) >= 2:
            if not self._revision_ok(repo, tail[1]):
                return None
            return self._tree(repo, "/".join(tail[2:]), query)
        return self._error(404, None, "Not found")

    def _model_json(
        self, repo: HubRepo, *, blobs: bool, expand: list[str] | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "_id": repo.sha[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.sha,
            "lastModified": repo.last_modified,
            "createdAt": repo.last_modified,
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": repo.downloads,
            "likes": repo.likes,
            "tags": repo.tags + ([f"license:{repo.license}"] if repo.license else []),
            "pipeline_tag": "text-generation",
            "library_name": "gguf",
            "cardData": {"license": repo.license} if repo.license else None,
            "gguf": repo.gguf,
            "siblings": [self._sibling(f, blobs) for f in repo.files],
        }
        if expand:
            wanted = set(expand) | {"id", "_id"}
            data = {k: v for k, v in data.items() if k in wanted}
        return data

    @staticmethod
    def _sibling(file: HubFile, blobs: bool) -> dict[str, Any]:
        sibling: dict[str, Any] = {"rfilename": file.path}
        if blobs:
            sibling.update(blobId=file.blob_id, size=file.size)
            if file.lfs:
                sibling["lfs"] = {
                    "sha256": file.sha256,
                    "size": file.size,
                    "pointerSize": len(file.pointer),
                }
        return sibling

    def _tree(self, repo: HubRepo, folder: str, query: dict[str, list[str]]) -> None:
        recursive = _flag(query, "recursive")
        prefix = f"{folder.strip('/')}/" if folder else ""
        entries: dict[str, dict[str, Any]] = {}
        for file in repo.files:
            if not file.path.startswith(prefix):
                continue
            rest = file.path[len(prefix) :]
            if "/" in rest and not recursive:
                name = prefix + rest.split("/", 1)[0]
                entries[name] = {
                    "type": "directory",
                    "oid": git_blob_oid(name.encode()),
                    "size": 0,
                    "path": name,
                }
                continue
            if recursive:
                parts = rest.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    name = prefix + "/".join(parts[:i])
                    entries[name] = {
                        "type": "directory",
                        "oid": git_blob_oid(name.encode()),
                        "size": 0,
                        "path": name,
                    }
            entry: dict[str, Any] = {
                "type": "file",
                "oid": file.blob_id,
                "size": file.size,
                "path": file.path,
            }
            if file.lfs:
                entry["lfs"] = {
                    "oid": file.sha256,
                    "size": file.size,
                    "pointerSize": len(file.pointer),
                }
            entries[file.path] = entry
        if folder and not entries:
            return self._error(404, "EntryNotFound", f"{folder} does not exist")
        ordered = sorted(entries.values(), key=lambda e: e["path"])
        offset = int((query.get("cursor") or ["0"])[0])
        size = self.hub.tree_page_size
        headers = {}
        if offset + size < len(ordered):
            params = {k: v for k, v in query.items() if k != "cursor"}
            params["cursor"] = [str(offset + size)]
            url = f"{self._base()}{self.path.split('?')[0]}?{urlencode(params, doseq=True)}"
            headers["Link"] = f'<{url}>; rel="next"'
        return self._json(200, ordered[offset : offset + size], headers)

    # ------------------------------------------------------------------ files

    def _resolve(self, method: str, path: str) -> None:
        repo_part, _, rest = path.lstrip("/").partition("/resolve/")
        revision, _, file_path = rest.partition("/")
        repo = self._readable_repo(repo_part, for_files=True)
        if repo is None or not self._revision_ok(repo, revision):
            return
        file = repo.file(file_path)
        if file is None:
            return self._error(404, "EntryNotFound", f"{file_path} does not exist", repo=repo)
        commit = {"X-Repo-Commit": repo.sha}
        if file.lfs:
            signature = uuid.uuid4().hex  # a fresh signed URL each time, as the hub's CDN links
            location = (
                f"{self.hub.cdn_url}/blobs/{file.sha256}?name={quote(file.path)}&sig={signature}"
            )
            body = b"Found. Redirecting to " + location.encode()
            headers = {
                **commit,
                "Location": location,
                "ETag": f'"{file.blob_id}"',
                "X-Linked-Etag": f'"{file.sha256}"',
                "X-Linked-Size": str(file.size),
                "Content-Type": "text/plain; charset=utf-8",
                "Content-Length": str(len(body)),
            }
            self._reply(302, headers, b"" if method == "HEAD" else body)
            return
        self._send_file(method, repo, file, extra={**commit, "ETag": f'"{file.blob_id}"'})

    def _cdn(self, method: str, path: str) -> None:
        sha = path.removeprefix("/blobs/")
        for repo in self.hub.repos.values():
            for file in repo.files:
                if file.lfs and file.sha256 == sha:
                    return self._send_file(method, repo, file, extra={"ETag": f'"{sha}"'})
        return self._error(404, None, "No such blob")

    def _send_file(
        self, method: str, repo: HubRepo, file: HubFile, *, extra: dict[str, str]
    ) -> None:
        start, end = 0, file.size
        status = 200
        range_header = self.headers.get("Range")
        probe = bool(range_header) and not range_header.rstrip().endswith("-")
        if range_header:
            parsed = _parse_range(range_header, file.size)
            if parsed is None:
                return self._reply(
                    416, {"Content-Range": f"bytes */{file.size}", "Content-Length": "0"}, b""
                )
            start, end = parsed
            status = 206
        headers = {
            **extra,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "Content-Length": str(end - start),
            "Content-Disposition": f'attachment; filename="{file.path.rsplit("/", 1)[-1]}"',
        }
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{file.size}"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method == "HEAD":
            return None
        with self.hub.lock:
            if not probe:
                self.hub.range_starts.append((file.path, start))
        self._send_body(file, start, end, probe=probe)
        return None

    def _send_body(self, file: HubFile, start: int, end: int, *, probe: bool) -> None:
        """Bytes ``start:end`` of the file, acting out the fault planned for this request."""
        fault = self.hub.take_fault(file.path, start, end, probe=probe)
        served = self.hub.probe_bytes_served if probe else self.hub.bytes_served
        for position, chunk in file.chunks(start, end):
            if fault is not None and position <= fault.at_byte < position + len(chunk):
                cut = fault.at_byte - position
                if fault.kind == "corrupt":
                    flipped = bytes([chunk[cut] ^ 0xFF])
                    chunk = chunk[:cut] + flipped + chunk[cut + 1 :]
                else:
                    self._write(file, chunk[:cut], served)
                    if self._interrupt(fault):
                        return
                    chunk = chunk[cut:]
                fault = None
            self._write(file, chunk, served)

    def _write(self, file: HubFile, data: bytes, served: Counter[str]) -> None:
        if not data:
            return
        self.wfile.write(data)
        with self.hub.lock:
            served[file.path] += len(data)

    def _interrupt(self, fault: Fault) -> bool:
        """Act out a fault at its byte; True when the connection is gone."""
        fault.reached.set()
        if fault.kind == "stall":
            self.hub.stopping.wait(fault.seconds)
            return False
        if fault.kind == "hold":
            while not fault.release.wait(0.05):
                pass
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        return True

    # ------------------------------------------------------------------ access

    def _token(self) -> str | None:
        value = self.headers.get("Authorization", "")
        return value.removeprefix("Bearer ").strip() or None

    def _readable_repo(self, repo_id: str, *, for_files: bool) -> HubRepo | None:
        repo = self.hub.repos.get(repo_id)
        token = self._token()
        if token is not None and token not in self.hub.tokens:
            self._error(401, None, "Invalid credentials in Authorization header")
            return None
        granted = token is not None and repo_id in self.hub.tokens.get(token, set())
        if repo is None or (repo.private and not granted):
            self._error(401, "RepoNotFound", "Repository not found")
            return None
        if repo.gated and for_files and not granted:
            if token is None:
                message = (
                    f"Access to model {repo_id} is restricted. You must have access to it and "
                    "be authenticated to access it. Please log in."
                )
                self._error(401, "GatedRepo", message, repo=repo)
            else:
                message = (
                    f"Access to model {repo_id} is restricted and you are not in the authorized "
                    f"list. Visit {self._base()}/{repo_id} to ask for access."
                )
                self._error(403, "GatedRepo", message, repo=repo)
            return None
        return repo

    def _revision_ok(self, repo: HubRepo, revision: str) -> bool:
        if revision in ("main", repo.sha):
            return True
        self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", repo=repo)
        return False

    # ------------------------------------------------------------------ replies

    def _base(self) -> str:
        return self.hub.url if self.server.role == "hub" else self.hub.cdn_url

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self._reply(
            status,
            {
                **(headers or {}),
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
            },
            body,
        )

    def _error(
        self, status: int, code: str | None, message: str, *, repo: HubRepo | None = None
    ) -> None:
        body = json.dumps({"error": message}).encode()
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "X-Error-Message": message,
        }
        if code:
            headers["X-Error-Code"] = code
        if repo is not None:
            headers["X-Repo-Commit"] = repo.sha
        self._reply(status, headers, b"" if self.command == "HEAD" else body)

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return (query.get(name) or ["false"])[0].lower() in ("1", "true")


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` as ``(start, end)``; None: unsatisfiable."""
    if not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].partition("-")
    if not first:
        n = int(last)
        return (max(0, size - n), size) if n > 0 else None
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        return None
    return start, end


def write_gguf(path: Path, **shape: Any) -> Path:
    """A small real GGUF model (see ``tests/core/synthetic_gguf.py``) at ``path``."""
    core_tests = str(Path(__file__).resolve().parent / "core")
    if core_tests not in sys.path:
        sys.path.append(core_tests)
    from synthetic_gguf import SyntheticModel, write_synthetic_gguf

    return write_synthetic_gguf(path, SyntheticModel(**shape))
