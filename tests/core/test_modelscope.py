"""ModelScope as a model source, against a real local stand-in server (tests/modelscope_server.py).

Search, repository files with sizes and hashes, header reads and fit verdicts, resumable verified
downloads, and the typed errors, with the messages the Hugging Face path gives.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hardware import snapshot
from hub_server import HubRepo, HubServer
from modelscope_server import Fault, HubFile, ModelScopeRepo, ModelScopeServer

from autoglm_desktop.core.common.errors import (
    AccessTokenError,
    HashMismatchError,
    HubError,
    HubNotFoundError,
    NetworkError,
    OfflineModeError,
)
from autoglm_desktop.core.hub.client import HubClient, SearchSort
from autoglm_desktop.core.hub.connect import connect
from autoglm_desktop.core.hub.downloads import (
    DownloadFile,
    DownloadManager,
    DownloadRequest,
    DownloadState,
    RetryPolicy,
    part_path,
)
from autoglm_desktop.core.hub.modelscope import ModelScopeClient
from autoglm_desktop.core.hub.settings import (
    EndpointChoice,
    HubSettings,
    default_source,
    hub_settings_path,
    load_hub_settings,
    save_access_token,
    save_hub_settings,
    settle_source,
)
from autoglm_desktop.core.hub.source import (
    ModelRef,
    Source,
    format_ref,
    parse_model_ref,
    suggested_source,
)
from autoglm_desktop.core.planning.fit import METHOD_ESTIMATOR, estimate_local_fit
from autoglm_desktop.core.planning.recommend import rate_repo_by_headers, rate_repo_by_size

REPO = "Qwen/Tiny-GGUF"
CARD = "---\nlicense: apache-2.0\ntasks: [text-generation]\n---\n# Tiny\n\nA tiny model.\n"
FAST = RetryPolicy(stall_timeout_s=600, connect_timeout_s=60, first_wait_s=0.01, max_wait_s=0.05)

pytestmark = pytest.mark.usefixtures("isolated_hub_state")


@pytest.fixture
def ms(model_file: Path) -> Iterator[ModelScopeServer]:
    data = model_file.read_bytes()
    third = len(data) // 3
    with ModelScopeServer(redirect_files=True) as server:
        server.add_repo(
            ModelScopeRepo(
                REPO,
                [
                    HubFile("README.md", data=CARD.encode()),
                    HubFile("configuration.json", data=b'{"framework": "gguf"}'),
                    HubFile("Tiny-Q8_0.gguf", source=model_file),
                    HubFile("Tiny-Q4_K_M.gguf", data=data[: len(data) // 2]),
                    HubFile("Q2_K/Tiny-Q2_K-00001-of-00002.gguf", data=data[:third]),
                    HubFile("Q2_K/Tiny-Q2_K-00002-of-00002.gguf", data=data[third:]),
                ],
                downloads=900,
                stars=12,
                updated=1_750_000_000,
            )
        )
        for index in range(5):
            server.add_repo(
                ModelScopeRepo(
                    f"acme/Tiny-{index}-GGUF",
                    [HubFile("m-Q4_K_M.gguf", data=data[:1000])],
                    downloads=index * 10,
                    stars=50 - index,
                )
            )
        server.add_repo(
            ModelScopeRepo(
                "acme/Tiny-Torch", [HubFile("model.bin", data=b"x")], libraries=["PyTorch"]
            )
        )
        server.add_repo(
            ModelScopeRepo("acme/Secret-GGUF", [HubFile("s-Q8_0.gguf", data=data)], private=True)
        )
        yield server


def settings_for(server: ModelScopeServer, **changes: object) -> HubSettings:
    return HubSettings(modelscope_endpoint=server.url).updated(**changes)


def client_for(
    server: ModelScopeServer, *, token: str | bool = False, **changes: object
) -> ModelScopeClient:
    return ModelScopeClient(settings=settings_for(server, **changes), token=token)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- search and files


def test_search_finds_gguf_repositories_page_by_page(ms: ModelScopeServer) -> None:
    search = client_for(ms).search("tiny", sort=SearchSort.DOWNLOADS, page_size=4)

    first = search.next_page()
    assert not search.exhausted
    second = search.next_page()

    names = [m.repo_id for m in first + second]
    assert names == [REPO, *(f"acme/Tiny-{i}-GGUF" for i in (4, 3, 2, 1, 0))]
    assert search.exhausted and search.next_page() == []
    assert "acme/Tiny-Torch" not in names and "acme/Secret-GGUF" not in names
    assert {m.source for m in first} == {Source.MODELSCOPE}
    top = first[0]
    assert (top.author, top.downloads, top.likes) == ("Qwen", 900, 12)
    assert top.last_modified is not None and top.last_modified.year == 2025
    # What went over the wire: ModelScope's search body, a page at a time.
    assert [(b["Name"], b["SortBy"], b["PageNumber"], b["PageSize"]) for b in ms.bodies] == [
        ("tiny", "DownloadsCount", 1, 4),
        ("tiny", "DownloadsCount", 2, 4),
    ]
    assert ms.bodies[0]["Criterion"][0]["values"] == ["GGUF"]


def test_search_sorts_by_stars(ms: ModelScopeServer) -> None:
    results = client_for(ms).search("acme", sort=SearchSort.LIKES).next_page()
    assert [m.likes for m in results] == sorted((m.likes for m in results), reverse=True)
    assert ms.bodies[-1]["SortBy"] == "StarsCount"


def test_repo_detail_lists_files_with_sizes_and_hashes(
    ms: ModelScopeServer, model_file: Path
) -> None:
    detail = client_for(ms).repo_detail(REPO)

    assert detail.source is Source.MODELSCOPE and detail.revision == "master"
    assert [m.quant for m in detail.models] == ["Q2_K", "Q4_K_M", "Q8_0"]
    q8 = detail.find(quant="Q8_0").files[0]
    assert (q8.path, q8.size, q8.sha256) == (
        "Tiny-Q8_0.gguf",
        model_file.stat().st_size,
        sha256(model_file),
    )
    split = detail.find(quant="Q2_K")
    assert [f.path for f in split.files] == [
        "Q2_K/Tiny-Q2_K-00001-of-00002.gguf",
        "Q2_K/Tiny-Q2_K-00002-of-00002.gguf",
    ]
    assert split.size == model_file.stat().st_size
    assert (detail.downloads, detail.likes, detail.license) == (900, 12, "Apache License 2.0")
    assert detail.card_text == "# Tiny\n\nA tiny model."
    listing = [p for m, p, _h in ms.requests_to("hub") if "/repo/files" in p]
    assert listing and "Revision=master" in listing[0] and "Recursive=True" in listing[0]


def test_header_read_gives_the_estimator_verdict_of_the_file(
    tmp_path: Path, starter_model: Path
) -> None:
    with ModelScopeServer(redirect_files=True) as server:
        server.add_repo(
            ModelScopeRepo(
                "HuggingFaceTB/SmolLM2", [HubFile(starter_model.name, source=starter_model)]
            )
        )
        client = client_for(server)
        hardware = snapshot(ram_gib=4)
        quick = rate_repo_by_size(client=client, repo_id="HuggingFaceTB/SmolLM2", hardware=hardware)
        rating = rate_repo_by_headers(client=client, rating=quick)

        (rated,) = rating.rated
        assert rated.fit.method == METHOD_ESTIMATOR
        assert rated.fit == estimate_local_fit(starter_model, hardware=hardware)
        # Only the header was read, with Range requests, from the storage host it redirects to.
        probes = [h.get("Range", "") for _m, _p, h in server.requests_to("cdn")]
        assert probes and all(re.fullmatch(r"bytes=\d+-\d+", r) for r in probes)
        assert sum(server.probe_bytes_served.values()) < starter_model.stat().st_size // 10


# --------------------------------------------------------------------------- downloads


def request_for(client: ModelScopeClient, quant: str) -> DownloadRequest:
    detail = client.repo_detail(REPO, with_card=False)
    return DownloadRequest.for_model(detail, detail.find(quant=quant))


def test_download_resumes_after_a_dropped_connection_and_is_verified(
    ms: ModelScopeServer, model_file: Path, app_home: Path
) -> None:
    size = model_file.stat().st_size
    ms.add_fault(Fault("drop", at_byte=size // 2, path="Tiny-Q8_0.gguf"))
    client = client_for(ms, token="ms-token")
    ms.grant("ms-token")
    manager = DownloadManager(client=client, policy=FAST)

    status = manager.run(manager.add(request_for(client, "Q8_0")).id)

    assert status.state is DownloadState.COMPLETED and status.retries == 1
    assert status.path == app_home / "data" / "models" / "Qwen" / "Tiny-GGUF" / "Tiny-Q8_0.gguf"
    assert sha256(status.path) == sha256(model_file)
    assert [start for name, start in ms.range_starts if name == "Tiny-Q8_0.gguf"] == [0, size // 2]
    saved = json.loads((app_home / "data" / "downloads.json").read_text())
    assert [job["source"] for job in saved["jobs"]] == ["modelscope"]
    # The token went to ModelScope only, never to the storage host the files come from.
    assert all(h.get("Authorization") == "Bearer ms-token" for _m, _p, h in ms.requests_to("hub"))
    assert not any("Authorization" in h for _m, _p, h in ms.requests_to("cdn"))


def test_download_continues_from_the_part_left_by_an_earlier_run(
    ms: ModelScopeServer, model_file: Path, app_home: Path
) -> None:
    client = client_for(ms)
    request = request_for(client, "Q2_K")
    first = DownloadManager(client=client, policy=FAST)
    status = first.add(request)
    done = 12_345
    part = part_path(status.path)
    part.parent.mkdir(parents=True)
    part.write_bytes(model_file.read_bytes()[:done])

    again = DownloadManager(client=client, policy=FAST)  # the app started again
    final = again.run(again.add(request).id)

    assert final.state is DownloadState.COMPLETED
    starts = [(name.rsplit("/", 1)[-1], start) for name, start in ms.range_starts]
    assert starts == [("Tiny-Q2_K-00001-of-00002.gguf", done), ("Tiny-Q2_K-00002-of-00002.gguf", 0)]
    folder = final.path.parent
    joined = b"".join((folder / f"Tiny-Q2_K-0000{i}-of-00002.gguf").read_bytes() for i in (1, 2))
    assert joined == model_file.read_bytes()


def test_damaged_bytes_fail_the_hash_check_and_nothing_is_kept(
    ms: ModelScopeServer, model_file: Path
) -> None:
    ms.add_fault(Fault("corrupt", at_byte=4321, path="Tiny-Q8_0.gguf"))
    client = client_for(ms)
    manager = DownloadManager(client=client, policy=FAST)
    job = manager.add(request_for(client, "Q8_0"))

    with pytest.raises(HashMismatchError, match="checksum does not match the hub's"):
        manager.run(job.id)

    status = manager.status(job.id)
    assert status.state is DownloadState.FAILED
    assert not status.path.exists() and not part_path(status.path).exists()
    # The next attempt gets good bytes and keeps them.
    assert manager.run(job.id).state is DownloadState.COMPLETED
    assert sha256(status.path) == sha256(model_file)


def test_a_queue_with_both_sources_downloads_each_from_its_own(
    ms: ModelScopeServer, model_file: Path
) -> None:
    with HubServer() as hub:
        hub.add_repo(HubRepo("acme/Hf-GGUF", [HubFile("h-Q8_0.gguf", source=model_file)]))
        hf_settings = settings_for(
            ms, endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=hub.url
        )
        hf = HubClient(settings=hf_settings, token=False)
        manager = DownloadManager(client=hf, policy=FAST)
        hf_detail = hf.repo_detail("acme/Hf-GGUF", with_card=False)
        ms_client = manager.client_for(Source.MODELSCOPE)
        ms_request = request_for(ms_client, "Q4_K_M")  # type: ignore[arg-type]

        for request in (DownloadRequest.for_model(hf_detail, hf_detail.models[0]), ms_request):
            assert manager.run(manager.add(request).id).state is DownloadState.COMPLETED

        assert hub.bytes_served["h-Q8_0.gguf"] == model_file.stat().st_size
        assert ms.bytes_served["Tiny-Q4_K_M.gguf"] == model_file.stat().st_size // 2


# --------------------------------------------------------------------------- errors


def hub_message(hub: HubServer, call: str, repo_id: str, token: str | bool = False) -> str:
    settings = HubSettings(endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=hub.url)
    client = HubClient(settings=settings, token=token)
    with pytest.raises(HubError) as caught:
        if call == "detail":
            client.repo_detail(repo_id, with_card=False)
        else:
            client.file_metadata(repo_id, call, revision="main")
    return str(caught.value).replace(client.host, "HOST")


def ms_message(server: ModelScopeServer, call: str, repo_id: str, token: str | bool = False) -> str:
    client = client_for(server, token=token)
    with pytest.raises(HubError) as caught:
        if call == "detail":
            client.repo_detail(repo_id, with_card=False)
        else:
            client.file_metadata(repo_id, call, revision="master")
    return str(caught.value).replace(client.host, "HOST")


def test_missing_private_and_refused_give_the_hub_paths_errors(
    ms: ModelScopeServer, model_file: Path
) -> None:
    with HubServer() as hub:
        hub.add_repo(HubRepo("acme/Secret-GGUF", [HubFile("s-Q8_0.gguf", data=b"x")], private=True))
        hub.add_repo(HubRepo(REPO, [HubFile("Tiny-Q8_0.gguf", data=b"x")]))
        cases = [
            ("detail", "acme/Nope", False),  # no such model: 404
            ("detail", "acme/Secret-GGUF", False),  # private, no token: 403 here, 401 there
            ("detail", REPO, "unknown-token"),  # a token the source refuses: 401
            ("nope.gguf", REPO, False),  # no such file
        ]
        for call, repo_id, token in cases:
            assert ms_message(ms, call, repo_id, token) == hub_message(hub, call, repo_id, token)
    with pytest.raises(HubNotFoundError, match=re.escape("no model “acme/Nope” on 127.0.0.1")):
        client_for(ms).repo_detail("acme/Nope")
    with pytest.raises(AccessTokenError, match="refused the access token"):
        client_for(ms, token="unknown-token").repo_detail(REPO)
    ms.grant("granted", "acme/Secret-GGUF")
    assert client_for(ms, token="granted").repo_detail("acme/Secret-GGUF").models


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (429, "is limiting requests; wait a minute and try again."),
        (500, "is having trouble (error 500); try again later."),
        (503, "is having trouble (error 503); try again later."),
    ],
)
def test_busy_or_failing_server_is_a_network_error(
    ms: ModelScopeServer, status: int, message: str
) -> None:
    client = client_for(ms)
    ms.fail_next(status, times=2)
    with pytest.raises(NetworkError, match=re.escape(f"{client.host} {message}")):
        client.search("tiny", sort=SearchSort.DOWNLOADS).next_page()
    with pytest.raises(NetworkError, match=re.escape(f"{client.host} {message}")):
        client.repo_detail(REPO)
    assert client.repo_detail(REPO).models  # the next request goes through


def test_a_failure_inside_a_successful_answer_is_an_error(ms: ModelScopeServer) -> None:
    client = client_for(ms)
    ms.fail_next(200, code=10010205001)  # HTTP 200, "Success": false, ModelScope's own code
    with pytest.raises(HubError, match=re.escape("answered with an error (injected 10010205001)")):
        client.repo_detail(REPO)
    ms.fail_next(200, code=404)
    with pytest.raises(HubNotFoundError, match=re.escape("There is no model “Qwen/Tiny-GGUF”")):
        client.repo_detail(REPO)


def test_download_retries_through_a_busy_spell(ms: ModelScopeServer, model_file: Path) -> None:
    client = client_for(ms)
    request = request_for(client, "Q8_0")
    ms.fail_next(503, times=2, path_contains="/repo/files")
    manager = DownloadManager(client=client, policy=FAST)
    client._listings.clear()  # the listing is asked for again at the download's start

    status = manager.run(manager.add(request).id)

    assert status.state is DownloadState.COMPLETED and status.retries == 2
    assert sha256(status.path) == sha256(model_file)


def test_proxy_setting_routes_modelscope_requests_through_the_proxy(
    ms: ModelScopeServer, model_file: Path
) -> None:
    # An address only the proxy can reach: the stand-in, used as the proxy, answers for it.
    client = ModelScopeClient(
        settings=HubSettings(modelscope_endpoint="http://modelscope.invalid", proxy=ms.url),
        token=False,
    )
    detail = client.repo_detail(REPO, with_card=False)
    assert detail.find(quant="Q8_0").files[0].size == model_file.stat().st_size
    assert ms.proxied >= 2  # the model's numbers and its file listing


def test_unreachable_server_is_a_plain_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = ModelScopeClient(
        settings=HubSettings(modelscope_endpoint=f"http://127.0.0.1:{port}"), token=False
    )
    with pytest.raises(NetworkError) as caught:
        client.repo_detail(REPO)
    assert str(caught.value) == (
        f"Cannot reach 127.0.0.1:{port}. Check the internet connection and the proxy in "
        "Settings → Hub; or switch the model source to Hugging Face."
    )


def test_offline_mode_blocks_every_modelscope_request(
    ms: ModelScopeServer, no_sockets: list[object]
) -> None:
    client = client_for(ms, offline=True)
    calls = [
        lambda: client.search("tiny", sort=SearchSort.DOWNLOADS).next_page(),
        lambda: client.repo_detail(REPO),
        lambda: client.file_metadata(REPO, "Tiny-Q8_0.gguf", revision="master"),
    ]
    for call in calls:
        with pytest.raises(OfflineModeError, match="Offline mode is on"):
            call()
    manager = DownloadManager(client=client, policy=FAST)
    files = (DownloadFile("Tiny-Q8_0.gguf", 1, None),)
    request = DownloadRequest(REPO, "master", files, "x", source=Source.MODELSCOPE)
    with pytest.raises(OfflineModeError):
        manager.run(manager.add(request).id)
    assert no_sockets == []
    assert sum(ms.connections.values()) == 0


# --------------------------------------------------------------------------- choosing the source


def test_references_name_the_source() -> None:
    hf = Source.HUGGING_FACE
    assert parse_model_ref("Qwen/X-GGUF", default=hf) == ModelRef(hf, "Qwen/X-GGUF")
    assert parse_model_ref("modelscope:Qwen/X-GGUF/sub/x-Q4_K_M.gguf", default=hf) == ModelRef(
        Source.MODELSCOPE, "Qwen/X-GGUF", "sub/x-Q4_K_M.gguf"
    )
    assert parse_model_ref("hf:Qwen/X-GGUF", default=Source.MODELSCOPE).source is hf
    assert parse_model_ref("ms:Qwen/X-GGUF", default=hf).source is Source.MODELSCOPE
    assert format_ref(Source.MODELSCOPE, "Qwen/X", "a.gguf") == "modelscope:Qwen/X/a.gguf"
    assert format_ref(hf, "Qwen/X") == "Qwen/X"
    with pytest.raises(HubNotFoundError, match="does not name a repository"):
        parse_model_ref("modelscope:Qwen", default=hf)
    with pytest.raises(HubNotFoundError, match="no model source “civitai”"):
        parse_model_ref("civitai:a/b", default=hf)


def test_mainland_chinese_new_users_get_modelscope_first(app_home: Path) -> None:
    assert suggested_source("zh_CN") is Source.MODELSCOPE
    assert suggested_source("zh_Hans_CN") is Source.MODELSCOPE
    assert suggested_source("zh_TW") is Source.HUGGING_FACE
    assert suggested_source("en_US") is Source.HUGGING_FACE
    assert suggested_source(None) is Source.HUGGING_FACE

    new_user = load_hub_settings()
    assert default_source(new_user, locale_name="zh_CN") is Source.MODELSCOPE
    assert default_source(new_user, locale_name="en_US") is Source.HUGGING_FACE
    # Decided once and kept, though the download queue will make it look like an old install.
    assert settle_source(new_user, locale_name="zh_CN").source is Source.MODELSCOPE
    assert load_hub_settings().source is Source.MODELSCOPE
    hub_settings_path().unlink()
    # An existing installation keeps the hub it has always used...
    save_hub_settings(HubSettings(proxy="http://127.0.0.1:7890"))
    assert default_source(load_hub_settings(), locale_name="zh_CN") is Source.HUGGING_FACE
    # ...and a choice made is kept, whatever the language.
    save_hub_settings(load_hub_settings().updated(source=Source.MODELSCOPE))
    assert default_source(load_hub_settings(), locale_name="en_US") is Source.MODELSCOPE
    assert json.loads(hub_settings_path().read_text())["source"] == "modelscope"


def test_endpoint_comes_from_the_settings_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, app_home: Path
) -> None:
    monkeypatch.delenv("MODELSCOPE_ENDPOINT", raising=False)
    monkeypatch.delenv("MODELSCOPE_DOMAIN", raising=False)
    assert HubSettings().modelscope_url == "https://modelscope.cn"
    monkeypatch.setenv("MODELSCOPE_DOMAIN", "www.modelscope.cn")
    assert HubSettings().modelscope_url == "https://www.modelscope.cn"
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", "http://127.0.0.1:9/")
    assert HubSettings().modelscope_url == "http://127.0.0.1:9"
    assert HubSettings(modelscope_endpoint="https://mirror.example/").modelscope_url == (
        "https://mirror.example"
    )
    client = connect(Source.MODELSCOPE, settings=HubSettings(), token=False)
    assert client.page_url("Qwen/X") == "http://127.0.0.1:9/models/Qwen/X"


def test_saved_modelscope_token_is_used_and_kept_apart(
    ms: ModelScopeServer, app_home: Path
) -> None:
    save_access_token("ms-saved", source=Source.MODELSCOPE)
    ms.grant("ms-saved", "acme/Secret-GGUF")
    client = ModelScopeClient(settings=settings_for(ms))
    assert client.repo_detail("acme/Secret-GGUF", with_card=False).models
    assert HubClient(settings=settings_for(ms)).token != "ms-saved"
