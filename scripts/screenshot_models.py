"""Screenshots of the Models window's pages with realistic content (run under Xvfb).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshot_models.py OUT_DIR \
        [--page discover|downloads|library|settings|discover-modelscope|all] [--dark] \
        [--simulate-gpu GB]

Everything happens in a fresh temporary home: a local hub server (tests/hub_server.py) stands in
for the hub, and one for ModelScope (tests/modelscope_server.py), with repositories named like
real ones; their large files are only listed, while
the files that are downloaded are sparse GGUF models (any size, a few MB on disk). The library
gets models in the app's folder, the Hugging Face cache, an LM Studio folder and an Ollama store.
The Downloads page shows a running download (held by the server at about a third), a queued,
a paused, a failed (gated) and a finished one. Fit badges use this PC's real memory unless
``--simulate-gpu`` pretends there is a GPU with that many GB free.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMP = Path(tempfile.mkdtemp(prefix="autoglm-screens-"))
# Before huggingface_hub is imported: its cache and the other apps' folders live in TEMP.
os.environ["HOME"] = str(TEMP / "user")
os.environ["HF_HUB_CACHE"] = str(TEMP / "user" / ".cache" / "huggingface" / "hub")
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
os.environ.pop("HF_ENDPOINT", None)
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "core"), str(ROOT / "scripts")]

from hub_server import LFS_POINTER, Fault, HubFile, HubRepo, HubServer, git_blob_oid  # noqa: E402
from huggingface_hub import hf_hub_download  # noqa: E402
from modelscope_server import ModelScopeRepo, ModelScopeServer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from screenshot import dark_palette  # noqa: E402
from sparse_gguf import write_sparse_gguf  # noqa: E402
from synthetic_gguf import SyntheticModel  # noqa: E402

from autoglm_desktop.core.common import paths  # noqa: E402
from autoglm_desktop.core.common.errors import AutoGLMError  # noqa: E402
from autoglm_desktop.core.hub.client import HubClient, fetch_repo_detail  # noqa: E402
from autoglm_desktop.core.hub.downloads import DownloadManager, DownloadRequest  # noqa: E402
from autoglm_desktop.core.hub.settings import (  # noqa: E402
    EndpointChoice,
    HubSettings,
    save_hub_settings,
)
from autoglm_desktop.core.hub.source import Source  # noqa: E402
from autoglm_desktop.core.planning.fit import MemoryBudget  # noqa: E402
from autoglm_desktop.qt.app import create_application  # noqa: E402

GB = 1_000_000_000
MB = 1_000_000
ALL_PAGES = ("downloads", "discover", "library", "settings")  # downloads first: still running
# discover-modelscope before discover-offline: offline mode stays on once a page turned it on.
EXTRA_PAGES = ["discover-catalog", "discover-gated", "discover-modelscope", "discover-offline"]
CARD = """---
license: apache-2.0
---
# Qwen2.5-1.5B-Instruct-GGUF

Qwen2.5 is the latest series of Qwen large language models. This repository holds the
**1.5B instruction-tuned** model in GGUF format, for llama.cpp and the apps built on it.

- Better knowledge, coding and mathematics than Qwen2
- Long context: up to **32,768 tokens**
- Multilingual: Chinese, English, French, Spanish, and 25 more

## Quickstart

```bash
llama-cli -m qwen2.5-1.5b-instruct-q4_k_m.gguf -p "You are a helpful assistant" -cnv
```

| Quant | Bits | Use |
|---|---|---|
| Q4_K_M | 4.9 | recommended |
| Q8_0 | 8.5 | near lossless |
"""


@dataclass
class ListedFile(HubFile):
    """A file the server lists with a size and hash but never serves (for browsing only)."""

    listed_size: int = 0

    def __post_init__(self) -> None:
        self.size = self.listed_size
        self.sha256 = hashlib.sha256(self.path.encode()).hexdigest()
        self.lfs = True
        self.pointer = LFS_POINTER.format(sha=self.sha256, size=self.size).encode()
        self.blob_id = git_blob_oid(self.pointer)


def listed(path: str, size: float) -> HubFile:
    return ListedFile(path, data=b"", listed_size=int(size))


def sparse(name: str, *, n_embd: int, n_ff: int, n_layer: int, weights: str = "q8_0") -> Path:
    model = SyntheticModel(
        n_layer=n_layer, n_embd=n_embd, n_head=16, n_head_kv=4, n_ff=n_ff, weight_type=weights
    )
    return write_sparse_gguf(TEMP / "sources" / name, model)


def qwen_files(stem: str, sizes: dict[str, float]) -> list[HubFile]:
    return [listed(f"{stem}-{quant.lower()}.gguf", size) for quant, size in sizes.items()]


def build_hub(server: HubServer, sources: dict[str, Path]) -> None:
    qwen15 = {
        "Q2_K": 676 * MB,
        "Q3_K_M": 824 * MB,
        "Q4_0": 935 * MB,
        "Q4_K_M": 986 * MB,
        "Q5_K_M": 1.13 * GB,
        "Q6_K": 1.27 * GB,
        "Q8_0": 1.65 * GB,
        "FP16": 3.09 * GB,
    }
    server.add_repo(
        HubRepo(
            "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
            [
                HubFile("README.md", data=CARD.encode()),
                *qwen_files("qwen2.5-1.5b-instruct", qwen15),
            ],
            downloads=312_455,
            likes=121,
            last_modified="2025-09-20T10:00:00.000Z",
        )
    )
    server.add_repo(
        HubRepo(
            "Qwen/Qwen2.5-7B-Instruct-GGUF",
            [
                *qwen_files(
                    "qwen2.5-7b-instruct",
                    {"Q3_K_M": 3.81 * GB, "Q4_K_M": 4.68 * GB, "Q5_K_M": 5.44 * GB},
                ),
                listed("qwen2.5-7b-instruct-q8_0-00001-of-00003.gguf", 3.0 * GB),
                listed("qwen2.5-7b-instruct-q8_0-00002-of-00003.gguf", 3.0 * GB),
                listed("qwen2.5-7b-instruct-q8_0-00003-of-00003.gguf", 2.1 * GB),
                listed("qwen2.5-7b-instruct-fp16-00001-of-00004.gguf", 4.0 * GB),
            ],
            downloads=190_112,
            likes=98,
            last_modified="2025-06-02T10:00:00.000Z",
        )
    )
    for repo_id, downloads, likes, date in (
        ("bartowski/Qwen2.5-Coder-7B-Instruct-GGUF", 88_012, 65, "2025-11-12"),
        ("lmstudio-community/Qwen3-4B-GGUF", 150_876, 44, "2026-01-08"),
        ("unsloth/Qwen3-30B-A3B-GGUF", 402_331, 310, "2026-02-01"),
        ("Qwen/QwQ-32B-GGUF", 61_500, 212, "2025-03-11"),
        ("bartowski/Qwen2-VL-2B-Instruct-GGUF", 12_400, 18, "2024-12-20"),
        ("mradermacher/Qwen2.5-0.5B-Chat-GGUF", 2_310, 1, "2025-12-28"),
    ):
        server.add_repo(
            HubRepo(
                repo_id,
                [listed(f"{repo_id.split('/')[1].removesuffix('-GGUF')}-Q4_K_M.gguf", 4.7 * GB)],
                downloads=downloads,
                likes=likes,
                last_modified=f"{date}T10:00:00.000Z",
            )
        )
    server.add_repo(
        HubRepo(
            "bartowski/Llama-3.2-3B-Instruct-GGUF",
            [HubFile("Llama-3.2-3B-Instruct-Q4_K_M.gguf", source=sources["llama3b"])],
            downloads=520_000,
        )
    )
    server.add_repo(
        HubRepo(
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
            [
                HubFile("qwen2.5-0.5b-instruct-q8_0.gguf", source=sources["qwen05"]),
                HubFile("qwen2.5-0.5b-instruct-q4_k_m.gguf", source=sources["qwen05b"]),
            ],
            downloads=480_000,
        )
    )
    server.add_repo(
        HubRepo(
            "HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF",
            [HubFile("smollm2-1.7b-instruct-q4_k_m.gguf", source=sources["smol"])],
            downloads=45_000,
        )
    )
    server.add_repo(
        HubRepo(
            "google/gemma-3-1b-it-qat-q4_0-gguf",
            [HubFile("gemma-3-1b-it-q4_0.gguf", source=sources["gemma"])],
            gated="manual",
            downloads=99_000,
        )
    )


MODELSCOPE_CARD = """---
license: apache-2.0
tasks: [text-generation]
---
# Qwen2.5-1.5B-Instruct-GGUF

通义千问 Qwen2.5 系列的 **1.5B 指令微调**模型，GGUF 格式，可直接用于 llama.cpp 及基于它的应用。

- 知识、编程和数学能力较 Qwen2 明显提升
- 支持最长 **32,768 tokens** 的上下文
- 支持中文、英文等 29 种以上语言

## 快速开始

```bash
llama-cli -m qwen2.5-1.5b-instruct-q4_k_m.gguf -p "你是一个乐于助人的助手" -cnv
```
"""


def build_modelscope(server: ModelScopeServer) -> None:
    """ModelScope's side: the same publishers, ModelScope's own numbers and a Chinese card."""
    qwen15 = {
        "Q2_K": 676 * MB,
        "Q3_K_M": 824 * MB,
        "Q4_0": 935 * MB,
        "Q4_K_M": 986 * MB,
        "Q5_K_M": 1.13 * GB,
        "Q6_K": 1.27 * GB,
        "Q8_0": 1.65 * GB,
        "FP16": 3.09 * GB,
    }
    server.add_repo(
        ModelScopeRepo(
            "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
            [
                HubFile("README.md", data=MODELSCOPE_CARD.encode()),
                HubFile("configuration.json", data=b'{"framework": "gguf"}'),
                *qwen_files("qwen2.5-1.5b-instruct", qwen15),
            ],
            downloads=1_204_311,
            stars=356,
            updated=1_758_362_400,
            license="Apache License 2.0",
            chinese_name="通义千问2.5-1.5B-Instruct-GGUF",
        )
    )
    for repo_id, downloads, stars, updated in (
        ("Qwen/Qwen3-4B-GGUF", 846_200, 412, 1_746_000_000),
        ("Qwen/Qwen2.5-7B-Instruct-GGUF", 655_870, 287, 1_748_900_000),
        ("unsloth/Qwen3-30B-A3B-GGUF", 402_331, 310, 1_769_900_000),
        ("Qwen/Qwen2.5-Coder-7B-Instruct-GGUF", 233_140, 141, 1_731_400_000),
        ("lmstudio-community/Qwen3-1.7B-GGUF", 98_507, 36, 1_767_800_000),
        ("Qwen/QwQ-32B-GGUF", 61_500, 212, 1_741_700_000),
        ("second-state/Qwen2.5-0.5B-Instruct-GGUF", 20_880, 9, 1_727_100_000),
    ):
        name = repo_id.split("/")[1].removesuffix("-GGUF")
        server.add_repo(
            ModelScopeRepo(
                repo_id,
                [listed(f"{name}-Q4_K_M.gguf", 4.7 * GB)],
                downloads=downloads,
                stars=stars,
                updated=updated,
            )
        )


def fill_downloads(client: HubClient, hub: HubServer) -> Fault:
    """The queue as the window will find it: running, queued, paused, failed, finished."""
    manager = DownloadManager(client=client)

    def request(repo_id: str, index: int = 0) -> DownloadRequest:
        detail = fetch_repo_detail(client, repo_id, with_card=False)
        return DownloadRequest.for_model(detail, detail.models[index])

    running = request("bartowski/Llama-3.2-3B-Instruct-GGUF")
    # Held at 37% on every attempt, so that it is still running whenever the page is shot.
    at = int(running.size * 0.37)
    hold = hub.add_fault(Fault("hold", at_byte=at, path=running.files[0].path, times=1000))
    manager.add(running)
    manager.add(request("HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF"))
    paused = request("Qwen/Qwen2.5-0.5B-Instruct-GGUF", 0)  # q4_k_m sorts first
    status = manager.add(paused)
    part = status.path.with_name(status.path.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    source = TEMP / "sources" / "qwen05b.gguf"
    with open(source, "rb") as src, open(part, "wb") as dst:
        dst.write(src.read(int(paused.size * 0.42)))
    manager.pause(status.id)
    manager.add(paused)  # picks up the part's size
    failing = manager.add(request("google/gemma-3-1b-it-qat-q4_0-gguf"))
    with contextlib.suppress(AutoGLMError):  # gated: it fails, as it should
        manager.run(failing.id)
    finished = manager.add(request("Qwen/Qwen2.5-0.5B-Instruct-GGUF", 1))
    manager.run(finished.id)
    return hold


def fill_library(hub: HubServer, sources: dict[str, Path]) -> None:
    home = Path(os.environ["HOME"])
    lm_studio = home / ".lmstudio" / "models" / "lmstudio-community" / "gemma-3-4b-it-GGUF"
    lm_studio.mkdir(parents=True)
    os.link(sources["gemma4b"], lm_studio / "gemma-3-4b-it-Q4_K_M.gguf")
    ollama = home / ".ollama" / "models"
    digest = hashlib.sha256(b"llama3.2:1b").hexdigest()
    (ollama / "blobs").mkdir(parents=True)
    os.link(sources["llama1b"], ollama / "blobs" / f"sha256-{digest}")
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "llama3.2" / "1b"
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"}
    manifest.write_text(json.dumps({"layers": [layer]}))
    hub.add_repo(
        HubRepo("unsloth/Qwen3-0.6B-GGUF", [HubFile("Qwen3-0.6B-Q8_0.gguf", source=sources["q3"])])
    )
    hf_hub_download("unsloth/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf", endpoint=hub.url)


def make_sources() -> dict[str, Path]:
    return {
        "llama3b": sparse("llama3b.gguf", n_embd=3072, n_ff=8192, n_layer=28, weights="q4_0"),
        "smol": sparse("smol.gguf", n_embd=2048, n_ff=8192, n_layer=24, weights="q4_0"),
        "qwen05": sparse("qwen05.gguf", n_embd=1024, n_ff=4864, n_layer=24),
        "qwen05b": sparse("qwen05b.gguf", n_embd=1024, n_ff=4864, n_layer=24, weights="q4_0"),
        "gemma": sparse("gemma.gguf", n_embd=1152, n_ff=6912, n_layer=26, weights="q4_0"),
        "gemma4b": sparse("gemma4b.gguf", n_embd=2560, n_ff=10240, n_layer=34, weights="q4_0"),
        "llama1b": sparse("llama1b.gguf", n_embd=2048, n_ff=8192, n_layer=16, weights="q8_0"),
        "q3": sparse("q3.gguf", n_embd=1024, n_ff=3072, n_layer=28, weights="q8_0"),
    }


def wait(app: QApplication, done: object, timeout_s: float = 60.0) -> None:
    assert callable(done)
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    if not done():
        print("warning: timed out waiting", file=sys.stderr)


def settle(app: QApplication, seconds: float = 0.5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--page", default="all", choices=[*ALL_PAGES, *EXTRA_PAGES, "all"])
    parser.add_argument("--size", default="", help="window size, e.g. 1280x800 (default: its own)")
    parser.add_argument(
        "--extra", action="store_true", help="also the catalog, a gated model and offline mode"
    )
    parser.add_argument("--dark", action="store_true")
    parser.add_argument("--simulate-gpu", type=float, default=0.0, metavar="GB")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paths.set_base_dir(TEMP / "app")
    app = create_application()
    if args.dark:
        app.setPalette(dark_palette())
    if args.simulate_gpu:
        simulate_gpu(args.simulate_gpu)

    sources = make_sources()
    with HubServer(page_size=5) as hub, ModelScopeServer() as modelscope:
        build_hub(hub, sources)
        build_modelscope(modelscope)
        settings = HubSettings(
            endpoint_choice=EndpointChoice.CUSTOM,
            custom_endpoint=hub.url,
            source=Source.HUGGING_FACE,
            modelscope_endpoint=modelscope.url,
        )
        save_hub_settings(settings)
        client = HubClient(settings=settings, token=False)
        fill_library(hub, sources)
        hold = fill_downloads(client, hub)

        from autoglm_desktop.qt.models.window import ModelsWindow

        window = ModelsWindow()
        if args.size:
            width, height = (int(n) for n in args.size.split("x"))
            window.resize(width, height)
        window.show()
        pages = list(ALL_PAGES) if args.page == "all" else [args.page]
        if args.extra:
            pages += EXTRA_PAGES
        suffix = "-dark" if args.dark else ""
        for page in pages:
            window.show_page(page.split("-")[0])
            prepare(app, window, page, hold)
            settle(app)
            target = args.out / f"{page}{suffix}.png"
            ok = window.grab().save(str(target))
            print(f"saved {target}: {ok}")
        hold.release.set()
        window.shutdown()
    shutil.rmtree(TEMP, ignore_errors=True)
    return 0


def prepare(app: QApplication, window: object, page: str, hold: Fault) -> None:
    from autoglm_desktop.qt.models.window import ModelsWindow

    assert isinstance(window, ModelsWindow)
    if page == "discover":
        wait(app, lambda: window.discover.catalog.topLevelItemCount() > 0)
        open_qwen(app, window)
    elif page == "discover-modelscope":
        discover = window.discover
        discover.source_combo.setCurrentIndex(discover.source_combo.findData("modelscope"))
        open_qwen(app, window)
    elif page == "discover-catalog":
        window.discover.search_edit.clear()
        wait(app, lambda: window.discover.catalog.topLevelItemCount() > 0)
    elif page == "discover-gated":
        discover = window.discover
        discover.search_edit.setText("gemma")
        discover.start_search()
        wait(app, lambda: discover.results.topLevelItemCount() >= 1)
        discover.results.setCurrentItem(discover.results.topLevelItem(0))
        wait(app, lambda: discover.detail.loaded is not None)
    elif page == "discover-offline":
        settings = window.settings_page
        settings.offline_check.setChecked(True)
        settings.apply()
        discover = window.discover
        discover.search_edit.setText("llama")
        discover.start_search()
        wait(app, lambda: "offline" in discover.list_status.text())
    elif page == "downloads":
        wait(app, lambda: hold.reached.is_set())
        settle(app, 1.2)
    elif page == "library":
        library = window.library
        wait(app, lambda: len(library.models) >= 4 and bool(library.fits))
        if library.items():
            library.tree.setCurrentItem(library.items()[0])


def open_qwen(app: QApplication, window: object) -> None:
    """Search "qwen" on the source chosen and open Qwen2.5-1.5B, card and all."""
    discover = window.discover  # type: ignore[attr-defined]
    discover.search_edit.setText("qwen")
    discover.start_search()
    wait(app, lambda: discover.results.topLevelItemCount() >= 8)
    tree = discover.results
    for i in range(tree.topLevelItemCount()):
        if tree.topLevelItem(i).data(0, 256) == "Qwen/Qwen2.5-1.5B-Instruct-GGUF":
            tree.setCurrentItem(tree.topLevelItem(i))
    wait(app, lambda: discover.detail.loaded is not None)
    wait(app, lambda: "llama-cli" in discover.detail.card.toPlainText())


def simulate_gpu(gigabytes: float) -> None:
    """Pretend a GPU with this much free memory, for the hub files' fit badges only."""
    import autoglm_desktop.core.planning.fit as fit
    import autoglm_desktop.qt.models.discover_page as discover_page

    real = fit.current_budget

    def budget(*, gpu_offload: bool = True) -> MemoryBudget:
        base = real(gpu_offload=gpu_offload)
        return MemoryBudget(
            ram_available_bytes=base.ram_available_bytes,
            vram_free_bytes=int(gigabytes * GB),
            gpu_name="simulated GPU",
        )

    discover_page.current_budget = budget  # type: ignore[assignment]


if __name__ == "__main__":
    sys.exit(main())
