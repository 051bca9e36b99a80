"""``autoglm-desktop search`` and ``pull`` with ModelScope, against the local stand-in server."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import write_gguf
from modelscope_server import HubFile, ModelScopeRepo, ModelScopeServer

from autoglm_desktop import cli
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.hub.settings import HubSettings, hub_settings_path, save_hub_settings

pytestmark = pytest.mark.usefixtures("isolated_hub_state")


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", n_layer=2, n_embd=128)


@pytest.fixture
def ms(
    app_home: Path, small_model: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModelScopeServer]:
    data = small_model.read_bytes()
    with ModelScopeServer(redirect_files=True) as server:
        server.add_repo(
            ModelScopeRepo(
                "Qwen/Tiny-GGUF",
                [
                    HubFile("README.md", data=b"# Tiny\n"),
                    HubFile("Tiny-Q4_K_M.gguf", data=data[: len(data) // 2]),
                    HubFile("Tiny-Q8_0.gguf", data=data),
                ],
                downloads=42,
                stars=7,
            )
        )
        # As a run would point the app at a mirror: the address comes from the environment.
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", server.url)
        monkeypatch.delenv("MODELSCOPE_API_TOKEN", raising=False)
        yield server


def run_cli(*args: str) -> int:
    return cli.main(list(args))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_search_with_the_modelscope_source(
    ms: ModelScopeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("search", "tiny", "--source", "modelscope") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["MODEL", "DOWNLOADS", "LIKES", "UPDATED"]
    assert table[1].split()[:3] == ["modelscope:Qwen/Tiny-GGUF", "42", "7"]

    assert run_cli("search", "tiny", "--source", "modelscope", "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["repo_id"], row["source"], row["ref"]) == (
        "Qwen/Tiny-GGUF",
        "modelscope",
        "modelscope:Qwen/Tiny-GGUF",
    )
    assert run_cli("search", "nothing-like-it", "--source", "modelscope") == 0
    assert "No GGUF models found for “nothing-like-it” on 127.0.0.1" in capsys.readouterr().out


def test_pull_a_file_named_with_its_source(
    ms: ModelScopeServer, small_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("pull", "modelscope:Qwen/Tiny-GGUF", "--list") == 0
    listing = capsys.readouterr()
    assert [line.split()[0] for line in listing.out.splitlines()] == ["QUANT", "Q4_K_M", "Q8_0"]
    assert "modelscope:Qwen/Tiny-GGUF on 127.0.0.1" in listing.err
    assert ms.bytes_served["Tiny-Q8_0.gguf"] == 0  # headers only

    assert run_cli("pull", "modelscope:Qwen/Tiny-GGUF/Tiny-Q8_0.gguf") == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == paths.models_dir() / "Qwen" / "Tiny-GGUF" / "Tiny-Q8_0.gguf"
    assert sha256(path) == sha256(small_model)

    assert run_cli("pull", "Qwen/Tiny-GGUF", "--source", "modelscope", "--quant", "Q8_0") == 0
    assert "Already downloaded" in capsys.readouterr().out


def test_pull_errors_are_the_hub_paths(
    ms: ModelScopeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("pull", "modelscope:acme/Missing-GGUF") == 2
    err = capsys.readouterr().err
    assert "There is no model “acme/Missing-GGUF” on 127.0.0.1" in err
    assert run_cli("pull", "modelscope:Qwen/Tiny-GGUF", "--quant", "Q6_K") == 2
    assert "has no Q6_K file. Available: Q4_K_M, Q8_0" in capsys.readouterr().err
    assert run_cli("pull", "modelscope:Qwen/Tiny-GGUF/Tiny-Q8_0.gguf", "--quant", "Q8_0") == 2
    assert "already names a file" in capsys.readouterr().err
    ms.fail_next(429, times=1)
    assert run_cli("search", "tiny", "--source", "modelscope") == 2
    assert "is limiting requests; wait a minute and try again" in capsys.readouterr().err

    save_hub_settings(HubSettings(offline=True))
    before = sum(ms.connections.values())
    assert run_cli("pull", "modelscope:Qwen/Tiny-GGUF") == 2
    assert run_cli("search", "tiny", "--source", "modelscope") == 2
    assert "Offline mode is on" in capsys.readouterr().err
    assert sum(ms.connections.values()) == before


def test_a_new_simplified_chinese_user_searches_modelscope_by_default(
    ms: ModelScopeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    assert not hub_settings_path().exists()
    assert run_cli("search", "tiny") == 0
    assert "modelscope:Qwen/Tiny-GGUF" in capsys.readouterr().out
    assert ms.bodies  # the search went to ModelScope
    # The choice is kept: a download queue, which marks an existing installation, changes nothing.
    assert json.loads(hub_settings_path().read_text())["source"] == "modelscope"
    assert run_cli("pull", "Qwen/Tiny-GGUF", "--quant", "Q8_0") == 0
    assert (paths.data_dir() / "downloads.json").exists()
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert run_cli("search", "tiny") == 0
    assert "modelscope:Qwen/Tiny-GGUF" in capsys.readouterr().out
