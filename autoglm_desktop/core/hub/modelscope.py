"""ModelScope (modelscope.cn) as a model source: search, repository files, model card, downloads.

:class:`ModelScopeClient` is the ModelScope :class:`~autoglm_desktop.core.hub.source.SourceClient`:
with it the GGUF header reads, fit verdicts and resumable verified downloads work as on the
Hugging Face hub, with the same typed errors and messages. It speaks the part of ModelScope's
public HTTP API that its own client library uses:

* ``GET /api/v1/models/{owner}/{name}``: a model's numbers (``HubApi.get_model``),
* ``GET /api/v1/models/{owner}/{name}/repo/files?Revision=master&Recursive=True``: every file
  with ``Size`` and ``Sha256`` (``HubApi.get_model_files``),
* ``GET /api/v1/models/{owner}/{name}/repo?Revision=master&FilePath=...``: a file's bytes,
  ``Range`` honoured (``file_download.get_file_download_url``, ``http_get_model_file``),
* ``PUT /api/v1/dolphin/models`` with a JSON body (``Name``, ``SortBy``, ``PageNumber``,
  ``PageSize``, ``Criterion``): search, as the website and ModelScope's MCP server
  (``modelscope-mcp-server``, ``tools/model.py``) do.

Answers come in an envelope, ``{"Code": 200, "Success": true, "Data": ..., "Message": ...}``.
The access token goes as ``Authorization: Bearer <token>`` (as ``HubApi._build_bearer_headers``
sends it), to ModelScope's own address only (downloads are redirected to a storage host, which
must not see it). The search's GGUF filter (``Criterion`` on ``libraries``) is the website's;
ModelScope documents no search API, so a result without GGUF files can slip through, and its
page then says it has no GGUF chat model files.

Written on httpx2 rather than on the ``modelscope`` package: that package pulls in a machine
learning framework's worth of dependencies (datasets, pandas, oss2...) for four requests, uses
``requests`` (so the app's proxy and offline switch would need a second implementation), and
its downloader keeps no resumable part and would bypass the download manager's verification.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2

from autoglm_desktop import APP_ID, __version__
from autoglm_desktop.core.common.errors import (
    HubError,
    HubNotFoundError,
    OfflineModeError,
)
from autoglm_desktop.core.hub.client import (
    METADATA_TIMEOUT_S,
    README,
    HubFile,
    HubModel,
    RepoDetail,
    SearchSort,
    file_not_found_message,
    group_gguf_files,
    network_error,
    repo_not_found_message,
    status_error,
    token_refused_error,
)
from autoglm_desktop.core.hub.settings import (
    MODELSCOPE_TOKEN_ENV,
    HubSettings,
    load_access_token,
    load_hub_settings,
    normalize_proxy,
)
from autoglm_desktop.core.hub.source import Source

log = logging.getLogger(__name__)

DEFAULT_REVISION = "master"
GGUF_LIBRARY = "GGUF"
_LISTING_TTL_S = 30.0  # a file listing is reused this long (header reads ask once per file)
_SORTS = {
    SearchSort.DOWNLOADS: "DownloadsCount",
    SearchSort.LIKES: "StarsCount",
    SearchSort.RECENT: "GmtModified",
    SearchSort.TRENDING: "Default",
}


@dataclass(frozen=True)
class ModelScopeFileLocation:
    """A file's download address, size and SHA-256, from the repository listing."""

    location: str
    size: int | None
    etag: str | None


class _StatusError(Exception):
    """An error answer, turned into a typed error by :meth:`ModelScopeClient.errors`."""

    def __init__(self, status: int | None, message: str = "") -> None:
        super().__init__(message or str(status))
        self.status = status
        self.message = message


class ModelScopeClient:
    """The app's one way to ModelScope: address, proxy, offline mode and access token.

    ``token=None`` uses the ModelScope token saved in the app, else ``MODELSCOPE_API_TOKEN``;
    ``token=False`` sends none.
    """

    source = Source.MODELSCOPE

    def __init__(
        self, *, settings: HubSettings | None = None, token: str | bool | None = None
    ) -> None:
        self.settings = settings if settings is not None else load_hub_settings()
        if token is None or token is True:
            token = load_access_token(source=Source.MODELSCOPE) or _env_token()
        self.token: str | bool | None = token if token is False else (token or None)
        self.endpoint = self.settings.modelscope_url
        self._listings: dict[tuple[str, str], tuple[float, list[HubFile]]] = {}

    # ------------------------------------------------------------------ connection

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc or self.endpoint

    def ensure_online(self) -> None:
        """Raise :class:`OfflineModeError` in offline mode, before any socket is opened."""
        if self.settings.is_offline:
            raise OfflineModeError(
                "Offline mode is on, so nothing is downloaded or searched. Turn it off in "
                "Settings → Hub to use the model hub."
            )

    def http(self) -> httpx2.Client:
        """The HTTP session for the proxy of the hub settings, shared by every client."""
        return _session(normalize_proxy(self.settings.proxy) or None)

    def headers_for(self, url: str) -> dict[str, str]:
        """Request headers for ``url``: the token only on ModelScope's own address."""
        headers = {"User-Agent": f"{APP_ID}/{__version__}"}
        if isinstance(self.token, str) and _origin(url) == _origin(self.endpoint):
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def errors(self, *, repo_id: str | None = None, what: str = "") -> AbstractContextManager[None]:
        return _errors(self, repo_id=repo_id, what=what)

    def raise_for_status(self, response: httpx2.Response) -> None:
        """Raise for an error answer; the enclosing :meth:`errors` gives it its words."""
        if response.status_code >= 400:
            raise _StatusError(response.status_code, _message_of(response))

    # ------------------------------------------------------------------ addresses

    def page_url(self, repo_id: str) -> str:
        return f"{self.endpoint}/models/{repo_id}"

    def file_url(self, repo_id: str, path: str, *, revision: str | None = None) -> str:
        revision = quote(revision or DEFAULT_REVISION, safe="")
        return (
            f"{self.endpoint}/api/v1/models/{_repo_path(repo_id)}/repo"
            f"?Revision={revision}&FilePath={quote(path, safe='')}"
        )

    # ------------------------------------------------------------------ requests

    def _call(
        self,
        method: str,
        path: str,
        *,
        repo_id: str | None = None,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """The ``Data`` of one API answer. Raises the typed errors."""
        self.ensure_online()
        url = f"{self.endpoint}{path}"
        with self.errors(repo_id=repo_id):
            response = self.http().request(
                method,
                url,
                params=params,
                json=body,
                headers=self.headers_for(url),
                timeout=METADATA_TIMEOUT_S,
            )
            self.raise_for_status(response)
            try:
                envelope = response.json()
            except ValueError:
                raise HubError(f"{self.host} sent an answer this app cannot read.") from None
            return _data_of(envelope)

    def list_repo_files(self, repo_id: str, *, revision: str | None = None) -> list[HubFile]:
        """Every file of a repository with its size and SHA-256."""
        revision = revision or DEFAULT_REVISION
        key = (repo_id, revision)
        cached = self._listings.get(key)
        if cached is not None and time.monotonic() - cached[0] < _LISTING_TTL_S:
            return cached[1]
        data = self._call(
            "GET",
            f"/api/v1/models/{_repo_path(repo_id)}/repo/files",
            repo_id=repo_id,
            params={"Revision": revision, "Recursive": "True"},
        )
        entries = data.get("Files") if isinstance(data, dict) else None
        files = [
            HubFile(path=str(e["Path"]), size=_int(e.get("Size")) or 0, sha256=_sha(e))
            for e in entries or ()
            if isinstance(e, dict) and e.get("Type") != "tree" and isinstance(e.get("Path"), str)
        ]
        self._listings[key] = (time.monotonic(), files)
        return files

    def file_metadata(
        self, repo_id: str, path: str, *, revision: str | None
    ) -> ModelScopeFileLocation:
        """Size, SHA-256 and download address of one file (from the repository listing)."""
        for file in self.list_repo_files(repo_id, revision=revision):
            if file.path == path:
                return ModelScopeFileLocation(
                    location=self.file_url(repo_id, path, revision=revision),
                    size=file.size,
                    etag=file.sha256,
                )
        raise HubNotFoundError(file_not_found_message(self.host, repo_id, path))

    def search(
        self, query: str, *, sort: SearchSort, page_size: int = 20, max_results: int = 200
    ) -> ModelScopeSearch:
        return ModelScopeSearch(
            self, query, sort=sort, page_size=page_size, max_results=max_results
        )

    def repo_detail(
        self, repo_id: str, *, revision: str | None = None, with_card: bool = True
    ) -> RepoDetail:
        """Every GGUF model of a repository, grouped and labelled, with its model card.

        Raises:
            OfflineModeError, NetworkError, HubNotFoundError, AccessTokenError.
        """
        info = self._call("GET", f"/api/v1/models/{_repo_path(repo_id)}", repo_id=repo_id)
        info = info if isinstance(info, dict) else {}
        revision = revision or DEFAULT_REVISION
        files = self.list_repo_files(repo_id, revision=revision)
        models, projectors, incomplete = group_gguf_files(files)
        card_text = ""
        if with_card and any(f.path == README for f in files):
            card_text, _licence = self.model_card(repo_id, revision=revision)
        return RepoDetail(
            repo_id=repo_id,
            revision=revision,
            models=tuple(models),
            projectors=tuple(projectors),
            incomplete=tuple(incomplete),
            card_text=card_text,
            license=_text(info.get("License")) or None,
            gated=False,
            downloads=_int(info.get("Downloads")) or 0,
            likes=_int(info.get("Stars")) or 0,
            last_modified=_time(info.get("LastUpdatedTime")),
            source=Source.MODELSCOPE,
        )

    def model_card(self, repo_id: str, *, revision: str | None = None) -> tuple[str, str | None]:
        """The README's Markdown without its metadata header, and the licence it declares.

        A card that cannot be read gives ``("", None)``: it is not worth failing the page for.
        """
        url = self.file_url(repo_id, README, revision=revision)
        try:
            self.ensure_online()
            with self.errors(repo_id=repo_id, what=README):
                response = self.http().get(
                    url, headers=self.headers_for(url), timeout=METADATA_TIMEOUT_S
                )
                self.raise_for_status(response)
            text = response.content.decode("utf-8")
        except (HubError, UnicodeDecodeError) as error:
            log.info("No model card for %s: %s", repo_id, error)
            return "", None
        return _split_front_matter(text)


class ModelScopeSearch:
    """One ModelScope search, fetched page by page (``PageNumber``) as the user scrolls."""

    def __init__(
        self,
        client: ModelScopeClient,
        query: str,
        *,
        sort: SearchSort = SearchSort.DOWNLOADS,
        page_size: int = 20,
        max_results: int = 200,
    ) -> None:
        self.client = client
        self.query = query.strip()
        self.sort = sort
        self.page_size = page_size
        self.max_results = max_results
        self.exhausted = False
        self._page_number = 0
        self._fetched = 0

    def next_page(self) -> list[HubModel]:
        """The next ``page_size`` results; fewer (and ``exhausted``) at the end."""
        self.client.ensure_online()
        if self.exhausted:
            return []
        size = min(self.page_size, self.max_results - self._fetched)
        data = self.client._call(
            "PUT",
            "/api/v1/dolphin/models",
            body={
                "Name": self.query,
                "SortBy": _SORTS[self.sort],
                "PageNumber": self._page_number + 1,
                "PageSize": size,
                "Criterion": [
                    {"category": "libraries", "predicate": "contains", "values": [GGUF_LIBRARY]}
                ],
            },
        )
        found = data.get("Model") if isinstance(data, dict) else None
        found = found if isinstance(found, dict) else {}
        raw = found.get("Models")
        page = [m for item in raw or () if (m := _hub_model(item)) is not None]
        self._page_number += 1
        self._fetched += len(raw or ())
        total = _int(found.get("TotalCount"))
        if (
            len(raw or ()) < size
            or self._fetched >= self.max_results
            or (total is not None and self._fetched >= total)
        ):
            self.exhausted = True
        return page


# --------------------------------------------------------------------------- sessions

_sessions: dict[str | None, httpx2.Client] = {}
_sessions_lock = threading.Lock()


def _session(proxy: str | None) -> httpx2.Client:
    """One connection pool per proxy for the whole app, as huggingface_hub keeps its own."""
    with _sessions_lock:
        session = _sessions.get(proxy)
        if session is None:
            session = _sessions[proxy] = httpx2.Client(
                follow_redirects=True, timeout=None, proxy=proxy
            )
        return session


# --------------------------------------------------------------------------- errors


@contextlib.contextmanager
def _errors(client: ModelScopeClient, *, repo_id: str | None, what: str) -> Iterator[None]:
    try:
        yield
    except HubError:
        raise
    except _StatusError as error:
        raise _status_error(client, error, repo_id=repo_id, what=what) from None
    except httpx2.TransportError as error:
        raise network_error(client.host, error, source=Source.MODELSCOPE) from None


def _status_error(
    client: ModelScopeClient, error: _StatusError, *, repo_id: str | None, what: str
) -> HubError:
    status = error.status
    if status in (401, 403) and isinstance(client.token, str):
        return token_refused_error()
    if status == 404 and what:
        return HubNotFoundError(file_not_found_message(client.host, repo_id, what))
    if status in (401, 403, 404) and repo_id:
        # ModelScope answers 403 for a private model without a token: it looks missing.
        return HubNotFoundError(repo_not_found_message(client.host, repo_id))
    return status_error(client.host, status, detail=error.message)


def _message_of(response: httpx2.Response) -> str:
    with contextlib.suppress(httpx2.HTTPError, ValueError, RuntimeError):
        response.read()
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("Message") or body.get("message") or "")
    return ""


def _data_of(envelope: Any) -> Any:
    """``Data`` of a successful answer; a failed one (``Code`` not 200) raises for its code."""
    if not isinstance(envelope, dict):
        raise _StatusError(None, "an answer without data")
    code = _int(envelope.get("Code"))
    if code not in (None, 200) or envelope.get("Success") is False:
        status = code if code is not None and 400 <= code < 600 else None  # else ModelScope's own
        raise _StatusError(status, str(envelope.get("Message") or code))
    return envelope.get("Data")


# --------------------------------------------------------------------------- values


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _repo_path(repo_id: str) -> str:
    return "/".join(quote(part, safe="") for part in repo_id.split("/"))


def _env_token() -> str | None:
    return os.environ.get(MODELSCOPE_TOKEN_ENV, "").strip() or None


def _hub_model(item: Any) -> HubModel | None:
    if not isinstance(item, dict):
        return None
    owner, name = _text(item.get("Path")), _text(item.get("Name"))
    if not owner or not name:
        return None
    tags = item.get("Tags")
    return HubModel(
        repo_id=f"{owner}/{name}",
        author=owner,
        downloads=_int(item.get("Downloads")) or 0,
        likes=_int(item.get("Stars")) or 0,
        last_modified=_time(item.get("LastUpdatedTime")),
        gated=False,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        n_params=None,
        architecture=None,
        context_length=None,
        source=Source.MODELSCOPE,
    )


def _sha(entry: dict[str, Any]) -> str | None:
    value = entry.get("Sha256")
    if isinstance(value, str) and len(value) == 64:
        return value.lower()
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _time(value: Any) -> datetime | None:
    """ModelScope's times are seconds since the epoch."""
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return None
    with contextlib.suppress(OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    return None


def _split_front_matter(text: str) -> tuple[str, str | None]:
    """A README's text without its ``---`` metadata block, and the ``license:`` it declares."""
    if not text.startswith("---"):
        return text.strip(), None
    header, marker, body = text[3:].partition("\n---")
    if not marker:
        return text.strip(), None
    licence = None
    for line in header.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip() == "license" and value.strip():
            licence = value.strip().strip("'\"")
    return body.partition("\n")[2].strip(), licence
