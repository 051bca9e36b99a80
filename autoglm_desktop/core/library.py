"""The local model library: which GGUF models are on this PC."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autoglm_desktop.core.starter_model import STARTER_MODEL_FILENAME


@dataclass(frozen=True)
class LocalModel:
    path: Path
    name: str
    size_bytes: int

    @property
    def is_starter(self) -> bool:
        return self.path.name == STARTER_MODEL_FILENAME


def find_local_models(*, folders: Iterable[Path]) -> list[LocalModel]:
    """Every ``.gguf`` chat model in ``folders`` (not recursive beyond one level), by name.

    Vision projectors (``mmproj`` files) and ``.part`` downloads are not chat models.
    """
    found: dict[Path, LocalModel] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.gguf"), *folder.glob("*/*.gguf")]):
            if "mmproj" in path.name.lower() or not path.is_file():
                continue
            resolved = path.resolve()
            if resolved not in found:
                found[resolved] = LocalModel(
                    path=path, name=path.stem, size_bytes=path.stat().st_size
                )
    return sorted(found.values(), key=lambda m: m.name.lower())


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
