"""The remote servers the user added: name, address and the models each last listed.

Stored in ``config_dir()/remote_servers.json`` through the settings-file helpers. The API keys
are never in this file: only whether a server has one (the key itself lives in the OS keyring,
see :mod:`autoglm_desktop.core.remote.keys`). Nothing here opens a connection.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import RemoteSettingsError
from autoglm_desktop.core.common.settings_file import read_json_object, write_json_object

MAX_NAME_LENGTH = 80


@dataclass(frozen=True, kw_only=True)
class RemoteServer:
    """An OpenAI-compatible server (vLLM, SGLang, llama-server, Ollama, LM Studio...)."""

    id: str  # stable, random: names the server's key in the keyring
    name: str
    base_url: str  # normalized, ends in the API's root (usually ``/v1``)
    has_key: bool = False  # an API key was given (the key itself is in the keyring)
    models: tuple[str, ...] = ()  # as the server listed them at the last Test connection

    def updated(self, **changes: Any) -> RemoteServer:
        return replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class RemoteTarget:
    """One model of one remote server: what a conversation sends to."""

    server: RemoteServer
    model: str

    @property
    def label(self) -> str:
        """The name shown above its replies and stored with them."""
        return f"{self.model} — {self.server.name}"


def normalize_base_url(url: str) -> str:
    """A server address as ``http(s)://host[:port]/path`` without a trailing slash.

    A bare ``host:port`` gets ``http://``; an address without a path gets ``/v1``, where every
    OpenAI-compatible server listed in the README serves its API.

    Raises:
        RemoteSettingsError: not a web address.
    """
    text = url.strip()
    if text and "://" not in text:
        text = "http://" + text
    text = text.rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteSettingsError(
            f"“{url}” is not a server address. Enter it in full, for example "
            "http://192.168.1.20:8000/v1."
        )
    if parts.query or parts.fragment:
        raise RemoteSettingsError(f"“{url}” should be a plain address, without “?” or “#” parts.")
    try:
        _ = parts.port
    except ValueError:
        raise RemoteSettingsError(f"“{url}” has a port that is not a number.") from None
    if not parts.path:
        text += "/v1"
    return text


def check_name(name: str) -> str:
    """The server's name, trimmed.

    Raises:
        RemoteSettingsError: empty or too long.
    """
    text = " ".join(name.split())
    if not text:
        raise RemoteSettingsError("Give the server a name, for example “GPU box”.")
    if len(text) > MAX_NAME_LENGTH:
        raise RemoteSettingsError(f"The name is too long (at most {MAX_NAME_LENGTH} characters).")
    return text


def new_server(*, name: str, base_url: str, has_key: bool = False) -> RemoteServer:
    """A new server entry with a fresh id, its name and address checked.

    Raises:
        RemoteSettingsError: the name or the address is not valid.
    """
    return RemoteServer(
        id=secrets.token_hex(8),
        name=check_name(name),
        base_url=normalize_base_url(base_url),
        has_key=has_key,
    )


def remote_servers_path() -> Path:
    return paths.config_dir() / "remote_servers.json"


def load_remote_servers(*, path: Path | None = None) -> list[RemoteServer]:
    """The saved servers; entries that cannot be read are skipped (a damaged file: none)."""
    stored = read_json_object(path or remote_servers_path())
    entries = stored.get("servers")
    servers = []
    for entry in entries if isinstance(entries, list) else []:
        server = _server_from(entry)
        if server is not None:
            servers.append(server)
    return servers


def save_remote_servers(servers: list[RemoteServer], *, path: Path | None = None) -> None:
    """Replace the saved servers, atomically.

    Raises:
        SettingsFileError: the file could not be written.
    """
    path = path or remote_servers_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "servers": [
            {
                "id": s.id,
                "name": s.name,
                "base_url": s.base_url,
                "has_key": s.has_key,
                "models": list(s.models),
            }
            for s in servers
        ]
    }
    write_json_object(path, data, indent=2, owner_only=True)


def _server_from(entry: object) -> RemoteServer | None:
    if not isinstance(entry, dict):
        return None
    server_id, name, base_url = entry.get("id"), entry.get("name"), entry.get("base_url")
    if not all(isinstance(v, str) and v for v in (server_id, name, base_url)):
        return None
    models = entry.get("models")
    try:
        url = normalize_base_url(str(base_url))
    except RemoteSettingsError:
        return None
    return RemoteServer(
        id=str(server_id),
        name=str(name),
        base_url=url,
        has_key=entry.get("has_key") is True,
        models=tuple(m for m in models if isinstance(m, str)) if isinstance(models, list) else (),
    )
