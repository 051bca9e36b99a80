"""The curated list of good small chat models (``resources/catalog.json``).

Ranking it for this PC is :func:`autoglm_desktop.core.planning.recommend.rank_catalog`'s.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.models.quant import quant_bits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    family: str
    repo_id: str
    params_billions: float
    context_length: int
    recommended_quants: tuple[str, ...]  # best choice first
    license: str
    description: str

    def estimated_size(self, quant: str) -> int:
        """The file size a ``quant`` file of this model has, about (before the hub is asked)."""
        bits = quant_bits(quant) or 4.9
        return int(self.params_billions * 1e9 * bits / 8)


def catalog_path() -> Path:
    return paths.resources_dir() / "catalog.json"


def load_catalog(*, path: Path | None = None) -> list[CatalogEntry]:
    """The catalog's entries; an entry with missing or wrong fields is skipped (and logged)."""
    path = path or catalog_path()
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = []
    for raw in data.get("models", []):
        try:
            entries.append(_entry(raw))
        except (KeyError, TypeError, ValueError) as error:
            log.warning("Skipping catalog entry %r: %s", raw.get("id"), error)
    return entries


def _entry(raw: dict[str, Any]) -> CatalogEntry:
    quants = tuple(str(q).upper() for q in raw["recommended_quants"])
    if not quants or "/" not in raw["repo_id"]:
        raise ValueError("needs a repo_id and recommended quants")
    return CatalogEntry(
        id=str(raw["id"]),
        name=str(raw["name"]),
        family=str(raw["family"]),
        repo_id=str(raw["repo_id"]),
        params_billions=float(raw["params_billions"]),
        context_length=int(raw["context_length"]),
        recommended_quants=quants,
        license=str(raw["license"]),
        description=str(raw.get("description", "")),
    )
