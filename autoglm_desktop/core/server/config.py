"""The local server's settings and the safety rules they must keep."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass

from autoglm_desktop.core.common.errors import ServerConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8800
NETWORK_HOST = "0.0.0.0"  # every interface: what "allow other devices" listens on
# An address of the documentation range (TEST-NET-1): never routed, so asking the OS how it
# would reach it names the interface of the default route, and sends nothing.
_PROBE_ADDRESS = ("192.0.2.1", 9)
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Where the server listens, who may call it, and the bounds of one request."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT  # 0: a free port, chosen when the server starts
    api_key: str | None = None  # None: no key asked (only allowed on this machine)
    allow_network: bool = False  # listening beyond this machine needs this and an API key
    cors_origins: tuple[str, ...] = ()  # browsers' origins allowed to call; empty: CORS off
    max_body_bytes: int = 4 * 1024 * 1024
    max_tokens_limit: int = 4096  # the most tokens one reply may ask for (and the default)
    request_timeout_s: float = 600.0  # from arrival to the end of the reply, queue included
    max_waiting: int = 64  # requests waiting for the engine; more are refused (429)


def is_loopback(host: str) -> bool:
    """True for addresses that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_config(config: ServerConfig) -> None:
    """Refuse settings that would expose the model unsafely or cannot work.

    Raises:
        ServerConfigError: a network address without ``allow_network`` or without an API key,
            an empty key, a port out of range, or bounds that are not positive.
    """
    if not is_loopback(config.host):
        if not config.allow_network:
            raise ServerConfigError(
                f"{config.host} can be reached from other computers; add --allow-network "
                "(and an API key) to listen there, or use 127.0.0.1."
            )
        if not config.api_key:
            raise ServerConfigError(
                f"Listening on {config.host} needs an API key (--api-key), so that only "
                "the programs you give it can use the model."
            )
    if config.api_key is not None and not config.api_key.strip():
        raise ServerConfigError("The API key is empty.")
    if not 0 <= config.port <= 65535:
        raise ServerConfigError(f"The port {config.port} is not between 0 and 65535.")
    bounds = (config.max_body_bytes, config.max_tokens_limit, config.request_timeout_s)
    if min(bounds) <= 0 or config.max_waiting < 1:
        raise ServerConfigError("The server's request limits must be more than zero.")


def lan_address() -> str | None:
    """This computer's address on its local network (as other devices reach it), if any."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(_PROBE_ADDRESS)  # UDP: sets the route, sends no packet
        address = str(probe.getsockname()[0])
        if address != NETWORK_HOST and not is_loopback(address):
            return address
    return None
