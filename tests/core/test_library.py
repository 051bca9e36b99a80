"""The local library: the app's folder, user folders and files, the HF cache, other apps' stores."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import HubFile, HubRepo, HubServer, write_gguf
from huggingface_hub import constants, hf_hub_download

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import LibraryError
from autoglm_desktop.core.models.library import (
    LibrarySources,
    LocalModel,
    ModelSource,
    OtherAppFolders,
    add_folder,
    choose_default_model,
    delete_model,
    find_gpt4all_models,
    find_hf_cache_models,
    find_lm_studio_models,
    find_local_models,
    find_model,
    find_ollama_models,
    import_model_file,
    load_library_config,
    remove_folder,
    scan_library,
)


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a small real GGUF model (Q8_0)."""
    return write_gguf(tmp_path_factory.mktemp("gguf") / "m.gguf").read_bytes()


@pytest.fixture(scope="module")
def projector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GGUF file that says it is a CLIP projector."""
    import gguf as gguf_package

    path = tmp_path_factory.mktemp("proj") / "vision.gguf"
    writer = gguf_package.GGUFWriter(path, "clip")
    writer.add_type("mmproj")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    return path


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def names(models: list[LocalModel]) -> list[str]:
    return [m.name for m in models]


# --------------------------------------------------------------------------- the app's folder


def test_app_folder_offers_complete_chat_models_only(tmp_path: Path, gguf: bytes) -> None:
    root = tmp_path / "models"
    single = put(root / "acme" / "Tiny-GGUF" / "Tiny-Q4_K_M.gguf", gguf)
    put(root / "loose.Q8_0.gguf", gguf)
    parts = [
        put(root / "acme" / "Big-GGUF" / f"Big-Q2_K-0000{i}-of-00003.gguf", gguf) for i in (1, 2, 3)
    ]
    put(root / "acme" / "Half-GGUF" / "Half-Q2_K-00001-of-00002.gguf", gguf)  # part 2 missing
    put(root / "acme" / "Tiny-GGUF" / "mmproj-Tiny-F16.gguf", gguf)
    put(root / "acme" / "Tiny-GGUF" / "Tiny-Q8_0.gguf.part", gguf)
    put(root / ".trash" / "old.gguf", gguf)

    models = find_local_models(folders=[root])

    assert names(models) == ["Big-Q2_K", "loose.Q8_0", "Tiny-Q4_K_M"]
    big, loose, tiny = models
    assert big.parts == tuple(parts) and big.path == parts[0] and big.size_bytes == 3 * len(gguf)
    assert big.quant == "Q2_K" and big.repo_id == "acme/Big-GGUF"
    assert tiny.path == single and tiny.quant == "Q4_K_M" and tiny.source is ModelSource.APP
    assert loose.repo_id is None and loose.files == (loose.path,)


def test_default_model_prefers_the_last_used_then_a_real_model(tmp_path: Path, gguf: bytes) -> None:
    starter = put(tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf", gguf)
    other = put(tmp_path / "z-Other-Q4_K_M.gguf", gguf)
    models = find_local_models(folders=[tmp_path])
    assert choose_default_model(models).path == other  # type: ignore[union-attr]
    assert choose_default_model(models, last_used=starter).path == starter  # type: ignore[union-attr]
    assert choose_default_model([]) is None


# --------------------------------------------------------------------------- other apps


def test_lm_studio_folder_is_discovered_in_place(tmp_path: Path, gguf: bytes) -> None:
    root = tmp_path / ".lmstudio" / "models"
    model = put(
        root
        / "lmstudio-community"
        / "Qwen2.5-0.5B-Instruct-GGUF"
        / "Qwen2.5-0.5B-Instruct-Q8_0.gguf",
        gguf,
    )
    put(root / "lmstudio-community" / "gemma-3-4b-it-GGUF" / "mmproj-model-f16.gguf", gguf)

    models = find_lm_studio_models(root)

    assert len(models) == 1
    assert models[0].path == model  # offered where it is, not copied
    assert models[0].source is ModelSource.LM_STUDIO and models[0].source.label == "LM Studio"
    assert models[0].repo_id == "lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF"
    assert models[0].quant == "Q8_0"


def ollama_store(root: Path, gguf: bytes) -> dict[str, Path]:
    """An Ollama models folder: manifests naming blobs by digest, as ``ollama pull`` leaves it."""
    blobs = root / "blobs"
    made: dict[str, Path] = {}

    def blob(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        made[digest] = put(blobs / f"sha256-{digest}", data)
        return f"sha256:{digest}"

    def manifest(
        registry: str, namespace: str, model: str, tag: str, layers: list[dict[str, str]]
    ) -> None:
        document = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": blob(b"{}"),
            },
            "layers": layers,
        }
        put(root / "manifests" / registry / namespace / model / tag, json.dumps(document).encode())

    weights = blob(gguf)
    template = blob(b"{{ .Prompt }}")
    manifest(
        "registry.ollama.ai",
        "library",
        "llama3.2",
        "1b",
        [
            {"mediaType": "application/vnd.ollama.image.model", "digest": weights},
            {"mediaType": "application/vnd.ollama.image.template", "digest": template},
        ],
    )
    manifest(  # a second tag of the same weights
        "registry.ollama.ai",
        "library",
        "llama3.2",
        "latest",
        [{"mediaType": "application/vnd.ollama.image.model", "digest": weights}],
    )
    hf_weights = blob(gguf + b"\0")
    manifest(
        "hf.co",
        "bartowski",
        "Qwen2.5-0.5B-Instruct-GGUF",
        "Q4_K_M",
        [{"mediaType": "application/vnd.ollama.image.model", "digest": hf_weights}],
    )
    manifest(  # its blob was deleted
        "registry.ollama.ai",
        "library",
        "gone",
        "latest",
        [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "0" * 64}],
    )
    manifest(  # not a GGUF blob
        "registry.ollama.ai",
        "library",
        "odd",
        "latest",
        [{"mediaType": "application/vnd.ollama.image.model", "digest": blob(b"not a model")}],
    )
    put(root / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest", b"{")
    made["weights"] = made[weights.removeprefix("sha256:")]
    return made


def test_ollama_blob_store_is_read_through_its_manifests(tmp_path: Path, gguf: bytes) -> None:
    root = tmp_path / ".ollama" / "models"
    blobs = ollama_store(root, gguf)

    models = find_ollama_models(root)

    assert names(models) == ["hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", "llama3.2:1b"]
    hf_model, llama = models
    assert llama.path == blobs["weights"] and llama.size_bytes == len(gguf)
    assert llama.source is ModelSource.OLLAMA and llama.quant == "Q8_0"  # from the GGUF header
    assert hf_model.quant == "Q4_K_M" and hf_model.repo_id == "bartowski/Qwen2.5-0.5B-Instruct-GGUF"
    with pytest.raises(LibraryError, match="belongs to Ollama"):
        delete_model(llama)
    assert llama.path.exists()


def test_gpt4all_folder_skips_unfinished_downloads(tmp_path: Path, gguf: bytes) -> None:
    root = tmp_path / "nomic.ai" / "GPT4All"
    put(root / "Meta-Llama-3-8B-Instruct.Q4_0.gguf", gguf)
    put(root / "incomplete-Phi-3-mini-4k-instruct.Q4_0.gguf", gguf[:100])
    models = find_gpt4all_models(root)
    assert names(models) == ["Meta-Llama-3-8B-Instruct.Q4_0"]
    assert models[0].source is ModelSource.GPT4ALL and models[0].quant == "Q4_0"


def test_default_locations_of_other_apps(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    folders = OtherAppFolders.defaults()
    assert folders.ollama[0] == tmp_path / "ollama"
    assert any(p.parts[-2:] == (".lmstudio", "models") for p in folders.lm_studio)
    assert folders.gpt4all[0].parts[-2:] == ("nomic.ai", "GPT4All")


# --------------------------------------------------------------------------- Hugging Face cache


@pytest.fixture
def hf_cache(tmp_path: Path, gguf: bytes, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An HF cache filled by huggingface_hub itself, from the local hub server."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    cache = tmp_path / "hf-cache"
    with HubServer() as hub:
        hub.add_repo(
            HubRepo(
                "acme/Cached-GGUF",
                [
                    HubFile("Cached-Q4_K_M.gguf", data=gguf),
                    HubFile("Cached-Q8_0.gguf", data=gguf + b"\0"),
                    HubFile("config.json", data=b"{}"),
                ],
            )
        )
        for name in ("Cached-Q4_K_M.gguf", "Cached-Q8_0.gguf", "config.json"):
            hf_hub_download(
                "acme/Cached-GGUF", name, endpoint=hub.url, cache_dir=cache, token=False
            )
    yield cache


def test_hugging_face_cache_models_are_found_and_deleted(hf_cache: Path) -> None:
    models = find_hf_cache_models(hf_cache)

    assert names(models) == ["Cached-Q4_K_M", "Cached-Q8_0"]
    first = models[0]
    assert first.source is ModelSource.HF_CACHE and first.repo_id == "acme/Cached-GGUF"
    assert first.path.is_symlink() and first.path.resolve().parent.name == "blobs"
    blob = first.path.resolve()

    delete_model(first)

    assert not first.path.exists() and not blob.exists()
    assert names(find_hf_cache_models(hf_cache)) == ["Cached-Q8_0"]


# --------------------------------------------------------------------------- user folders and files


def test_import_a_single_file_by_path(
    app_home: Path, tmp_path: Path, gguf: bytes, projector: Path
) -> None:
    model_path = put(tmp_path / "Downloads" / "my-model.Q8_0.gguf", gguf)

    imported = import_model_file(model_path)

    assert imported.source is ModelSource.IMPORTED and imported.path == model_path
    assert load_library_config().imported == (model_path,)
    with pytest.raises(LibraryError, match="vision projector"):
        import_model_file(projector)
    with pytest.raises(LibraryError, match="not a GGUF model file"):
        import_model_file(put(tmp_path / "notes.gguf", b"hello there, not a model"))
    with pytest.raises(LibraryError, match="was not found"):
        import_model_file(tmp_path / "missing.gguf")
    split_part = put(tmp_path / "Split-Q8_0-00001-of-00002.gguf", gguf)
    with pytest.raises(LibraryError, match=re.escape("Split-Q8_0-00002-of-00002.gguf is missing")):
        import_model_file(split_part)


def test_scan_library_combines_every_source_once(
    app_home: Path, tmp_path: Path, gguf: bytes, hf_cache: Path
) -> None:
    app_model = put(paths.models_dir() / "acme" / "Tiny-GGUF" / "Tiny-Q4_K_M.gguf", gguf)
    own = put(tmp_path / "my-models" / "Mine-Q8_0.gguf", gguf)
    add_folder(tmp_path / "my-models")
    add_folder(paths.models_dir())  # the app's folder again: its models are still listed once
    imported = import_model_file(put(tmp_path / "Downloads" / "Dropped-Q4_0.gguf", gguf))
    lm_studio = tmp_path / "lmstudio"
    put(lm_studio / "pub" / "Repo-GGUF" / "Studio-Q5_K_M.gguf", gguf)
    ollama = tmp_path / "ollama"
    ollama_store(ollama, gguf)
    gpt4all = tmp_path / "gpt4all"
    put(gpt4all / "Gpt-Q4_0.gguf", gguf)
    sources = LibrarySources(
        hf_cache_dir=hf_cache,
        other_apps=OtherAppFolders(lm_studio=(lm_studio,), ollama=(ollama,), gpt4all=(gpt4all,)),
    )

    models = scan_library(sources)

    by_name = {m.name: m for m in models}
    assert by_name["Tiny-Q4_K_M"].source is ModelSource.APP
    assert by_name["Tiny-Q4_K_M"].path == app_model
    assert by_name["Mine-Q8_0"].source is ModelSource.FOLDER and by_name["Mine-Q8_0"].path == own
    assert by_name["Dropped-Q4_0"].source is ModelSource.IMPORTED == imported.source
    assert by_name["Cached-Q4_K_M"].source is ModelSource.HF_CACHE
    assert by_name["Studio-Q5_K_M"].source is ModelSource.LM_STUDIO
    assert by_name["Gpt-Q4_0"].source is ModelSource.GPT4ALL
    assert by_name["llama3.2:1b"].source is ModelSource.OLLAMA
    assert len(models) == len(by_name) == 9

    remove_folder(tmp_path / "my-models")
    assert "Mine-Q8_0" not in names(scan_library(sources))
    quiet = LibrarySources(
        hf_cache_dir=hf_cache,
        other_apps=sources.other_apps,
        config=load_library_config().__class__(include_hf_cache=False, discover_other_apps=False),
    )
    assert names(scan_library(quiet)) == ["Tiny-Q4_K_M"]


def test_find_and_delete_models(app_home: Path, tmp_path: Path, gguf: bytes) -> None:
    folder = paths.models_dir() / "acme" / "Tiny-GGUF"
    first = put(folder / "Tiny-Q4_K_M.gguf", gguf)
    put(tmp_path / "elsewhere" / "Tiny-Q4_K_M.gguf", gguf)
    add_folder(tmp_path / "elsewhere")
    imported = import_model_file(put(tmp_path / "Downloads" / "Dropped-Q4_0.gguf", gguf))
    models = scan_library(
        LibrarySources(config=None, other_apps=OtherAppFolders(), hf_cache_dir=tmp_path / "none")
    )

    with pytest.raises(LibraryError, match="Several models are called"):
        find_model("tiny-q4_k_m", models)
    assert find_model(str(first), models).source is ModelSource.APP
    assert find_model("Dropped-Q4_0.gguf", models).path == imported.path
    with pytest.raises(LibraryError, match="No model called"):
        find_model("nothing", models)

    delete_model(find_model(str(first), models))
    assert not first.exists() and not folder.exists() and paths.models_dir().exists()
    delete_model(find_model("Dropped-Q4_0", models))
    assert not imported.path.exists() and load_library_config().imported == ()
