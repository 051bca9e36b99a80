"""The servers the remote engine is tested against, all real HTTP on 127.0.0.1.

``openai_server`` runs each test once per independent OpenAI-compatible server in
``OPENAI_SERVERS``: today llama-cpp-python's own server (``llama_cpp.server``) on the real
starter model. To add one (our own ``autoglm-desktop serve`` once it exists), write a
session fixture that returns a :class:`ServerUnderTest` and append its name to the list.
``fault_server`` misbehaves on request (see fault_server.py).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fault_server import FaultServer
from remote_helpers import MemoryKeyring, ServerUnderTest

from autoglm_desktop.core.remote.keys import ApiKeyStore

# Session fixtures, each returning a ServerUnderTest; ``openai_server`` runs over them all.
OPENAI_SERVERS = ["llama_cpp_server"]
START_TIMEOUT_S = 180.0


@pytest.fixture
def memory_keys() -> ApiKeyStore:
    """An API key store on an in-memory keyring (this machine has no OS keyring)."""
    return ApiKeyStore(backend=MemoryKeyring())


@pytest.fixture(params=OPENAI_SERVERS)
def openai_server(request: pytest.FixtureRequest) -> ServerUnderTest:
    server = request.getfixturevalue(request.param)
    assert isinstance(server, ServerUnderTest)
    return server


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer(api_key="fault-key")
    yield server
    server.close()


@pytest.fixture
def faults(fault_server: FaultServer) -> FaultServer:
    """The fault server, its records cleared."""
    fault_server.reset()
    return fault_server


@pytest.fixture(scope="session")
def llama_cpp_server(
    starter_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerUnderTest]:
    """llama-cpp-python's OpenAI server in a process of its own, on the starter model."""
    port = _free_port()
    api_key = "llama-key"
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(starter_model),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--api_key",
        api_key,
        "--verbose",
        "False",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(process, base_url, api_key, log_path)
        yield ServerUnderTest(
            name="llama_cpp.server", base_url=base_url, api_key=api_key, model="smollm2"
        )
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(
    process: subprocess.Popen[bytes], base_url: str, api_key: str, log_path: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    headers = {"Authorization": f"Bearer {api_key}"}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"llama_cpp.server exited ({process.returncode}):\n{log}")
        try:
            if httpx2.get(f"{base_url}/models", headers=headers, timeout=2).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server did not answer within {START_TIMEOUT_S:g} s")
