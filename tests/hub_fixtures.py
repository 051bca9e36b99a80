"""Fixtures of the tests that talk to the local hub server (a pytest plugin, see conftest.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import write_gguf
from huggingface_hub import constants

from autoglm_desktop.core.hub.settings import HubSettings, apply_hub_settings


@pytest.fixture
def isolated_hub_state(monkeypatch: pytest.MonkeyPatch, app_home: Path) -> Iterator[None]:
    """huggingface_hub's globals as found (offline switch, implicit token, HTTP session)."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    yield
    apply_hub_settings(HubSettings())


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real GGUF model of about 2.6 MB that llama.cpp loads."""
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    return write_gguf(path, n_layer=4, n_embd=256, n_head=4, n_head_kv=4, n_ff=512)


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Refuse (and record) any attempt to open a network connection."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts
