"""``autoglm-desktop search|pull|models|rm`` against a real local hub server."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import Fault, HubFile, HubRepo, HubServer, write_gguf
from huggingface_hub import constants

from autoglm_desktop import cli
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.hub.client import HubClient
from autoglm_desktop.core.hub.downloads import part_path
from autoglm_desktop.core.hub.remote_gguf import header_cache_dir
from autoglm_desktop.core.hub.settings import (
    EndpointChoice,
    HubSettings,
    apply_hub_settings,
    save_hub_settings,
)
from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.planning import recommend

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTER_REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
HANG_S = 120


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", n_layer=2, n_embd=128)


@pytest.fixture
def hub(
    app_home: Path, small_model: Path, starter_model: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HubServer]:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    data = small_model.read_bytes()
    with HubServer() as server:
        server.add_repo(
            HubRepo(
                "acme/Tiny-GGUF",
                [
                    HubFile("README.md", data=b"# Tiny\n"),
                    HubFile("Tiny-Q4_K_M.gguf", data=data[: len(data) // 2]),
                    HubFile("Tiny-Q8_0.gguf", data=data),
                    HubFile("mmproj-Tiny-F16.gguf", data=data[:100]),
                ],
                downloads=42,
                likes=7,
            )
        )
        server.add_repo(
            HubRepo(STARTER_REPO, [HubFile(starter_model.name, source=starter_model)], downloads=9)
        )
        server.add_repo(
            HubRepo("gate/Locked-GGUF", [HubFile("Locked-Q8_0.gguf", data=data)], gated="manual")
        )
        save_hub_settings(
            HubSettings(endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=server.url)
        )
        yield server
    apply_hub_settings(HubSettings())


def run_cli(*args: str) -> int:
    return cli.main(list(args))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_search_prints_a_table_or_json(hub: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("search", "gguf") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["MODEL", "DOWNLOADS", "LIKES", "UPDATED"]
    assert table[1].startswith("acme/Tiny-GGUF") and table[3].startswith(
        "gate/Locked-GGUF  (gated)"
    )

    assert run_cli("search", "tiny", "--json", "--sort", "likes") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["repo_id"], r["downloads"], r["likes"]) for r in rows] == [("acme/Tiny-GGUF", 42, 7)]


def test_pull_list_shows_quants_and_fit(hub: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("pull", "acme/Tiny-GGUF", "--list") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["QUANT", "SIZE", "FIT", "CONTEXT", "FILE"]
    assert lines[1].startswith("Q4_K_M") and lines[2].startswith("Q8_0")
    assert "Fits" in lines[1] and "Tiny-Q4_K_M.gguf" in lines[1]
    assert "vision projector (not a chat model): mmproj-Tiny-F16.gguf" in out
    assert hub.bytes_served["Tiny-Q8_0.gguf"] == 0


def listed_fits(out: str) -> dict[str, tuple[str, str]]:
    """``pull --list``'s table: the verdict and context printed for each file."""
    header, *rows = [re.split(r"\s{2,}", line) for line in out.splitlines() if "  " in line]
    assert header == ["QUANT", "SIZE", "FIT", "CONTEXT", "FILE"]
    return {file: (fit, context) for _quant, _size, fit, context, file in rows}


def test_pull_list_gives_the_verdicts_of_the_discover_page(
    hub: HubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = read_hardware(include_gpus=False)  # one reading for both: free memory moves
    monkeypatch.setattr(recommend, "usable_hardware", lambda: machine)

    assert run_cli("pull", "acme/Tiny-GGUF", "--list") == 0
    printed = listed_fits(capsys.readouterr().out)

    # The Discover page's two steps: size verdicts, then the estimator's in their place; from
    # the hub, as on a first opening (a damaged file's verdict changes once headers are cached).
    shutil.rmtree(header_cache_dir())
    client = HubClient()
    by_size = recommend.rate_repo_by_size(client=client, repo_id="acme/Tiny-GGUF")
    shown = recommend.rate_repo_by_headers(client=client, rating=by_size)
    assert printed == {
        r.model.primary_path: (r.fit.label, f"{r.fit.context_tokens:,}") for r in shown.rated
    }
    estimated = [r.model.quant for r in shown.rated if r.fit.from_estimator]
    assert estimated == ["Q8_0"]  # the Q4_K_M file is truncated: judged by its size
    assert shown.rated != by_size.rated  # the GGUF header changed the answer: not size alone


def test_pull_models_and_rm(hub: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("pull", "acme/Tiny-GGUF") == 0  # picks Q4_K_M, the usual choice
    captured = capsys.readouterr()
    path = Path(captured.out.strip())
    assert path == paths.models_dir() / "acme" / "Tiny-GGUF" / "Tiny-Q4_K_M.gguf"
    assert "Downloading Tiny-Q4_K_M.gguf (Q4_K_M" in captured.err
    assert path.read_bytes() == hub.repos["acme/Tiny-GGUF"].files[1].data

    assert run_cli("pull", "acme/Tiny-GGUF", "--file", "Tiny-Q4_K_M.gguf") == 0
    assert "Already downloaded" in capsys.readouterr().out

    assert run_cli("models", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    mine = [m for m in listed if m["path"] == str(path)]
    assert mine == [
        {
            "name": "Tiny-Q4_K_M",
            "path": str(path),
            "size_bytes": path.stat().st_size,
            "quant": "Q4_K_M",
            "source": "app",
            "repo_id": "acme/Tiny-GGUF",
            "parts": [],
        }
    ]
    assert run_cli("models") == 0
    assert "Tiny-Q4_K_M" in capsys.readouterr().out

    assert run_cli("rm", "Tiny-Q4_K_M") == 2  # not a terminal: needs --yes
    assert "add --yes" in capsys.readouterr().err and path.exists()
    assert run_cli("rm", "Tiny-Q4_K_M", "--yes") == 0
    assert not path.exists()
    assert run_cli("rm", "Tiny-Q4_K_M", "--yes") == 2
    assert "No model called" in capsys.readouterr().err


def test_pull_errors_are_plain(hub: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("pull", "gate/Locked-GGUF") == 2
    assert "is gated by its authors" in capsys.readouterr().err
    assert run_cli("pull", "acme/Tiny-GGUF", "--quant", "Q6_K") == 2
    assert "has no Q6_K file. Available: Q4_K_M, Q8_0" in capsys.readouterr().err
    assert run_cli("pull", "acme/Missing-GGUF") == 2
    assert "There is no model “acme/Missing-GGUF”" in capsys.readouterr().err

    save_hub_settings(
        HubSettings(endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=hub.url, offline=True)
    )
    before = hub.total_connections
    assert run_cli("pull", "acme/Tiny-GGUF") == 2
    assert run_cli("search", "tiny") == 2
    assert "Offline mode is on" in capsys.readouterr().err
    assert hub.total_connections == before


def test_pull_killed_half_way_resumes_without_fetching_again(
    hub: HubServer, starter_model: Path, app_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = starter_model.stat().st_size
    half = size // 2
    hold = hub.add_fault(Fault("hold", at_byte=half, path=starter_model.name))
    env = {
        **os.environ,
        "AUTOGLM_HOME": str(app_home),
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.pop("AUTOGLM_MODELS_DIR", None)
    command = [sys.executable, "-m", "autoglm_desktop", "pull", STARTER_REPO, "--quant", "Q4_1"]
    part = part_path(paths.models_dir().joinpath(*STARTER_REPO.split("/"), starter_model.name))

    log = app_home / "killed-pull.log"
    with (
        open(log, "wb") as output,
        subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        ) as process,
    ):
        try:
            # Bounds that only a hang reaches: the transfer runs in another process.
            assert hold.reached.wait(HANG_S), log.read_text()
            deadline = time.monotonic() + HANG_S
            while (part.stat().st_size if part.exists() else 0) < half:  # checked often
                assert time.monotonic() < deadline, "the part never reached the hold point"
                time.sleep(0.02)
            process.kill()  # no chance to clean up or save anything more
        finally:
            if process.poll() is None:
                process.kill()
            hold.release.set()
    served_before = hub.bytes_served[starter_model.name]
    on_disk_before = part.stat().st_size
    saved = json.loads((app_home / "data" / "downloads.json").read_text())
    assert [job["state"] for job in saved["jobs"]] == ["running"]  # it died while running

    assert run_cli("pull", STARTER_REPO, "--quant", "Q4_1") == 0  # the same command again
    captured = capsys.readouterr()

    served_after = hub.bytes_served[starter_model.name] - served_before
    final = Path(captured.out.strip())
    assert served_before == on_disk_before == half
    assert served_after == size - half  # the bytes already fetched were not fetched again
    assert hub.range_starts[-1] == (starter_model.name, half)
    assert f"resuming at {half / 1e6:.1f} MB" in captured.err
    assert sha256(final) == sha256(starter_model) and not part.exists()
    print(
        f"\nRESUME FIGURES: file {size:,} B; before the kill {served_before:,} B served and "
        f"{on_disk_before:,} B on disk; after the restart {served_after:,} B served "
        f"(Range from byte {half:,}); total {served_before + served_after:,} B."
    )
