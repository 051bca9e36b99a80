"""The model hub: search GGUF repositories, list a repository's model files, read its card.

Every request, URL, auth header, endpoint and offline check comes from ``huggingface_hub``
(:class:`~huggingface_hub.HfApi`, :func:`~huggingface_hub.hf_hub_url`,
:func:`~huggingface_hub.get_hf_file_metadata`, :func:`~huggingface_hub.utils.build_hf_headers`).
:class:`HubClient` binds them to the user's hub settings and token, checks offline mode before
anything touches the network, and turns the library's exceptions into this app's typed errors
with plain-language messages.

All functions here block on the network; the Qt layer calls them off the GUI thread.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import (
    HfApi,
    HfFileMetadata,
    ModelCard,
    get_hf_file_metadata,
    get_session,
    hf_hub_download,
    hf_hub_url,
    hf_raise_for_status,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import ModelInfo, RepoFile
from huggingface_hub.utils import build_hf_headers

from autoglm_desktop import APP_ID, __version__
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import (
    AccessTokenError,
    GatedModelError,
    HubError,
    HubNotFoundError,
    NetworkError,
    OfflineModeError,
)
from autoglm_desktop.core.hub.settings import (
    HubSettings,
    apply_hub_settings,
    load_access_token,
    load_hub_settings,
)
from autoglm_desktop.core.hub.source import Source
from autoglm_desktop.core.models.quant import (
    is_gguf_name,
    is_projector_name,
    parse_quant,
    parse_split_name,
    quant_sort_key,
)

log = logging.getLogger(__name__)

GGUF_TAG = "gguf"
README = "README.md"
METADATA_TIMEOUT_S = 20.0
_SEARCH_FIELDS = ["author", "downloads", "likes", "lastModified", "gated", "tags", "gguf"]
_SHA256_HEX = frozenset("0123456789abcdef")


# --------------------------------------------------------------------------- client


class HubClient:
    """The app's one way to the hub: endpoint, proxy, offline mode and access token in one place.

    Creating a client applies ``settings`` to huggingface_hub's shared HTTP session
    (:func:`~autoglm_desktop.core.hub.settings.apply_hub_settings`). ``token=None`` uses the
    token saved in the app; without one, huggingface_hub's own login (``HF_TOKEN``) applies.
    ``token=False`` sends no token at all.

    It is the Hugging Face :class:`~autoglm_desktop.core.hub.source.SourceClient`.
    """

    source = Source.HUGGING_FACE

    def __init__(
        self, *, settings: HubSettings | None = None, token: str | bool | None = None
    ) -> None:
        self.settings = settings if settings is not None else load_hub_settings()
        if token is None or token is True:
            token = load_access_token()
        # "" counts as no token; False keeps huggingface_hub from sending its own login's.
        self.token: str | bool | None = token if token is False else (token or None)
        apply_hub_settings(self.settings)
        self.endpoint = self.settings.endpoint
        self.api = HfApi(
            endpoint=self.endpoint,
            token=self.token,
            library_name=APP_ID,
            library_version=__version__,
        )

    def ensure_online(self) -> None:
        """Raise :class:`OfflineModeError` in offline mode, before any socket is opened."""
        if self.settings.is_offline:
            raise OfflineModeError(
                "Offline mode is on, so nothing is downloaded or searched. Turn it off in "
                "Settings → Hub to use the model hub."
            )

    def file_url(self, repo_id: str, path: str, *, revision: str | None = None) -> str:
        return hf_hub_url(repo_id, path, revision=revision, endpoint=self.endpoint)

    def file_metadata(self, repo_id: str, path: str, *, revision: str | None) -> HfFileMetadata:
        """Size, ETag (the SHA-256 of large files) and download location of one file."""
        self.ensure_online()
        url = self.file_url(repo_id, path, revision=revision)
        with hub_errors(self, repo_id=repo_id, what=path):
            return get_hf_file_metadata(
                url,
                token=self.token,
                timeout=METADATA_TIMEOUT_S,
                library_name=APP_ID,
                library_version=__version__,
                endpoint=self.endpoint,
                retry_on_errors=True,
            )

    def headers_for(self, url: str) -> dict[str, str]:
        """Request headers for ``url``: with the token on the hub itself, without it elsewhere.

        Large files are served from a CDN address the hub redirects to; the token must not
        travel there.
        """
        on_hub = _origin(url) == _origin(self.endpoint)
        return build_hf_headers(
            token=self.token if on_hub else False,
            library_name=APP_ID,
            library_version=__version__,
        )

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc or self.endpoint

    def http(self) -> httpx2.Client:
        """huggingface_hub's shared session: the proxy and the offline switch applied."""
        return get_session()

    def errors(self, *, repo_id: str | None = None, what: str = "") -> AbstractContextManager[None]:
        return hub_errors(self, repo_id=repo_id, what=what)

    def raise_for_status(self, response: httpx2.Response) -> None:
        """huggingface_hub's error for an error answer; the enclosing :meth:`errors` words it."""
        hf_raise_for_status(response)

    def search(
        self, query: str, *, sort: SearchSort, page_size: int = 20, max_results: int = 200
    ) -> ModelSearch:
        return ModelSearch(self, query, sort=sort, page_size=page_size, max_results=max_results)

    def repo_detail(
        self, repo_id: str, *, revision: str | None = None, with_card: bool = True
    ) -> RepoDetail:
        return fetch_repo_detail(self, repo_id, revision=revision, with_card=with_card)

    def model_card(self, repo_id: str, *, revision: str | None = None) -> tuple[str, str | None]:
        return fetch_model_card(self, repo_id, revision=revision)

    def page_url(self, repo_id: str) -> str:
        return f"{self.endpoint}/{repo_id}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


@contextlib.contextmanager
def hub_errors(client: HubClient, *, repo_id: str | None = None, what: str = "") -> Iterator[None]:
    """Turn huggingface_hub and HTTP exceptions into this app's errors, in plain words."""
    try:
        yield
    except HubError:
        raise
    except OfflineModeIsEnabled:
        raise OfflineModeError(
            "Offline mode is on (HF_HUB_OFFLINE), so nothing is fetched from the network."
        ) from None
    except GatedRepoError:
        raise _gated_error(client, repo_id or "this model") from None
    except RepositoryNotFoundError:
        raise HubNotFoundError(repo_not_found_message(client.host, repo_id)) from None
    except RevisionNotFoundError:
        raise HubNotFoundError(f"That version of “{repo_id}” is no longer on the hub.") from None
    except EntryNotFoundError:
        raise HubNotFoundError(file_not_found_message(client.host, repo_id, what)) from None
    except HfHubHTTPError as error:
        raise _http_error(client, error) from None
    except httpx2.TransportError as error:
        raise _network_error(client, error) from None


def repo_not_found_message(host: str, repo_id: str | None) -> str:
    return (
        f"There is no model “{repo_id}” on {host}. Check the name; if it is private, "
        "paste an access token in Settings → Hub."
    )


def file_not_found_message(host: str, repo_id: str | None, what: str) -> str:
    return f"“{what}” is not in “{repo_id}” on {host}."


def network_error(
    host: str, error: httpx2.TransportError, *, source: Source = Source.HUGGING_FACE
) -> NetworkError:
    """The plain-language error for a failed connection to ``host`` (any source)."""
    if isinstance(error, httpx2.ProxyError):
        return NetworkError(
            f"The proxy refused the connection ({error}). Check the proxy in Settings → Hub."
        )
    if isinstance(error, httpx2.ConnectError):
        return NetworkError(unreachable_message(host, source=source))
    if isinstance(error, httpx2.TimeoutException):
        return NetworkError(
            f"{host} did not answer in time. The connection may be slow or blocked; "
            f"try again, or {_blocked_advice(source)}."
        )
    return NetworkError(f"The connection to {host} failed ({error}).")


def _network_error(client: HubClient, error: httpx2.TransportError) -> NetworkError:
    return network_error(client.host, error)


def _status(error: HfHubHTTPError) -> int | None:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _gated_error(client: HubClient, repo_id: str) -> GatedModelError:
    if isinstance(client.token, str):
        advice = (
            "Your access token does not have access yet: open the model's page on the hub, "
            "accept its terms with the same account, then try again."
        )
    else:
        advice = (
            "Accept its terms on the model's page on the hub, create an access token there "
            "(Settings → Access Tokens) and paste it in Settings → Hub."
        )
    return GatedModelError(f"“{repo_id}” is gated by its authors. {advice}", repo_id=repo_id)


def token_refused_error() -> AccessTokenError:
    return AccessTokenError(
        "The hub refused the access token. It may be mistyped, expired or revoked; paste a new "
        "one in Settings → Hub."
    )


def _http_error(client: HubClient, error: HfHubHTTPError) -> HubError:
    status = _status(error)
    if status == 401:
        return token_refused_error()
    return status_error(client.host, status, detail=str(error))


def status_error(host: str, status: int | None, *, detail: str = "") -> HubError:
    """The error for an HTTP error answer other than the access ones (any source)."""
    if status == 429:
        return NetworkError(f"{host} is limiting requests; wait a minute and try again.")
    if status is not None and status >= 500:
        return NetworkError(f"{host} is having trouble (error {status}); try again later.")
    return HubError(f"{host} answered with an error ({status or detail}).")


def unreachable_message(host: str, *, source: Source = Source.HUGGING_FACE) -> str:
    return (
        f"Cannot reach {host}. Check the internet connection and the proxy in "
        f"Settings → Hub; {_blocked_advice(source, where=True)}."
    )


def _blocked_advice(source: Source, *, where: bool = False) -> str:
    if source is Source.MODELSCOPE:
        return ("or " if where else "") + "switch the model source to Hugging Face"
    if where:
        return "where the official hub is blocked, choose the hf-mirror.com endpoint"
    return "choose the hf-mirror.com endpoint in Settings → Hub"


# --------------------------------------------------------------------------- search


class SearchSort(str, enum.Enum):
    DOWNLOADS = "downloads"
    LIKES = "likes"
    RECENT = "last_modified"
    TRENDING = "trending_score"


@dataclass(frozen=True)
class HubModel:
    """One search result: a repository holding GGUF files."""

    repo_id: str
    author: str | None
    downloads: int
    likes: int
    last_modified: datetime | None
    gated: bool
    tags: tuple[str, ...]
    n_params: int | None  # from the hub's GGUF summary, when it has one
    architecture: str | None
    context_length: int | None
    source: Source = Source.HUGGING_FACE


class ModelSearch:
    """One search, fetched page by page as the user scrolls.

    huggingface_hub follows the hub's ``Link`` headers lazily, so a page request only goes to
    the network when the results already fetched run out.
    """

    def __init__(
        self,
        client: HubClient,
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
        self._results: Iterator[ModelInfo] | None = None
        self.exhausted = False

    def next_page(self) -> list[HubModel]:
        """The next ``page_size`` results; fewer (and ``exhausted``) at the end."""
        self.client.ensure_online()
        if self.exhausted:
            return []
        with hub_errors(self.client):
            if self._results is None:
                self._results = iter(
                    self.client.api.list_models(
                        search=self.query or None,
                        filter=GGUF_TAG,
                        sort=self.sort.value,
                        limit=self.max_results,
                        expand=_SEARCH_FIELDS,  # type: ignore[arg-type]
                    )
                )
            page = [_hub_model(info) for info in itertools.islice(self._results, self.page_size)]
        if len(page) < self.page_size:
            self.exhausted = True
        return page


def search_models(
    client: HubClient, query: str, *, sort: SearchSort = SearchSort.DOWNLOADS, limit: int = 20
) -> list[HubModel]:
    """The first ``limit`` GGUF repositories matching ``query``."""
    return ModelSearch(client, query, sort=sort, page_size=limit, max_results=limit).next_page()


def _hub_model(info: ModelInfo) -> HubModel:
    gguf = info.gguf if isinstance(info.gguf, dict) else {}
    return HubModel(
        repo_id=info.id,
        author=info.author,
        downloads=info.downloads or 0,
        likes=info.likes or 0,
        last_modified=info.last_modified,
        gated=bool(info.gated),
        tags=tuple(info.tags or ()),
        n_params=_int(gguf.get("total")),
        architecture=_text(gguf.get("architecture")),
        context_length=_int(gguf.get("context_length")),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- repository detail


@dataclass(frozen=True)
class HubFile:
    path: str  # inside the repository
    size: int
    sha256: str | None  # the LFS hash (every GGUF is an LFS file); None for small git files


@dataclass(frozen=True)
class RemoteModel:
    """A model as offered for download: one file, or every part of a split model."""

    name: str  # file name without ".gguf" and the split suffix
    quant: str | None
    files: tuple[HubFile, ...]  # the parts in order

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def is_split(self) -> bool:
        return len(self.files) > 1

    @property
    def primary_path(self) -> str:
        """The file llama.cpp opens (the first part of a split model)."""
        return self.files[0].path


@dataclass(frozen=True)
class RepoDetail:
    repo_id: str
    revision: str  # the commit every file is downloaded from
    models: tuple[RemoteModel, ...]  # chat models, smallest first
    projectors: tuple[RemoteModel, ...]  # mmproj files: vision projectors, not chat models
    incomplete: tuple[str, ...]  # split models with parts missing from the repository
    card_text: str  # the model card (Markdown, without its metadata header)
    license: str | None
    gated: bool
    downloads: int
    likes: int
    last_modified: datetime | None
    source: Source = Source.HUGGING_FACE

    def find(self, *, quant: str | None = None, filename: str | None = None) -> RemoteModel:
        """The model with this quantization label, or the one containing this file.

        Raises:
            HubNotFoundError: none matches, or a label matches several models.
        """
        if filename is not None:
            wanted = filename.strip("/")
            for model in (*self.models, *self.projectors):
                if any(wanted in (f.path, f.path.rsplit("/", 1)[-1]) for f in model.files):
                    return model
            raise HubNotFoundError(
                f"“{filename}” is not a GGUF model file of {self.repo_id}. "
                f"Its models: {self._choices()}."
            )
        if quant is None:
            raise ValueError("give quant or filename")
        matches = [m for m in self.models if m.quant and m.quant.upper() == quant.upper()]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise HubNotFoundError(
                f"{self.repo_id} has no {quant.upper()} file. Available: {self._choices()}."
            )
        names = ", ".join(m.primary_path for m in matches)
        raise HubNotFoundError(f"Several {quant.upper()} files in {self.repo_id}: {names}.")

    def _choices(self) -> str:
        return ", ".join(m.quant or m.name for m in self.models) or "none"


def fetch_repo_detail(
    client: HubClient, repo_id: str, *, revision: str | None = None, with_card: bool = True
) -> RepoDetail:
    """Every GGUF model of a repository, grouped and labelled, with its model card.

    Raises:
        OfflineModeError, NetworkError, HubNotFoundError, GatedModelError, AccessTokenError.
    """
    client.ensure_online()
    with hub_errors(client, repo_id=repo_id):
        info = client.api.model_info(
            repo_id, revision=revision, files_metadata=True, timeout=METADATA_TIMEOUT_S
        )
        commit = info.sha or revision or "main"
        files = _files_of(info)
        if any(f.sha256 is None and is_gguf_name(f.path) for f in files):
            files = list_repo_files(client, repo_id, revision=commit)
    models, projectors, incomplete = group_gguf_files(files)
    card_text, card_license = "", None
    if with_card and any(f.path == README for f in files):
        card_text, card_license = fetch_model_card(client, repo_id, revision=commit)
    return RepoDetail(
        repo_id=info.id,
        revision=commit,
        models=tuple(models),
        projectors=tuple(projectors),
        incomplete=tuple(incomplete),
        card_text=card_text,
        license=_license(info) or card_license,
        gated=bool(info.gated),
        downloads=info.downloads or 0,
        likes=info.likes or 0,
        last_modified=info.last_modified,
    )


def list_repo_files(client: HubClient, repo_id: str, *, revision: str | None) -> list[HubFile]:
    """Every file of a repository with size and LFS hash, from the tree listing."""
    client.ensure_online()
    with hub_errors(client, repo_id=repo_id):
        entries = client.api.list_repo_tree(repo_id, recursive=True, revision=revision)
        return [
            HubFile(path=e.path, size=e.size, sha256=e.lfs.sha256 if e.lfs else None)
            for e in entries
            if isinstance(e, RepoFile)
        ]


def _files_of(info: ModelInfo) -> list[HubFile]:
    files = []
    for sibling in info.siblings or ():
        sha256 = sibling.lfs.sha256 if sibling.lfs else None
        size = sibling.lfs.size if sibling.lfs else sibling.size
        if size is None:
            sha256 = None  # incomplete metadata: the tree listing fills it in
        files.append(HubFile(path=sibling.rfilename, size=size or 0, sha256=sha256))
    return files


def _license(info: ModelInfo) -> str | None:
    card = info.card_data
    value = getattr(card, "license", None) if card is not None else None
    if isinstance(value, str):
        return value
    for tag in info.tags or ():
        if tag.startswith("license:"):
            return tag.removeprefix("license:")
    return None


def group_gguf_files(
    files: Iterable[HubFile],
) -> tuple[list[RemoteModel], list[RemoteModel], list[str]]:
    """Chat models, projectors and incomplete split sets among a repository's files.

    The parts of a split model become one model; a set with parts missing is left out (its
    name is reported) since llama.cpp cannot load it.
    """
    singles: list[RemoteModel] = []
    split_sets: dict[tuple[str, str, int], dict[int, HubFile]] = {}
    for file in files:
        if not is_gguf_name(file.path):
            continue
        folder, _, name = file.path.rpartition("/")
        split = parse_split_name(name)
        if split is None:
            stem = name[: -len(".gguf")]
            singles.append(RemoteModel(name=stem, quant=parse_quant(name), files=(file,)))
        else:
            split_sets.setdefault((folder, split.stem, split.count), {})[split.index] = file
    incomplete = []
    for (folder, stem, count), parts in split_sets.items():
        if sorted(parts) != list(range(1, count + 1)):
            incomplete.append(f"{folder}/{stem}" if folder else stem)
            continue
        ordered = tuple(parts[i] for i in range(1, count + 1))
        singles.append(RemoteModel(name=stem, quant=parse_quant(stem + ".gguf"), files=ordered))
    projectors = [m for m in singles if is_projector_name(m.name)]
    models = [m for m in singles if not is_projector_name(m.name)]
    models.sort(key=lambda m: (quant_sort_key(m.quant), m.size, m.primary_path))
    projectors.sort(key=lambda m: (m.size, m.primary_path))
    return models, projectors, sorted(incomplete)


def fetch_model_card(
    client: HubClient, repo_id: str, *, revision: str | None = None
) -> tuple[str, str | None]:
    """The model card's Markdown (without its metadata header) and the licence it declares.

    A card that cannot be read gives ``("", None)``: it is not worth failing the page for.
    """
    client.ensure_online()
    try:
        with hub_errors(client, repo_id=repo_id, what=README):
            path = hf_hub_download(
                repo_id,
                README,
                revision=revision,
                endpoint=client.endpoint,
                token=client.token,
                cache_dir=_card_cache_dir(),
                library_name=APP_ID,
                library_version=__version__,
            )
        card = ModelCard(Path(path).read_text(encoding="utf-8"), ignore_metadata_errors=True)
    except (HubError, OSError, ValueError) as error:
        log.info("No model card for %s: %s", repo_id, error)
        return "", None
    licence = getattr(card.data, "license", None)
    return card.text.strip(), licence if isinstance(licence, str) else None


def _card_cache_dir() -> Path:
    path = paths.cache_dir() / "hub"
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_sha256(text: str | None) -> bool:
    return text is not None and len(text) == 64 and set(text.lower()) <= _SHA256_HEX
