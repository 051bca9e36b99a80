"""The local model library: which GGUF models are on this PC, wherever they came from.

Sources, in order of precedence when one file is found twice:

* the app's own folder (``paths.models_dir()``; downloads land in ``<author>/<repo>/``),
* single files the user imported, and folders the user added,
* the Hugging Face cache (``huggingface_hub.scan_cache_dir``),
* other apps' downloads, offered where they are without copying: LM Studio's models folder,
  GPT4All's folder, and Ollama's blob store (blobs named by digest; names from its manifests).

A split model (``-00001-of-00003.gguf``) is one model, offered only when every part is there.
Vision projectors (``mmproj``), ``.part`` downloads and GPT4All's ``incomplete-*`` files are not
chat models. Scanning reads directories and, for Ollama blobs only, a GGUF header; the Qt layer
runs it off the GUI thread.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import AutoGLMError, LibraryError
from autoglm_desktop.core.common.settings_file import read_json_object, write_json_object
from autoglm_desktop.core.models.gguf_info import has_gguf_header, read_gguf_info
from autoglm_desktop.core.models.quant import (
    is_gguf_name,
    is_projector_name,
    parse_quant,
    parse_split_name,
)
from autoglm_desktop.core.models.starter_model import STARTER_MODEL_FILENAME

log = logging.getLogger(__name__)

MAX_FOLDER_DEPTH = 4  # app folder: <author>/<repo>/<subfolder>/<file>
_OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_OLLAMA_DEFAULT_REGISTRY = ("registry.ollama.ai", "library")
_GPT4ALL_PARTIAL_PREFIX = "incomplete-"

RepoIdOf = Callable[[Path], "str | None"]


class ModelSource(str, enum.Enum):
    APP = "app"
    IMPORTED = "imported"
    FOLDER = "folder"
    HF_CACHE = "hf_cache"
    LM_STUDIO = "lm_studio"
    GPT4ALL = "gpt4all"
    OLLAMA = "ollama"

    @property
    def label(self) -> str:
        return _SOURCE_LABELS[self]


_SOURCE_LABELS = {
    ModelSource.APP: "AutoGLM",
    ModelSource.IMPORTED: "Imported file",
    ModelSource.FOLDER: "Your folder",
    ModelSource.HF_CACHE: "Hugging Face cache",
    ModelSource.LM_STUDIO: "LM Studio",
    ModelSource.GPT4ALL: "GPT4All",
    ModelSource.OLLAMA: "Ollama",
}


@dataclass(frozen=True)
class LocalModel:
    path: Path  # the file llama.cpp opens (the first part of a split model)
    name: str
    size_bytes: int  # all parts together
    source: ModelSource = ModelSource.APP
    quant: str | None = None
    repo_id: str | None = None  # "author/repo" when known
    parts: tuple[Path, ...] = ()  # every part of a split model; () for a single file

    @property
    def is_starter(self) -> bool:
        return self.path.name == STARTER_MODEL_FILENAME

    @property
    def files(self) -> tuple[Path, ...]:
        return self.parts or (self.path,)


# --------------------------------------------------------------------------- folders


def find_local_models(
    *, folders: Iterable[Path], source: ModelSource = ModelSource.APP
) -> list[LocalModel]:
    """Every GGUF chat model in ``folders`` and their subfolders (up to 4 levels), by name.

    ``repo_id`` is taken from ``<author>/<repo>/`` folders, the layout of the app's downloads
    and of LM Studio.
    """
    found: dict[Path, LocalModel] = {}
    for folder in folders:
        for model in _models_in_folder(Path(folder), source):
            found.setdefault(_identity(model.path), model)
    return _by_name(found.values())


def _models_in_folder(folder: Path, source: ModelSource) -> list[LocalModel]:
    if not folder.is_dir():
        return []
    files = [p for p in _walk_gguf(folder) if not p.name.startswith(_GPT4ALL_PARTIAL_PREFIX)]
    return _group(files, source=source, repo_id_of=lambda path: _repo_id_from_layout(folder, path))


def _walk_gguf(folder: Path, max_depth: int = MAX_FOLDER_DEPTH) -> Iterator[Path]:
    base_depth = len(folder.parts)
    for root, dirs, names in os.walk(folder, onerror=_log_walk_error):
        depth = len(Path(root).parts) - base_depth
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < max_depth else []
        for name in sorted(names):
            if is_gguf_name(name) and not name.startswith("."):
                path = Path(root) / name
                if path.is_file():
                    yield path


def _log_walk_error(error: OSError) -> None:
    log.debug("Skipping unreadable folder: %s", error)


def _repo_id_from_layout(folder: Path, path: Path) -> str | None:
    relative = path.relative_to(folder).parts
    return f"{relative[0]}/{relative[1]}" if len(relative) >= 3 else None


def _group(
    files: Iterable[Path],
    *,
    source: ModelSource,
    repo_id_of: RepoIdOf | None = None,
) -> list[LocalModel]:
    """Models from GGUF paths: single files, and complete split sets as one model.

    Files that do not start with a GGUF header are left out (and logged).
    """
    models: list[LocalModel] = []
    split_sets: dict[tuple[Path, str, int], dict[int, Path]] = {}
    for path in files:
        if is_projector_name(path.name):
            continue
        if not has_gguf_header(path):  # a text file, an empty one, a program named *.gguf...
            log.info("Skipping %s: it is not a GGUF model file", path)
            continue
        split = parse_split_name(path.name)
        if split is None:
            models.append(_model(path, (), path.stem, source, repo_id_of))
        else:
            split_sets.setdefault((path.parent, split.stem, split.count), {})[split.index] = path
    for (_parent, stem, count), parts in split_sets.items():
        if sorted(parts) == list(range(1, count + 1)):
            ordered = tuple(parts[i] for i in range(1, count + 1))
            models.append(_model(ordered[0], ordered, stem, source, repo_id_of))
    return models


def _model(
    path: Path,
    parts: tuple[Path, ...],
    name: str,
    source: ModelSource,
    repo_id_of: RepoIdOf | None,
) -> LocalModel:
    size = sum(_size(p) for p in parts or (path,))
    return LocalModel(
        path=path,
        name=name,
        size_bytes=size,
        source=source,
        quant=parse_quant(path.name),
        repo_id=repo_id_of(path) if repo_id_of else None,
        parts=parts,
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _by_name(models: Iterable[LocalModel]) -> list[LocalModel]:
    return sorted(models, key=lambda m: (m.name.lower(), str(m.path)))


# --------------------------------------------------------------------------- HF cache


def find_hf_cache_models(cache_dir: Path | None = None) -> list[LocalModel]:
    """GGUF models in the Hugging Face cache (``HF_HUB_CACHE`` unless given)."""
    from huggingface_hub import constants, scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    cache_dir = Path(cache_dir or constants.HF_HUB_CACHE)
    if not cache_dir.is_dir():
        return []
    try:
        info = scan_cache_dir(cache_dir)
    except (CacheNotFound, OSError) as error:
        log.debug("Hugging Face cache not readable: %s", error)
        return []
    found: dict[Path, LocalModel] = {}
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda r: -r.last_modified):
            files = sorted(f.file_path for f in revision.files if is_gguf_name(f.file_name))
            for model in _group(files, source=ModelSource.HF_CACHE):
                found.setdefault(_identity(model.path), replace(model, repo_id=repo.repo_id))
    return _by_name(found.values())


# --------------------------------------------------------------------------- other apps


@dataclass(frozen=True)
class OtherAppFolders:
    """Where LM Studio, Ollama and GPT4All keep their models."""

    lm_studio: tuple[Path, ...] = ()
    ollama: tuple[Path, ...] = ()
    gpt4all: tuple[Path, ...] = ()

    @classmethod
    def defaults(cls) -> OtherAppFolders:
        home = Path.home()
        ollama = [home / ".ollama" / "models"]
        if os.environ.get("OLLAMA_MODELS"):
            ollama.insert(0, Path(os.environ["OLLAMA_MODELS"]))
        if sys.platform.startswith("linux"):
            ollama.append(Path("/usr/share/ollama/.ollama/models"))  # the Linux system service
        return cls(
            lm_studio=(home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"),
            ollama=tuple(ollama),
            gpt4all=(_gpt4all_folder(home),),
        )


def _gpt4all_folder(home: Path) -> Path:
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(local) / "nomic.ai" / "GPT4All"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "nomic.ai" / "GPT4All"
    data_home = os.environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    return Path(data_home) / "nomic.ai" / "GPT4All"


def find_lm_studio_models(root: Path) -> list[LocalModel]:
    """LM Studio's ``models/<publisher>/<repo>/*.gguf``."""
    return find_local_models(folders=[root], source=ModelSource.LM_STUDIO)


def find_gpt4all_models(root: Path) -> list[LocalModel]:
    """GPT4All's model folder (flat; its unfinished downloads start with ``incomplete-``)."""
    return find_local_models(folders=[root], source=ModelSource.GPT4ALL)


def find_ollama_models(models_dir: Path) -> list[LocalModel]:
    """Ollama's models: the GGUF blob each manifest names, under the name Ollama shows.

    ``models_dir/manifests/<registry>/<namespace>/<model>/<tag>`` are JSON manifests whose
    model layer names a blob ``models_dir/blobs/sha256-<hex>``, a plain GGUF file.
    """
    manifests = models_dir / "manifests"
    if not manifests.is_dir():
        return []
    found: dict[Path, LocalModel] = {}
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        model = _ollama_model(models_dir, manifest.relative_to(manifests).parts, manifest)
        if model is not None:
            found.setdefault(_identity(model.path), model)
    return _by_name(found.values())


def _ollama_model(models_dir: Path, parts: tuple[str, ...], manifest: Path) -> LocalModel | None:
    if len(parts) != 4:
        return None
    registry, namespace, model_name, tag = parts
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        digest = next(
            layer["digest"]
            for layer in data.get("layers", [])
            if layer.get("mediaType") == _OLLAMA_MODEL_LAYER
        )
    except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
        log.debug("Skipping Ollama manifest %s", manifest)
        return None
    blob = models_dir / "blobs" / str(digest).replace(":", "-")
    if not has_gguf_header(blob):
        return None
    if (registry, namespace) == _OLLAMA_DEFAULT_REGISTRY:
        name = f"{model_name}:{tag}"
    else:
        name = f"{registry}/{namespace}/{model_name}:{tag}"
    repo_id = f"{namespace}/{model_name}" if registry in ("hf.co", "huggingface.co") else None
    return LocalModel(
        path=blob,
        name=name,
        size_bytes=_size(blob),
        source=ModelSource.OLLAMA,
        quant=parse_quant(tag) or _file_type_name(blob),
        repo_id=repo_id,
    )


def _file_type_name(path: Path) -> str | None:
    try:
        return read_gguf_info(path).file_type_name
    except AutoGLMError:
        return None


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class LibraryConfig:
    """What the user added to the library, saved in ``config_dir()/library.json``."""

    folders: tuple[Path, ...] = ()
    imported: tuple[Path, ...] = ()  # single files, offered where they are
    include_hf_cache: bool = True
    discover_other_apps: bool = True


def library_config_path() -> Path:
    return paths.config_dir() / "library.json"


def load_library_config(*, path: Path | None = None) -> LibraryConfig:
    """The saved configuration; a missing or damaged file gives the defaults (kept aside)."""
    data = read_json_object(path or library_config_path())
    return LibraryConfig(
        folders=_paths(data.get("folders")),
        imported=_paths(data.get("imported")),
        include_hf_cache=data.get("include_hf_cache", True) is not False,
        discover_other_apps=data.get("discover_other_apps", True) is not False,
    )


def _paths(value: Any) -> tuple[Path, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(Path(v) for v in value if isinstance(v, str) and v)


def save_library_config(config: LibraryConfig, *, path: Path | None = None) -> None:
    """Write the whole configuration, atomically.

    Raises:
        SettingsFileError: the file could not be written.
    """
    data = {
        "folders": [str(p) for p in config.folders],
        "imported": [str(p) for p in config.imported],
        "include_hf_cache": config.include_hf_cache,
        "discover_other_apps": config.discover_other_apps,
    }
    write_json_object(path or library_config_path(), data, indent=2)


def add_folder(folder: Path) -> LibraryConfig:
    """Add a folder whose GGUF files the library offers.

    Raises:
        LibraryError: it is not a folder.
    """
    folder = Path(folder).expanduser().absolute()
    if not folder.is_dir():
        raise LibraryError(f"{folder} is not a folder.")
    config = load_library_config()
    if folder not in config.folders:
        config = replace(config, folders=(*config.folders, folder))
        save_library_config(config)
    return config


def remove_folder(folder: Path) -> LibraryConfig:
    """Stop offering a folder's models (nothing is deleted)."""
    folder = Path(folder).expanduser().absolute()
    config = load_library_config()
    config = replace(config, folders=tuple(f for f in config.folders if f != folder))
    save_library_config(config)
    return config


def import_model_file(path: Path) -> LocalModel:
    """Offer a single ``.gguf`` file where it is (no copy), after checking it is a chat model.

    For a split model, any part may be given; every part must be in its folder.

    Raises:
        LibraryError: not a GGUF chat model, or parts of a split model are missing.
    """
    path = Path(path).expanduser().absolute()
    try:
        info = read_gguf_info(path)
    except AutoGLMError as error:
        raise LibraryError(str(error)) from None
    if info.is_projector or is_projector_name(path.name):
        raise LibraryError(
            f"{path.name} is a vision projector (mmproj), not a chat model; it is used together "
            "with its model."
        )
    model = _imported_model(path)
    config = load_library_config()
    if model.path not in config.imported:
        save_library_config(replace(config, imported=(*config.imported, model.path)))
    return model


def _imported_model(path: Path) -> LocalModel:
    split = parse_split_name(path.name)
    if split is not None:
        parts = tuple(path.with_name(split.part_name(i)) for i in range(1, split.count + 1))
        missing = [p.name for p in parts if not p.is_file()]
        if missing:
            raise LibraryError(
                f"{path.name} is part of a split model, but {', '.join(missing)} "
                "is missing from its folder."
            )
        models = _group(parts, source=ModelSource.IMPORTED)
    else:
        models = _group([path], source=ModelSource.IMPORTED)
    if not models:
        raise LibraryError(f"{path.name} is not a chat model file.")
    return models[0]


# --------------------------------------------------------------------------- the whole library


@dataclass(frozen=True)
class LibrarySources:
    """Where :func:`scan_library` looks; defaults from the settings and the platform."""

    app_dir: Path | None = None  # None: paths.model_folders() (its own and the bundled one)
    hf_cache_dir: Path | None = None  # None: HF_HUB_CACHE
    other_apps: OtherAppFolders | None = None  # None: OtherAppFolders.defaults()
    config: LibraryConfig | None = None  # None: the saved configuration


def scan_library(sources: LibrarySources | None = None) -> list[LocalModel]:
    """Every model the library knows, each file once (the first source in precedence wins)."""
    sources = sources or LibrarySources()
    config = sources.config or load_library_config()
    app_dirs = [sources.app_dir] if sources.app_dir else paths.model_folders()
    groups: list[list[LocalModel]] = [
        find_local_models(folders=app_dirs, source=ModelSource.APP),
        _imported_models(config.imported),
        find_local_models(folders=config.folders, source=ModelSource.FOLDER),
    ]
    if config.include_hf_cache:
        groups.append(find_hf_cache_models(sources.hf_cache_dir))
    if config.discover_other_apps:
        other = sources.other_apps or OtherAppFolders.defaults()
        groups += [
            [m for root in other.lm_studio for m in find_lm_studio_models(root)],
            [m for root in other.gpt4all for m in find_gpt4all_models(root)],
            [m for root in other.ollama for m in find_ollama_models(root)],
        ]
    found: dict[Path, LocalModel] = {}
    for group in groups:
        for model in group:
            found.setdefault(_identity(model.path), model)
    return _by_name(found.values())


def _imported_models(files: Iterable[Path]) -> list[LocalModel]:
    models = []
    for path in files:
        try:
            models.append(_imported_model(path))
        except LibraryError:
            log.info("Imported model %s is gone", path)
    return models


def find_model(query: str, models: Iterable[LocalModel]) -> LocalModel:
    """The model called ``query`` (name, file name or path; case does not matter).

    Raises:
        LibraryError: no model or several models match.
    """
    models = list(models)
    wanted = query.strip()
    as_path = _identity(Path(wanted).expanduser())
    for model in models:
        if _identity(model.path) == as_path or any(_identity(p) == as_path for p in model.parts):
            return model
    for key in ("name", "file"):
        matches = [m for m in models if _key(m, key).lower() == wanted.lower()]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listed = "\n  ".join(str(m.path) for m in matches)
            raise LibraryError(f"Several models are called “{query}”; give the path:\n  {listed}")
    raise LibraryError(f"No model called “{query}” in the library.")


def _key(model: LocalModel, key: str) -> str:
    return model.name if key == "name" else model.path.name


# --------------------------------------------------------------------------- deleting


def delete_model(model: LocalModel) -> None:
    """Delete a model's files from disk (every part of a split model).

    Files in the Hugging Face cache go with their cache entries; an imported file is also
    removed from the library's list. Ollama's blobs are shared between its models, so they are
    left to Ollama.

    Raises:
        LibraryError: the model belongs to Ollama, or a file could not be deleted.
    """
    bundled = paths.bundled_models_dir()
    if bundled is not None and _identity(bundled) in _identity(model.path).parents:
        raise LibraryError(f"“{model.name}” ships with the app and cannot be deleted.")
    if model.source is ModelSource.OLLAMA:
        raise LibraryError(
            f"“{model.name}” belongs to Ollama, which shares its files between models. "
            f"Remove it with Ollama: ollama rm {model.name}"
        )
    try:
        if model.source is ModelSource.HF_CACHE:
            _delete_from_hf_cache(model)
        else:
            for path in model.files:
                path.unlink(missing_ok=True)
    except OSError as error:
        raise LibraryError(f"Could not delete {model.path}: {error.strerror or error}") from None
    if model.source is ModelSource.APP:
        _remove_empty_parents(model.path.parent, stop=paths.models_dir())
    if model.source is ModelSource.IMPORTED:
        forget_model(model)


def forget_model(model: LocalModel) -> None:
    """Stop offering an imported file (the file stays where it is)."""
    config = load_library_config()
    kept = tuple(p for p in config.imported if p not in (model.path, *model.parts))
    if kept != config.imported:
        save_library_config(replace(config, imported=kept))


def _delete_from_hf_cache(model: LocalModel) -> None:
    """Remove a file's snapshot links and, when nothing else links to them, its blobs."""
    for link in model.files:
        blob = link.resolve()
        link.unlink(missing_ok=True)
        repo_dir = _hf_repo_dir(blob)
        if repo_dir is None or blob == link:
            continue
        still_linked = any(
            p.is_symlink() and p.resolve() == blob for p in (repo_dir / "snapshots").rglob("*")
        )
        if not still_linked:
            blob.unlink(missing_ok=True)


def _hf_repo_dir(blob: Path) -> Path | None:
    return blob.parent.parent if blob.parent.name == "blobs" else None


def _remove_empty_parents(folder: Path, *, stop: Path) -> None:
    stop = _identity(stop)
    while _identity(folder) != stop and stop in _identity(folder).parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def reveal_in_file_manager(path: Path) -> None:
    """Open the system file manager at ``path`` (selected where the platform allows).

    Raises:
        LibraryError: no file manager could be started.
    """
    if sys.platform == "win32":
        command = ["explorer", f"/select,{path}"]
    elif sys.platform == "darwin":
        command = ["open", "-R", str(path)]
    else:
        command = ["xdg-open", str(path.parent)]
    try:
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as error:
        raise LibraryError(f"Could not open the file manager: {error}") from None


# --------------------------------------------------------------------------- default model


def choose_default_model(
    models: list[LocalModel], *, last_used: Path | None = None
) -> LocalModel | None:
    """The model to open with: the last one used if still there, else any non-starter model.

    The embedded starter model is chosen only when no other model is present.
    """
    if last_used is not None:
        for model in models:
            if model.path == last_used:
                return model
    others = [m for m in models if not m.is_starter]
    if others:
        return others[0]
    return models[0] if models else None
