"""The hub client against a real local hub server: search, repository detail, fit, settings."""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import HubFile, HubRepo, HubServer, write_gguf
from huggingface_hub import constants

from autoglm_desktop.core.common.errors import (
    AccessTokenError,
    GatedModelError,
    HubNotFoundError,
    HubSettingsError,
    OfflineModeError,
)
from autoglm_desktop.core.hub.catalog import load_catalog
from autoglm_desktop.core.hub.client import (
    HubClient,
    ModelSearch,
    SearchSort,
    fetch_repo_detail,
    list_repo_files,
    search_models,
)
from autoglm_desktop.core.hub.settings import (
    MIRROR_ENDPOINT,
    EndpointChoice,
    HubSettings,
    access_token_path,
    load_access_token,
    load_hub_settings,
    save_access_token,
    save_hub_settings,
)
from autoglm_desktop.core.machine.hardware import GpuReading, read_hardware
from autoglm_desktop.core.models.quant import parse_quant, parse_split_name, quant_sort_key
from autoglm_desktop.core.planning.fit import (
    FitVerdict,
    MemoryBudget,
    estimate_fit,
    estimate_local_fit,
)
from autoglm_desktop.core.planning.recommend import rank_catalog, rate_by_size, recommend_among

GIB = 1 << 30
CARD = "---\nlicense: mit\ntags: [gguf]\n---\n# Tiny model\n\nA model card.\n"


pytestmark = pytest.mark.usefixtures("isolated_hub_state")


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", n_layer=2, n_embd=64)


@pytest.fixture
def hub(gguf_file: Path) -> Iterator[HubServer]:
    data = gguf_file.read_bytes()
    with HubServer(page_size=2, tree_page_size=3) as server:
        server.add_repo(
            HubRepo(
                "acme/Tiny-GGUF",
                [
                    HubFile("README.md", data=CARD.encode()),
                    HubFile(".gitattributes", data=b"*.gguf filter=lfs\n"),
                    HubFile("Tiny-Q8_0.gguf", data=data),
                    HubFile("Tiny-Q4_K_M.gguf", data=data[: len(data) // 2]),
                    HubFile("Tiny-IQ2_XXS.gguf", data=data[:1000]),
                    HubFile("Q2_K/Tiny-Q2_K-00001-of-00003.gguf", data=data[:300]),
                    HubFile("Q2_K/Tiny-Q2_K-00002-of-00003.gguf", data=data[300:600]),
                    HubFile("Q2_K/Tiny-Q2_K-00003-of-00003.gguf", data=data[600:900]),
                    HubFile("Tiny-F16-00001-of-00002.gguf", data=data[:100]),  # part 2 missing
                    HubFile("mmproj-Tiny-F16.gguf", data=data[:200]),
                ],
                downloads=500,
                likes=3,
                license="mit",
            )
        )
        for i, (downloads, likes) in enumerate([(900, 1), (100, 50), (300, 7), (50, 0)]):
            server.add_repo(
                HubRepo(
                    f"team{i}/Tiny-{i}-GGUF",
                    [HubFile(f"tiny-{i}-q4_k_m.gguf", data=data[:500])],
                    downloads=downloads,
                    likes=likes,
                )
            )
        server.add_repo(
            HubRepo("acme/Tiny-safetensors", [HubFile("model.safetensors", data=b"x")], tags=[])
        )
        server.add_repo(
            HubRepo("gate/Locked-GGUF", [HubFile("Locked-Q4_K_M.gguf", data=data)], gated="manual")
        )
        yield server


def client_for(server: HubServer, *, token: str | bool = False, **settings: object) -> HubClient:
    hub_settings = HubSettings(
        endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=server.url
    ).updated(**settings)
    return HubClient(settings=hub_settings, token=token)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("qwen2.5-0.5b-instruct-q4_k_m.gguf", "Q4_K_M"),
        ("Llama-3.2-1B-Instruct-UD-IQ2_XXS.gguf", "UD-IQ2_XXS"),
        ("Q4_K_M/Model-Q4_K_M-00001-of-00003.gguf", "Q4_K_M"),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
        ("model.fp16.gguf", "F16"),
        ("gemma-3-1b-it-BF16.gguf", "BF16"),
        ("ggml-model-Q4_0_4_8.gguf", "Q4_0_4_8"),
        ("Model.i1-IQ4_XS.gguf", "IQ4_XS"),
        ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
        ("Phi-3-mini-4k-instruct-q4.gguf", None),
        ("notes.gguf", None),
    ],
)
def test_quant_label_is_read_from_the_file_name(name: str, label: str | None) -> None:
    assert parse_quant(name) == label


def test_split_names_and_quant_order() -> None:
    split = parse_split_name("dir/Big-Q4_K_M-00002-of-00005.gguf")
    assert split is not None
    assert (split.stem, split.index, split.count) == ("Big-Q4_K_M", 2, 5)
    assert split.part_name(1) == "Big-Q4_K_M-00001-of-00005.gguf"
    assert parse_split_name("Big-00006-of-00005.gguf") is None
    labels = ["Q8_0", "F16", "IQ2_XXS", "Q4_K_M", None, "Q2_K"]
    assert sorted(labels, key=quant_sort_key) == ["IQ2_XXS", "Q2_K", "Q4_K_M", "Q8_0", "F16", None]


# --------------------------------------------------------------------------- search


def test_search_finds_gguf_repositories_page_by_page(hub: HubServer) -> None:
    search = ModelSearch(client_for(hub), "tiny", sort=SearchSort.DOWNLOADS, page_size=3)

    first = search.next_page()
    second = search.next_page()

    ids = [m.repo_id for m in first + second]
    assert ids == [
        "team0/Tiny-0-GGUF",
        "acme/Tiny-GGUF",
        "team2/Tiny-2-GGUF",
        "team1/Tiny-1-GGUF",
        "team3/Tiny-3-GGUF",
    ]  # by downloads; the safetensors repository is not a GGUF one
    assert search.exhausted and search.next_page() == []
    assert first[0].downloads == 900 and first[1].likes == 3
    listing_calls = [r for r in hub.requests if r[2].startswith("/api/models?")]
    assert len(listing_calls) == 3  # pages of 2 followed through the Link header
    assert "cursor=" in listing_calls[1][2]


def test_search_sorts_by_likes_and_matches_the_query(hub: HubServer) -> None:
    results = search_models(client_for(hub), "tiny-", sort=SearchSort.LIKES, limit=10)
    assert [m.repo_id for m in results][:2] == ["team1/Tiny-1-GGUF", "team2/Tiny-2-GGUF"]
    assert search_models(client_for(hub), "no-such-model") == []


# --------------------------------------------------------------------------- repository detail


def test_repo_detail_groups_files_by_quant_split_and_projector(hub: HubServer) -> None:
    detail = fetch_repo_detail(client_for(hub), "acme/Tiny-GGUF")

    assert [m.quant for m in detail.models] == ["IQ2_XXS", "Q2_K", "Q4_K_M", "Q8_0"]
    split = detail.models[1]
    assert split.is_split and split.primary_path == "Q2_K/Tiny-Q2_K-00001-of-00003.gguf"
    assert [f.path.rsplit("-", 3)[-3] for f in split.files] == ["00001", "00002", "00003"]
    assert split.size == 900
    assert [p.name for p in detail.projectors] == ["mmproj-Tiny-F16"]
    assert detail.incomplete == ("Tiny-F16",)
    assert all(f.sha256 and len(f.sha256) == 64 for m in detail.models for f in m.files)
    assert detail.revision == hub.repos["acme/Tiny-GGUF"].sha
    assert detail.card_text.startswith("# Tiny model") and "license:" not in detail.card_text
    assert detail.license == "mit"
    assert detail.downloads == 500 and not detail.gated


def test_file_listing_carries_fit_verdicts(hub: HubServer) -> None:
    detail = fetch_repo_detail(client_for(hub), "acme/Tiny-GGUF", with_card=False)
    roomy = MemoryBudget(ram_available_bytes=8 * GIB, vram_free_bytes=0)
    gpu = MemoryBudget(ram_available_bytes=8 * GIB, vram_free_bytes=8 * GIB, gpu_name="GPU")
    cramped = MemoryBudget(ram_available_bytes=100 << 20, vram_free_bytes=0)

    def verdicts(budget: MemoryBudget) -> set[FitVerdict]:
        return {r.fit.verdict for r in rate_by_size(detail=detail, budget=budget)}

    assert verdicts(roomy) == {FitVerdict.CPU}
    assert verdicts(gpu) == {FitVerdict.GPU}
    assert verdicts(cramped) == {FitVerdict.TOO_BIG}
    rated = rate_by_size(detail=detail, budget=roomy, max_context=4096)[0]
    assert rated.fit.context_tokens == 4096 and rated.fit.total_bytes > rated.model.size
    recommended = recommend_among(rate_by_size(detail=detail, budget=roomy))
    assert recommended is not None and recommended.model.quant == "Q4_K_M"
    assert recommend_among(rate_by_size(detail=detail, budget=cramped)) is None


def test_find_by_quant_or_file_name(hub: HubServer) -> None:
    detail = fetch_repo_detail(client_for(hub), "acme/Tiny-GGUF", with_card=False)
    assert detail.find(quant="q8_0").primary_path == "Tiny-Q8_0.gguf"
    assert detail.find(filename="Tiny-Q2_K-00002-of-00003.gguf").quant == "Q2_K"
    with pytest.raises(HubNotFoundError, match=re.escape("no Q6_K file. Available: IQ2_XXS, Q2_K")):
        detail.find(quant="Q6_K")


def test_tree_listing_is_paginated_and_complete(hub: HubServer) -> None:
    files = list_repo_files(client_for(hub), "acme/Tiny-GGUF", revision="main")
    assert len(files) == len(hub.repos["acme/Tiny-GGUF"].files)
    assert next(f for f in files if f.path == "Tiny-Q8_0.gguf").sha256 is not None
    assert next(f for f in files if f.path == "README.md").sha256 is None
    tree_calls = [r for r in hub.requests if "/tree/" in r[2]]
    assert len(tree_calls) == 4  # 10 files and a folder in pages of 3


def test_unknown_repository_and_file_are_plain_errors(hub: HubServer) -> None:
    client = client_for(hub)
    with pytest.raises(HubNotFoundError, match=re.escape("no model “acme/Nope” on 127.0.0.1")):
        fetch_repo_detail(client, "acme/Nope")
    with pytest.raises(HubNotFoundError, match=re.escape("“nope.gguf” is not in “acme/Tiny-GGUF”")):
        client.file_metadata("acme/Tiny-GGUF", "nope.gguf", revision="main")


def test_gated_repository_asks_for_a_token(hub: HubServer) -> None:
    detail = fetch_repo_detail(client_for(hub), "gate/Locked-GGUF")
    assert detail.gated and detail.models  # its listing is public, its files are not

    with pytest.raises(GatedModelError, match="paste it in Settings → Hub") as no_token:
        client_for(hub).file_metadata("gate/Locked-GGUF", "Locked-Q4_K_M.gguf", revision="main")
    assert no_token.value.repo_id == "gate/Locked-GGUF"

    hub.grant("hf_other", "acme/Tiny-GGUF")
    with pytest.raises(GatedModelError, match="accept its terms with the same account"):
        client_for(hub, token="hf_other").file_metadata(
            "gate/Locked-GGUF", "Locked-Q4_K_M.gguf", revision="main"
        )
    with pytest.raises(AccessTokenError, match="refused the access token"):
        fetch_repo_detail(client_for(hub, token="hf_unknown"), "gate/Locked-GGUF")

    hub.grant("hf_granted", "gate/Locked-GGUF")
    metadata = client_for(hub, token="hf_granted").file_metadata(
        "gate/Locked-GGUF", "Locked-Q4_K_M.gguf", revision="main"
    )
    assert metadata.size == hub.repos["gate/Locked-GGUF"].files[0].size
    assert metadata.etag == hub.repos["gate/Locked-GGUF"].files[0].sha256


# --------------------------------------------------------------------------- offline mode


def test_offline_mode_makes_no_connection_at_all(hub: HubServer, no_sockets: list[object]) -> None:
    from autoglm_desktop.core.hub.downloads import DownloadFile, DownloadManager, DownloadRequest

    client = client_for(hub, offline=True)
    calls = [
        lambda: search_models(client, "tiny"),
        lambda: fetch_repo_detail(client, "acme/Tiny-GGUF"),
        lambda: client.file_metadata("acme/Tiny-GGUF", "Tiny-Q8_0.gguf", revision="main"),
    ]
    for call in calls:
        with pytest.raises(OfflineModeError, match="Offline mode is on"):
            call()
    manager = DownloadManager(client=client)
    files = (DownloadFile("Tiny-Q8_0.gguf", 1, None),)
    request = DownloadRequest("acme/Tiny-GGUF", "main", files, "x")
    with pytest.raises(OfflineModeError):
        manager.run(manager.add(request).id)

    assert no_sockets == []
    assert hub.total_connections == 0


def test_hf_hub_offline_also_counts_as_offline(
    hub: HubServer, no_sockets: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(hub)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OfflineModeError):
        fetch_repo_detail(client, "acme/Tiny-GGUF")
    assert no_sockets == [] and hub.total_connections == 0


# --------------------------------------------------------------------------- settings


def test_endpoint_choices() -> None:
    assert HubSettings().endpoint == constants.ENDPOINT
    assert HubSettings(endpoint_choice=EndpointChoice.MIRROR).endpoint == MIRROR_ENDPOINT
    custom = HubSettings(endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=" http://x:1/ ")
    assert custom.endpoint == "http://x:1"
    with pytest.raises(HubSettingsError, match="is not a web address"):
        _ = HubSettings(endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint="hf-mirror").endpoint
    with pytest.raises(HubSettingsError, match="not a proxy address"):
        save_hub_settings(HubSettings(proxy="127.0.0.1:7890"))


def test_settings_and_token_are_saved(app_home: Path) -> None:
    settings = HubSettings(
        endpoint_choice=EndpointChoice.MIRROR, proxy="socks5://127.0.0.1:1080", offline=True
    )
    save_hub_settings(settings)
    assert load_hub_settings() == settings

    assert load_access_token() is None
    save_access_token("  hf_abc123  ")
    assert load_access_token() == "hf_abc123"
    if os.name == "posix":
        assert stat.S_IMODE(access_token_path().stat().st_mode) == 0o600
    with pytest.raises(HubSettingsError, match="does not look like an access token"):
        save_access_token("hf abc")


def test_proxy_setting_routes_hub_requests_through_the_proxy(hub: HubServer) -> None:
    # The hub's name does not even resolve: only the proxy (our server) can answer for it.
    settings = HubSettings(
        endpoint_choice=EndpointChoice.CUSTOM,
        custom_endpoint="http://hub.invalid",
        proxy=hub.url,
    )
    detail = fetch_repo_detail(HubClient(settings=settings, token=False), "acme/Tiny-GGUF")
    assert detail.models and hub.proxied >= 2  # model info and card


# --------------------------------------------------------------------------- fit and catalog


def test_fit_verdicts_follow_the_memory_budget() -> None:
    size = 4 * GIB

    def verdict(ram: float, vram: float) -> FitVerdict:
        budget = MemoryBudget(ram_available_bytes=int(ram * GIB), vram_free_bytes=int(vram * GIB))
        return estimate_fit(file_bytes=size, quant="Q4_K_M", budget=budget).verdict

    assert verdict(ram=16, vram=12) is FitVerdict.GPU
    assert verdict(ram=16, vram=3) is FitVerdict.PARTIAL
    assert verdict(ram=16, vram=0) is FitVerdict.CPU
    assert verdict(ram=3, vram=0) is FitVerdict.TOO_BIG
    tight = estimate_fit(
        file_bytes=size,
        quant="Q4_K_M",
        budget=MemoryBudget(ram_available_bytes=int(6.3 * GIB), vram_free_bytes=0),
        max_context=32768,
    )
    assert tight.verdict is FitVerdict.CPU and 2048 <= tight.context_tokens < 32768
    assert FitVerdict.PARTIAL.label == "Fits with partial GPU offload"


def test_budget_from_live_hardware_readings() -> None:
    snapshot = read_hardware(include_gpus=False)
    budget = MemoryBudget.from_snapshot(snapshot)
    assert budget.ram_available_bytes > 0 and budget.vram_free_bytes == 0
    gpu = GpuReading(0, "Card", "nvidia", "cuda", 8 * GIB, 6 * GIB, 2 * GIB, 0)
    with_gpu = MemoryBudget.from_snapshot(type(snapshot)(**{**snapshot.__dict__, "gpus": (gpu,)}))
    assert with_gpu.vram_free_bytes == 6 * GIB and with_gpu.gpu_name == "Card"
    assert MemoryBudget.from_snapshot(snapshot, gpu_offload=False).vram_free_bytes == 0


def test_files_on_disk_are_judged_by_the_memory_estimator(gguf_file: Path) -> None:
    snapshot = read_hardware(include_gpus=False)
    fit = estimate_local_fit(gguf_file, hardware=snapshot)
    assert fit.method == "memory estimator" and fit.verdict is FitVerdict.CPU
    assert fit.context_tokens >= 2048 and fit.total_bytes > fit.weights_bytes > 0

    no_room = dataclasses.replace(
        snapshot.memory, total_bytes=64 << 20, available_bytes=1 << 20, cgroup=None
    )
    starved = estimate_local_fit(gguf_file, hardware=dataclasses.replace(snapshot, memory=no_room))
    assert starved.verdict is FitVerdict.TOO_BIG


def test_catalog_lists_the_families_and_ranks_by_fit() -> None:
    entries = load_catalog()
    assert {"GLM", "Qwen", "Llama", "Gemma", "Phi", "SmolLM"} <= {e.family for e in entries}
    assert all(e.license and e.recommended_quants and "/" in e.repo_id for e in entries)

    small_pc = rank_catalog(
        entries=entries, budget=MemoryBudget(ram_available_bytes=3 * GIB, vram_free_bytes=0)
    )
    verdicts = [c.fit.verdict for c in small_pc]
    assert verdicts == sorted(verdicts, key=lambda v: v.rank)
    assert small_pc[0].fit.verdict is FitVerdict.CPU
    assert small_pc[-1].fit.verdict is FitVerdict.TOO_BIG
    assert small_pc[-1].entry.params_billions >= 9  # too big: the nearest to fitting first

    gaming_pc = rank_catalog(
        entries=entries, budget=MemoryBudget(ram_available_bytes=32 * GIB, vram_free_bytes=24 * GIB)
    )
    assert all(c.fit.verdict is FitVerdict.GPU for c in gaming_pc)
    assert gaming_pc[0].entry.params_billions == max(e.params_billions for e in entries)
