"""Where models come from: the Hugging Face hub or ModelScope, and what a client of either does.

Search, repository detail, GGUF header reads (:mod:`~autoglm_desktop.core.hub.remote_gguf`),
fit verdicts (:mod:`~autoglm_desktop.core.planning`) and downloads
(:mod:`~autoglm_desktop.core.hub.downloads`) work the same on both; they reach the network only
through a :class:`SourceClient`, which :class:`~autoglm_desktop.core.hub.client.HubClient` and
:class:`~autoglm_desktop.core.hub.modelscope.ModelScopeClient` implement.

A model is named by a *reference*: ``owner/repo`` on the chosen source, or with the source in
front (``modelscope:owner/repo``, ``hf:owner/repo``), optionally followed by a file in the
repository (``modelscope:owner/repo/model-Q4_K_M.gguf``). :func:`parse_model_ref` reads them.

Mainland-China users reach ModelScope more easily than the Hugging Face hub, so a new user whose
language is Simplified Chinese (``zh_CN``) is offered ModelScope first
(:func:`suggested_source`); a choice the user made, or an existing installation, is never changed.
"""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from autoglm_desktop.core.common.errors import HubNotFoundError

if TYPE_CHECKING:
    import httpx2

    from autoglm_desktop.core.hub.client import HubModel, RepoDetail, SearchSort
    from autoglm_desktop.core.hub.settings import HubSettings


class Source(str, enum.Enum):
    """A model source. The value is what settings files, queue files and ``--source`` hold."""

    HUGGING_FACE = "huggingface"
    MODELSCOPE = "modelscope"

    @property
    def label(self) -> str:
        """The source's name as people know it (not translated: a brand)."""
        return _LABELS[self]

    @property
    def prefix(self) -> str:
        """The short prefix of a reference to a model of this source (``modelscope:``)."""
        return _PREFIXES[self][0] + ":"


_LABELS = {Source.HUGGING_FACE: "Hugging Face", Source.MODELSCOPE: "ModelScope"}
# The first of each is the one shown; the others are accepted.
_PREFIXES = {
    Source.HUGGING_FACE: ("hf", "huggingface", "hugging-face"),
    Source.MODELSCOPE: ("modelscope", "ms"),
}
_MAINLAND_LOCALES = ("zh_CN", "zh_Hans", "zh_SG")


def source_named(text: str) -> Source:
    """The source called ``text`` (``modelscope``, ``ms``, ``hf``, ``huggingface``...).

    Raises:
        HubNotFoundError: no source has that name.
    """
    wanted = text.strip().lower()
    for source, names in _PREFIXES.items():
        if wanted in names or wanted == source.value:
            return source
    choices = ", ".join(s.value for s in Source)
    raise HubNotFoundError(f"There is no model source “{text}”. Choose one of: {choices}.")


def suggested_source(locale_name: str | None) -> Source:
    """The source offered first for a UI language (``zh_CN``: ModelScope; others: Hugging Face)."""
    name = (locale_name or "").replace("-", "_")
    if any(name == m or name.startswith(m + "_") for m in _MAINLAND_LOCALES):
        return Source.MODELSCOPE
    return Source.HUGGING_FACE


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class ModelRef:
    """A model named on the command line: its source, repository and perhaps one file."""

    source: Source
    repo_id: str
    filename: str | None = None

    def __str__(self) -> str:
        return format_ref(self.source, self.repo_id, self.filename)


def format_ref(source: Source, repo_id: str, filename: str | None = None) -> str:
    """``modelscope:owner/repo[/file]``; a Hugging Face repository keeps its plain name."""
    text = repo_id + (f"/{filename}" if filename else "")
    return text if source is Source.HUGGING_FACE else source.prefix + text


def parse_model_ref(text: str, *, default: Source) -> ModelRef:
    """Read ``[source:]owner/repo[/path/in/repo.gguf]``; without a prefix, ``default`` applies.

    Raises:
        HubNotFoundError: the text names no repository, or an unknown source.
    """
    ref = text.strip()
    source = default
    prefix, colon, rest = ref.partition(":")
    if colon and "/" not in prefix and not rest.startswith("//"):
        source, ref = source_named(prefix), rest
    parts = [p for p in ref.strip("/").split("/") if p]
    if len(parts) < 2:
        raise HubNotFoundError(
            f"“{text}” does not name a repository. Write it as owner/name, for example "
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF or modelscope:Qwen/Qwen2.5-0.5B-Instruct-GGUF."
        )
    filename = "/".join(parts[2:]) or None
    return ModelRef(source=source, repo_id=f"{parts[0]}/{parts[1]}", filename=filename)


# --------------------------------------------------------------------------- the client protocol


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
