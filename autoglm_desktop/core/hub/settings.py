"""Where the app reaches the model hub, through which proxy, whether it may at all, and the token.

Users in mainland China often cannot reach the official hub, so the endpoint can be the
hf-mirror.com mirror or any hub-compatible address, and ModelScope is a second model source
(its address too can be changed; ``MODELSCOPE_ENDPOINT`` or ``MODELSCOPE_DOMAIN`` set it for a
run, as ``HF_ENDPOINT`` does for the hub). Which source Discover, ``search`` and ``pull`` use is
a setting too: unset, a new user whose language is Simplified Chinese gets ModelScope, everyone
else and every existing installation the Hugging Face hub (:func:`default_source`).

*Offline mode* means no network connection at all: every hub function checks it before it
opens a socket. The settings live in
``config_dir()/hub.json``; the access token for gated or private models in its own file per
source, readable by the user only, like huggingface_hub's own token file.

:func:`apply_hub_settings` hands the proxy and the offline switch to huggingface_hub's shared HTTP
session, which every hub call (and the download manager) goes through.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import constants, set_client_factory
from huggingface_hub.utils import _http as hf_http

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import AutoGLMError, HubSettingsError
from autoglm_desktop.core.common.settings_file import (
    read_json_object,
    write_json_object,
    write_text_atomically,
)
from autoglm_desktop.core.hub.queue_file import state_file_path
from autoglm_desktop.core.hub.source import Source, suggested_source

log = logging.getLogger(__name__)

MIRROR_ENDPOINT = "https://hf-mirror.com"
MODELSCOPE_ENDPOINT = "https://modelscope.cn"
MODELSCOPE_ENDPOINT_ENV = "MODELSCOPE_ENDPOINT"  # a full address, for a run (tests, mirrors)
MODELSCOPE_DOMAIN_ENV = "MODELSCOPE_DOMAIN"  # a host name, as the modelscope library reads it
MODELSCOPE_TOKEN_ENV = "MODELSCOPE_API_TOKEN"  # as the modelscope library reads it
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
# HF_HUB_OFFLINE as the environment set it when the app started; offline mode adds to it.
_ENV_OFFLINE = constants.HF_HUB_OFFLINE


class EndpointChoice(str, enum.Enum):
    OFFICIAL = "official"  # huggingface.co, or HF_ENDPOINT when the environment sets it
    MIRROR = "mirror"  # hf-mirror.com
    CUSTOM = "custom"


@dataclass(frozen=True)
class HubSettings:
    endpoint_choice: EndpointChoice = EndpointChoice.OFFICIAL
    custom_endpoint: str = ""
    proxy: str = ""  # "": the system's proxy settings (HTTPS_PROXY and friends)
    offline: bool = False
    source: Source | None = None  # None: not chosen yet (see default_source)
    modelscope_endpoint: str = ""  # "": modelscope.cn, or what the environment says

    @property
    def endpoint(self) -> str:
        """The hub address every request goes to, without a trailing slash."""
        if self.endpoint_choice is EndpointChoice.MIRROR:
            return MIRROR_ENDPOINT
        if self.endpoint_choice is EndpointChoice.CUSTOM:
            return normalize_endpoint(self.custom_endpoint)
        return constants.ENDPOINT.rstrip("/")

    @property
    def modelscope_url(self) -> str:
        """The ModelScope address every ModelScope request goes to, without a trailing slash."""
        if self.modelscope_endpoint.strip():
            return normalize_endpoint(self.modelscope_endpoint)
        env = os.environ.get(MODELSCOPE_ENDPOINT_ENV, "").strip()
        if env:
            return normalize_endpoint(env)
        domain = os.environ.get(MODELSCOPE_DOMAIN_ENV, "").strip().strip("/")
        return f"https://{domain}" if domain else MODELSCOPE_ENDPOINT

    @property
    def is_offline(self) -> bool:
        """Offline mode is on here, or HF_HUB_OFFLINE is set for huggingface_hub."""
        return self.offline or constants.is_offline_mode()

    def updated(self, **changes: Any) -> HubSettings:
        return replace(self, **changes)


def normalize_endpoint(url: str) -> str:
    """A hub address as ``scheme://host[:port][/path]``, checked.

    Raises:
        HubSettingsError: not an http(s) address.
    """
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubSettingsError(
            f"“{url}” is not a web address. Enter the hub address in full, for example "
            f"{MIRROR_ENDPOINT}."
        )
    if parts.query or parts.fragment:
        raise HubSettingsError(f"“{url}” should be a plain address, without “?” or “#” parts.")
    return text


def normalize_proxy(url: str) -> str:
    """A proxy address (``http://host:port``, ``socks5://host:port``), checked; ``""`` for none.

    Raises:
        HubSettingsError: not a proxy address.
    """
    text = url.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in _PROXY_SCHEMES or not parts.hostname:
        raise HubSettingsError(
            f"“{url}” is not a proxy address. Enter it in full, for example "
            "http://127.0.0.1:7890 or socks5://127.0.0.1:1080."
        )
    return text


# --------------------------------------------------------------------------- storage


def hub_settings_path() -> Path:
    return paths.config_dir() / "hub.json"


def load_hub_settings(*, path: Path | None = None) -> HubSettings:
    """The saved hub settings; a missing or damaged file gives the defaults (kept aside, logged)."""
    stored = read_json_object(path or hub_settings_path())
    try:
        choice = EndpointChoice(stored.get("endpoint_choice", EndpointChoice.OFFICIAL.value))
    except ValueError:
        choice = EndpointChoice.OFFICIAL
    try:
        source = Source(stored["source"]) if stored.get("source") else None
    except ValueError:
        source = None
    return HubSettings(
        endpoint_choice=choice,
        custom_endpoint=_str(stored.get("custom_endpoint")),
        proxy=_str(stored.get("proxy")),
        offline=stored.get("offline") is True,
        source=source,
        modelscope_endpoint=_str(stored.get("modelscope_endpoint")),
    )


def default_source(settings: HubSettings, *, locale_name: str | None) -> Source:
    """The source to search and download from when none is named.

    The user's choice when there is one. Otherwise an existing installation (hub settings or a
    download queue already saved) keeps the Hugging Face hub it has always used, and a new one
    gets the source suggested for its language (:func:`~.source.suggested_source`).
    """
    if settings.source is not None:
        return settings.source
    if hub_settings_path().exists() or state_file_path().exists():
        return Source.HUGGING_FACE
    return suggested_source(locale_name)


def settle_source(settings: HubSettings, *, locale_name: str | None) -> HubSettings:
    """``settings`` with the source decided, saved the first time so that it stays the same.

    A new user's first download creates the download queue, which would make
    :func:`default_source` call the installation an existing one next time: the source is
    kept from the start instead. When it cannot be saved, it applies to this run (logged).
    """
    if settings.source is not None:
        return settings
    settled = settings.updated(source=default_source(settings, locale_name=locale_name))
    try:
        save_hub_settings(settled)
    except AutoGLMError as error:
        log.warning("Cannot save the model source: %s", error)
    return settled


def save_hub_settings(settings: HubSettings, *, path: Path | None = None) -> None:
    """Check and save the settings.

    Raises:
        HubSettingsError: the custom endpoint or the proxy is not a valid address.
        SettingsFileError: the file could not be written.
    """
    if settings.endpoint_choice is EndpointChoice.CUSTOM:
        normalize_endpoint(settings.custom_endpoint)
    if settings.modelscope_endpoint.strip():
        normalize_endpoint(settings.modelscope_endpoint)
    normalize_proxy(settings.proxy)
    data = asdict(settings)
    data["endpoint_choice"] = settings.endpoint_choice.value
    data["source"] = settings.source.value if settings.source is not None else None
    path = path or hub_settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_object(path, data, indent=2, sort_keys=True, owner_only=True)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def access_token_path(*, source: Source = Source.HUGGING_FACE) -> Path:
    name = "hub_token" if source is Source.HUGGING_FACE else f"{source.value}_token"
    return paths.config_dir() / name


def save_access_token(token: str, *, source: Source = Source.HUGGING_FACE) -> None:
    """Store the access token for gated and private models (readable by this user only).

    Raises:
        HubSettingsError: the text pasted is not a token.
        SettingsFileError: the file could not be written.
    """
    text = token.strip()
    if not text or any(ch.isspace() for ch in text) or len(text) > 1024:
        where = (
            "modelscope.cn → Account → Access Token"
            if source is Source.MODELSCOPE
            else "huggingface.co → Settings → Access Tokens; it starts with “hf_”"
        )
        raise HubSettingsError(f"That does not look like an access token. Copy it from {where}.")
    path = access_token_path(source=source)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, text, owner_only=True)  # a secret: for this user's eyes only


def load_access_token(*, source: Source = Source.HUGGING_FACE) -> str | None:
    """The stored access token, or ``None``."""
    try:
        text = access_token_path(source=source).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def clear_access_token(*, source: Source = Source.HUGGING_FACE) -> None:
    with contextlib.suppress(FileNotFoundError):
        access_token_path(source=source).unlink()


# --------------------------------------------------------------------------- applying

_apply_lock = threading.Lock()
_applied_proxy: str | None = None  # None: huggingface_hub's own client factory is in place


def apply_hub_settings(settings: HubSettings) -> None:
    """Route huggingface_hub's shared HTTP session through the proxy and set its offline switch.

    Changing the proxy closes the shared session; the next request opens a new one.
    """
    global _applied_proxy
    constants.HF_HUB_OFFLINE = settings.offline or _ENV_OFFLINE
    proxy = normalize_proxy(settings.proxy) or None
    with _apply_lock:
        if proxy == _applied_proxy:
            return
        set_client_factory(_client_factory(proxy))
        _applied_proxy = proxy


def _client_factory(proxy: str | None) -> Callable[[], httpx2.Client]:
    if proxy is None:
        return hf_http.default_client_factory

    def factory() -> httpx2.Client:
        # As huggingface_hub's default client (its request hook enforces HF_HUB_OFFLINE), plus
        # the proxy.
        return httpx2.Client(
            event_hooks={"request": [hf_http.hf_request_event_hook]},
            follow_redirects=True,
            timeout=None,
            proxy=proxy,
        )

    return factory
