"""GGUF headers and fit verdicts of hub files, read over Range requests from a real local hub."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest
import synthetic_gguf as sg
from fake_hardware import snapshot
from hub_server import Fault, HubFile, HubRepo, HubServer

from autoglm_desktop.core.common.errors import (
    GatedModelError,
    GGUFFormatError,
    ModelFileError,
    NetworkError,
    OfflineModeError,
)
from autoglm_desktop.core.hub.client import HubClient, RemoteModel, RepoDetail, fetch_repo_detail
from autoglm_desktop.core.hub.client import HubFile as ListedFile
from autoglm_desktop.core.hub.remote_gguf import (
    SIBLING_TABLE_SLACK,
    SPLIT_PART_FIRST_READ,
    RemoteGGUFReader,
    TransferStats,
    fetch_model_info,
    fetch_remote_info,
    fetch_sibling_info,
    header_cache_dir,
    scale_to_sibling,
)
from autoglm_desktop.core.hub.settings import EndpointChoice, HubSettings
from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.models.gguf_info import (
    combine_split_parts,
    read_gguf_info,
    read_gguf_info_from_stream,
)
from autoglm_desktop.core.planning.fit import (
    METHOD_ESTIMATOR,
    METHOD_SCALED,
    METHOD_SIZE,
    FitEstimate,
    MemoryBudget,
    estimate_fit,
    estimate_local_fit,
    estimate_remote_fit,
    estimate_repo_fits,
)

MIB = 1 << 20
STARTER_REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
FAMILY_REPO = "acme/Synth-GGUF"
SPLIT_REPO = "acme/Split-GGUF"
GATED_REPO = "gate/Locked-GGUF"
ODD_REPO = "acme/Odd-GGUF"
FAMILY_SHAPE = {"n_layer": 6, "n_embd": 256, "n_head": 4, "n_head_kv": 2, "n_ff": 512}
FAMILY_VOCAB = 40_000  # a header of about 1.3 MB, nearly all of it the vocabulary


pytestmark = pytest.mark.usefixtures("isolated_hub_state")


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One model in three quantizations, as a quantizer's repository holds them."""
    folder = tmp_path_factory.mktemp("family")
    files = {}
    for weight_type, label in (("q4_0", "Q4_0"), ("q8_0", "Q8_0"), ("f16", "F16")):
        # The names differ in length, so the metadata before the tensor table does too.
        spec = sg.SyntheticModel(
            **FAMILY_SHAPE,  # type: ignore[arg-type]
            vocab_size=FAMILY_VOCAB,
            weight_type=weight_type,
            name=f"Synth 1B {label}",
        )
        files[label] = sg.write_synthetic_gguf(folder / f"Synth-1B-{label}.gguf", spec)
    return files


@pytest.fixture(scope="module")
def split_parts(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A model split into three parts by the ``gguf`` package (as ``llama-gguf-split`` does)."""
    folder = tmp_path_factory.mktemp("split")
    spec = sg.SyntheticModel(**FAMILY_SHAPE, vocab_size=2000)  # type: ignore[arg-type]
    writer = gguf.GGUFWriter(folder / "Split-Q8_0.gguf", spec.arch, split_max_tensors=20)
    sg._write_hyperparameters(writer, spec)
    sg._write_vocabulary(writer, spec)
    specs = spec.tensor_specs()
    for tensor in specs:
        dtype = np.float32 if tensor.qtype == sg.QT.F32 else np.float16
        raw = None if tensor.qtype in (sg.QT.F32, sg.QT.F16) else tensor.qtype
        shape = tuple(reversed(tensor.shape))
        writer.add_tensor_info(tensor.name, shape, np.dtype(dtype), tensor.n_bytes, raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in specs:
        writer.write_tensor_data(sg._data(tensor))
    writer.close()
    parts = sorted(folder.glob("Split-Q8_0-*-of-*.gguf"))
    assert len(parts) == 3
    return parts


@pytest.fixture(scope="module")
def odd_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid GGUF file of an architecture the memory estimator cannot size (no layers)."""
    path = tmp_path_factory.mktemp("odd") / "Odd-F32.gguf"
    writer = gguf.GGUFWriter(path, "exotic")
    writer.add_tensor("token_embd.weight", np.zeros((16, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def hub(
    starter_model: Path, family: dict[str, Path], split_parts: list[Path], odd_model: Path
) -> Iterator[HubServer]:
    with HubServer() as server:
        server.add_repo(HubRepo(STARTER_REPO, [HubFile(starter_model.name, source=starter_model)]))
        server.add_repo(HubRepo(FAMILY_REPO, [HubFile(p.name, source=p) for p in family.values()]))
        server.add_repo(HubRepo(SPLIT_REPO, [HubFile(p.name, source=p) for p in split_parts]))
        server.add_repo(
            HubRepo(GATED_REPO, [HubFile("Locked-Q8_0.gguf", source=family["Q8_0"])], gated="auto")
        )
        server.add_repo(HubRepo(ODD_REPO, [HubFile(odd_model.name, source=odd_model)]))
        yield server


def client_for(server: HubServer, **settings: object) -> HubClient:
    hub_settings = HubSettings(
        endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=server.url
    ).updated(**settings)
    return HubClient(settings=hub_settings, token=False)


MACHINES = [
    snapshot(ram_gib=0.3),
    snapshot(ram_gib=1.2),
    snapshot(ram_gib=4),
    snapshot(ram_gib=2, vram_gib=(0.7,)),
    snapshot(ram_gib=2, vram_gib=(1.2,)),
    snapshot(ram_gib=8, vram_gib=(6,)),
    snapshot(ram_gib=16, vram_gib=(4, 4)),
]


def probe_bytes(server: HubServer) -> int:
    return sum(server.probe_bytes_served.values())


def detail_of(client: HubClient, repo_id: str) -> RepoDetail:
    return fetch_repo_detail(client, repo_id, with_card=False)


# --------------------------------------------------------------------------- one header


def test_stream_parser_reads_what_the_file_parser_reads(starter_model: Path) -> None:
    local = read_gguf_info(starter_model)
    header = starter_model.read_bytes()[: local.data_offset]  # only the header, not the weights
    remote = read_gguf_info_from_stream(
        io.BytesIO(header), name=f"sub/{starter_model.name}", size=local.file_size
    )
    assert remote == dataclasses.replace(local, path=Path(f"sub/{starter_model.name}"))
    with pytest.raises(GGUFFormatError, match="ends too early"):
        read_gguf_info_from_stream(
            io.BytesIO(header[: len(header) // 2]), name="x.gguf", size=local.file_size
        )


def test_remote_header_equals_the_local_one_for_a_small_fraction_of_the_file(
    hub: HubServer, starter_model: Path
) -> None:
    client = client_for(hub)
    stats = TransferStats()
    name, size = starter_model.name, starter_model.stat().st_size
    info = fetch_remote_info(client, STARTER_REPO, name, revision="main", stats=stats)

    local = read_gguf_info(starter_model)
    assert info == dataclasses.replace(local, path=Path(name))
    fetched = hub.probe_bytes_served[name]
    # The header is 1.7 MB; the parser reads ahead in doubling chunks, 2 MiB here: 2 % of the file.
    assert local.data_offset <= fetched == stats.bytes_received <= 2 * MIB < size // 40
    assert hub.bytes_served[name] == 0  # nothing counted as a download
    assert stats.requests == 3  # the file's metadata, then two ranges (1 MiB, 1 MiB)

    # Opened again (a new client, as after a restart): the header comes from the cache.
    requests_before = len(hub.requests)
    sha256 = hub.repos[STARTER_REPO].files[0].sha256
    again = fetch_remote_info(
        client_for(hub), STARTER_REPO, name, revision="main", size=size, sha256=sha256
    )
    assert again == info
    assert len(hub.requests) == requests_before  # not even a metadata request
    assert hub.probe_bytes_served[name] == fetched
    # Without the hash at hand, one metadata request finds it; still no byte of the file.
    assert fetch_remote_info(client, STARTER_REPO, name) == info
    assert len(hub.requests) == requests_before + 1
    assert hub.probe_bytes_served[name] == fetched


def test_remote_fit_equals_the_local_fit_of_the_same_file(
    hub: HubServer, starter_model: Path
) -> None:
    client = client_for(hub)
    detail = detail_of(client, STARTER_REPO)
    (model,) = detail.models
    for hardware in [read_hardware(include_gpus=False), *MACHINES]:
        remote = estimate_remote_fit(
            client, STARTER_REPO, model, revision=detail.revision, hardware=hardware
        )
        assert remote == estimate_local_fit(starter_model, hardware=hardware)
        assert remote.method == METHOD_ESTIMATOR and remote.from_estimator
    verdicts = {
        estimate_remote_fit(client, STARTER_REPO, model, hardware=h).verdict for h in MACHINES
    }
    assert len(verdicts) == 4  # too big, CPU, partial offload and GPU: all four are reached


def test_a_damaged_cache_entry_is_fetched_again(hub: HubServer, starter_model: Path) -> None:
    client = client_for(hub)
    info = fetch_remote_info(client, STARTER_REPO, starter_model.name)
    (entry,) = header_cache_dir().iterdir()
    entry.write_bytes(entry.read_bytes()[:1000])
    fetched = hub.probe_bytes_served[starter_model.name]
    assert fetch_remote_info(client, STARTER_REPO, starter_model.name) == info
    assert hub.probe_bytes_served[starter_model.name] == 2 * fetched


def test_reader_asks_for_exactly_the_ranges_read(hub: HubServer, starter_model: Path) -> None:
    client = client_for(hub)
    metadata = client.file_metadata(STARTER_REPO, starter_model.name, revision="main")
    assert metadata.size is not None
    reader = RemoteGGUFReader(
        client, metadata.location, size=metadata.size, name=starter_model.name, cap=1500
    )
    data = starter_model.read_bytes()[:2000]
    assert reader.read(10) == data[:10]
    assert reader.read(1000) == data[10:1010]
    assert reader.read(600) == data[1010:1500]  # clipped at the cap
    assert reader.read(10) == b""
    ranges = [
        headers.get("Range")
        for role, _method, _path, headers in hub.requests
        if role == "cdn" and headers.get("Range")
    ]
    assert ranges == ["bytes=0-9", "bytes=10-1009", "bytes=1010-1499"]
    assert reader.consumed == data[:1500] and reader.received == 1500
    with pytest.raises(NetworkError, match="larger than this app reads"):
        reader.read_range(1600, 1700)


# --------------------------------------------------------------------------- a repository


def test_sibling_quantizations_cost_their_tensor_table_only(
    hub: HubServer, family: dict[str, Path]
) -> None:
    client = client_for(hub)
    detail = detail_of(client, FAMILY_REPO)
    assert [m.quant for m in detail.models] == ["Q4_0", "Q8_0", "F16"]
    for hardware in MACHINES:
        fits = estimate_repo_fits(client, detail, hardware=hardware)
        for model in detail.models:
            local = estimate_local_fit(family[model.quant or ""], hardware=hardware)
            assert fits[model.primary_path] == local

    header = read_gguf_info(family["Q4_0"]).data_offset
    served = hub.probe_bytes_served
    assert header <= served["Synth-1B-Q4_0.gguf"] <= 2 * header  # the first file's whole header
    for sibling in ("Synth-1B-Q8_0.gguf", "Synth-1B-F16.gguf"):
        assert 0 < served[sibling] <= 2 * SIBLING_TABLE_SLACK + 16_000 < header // 4
    requests = len(hub.requests)
    estimate_repo_fits(client, detail, hardware=MACHINES[0])  # all cached now
    assert len(hub.requests) == requests


def test_the_representative_is_the_preferred_file(hub: HubServer, family: dict[str, Path]) -> None:
    client = client_for(hub)
    detail = detail_of(client, FAMILY_REPO)
    f16 = detail.find(quant="F16")
    estimate_repo_fits(client, detail, hardware=MACHINES[2], preferred=f16)
    served = hub.probe_bytes_served
    assert served["Synth-1B-F16.gguf"] >= read_gguf_info(family["F16"]).data_offset
    assert served["Synth-1B-Q4_0.gguf"] < 2 * SIBLING_TABLE_SLACK + 16_000


def test_sibling_header_matches_the_real_one(hub: HubServer, family: dict[str, Path]) -> None:
    client = client_for(hub)
    detail = detail_of(client, FAMILY_REPO)
    known = fetch_model_info(client, FAMILY_REPO, detail.find(quant="Q4_0"))
    sibling = fetch_sibling_info(client, FAMILY_REPO, detail.find(quant="F16"), known=known)
    real = read_gguf_info(family["F16"])
    assert sibling.tensors == real.tensors
    assert sibling.layer_bytes == real.layer_bytes and sibling.data_offset == real.data_offset
    assert sibling.file_size == real.file_size and sibling.n_ctx_train == real.n_ctx_train

    other_model = fetch_model_info(client, SPLIT_REPO, detail_of(client, SPLIT_REPO).models[0])
    with pytest.raises(GGUFFormatError, match="not where another quantization"):
        fetch_sibling_info(client, FAMILY_REPO, detail.find(quant="Q8_0"), known=other_model)


def test_unreadable_sibling_tables_are_scaled_from_the_known_header(
    hub: HubServer, family: dict[str, Path]
) -> None:
    for name in ("Synth-1B-Q8_0.gguf", "Synth-1B-F16.gguf"):
        hub.add_fault(Fault("drop", at_byte=0, path=name, times=100, probes=True))
    client = client_for(hub)
    detail = detail_of(client, FAMILY_REPO)
    hardware = snapshot(ram_gib=4, vram_gib=(0.7,))
    fits = estimate_repo_fits(client, detail, hardware=hardware)
    assert fits["Synth-1B-Q4_0.gguf"].method == METHOD_ESTIMATOR
    for label in ("Q8_0", "F16"):
        fit = fits[f"Synth-1B-{label}.gguf"]
        local = estimate_local_fit(family[label], hardware=hardware)
        assert fit.method == METHOD_SCALED and fit.from_estimator
        assert (fit.verdict, fit.context_tokens) == (local.verdict, local.context_tokens)
        assert fit.total_bytes == pytest.approx(local.total_bytes, rel=0.02)


def test_scaling_keeps_the_total_and_the_metadata(family: dict[str, Path]) -> None:
    q4 = read_gguf_info(family["Q4_0"])
    f16 = read_gguf_info(family["F16"])
    scaled = scale_to_sibling(q4, name="Synth-1B-F16.gguf", file_size=f16.file_size, quant="F16")
    assert scaled.total_weight_bytes == pytest.approx(f16.total_weight_bytes, rel=0.001)
    assert scaled.layer_bytes == pytest.approx(f16.layer_bytes, rel=0.001)
    assert {t.type_name for t in scaled.tensors if len(t.shape) == 2} == {"F16"}
    assert (scaled.n_layer, scaled.vocab_size) == (q4.n_layer, q4.vocab_size)
    with pytest.raises(ModelFileError, match="too small"):
        scale_to_sibling(q4, name="tiny.gguf", file_size=1000)


def test_split_model_combines_every_part(hub: HubServer, split_parts: list[Path]) -> None:
    client = client_for(hub)
    detail = detail_of(client, SPLIT_REPO)
    (model,) = detail.models
    assert model.is_split and len(model.files) == 3
    info = fetch_model_info(client, SPLIT_REPO, model, revision=detail.revision)
    local_parts = [read_gguf_info(p) for p in split_parts]
    assert info.tensors == combine_split_parts(local_parts).tensors
    assert not info.is_split and info.file_size == sum(p.stat().st_size for p in split_parts)
    # The later parts hold no vocabulary: one small read each.
    for part in split_parts[1:]:
        assert hub.probe_bytes_served[part.name] == SPLIT_PART_FIRST_READ < part.stat().st_size
    assert info.n_layer == local_parts[0].n_layer and len(info.tensors) == sum(
        len(p.tensors) for p in local_parts
    )
    for hardware in MACHINES:
        fit = estimate_remote_fit(client, SPLIT_REPO, model, hardware=hardware)
        assert fit == estimate_local_fit(split_parts[0], hardware=hardware)
    with pytest.raises(GGUFFormatError, match="not the first of"):
        combine_split_parts(local_parts[1:])


# --------------------------------------------------------------------------- fallbacks


def assert_size_fallback(fit: FitEstimate, *, size: int, quant: str | None, reason: str) -> None:
    budget = MemoryBudget.from_snapshot(MACHINES[2])
    expected = estimate_fit(file_bytes=size, quant=quant, budget=budget)
    assert fit.method == METHOD_SIZE and not fit.from_estimator
    assert dataclasses.replace(fit, fallback_reason=None) == expected
    assert fit.fallback_reason is not None and reason in fit.fallback_reason


def test_offline_mode_opens_no_connection_and_falls_back_to_the_size(
    hub: HubServer, starter_model: Path, no_sockets: list[object]
) -> None:
    offline = client_for(hub, offline=True)
    file = hub.repos[STARTER_REPO].files[0]
    with pytest.raises(OfflineModeError):
        fetch_remote_info(offline, STARTER_REPO, file.path, size=file.size, sha256=file.sha256)
    reader = RemoteGGUFReader(offline, f"{hub.cdn_url}/blobs/{file.sha256}", size=file.size)
    with pytest.raises(OfflineModeError):
        reader.read(100)
    model = RemoteModel("SmolLM2", "Q4_1", (ListedFile(file.path, file.size, file.sha256),))
    fit = estimate_remote_fit(offline, STARTER_REPO, model, hardware=MACHINES[2])
    assert_size_fallback(fit, size=file.size, quant="Q4_1", reason="Offline mode is on")
    assert no_sockets == [] and hub.total_connections == 0


def test_damaged_header_is_a_typed_error_and_falls_back_to_the_size(
    hub: HubServer, family: dict[str, Path]
) -> None:
    data = bytearray(family["Q8_0"].read_bytes())
    data[8:16] = (1 << 40).to_bytes(8, "little")  # a tensor count no file could hold
    hub.add_repo(HubRepo("acme/Broken-GGUF", [HubFile("Broken-Q8_0.gguf", data=bytes(data))]))
    client = client_for(hub)
    with pytest.raises(GGUFFormatError, match="truncated or damaged"):
        fetch_remote_info(client, "acme/Broken-GGUF", "Broken-Q8_0.gguf")
    (model,) = detail_of(client, "acme/Broken-GGUF").models
    fit = estimate_remote_fit(client, "acme/Broken-GGUF", model, hardware=MACHINES[2])
    assert_size_fallback(fit, size=len(data), quant="Q8_0", reason="damaged")
    assert not any(header_cache_dir().glob("*.gguf-header"))  # failures are not cached


def test_bytes_damaged_in_transit_are_a_typed_error(hub: HubServer, starter_model: Path) -> None:
    hub.add_fault(Fault("corrupt", at_byte=1, path=starter_model.name, probes=True))
    client = client_for(hub)
    with pytest.raises(GGUFFormatError, match="not a GGUF model file"):
        fetch_remote_info(client, STARTER_REPO, starter_model.name)
    # The fault hit once; the next reading is whole (nothing wrong was cached).
    info = fetch_remote_info(client, STARTER_REPO, starter_model.name)
    assert info.tensors == read_gguf_info(starter_model).tensors


def test_dropped_connection_falls_back_to_the_size_and_is_retried_next_time(
    hub: HubServer, starter_model: Path
) -> None:
    hub.add_fault(Fault("drop", at_byte=500_000, path=starter_model.name, probes=True))
    client = client_for(hub)
    detail = detail_of(client, STARTER_REPO)
    (model,) = detail.models
    fits = estimate_repo_fits(client, detail, hardware=MACHINES[2])
    fit = fits[model.primary_path]
    assert_size_fallback(fit, size=model.size, quant="Q4_1", reason=hub.url.split("//")[1])
    again = estimate_repo_fits(client, detail, hardware=MACHINES[2])[model.primary_path]
    assert again == estimate_local_fit(starter_model, hardware=MACHINES[2])


def test_gated_repository_without_access_falls_back_to_the_size(
    hub: HubServer, family: dict[str, Path]
) -> None:
    client = client_for(hub)
    detail = detail_of(client, GATED_REPO)  # listing a gated repository needs no token
    (model,) = detail.models
    with pytest.raises(GatedModelError):
        fetch_model_info(client, GATED_REPO, model)
    fits = estimate_repo_fits(client, detail, hardware=MACHINES[2])
    assert_size_fallback(
        fits[model.primary_path], size=model.size, quant="Q8_0", reason="gated by its authors"
    )
    assert hub.probe_bytes_served["Locked-Q8_0.gguf"] == 0


def test_a_model_the_estimator_cannot_size_falls_back_to_the_size(
    hub: HubServer, odd_model: Path
) -> None:
    client = client_for(hub)
    detail = detail_of(client, ODD_REPO)
    (model,) = detail.models
    info = fetch_model_info(client, ODD_REPO, model)  # the header itself reads fine
    assert info.architecture == "exotic" and info.n_layer is None
    fit = estimate_repo_fits(client, detail, hardware=MACHINES[2])[model.primary_path]
    assert_size_fallback(fit, size=model.size, quant="F32", reason="does not describe its layers")


def test_a_bad_first_file_lets_the_next_one_stand_for_the_family(
    hub: HubServer, family: dict[str, Path]
) -> None:
    q4 = family["Q4_0"].read_bytes()
    repo = HubRepo(
        "acme/Half-GGUF",
        [
            HubFile("Synth-1B-Q4_0.gguf", data=q4[: len(q4) // 2]),  # truncated upload
            HubFile("Synth-1B-Q8_0.gguf", source=family["Q8_0"]),
            HubFile("Synth-1B-F16.gguf", source=family["F16"]),
        ],
    )
    hub.add_repo(repo)
    client = client_for(hub)
    detail = detail_of(client, repo.repo_id)
    fits = estimate_repo_fits(client, detail, hardware=MACHINES[2])
    assert fits["Synth-1B-Q4_0.gguf"].method == METHOD_SIZE
    assert "ends too early" in (fits["Synth-1B-Q4_0.gguf"].fallback_reason or "")
    for label in ("Q8_0", "F16"):
        fit = fits[f"Synth-1B-{label}.gguf"]
        assert fit == estimate_local_fit(family[label], hardware=MACHINES[2])
