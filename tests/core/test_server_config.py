"""The local server's safety rules: loopback by default, the network only with a switch and key."""

from __future__ import annotations

import socket

import pytest

from autoglm_desktop.core.common.errors import ServerConfigError
from autoglm_desktop.core.server.config import ServerConfig, check_config, is_loopback
from autoglm_desktop.core.server.runner import bind_socket


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_addresses_need_nothing(host: str) -> None:
    assert is_loopback(host)
    check_config(ServerConfig(host=host))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "my-pc.lan"])
def test_a_network_address_needs_the_switch(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ServerConfigError, match="--allow-network"):
        check_config(ServerConfig(host=host, api_key="k"))


def test_a_network_address_needs_a_key_too() -> None:
    with pytest.raises(ServerConfigError, match="API key"):
        check_config(ServerConfig(host="0.0.0.0", allow_network=True))
    check_config(ServerConfig(host="0.0.0.0", allow_network=True, api_key="secret"))


@pytest.mark.parametrize(
    "config",
    [
        ServerConfig(api_key="  "),
        ServerConfig(port=70000),
        ServerConfig(max_body_bytes=0),
        ServerConfig(max_tokens_limit=0),
        ServerConfig(request_timeout_s=0),
        ServerConfig(max_waiting=0),
    ],
)
def test_invalid_settings_are_refused(config: ServerConfig) -> None:
    with pytest.raises(ServerConfigError):
        check_config(config)


def test_a_port_in_use_is_a_clear_error() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(ServerConfigError, match="another"):
            bind_socket(ServerConfig(port=port)).close()
    finally:
        taken.close()


def test_port_zero_binds_a_free_port_on_loopback() -> None:
    sock = bind_socket(ServerConfig(port=0))
    try:
        host, port = sock.getsockname()[:2]
        assert host == "127.0.0.1"
        assert port > 0
    finally:
        sock.close()
