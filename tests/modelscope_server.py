"""A local stand-in for ModelScope (modelscope.cn): a real HTTP server on 127.0.0.1 (tests, shots).

It speaks the part of ModelScope's API the app uses, the way ModelScope's public client code
calls it and reads the answers (github.com/modelscope/modelscope at 1804ac6b, and
github.com/modelscope/modelscope-mcp-server):

* every JSON answer is the envelope ``{"Code": 200, "Success": true, "Data": ..., "Message":
  ..., "RequestId": ...}`` (``modelscope/hub/errors.py``: ``is_ok``, ``raise_on_error``,
  lines 74-183); an HTTP error carries the same envelope with ``Success: false``;
* ``PUT /api/v1/dolphin/models`` (search): a JSON body with ``Name``, ``SortBy``
  (``Default``, ``DownloadsCount``, ``StarsCount``, ``GmtModified``), ``PageNumber``,
  ``PageSize`` and ``Criterion``, answered with ``Data.Model.Models`` (``Path`` is the owner,
  ``Name`` the model, ``Downloads``, ``Stars``, ``LastUpdatedTime`` in epoch seconds) and
  ``Data.Model.TotalCount`` (``modelscope-mcp-server``, ``src/modelscope_mcp_server/tools/
  model.py``, ``search_models``). The ``libraries`` criterion keeps GGUF repositories;
* ``GET /api/v1/models/{owner}/{name}`` (``modelscope/hub/api.py`` ``HubApi.get_model``, lines
  601-644): the model's numbers, with ``License``;
* ``GET /api/v1/models/{owner}/{name}/repo/files?Revision=master&Recursive=True``
  (``HubApi.get_model_files``, lines 1368-1420): ``Data.Files``, each with ``Name``, ``Path``,
  ``Type`` (``blob`` or ``tree``), ``Size``, ``Sha256``, ``IsLFS``, ``Revision``;
* ``GET /api/v1/models/{owner}/{name}/repo?Revision=master&FilePath=...`` (``modelscope/hub/
  file_download.py``, ``get_file_download_url`` lines 400-427, ``http_get_model_file`` with
  ``Range: bytes=N-`` lines 527-630): the file's bytes, 206 for a ``Range``. With
  ``redirect_files`` large files are answered with a 302 to a second server (the storage host,
  another origin, as ModelScope's OSS links), which must not receive the token;
* access (``handle_http_response``, errors.py lines 105-165): a private model without a token
  that may read it answers 403; an unknown token 401; a missing model or file 404. The token
  comes as ``Authorization: Bearer <token>`` (``HubApi._build_bearer_headers``, api.py lines
  2137-2183, which also reads ``MODELSCOPE_API_TOKEN``).

Used as an HTTP proxy (absolute-form request lines) it answers for any host, as
``tests/hub_server.py`` does. Failures can be injected: an HTTP status for the next requests
(``fail_next``: 429, 5xx...) and, through ``tests/hub_server.py``'s :class:`~hub_server.Fault`,
stalls, dropped connections, corrupted bytes and holds in file transfers. Requests are recorded
with their headers.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from hub_server import Fault, HubFile, _Handler, _Server

__all__ = ["Fault", "HubFile", "ModelScopeRepo", "ModelScopeServer"]

_SORT_KEYS = {"DownloadsCount": "downloads", "StarsCount": "stars", "GmtModified": "updated"}


@dataclass
class ModelScopeRepo:
    repo_id: str  # owner/name
    files: list[HubFile]
    private: bool = False
    downloads: int = 0
    stars: int = 0
    updated: int = 1_735_689_600  # epoch seconds (2025-01-01)
    license: str | None = "Apache License 2.0"
    libraries: list[str] = field(default_factory=lambda: ["GGUF"])
    chinese_name: str = ""

    def file(self, path: str) -> HubFile | None:
        return next((f for f in self.files if f.path == path), None)


@dataclass
class _StatusFault:
    status: int
    times: int
    path_contains: str
    code: int | None = None


class ModelScopeServer:
    """The stand-in ModelScope (and its storage host). ``url`` is the endpoint."""

    def __init__(self, *, redirect_files: bool = False) -> None:
        self.redirect_files = redirect_files
        self.repos: dict[str, ModelScopeRepo] = {}
        self.tokens: dict[str, set[str]] = {}  # token -> private repos it may read
        self.faults: list[Fault] = []
        self.status_faults: list[_StatusFault] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connections: Counter[str] = Counter()
        self.requests: list[tuple[str, str, str, dict[str, str]]] = []  # role, method, path, hdrs
        self.bodies: list[dict[str, Any]] = []  # the JSON bodies of searches
        self.bytes_served: Counter[str] = Counter()
        self.probe_bytes_served: Counter[str] = Counter()
        self.range_starts: list[tuple[str, int]] = []
        self.proxied = 0  # requests received as a forward proxy (absolute-form request lines)
        self._api = _Server(self, "hub")  # type: ignore[arg-type]  # duck-typed as a HubServer
        self._api.RequestHandlerClass = _ModelScopeHandler
        self._storage = _Server(self, "cdn")  # type: ignore[arg-type]
        self._storage.RequestHandlerClass = _ModelScopeHandler
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._api.server_address[1]}"

    @property
    def storage_url(self) -> str:
        return f"http://127.0.0.1:{self._storage.server_address[1]}"

    def add_repo(self, repo: ModelScopeRepo) -> ModelScopeRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def add_fault(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def fail_next(
        self, status: int, *, times: int = 1, path_contains: str = "", code: int | None = None
    ) -> None:
        """Answer the next ``times`` API requests whose path contains ``path_contains``.

        With ``code`` the HTTP status is ``status`` and the envelope carries ``code`` (ModelScope
        answers some failures with HTTP 200 and its own code, ``Success: false``).
        """
        with self.lock:
            self.status_faults.append(_StatusFault(status, times, path_contains, code))

    def grant(self, token: str, *repo_ids: str) -> None:
        self.tokens.setdefault(token, set()).update(repo_ids)

    def start(self) -> ModelScopeServer:
        for server in (self._api, self._storage):
            thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for fault in self.faults:
            fault.release.set()
        for server in (self._api, self._storage):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> ModelScopeServer:
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

    def take_status_fault(self, path: str) -> _StatusFault | None:
        with self.lock:
            for fault in self.status_faults:
                if fault.times > 0 and fault.path_contains in path:
                    fault.times -= 1
                    return fault
        return None

    def requests_to(self, role: str) -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, headers) of the requests one server received ("hub" or "cdn")."""
        with self.lock:
            return [(m, p, h) for r, m, p, h in self.requests if r == role]


class _ModelScopeHandler(_Handler):
    """ModelScope's routes; file bytes, ranges and faults as :mod:`hub_server` serves them."""

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    @property
    def ms(self) -> ModelScopeServer:
        return self.server.hub  # type: ignore[return-value]

    def _dispatch(self, method: str) -> None:
        target = self.path
        if target.startswith(("http://", "https://")):  # used as a forward proxy
            with self.ms.lock:
                self.ms.proxied += 1
            absolute = urlsplit(target)
            target = absolute.path + (f"?{absolute.query}" if absolute.query else "")
        parts = urlsplit(target)
        path, query = unquote(parts.path), parse_qs(parts.query)
        with self.ms.lock:
            self.ms.requests.append((self.server.role, method, self.path, dict(self.headers)))
        try:
            if self.server.role == "cdn":
                self._storage(method, path, query)
                return
            fault = self.ms.take_status_fault(path)
            if fault is not None:
                self._drain()
                code = fault.code if fault.code is not None else fault.status
                self._envelope(fault.status, None, f"injected {code}", code=code)
                return
            self._route(method, path, query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        if method == "PUT" and path == "/api/v1/dolphin/models":
            self._search()
            return
        segments = path.removeprefix("/api/v1/models/").split("/")
        if not path.startswith("/api/v1/models/") or len(segments) < 2:
            self._fail(404, "Not Found")
            return
        repo = self._readable(f"{segments[0]}/{segments[1]}")
        if repo is None:
            return
        tail = segments[2:]
        if not tail:
            self._ok(self._model_json(repo))
        elif tail == ["repo", "files"]:
            self._files(repo, query)
        elif tail == ["repo"]:
            self._file(method, repo, query)
        else:
            self._fail(404, "Not Found")

    # ------------------------------------------------------------------ API

    def _search(self) -> None:
        body = json.loads(self._drain() or b"{}")
        with self.ms.lock:
            self.ms.bodies.append(body)
        text = str(body.get("Name") or "").lower()
        libraries = {
            str(v).lower()
            for c in body.get("Criterion") or []
            if c.get("category") == "libraries"
            for v in c.get("values") or []
        }
        repos = [
            r
            for r in self.ms.repos.values()
            if not r.private
            and text in r.repo_id.lower()
            and libraries <= {lib.lower() for lib in r.libraries}
        ]
        key = _SORT_KEYS.get(str(body.get("SortBy")))
        if key is not None:
            repos.sort(key=lambda r: getattr(r, key), reverse=True)
        size = int(body.get("PageSize") or 10)
        number = int(body.get("PageNumber") or 1)
        page = repos[(number - 1) * size : number * size]
        models = [self._model_json(r) for r in page]
        self._ok({"Model": {"Models": models, "TotalCount": len(repos)}})

    @staticmethod
    def _model_json(repo: ModelScopeRepo) -> dict[str, Any]:
        owner, name = repo.repo_id.split("/")
        return {
            "Id": abs(hash(repo.repo_id)) % 1_000_000,
            "Path": owner,
            "Name": name,
            "ChineseName": repo.chinese_name,
            "Downloads": repo.downloads,
            "Stars": repo.stars,
            "License": repo.license,
            "LastUpdatedTime": repo.updated,
            "CreatedTime": repo.updated - 86_400,
            "CreatedBy": owner,
            "Libraries": repo.libraries,
            "Tags": [lib.lower() for lib in repo.libraries],
            "Tasks": [{"Name": "text-generation"}],
            "IsPublished": 1,
            "Visibility": 1 if repo.private else 5,
        }

    def _files(self, repo: ModelScopeRepo, query: dict[str, list[str]]) -> None:
        if not self._revision_ok(query):
            return
        recursive = (query.get("Recursive") or ["False"])[0].lower() == "true"
        entries: dict[str, dict[str, Any]] = {}
        for file in repo.files:
            folders = file.path.split("/")[:-1]
            if folders and not recursive:
                entries[folders[0]] = self._tree_entry(folders[0])
                continue
            for i in range(1, len(folders) + 1):
                name = "/".join(folders[:i])
                entries[name] = self._tree_entry(name)
            entries[file.path] = {
                "Name": file.path.rsplit("/", 1)[-1],
                "Path": file.path,
                "Type": "blob",
                "Size": file.size,
                "Sha256": file.sha256,
                "IsLFS": bool(file.lfs),
                "Revision": "master",
                "CommitId": "0" * 40,
                "Mode": "33188",
            }
        self._ok({"Files": sorted(entries.values(), key=lambda e: e["Path"])})

    @staticmethod
    def _tree_entry(path: str) -> dict[str, Any]:
        name = path.rsplit("/", 1)[-1]
        return {"Name": name, "Path": path, "Type": "tree", "Size": 0, "Sha256": ""}

    def _file(self, method: str, repo: ModelScopeRepo, query: dict[str, list[str]]) -> None:
        if not self._revision_ok(query):
            return
        path = (query.get("FilePath") or [""])[0]
        file = repo.file(path)
        if file is None:
            self._fail(404, f"The file path: {path} not exist in: {repo.repo_id}")
            return
        if self.ms.redirect_files and file.lfs:
            signature = uuid.uuid4().hex
            location = f"{self.ms.storage_url}/{quote(repo.repo_id)}/{quote(path)}?sig={signature}"
            self._reply(302, {"Location": location, "Content-Length": "0"}, b"")
            return
        self._send_file(method, repo, file, extra={})  # type: ignore[arg-type]

    def _storage(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        owner, name, file_path = path.lstrip("/").split("/", 2)
        repo = self.ms.repos.get(f"{owner}/{name}")
        file = repo.file(file_path) if repo is not None else None
        if repo is None or file is None or not query.get("sig"):
            self._reply(403, {"Content-Length": "0"}, b"")
            return
        self._send_file(method, repo, file, extra={})  # type: ignore[arg-type]

    # ------------------------------------------------------------------ access

    def _readable(self, repo_id: str) -> ModelScopeRepo | None:
        token = self._token()
        if token is not None and token not in self.ms.tokens:
            self._fail(401, "The authentication token is invalid.")
            return None
        repo = self.ms.repos.get(repo_id)
        if repo is None:
            self._fail(404, f"404 Not Found: {repo_id} does not exist or is not accessible")
            return None
        if repo.private and repo_id not in self.ms.tokens.get(token or "", set()):
            self._fail(403, f"Authentication token does not exist, failed to access {repo_id}")
            return None
        return repo

    def _revision_ok(self, query: dict[str, list[str]]) -> bool:
        revision = (query.get("Revision") or ["master"])[0]
        if revision == "master":
            return True
        self._fail(404, f"The model has no revision: {revision}")
        return False

    # ------------------------------------------------------------------ replies

    def _drain(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _ok(self, data: Any) -> None:
        self._envelope(200, data, "success")

    def _fail(self, status: int, message: str) -> None:
        self._envelope(status, None, message)

    def _envelope(self, status: int, data: Any, message: str, *, code: int | None = None) -> None:
        code = status if code is None else code
        body = json.dumps(
            {
                "Code": code,
                "Data": data,
                "Message": message,
                "RequestId": uuid.uuid4().hex,
                "Success": code == 200,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        self._reply(status, headers, b"" if self.command == "HEAD" else body)
