"""What a client of a model source does: the protocol search, header reads and downloads use.

:class:`~autoglm_desktop.core.hub.client.HubClient` (the Hugging Face hub) and
:class:`~autoglm_desktop.core.hub.modelscope.ModelScopeClient` implement it;
:func:`~autoglm_desktop.core.hub.connect.connect` makes the one of a
:class:`~autoglm_desktop.core.hub.source.Source`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import httpx2

from autoglm_desktop.core.hub.client import HubModel, RepoDetail, SearchSort
from autoglm_desktop.core.hub.settings import HubSettings
from autoglm_desktop.core.hub.source import Source


class FileLocation(Protocol):
    """Where one file of a repository is downloaded from, and what it should be."""

    @property
    def location(self) -> str: ...  # the URL to GET (Range requests work on it)

    @property
    def size(self) -> int | None: ...

    @property
    def etag(self) -> str | None: ...  # the file's SHA-256 where the source publishes it


class ModelPager(Protocol):
    """One search, fetched page by page."""

    query: str
    exhausted: bool

    def next_page(self) -> list[HubModel]: ...


class SourceClient(Protocol):
    """What search, detail, header reads and downloads need of a model source.

    Every method that touches the network raises only this app's typed errors
    (:class:`~autoglm_desktop.core.common.errors.HubError` and its subclasses), with the same
    messages on every source; each checks offline mode before it opens a socket.
    """

    source: Source
    settings: HubSettings
    endpoint: str
    token: str | bool | None

    @property
    def host(self) -> str: ...

    def ensure_online(self) -> None: ...

    def http(self) -> httpx2.Client:
        """The HTTP session (proxy applied) that streams file bytes."""
        ...

    def file_metadata(self, repo_id: str, path: str, *, revision: str | None) -> FileLocation: ...

    def headers_for(self, url: str) -> dict[str, str]: ...

    def errors(
        self, *, repo_id: str | None = None, what: str = ""
    ) -> AbstractContextManager[None]: ...

    def raise_for_status(self, response: httpx2.Response) -> None:
        """Raise the typed error for an HTTP error answer (its body already read)."""
        ...

    def search(
        self, query: str, *, sort: SearchSort, page_size: int = 20, max_results: int = 200
    ) -> ModelPager: ...

    def repo_detail(
        self, repo_id: str, *, revision: str | None = None, with_card: bool = True
    ) -> RepoDetail: ...

    def model_card(
        self, repo_id: str, *, revision: str | None = None
    ) -> tuple[str, str | None]: ...

    def page_url(self, repo_id: str) -> str:
        """The repository's page on the source's website."""
        ...
