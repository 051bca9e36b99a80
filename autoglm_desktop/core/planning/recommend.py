"""Which model file to download for this PC: rating, ranking and recommending hub models.

One use case serves the command line (``pull``, ``pull --list``) and the Models window's
Discover page, so both give the same verdicts and the same recommendation, in two steps:

1. :func:`rate_repo_by_size`: a repository's chat models with verdicts from their file sizes
   (one hub request; the page shows these first),
2. :func:`rate_repo_by_headers`: the memory estimator's verdicts in their place, from the files'
   GGUF headers read over HTTP Range requests
   (:func:`~autoglm_desktop.core.planning.fit.estimate_repo_fits`).

Both block on the network: the window runs them off the GUI thread. The curated catalog is
ranked here too (:func:`rank_catalog`), from estimated file sizes, before the hub is asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from autoglm_desktop.core.common.errors import NothingFitsError
from autoglm_desktop.core.engine.build import usable_hardware
from autoglm_desktop.core.hub.catalog import CatalogEntry
from autoglm_desktop.core.hub.client import RemoteModel, RepoDetail
from autoglm_desktop.core.hub.source_client import SourceClient
from autoglm_desktop.core.machine.hardware import HardwareSnapshot
from autoglm_desktop.core.models.quant import PREFERRED_QUANT
from autoglm_desktop.core.planning.fit import (
    FitEstimate,
    FitVerdict,
    MemoryBudget,
    estimate_fit,
    estimate_repo_fits,
)

# --------------------------------------------------------------------------- rating files


@dataclass(frozen=True)
class RatedModel:
    model: RemoteModel
    fit: FitEstimate


def rate_model(
    *, model: RemoteModel, budget: MemoryBudget, max_context: int | None = None
) -> FitEstimate:
    """The verdict for ``model`` from its file size alone (no network)."""
    return estimate_fit(
        file_bytes=model.size, quant=model.quant, budget=budget, max_context=max_context
    )


def rate_by_size(
    *, detail: RepoDetail, budget: MemoryBudget, max_context: int | None = None
) -> tuple[RatedModel, ...]:
    """Every chat model of a repository with its size-based verdict for ``budget``."""
    return tuple(
        RatedModel(m, rate_model(model=m, budget=budget, max_context=max_context))
        for m in detail.models
    )


def recommend_among(rated: Iterable[RatedModel]) -> RatedModel | None:
    """Q4_K_M when it fits as well as any file, else the largest file with the best verdict.

    ``None`` when nothing fits this PC.
    """
    fitting = [r for r in rated if r.fit.verdict is not FitVerdict.TOO_BIG]
    if not fitting:
        return None
    best_rank = min(r.fit.verdict.rank for r in fitting)
    best = [r for r in fitting if r.fit.verdict.rank == best_rank]
    preferred = [r for r in best if (r.model.quant or "").upper() == PREFERRED_QUANT]
    return preferred[0] if preferred else max(best, key=lambda r: r.model.size)


# --------------------------------------------------------------------------- a repository


@dataclass(frozen=True)
class RepoRating:
    """A repository's chat models judged for one hardware reading, and the one to download."""

    detail: RepoDetail
    hardware: HardwareSnapshot  # the readings every verdict here is for
    rated: tuple[RatedModel, ...]  # detail.models, in their order
    recommended: RatedModel | None  # None when nothing fits

    def rating_of(self, model: RemoteModel) -> RatedModel:
        """``model``'s verdict; a file that is not a chat model (a projector) by its size."""
        for rated in self.rated:
            if rated.model == model:
                return rated
        budget = MemoryBudget.from_snapshot(self.hardware)
        return RatedModel(model, rate_model(model=model, budget=budget))

    def choose(self, *, quant: str | None = None, filename: str | None = None) -> RatedModel:
        """The file asked for by quantization label or file name; without either, the best.

        Raises:
            HubNotFoundError: no file matches ``quant`` or ``filename``.
            NothingFitsError: nothing was asked for and no file fits this PC.
        """
        if quant is not None or filename is not None:
            return self.rating_of(self.detail.find(quant=quant, filename=filename))
        if self.recommended is not None:
            return self.recommended
        repo_id = self.detail.repo_id
        if not self.detail.models:
            raise NothingFitsError(f"{repo_id} has no GGUF chat model files.")
        raise NothingFitsError(
            f"None of the files of {repo_id} fits this PC's memory. See them with --list and "
            "pick one with --quant or --file."
        )


def rate_repo_by_size(
    *,
    client: SourceClient,
    repo_id: str,
    revision: str | None = None,
    hardware: HardwareSnapshot | None = None,
) -> RepoRating:
    """The repository's chat models with verdicts from their file sizes: the quick first answer.

    ``hardware`` defaults to a live reading of what the installed llama.cpp can use.

    Raises:
        OfflineModeError, NetworkError, HubNotFoundError, GatedModelError, AccessTokenError.
    """
    detail = client.repo_detail(repo_id, revision=revision, with_card=False)
    hardware = hardware if hardware is not None else usable_hardware()
    rated = rate_by_size(detail=detail, budget=MemoryBudget.from_snapshot(hardware))
    return RepoRating(
        detail=detail, hardware=hardware, rated=rated, recommended=recommend_among(rated)
    )


def rate_repo_by_headers(*, client: SourceClient, rating: RepoRating) -> RepoRating:
    """``rating`` with the memory estimator's verdicts, from the files' GGUF headers.

    Reads a few MB per model family over the network (nothing when the headers are cached),
    starting with the file ``rating`` recommends. Files whose header cannot be had keep a
    size-based verdict, with the reason in ``fit.fallback_reason``. Never fails.
    """
    preferred = rating.recommended.model if rating.recommended is not None else None
    fits = estimate_repo_fits(client, rating.detail, hardware=rating.hardware, preferred=preferred)
    rated = tuple(RatedModel(r.model, fits.get(r.model.primary_path, r.fit)) for r in rating.rated)
    return RepoRating(
        detail=rating.detail,
        hardware=rating.hardware,
        rated=rated,
        recommended=recommend_among(rated),
    )


# --------------------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class CatalogChoice:
    entry: CatalogEntry
    quant: str  # the recommended quant that fits best
    fit: FitEstimate


def rank_catalog(
    *, entries: Iterable[CatalogEntry], budget: MemoryBudget, max_context: int | None = None
) -> list[CatalogChoice]:
    """Every entry with its best-fitting recommended quant, the best fits for this PC first.

    Best means the best verdict (on GPU, then partial offload, then CPU, too big last) and,
    among equal verdicts, the larger model: the most capable one that still fits. Models too
    big come smallest first: the nearest to fitting.
    """
    choices = [_best_choice(entry, budget, max_context) for entry in entries]
    return sorted(choices, key=_rank_key)


def _rank_key(choice: CatalogChoice) -> tuple[int, float]:
    params = choice.entry.params_billions
    too_big = choice.fit.verdict is FitVerdict.TOO_BIG
    return choice.fit.verdict.rank, params if too_big else -params


def _best_choice(
    entry: CatalogEntry, budget: MemoryBudget, max_context: int | None
) -> CatalogChoice:
    options = [
        CatalogChoice(
            entry,
            quant,
            estimate_fit(
                file_bytes=entry.estimated_size(quant),
                quant=quant,
                budget=budget,
                max_context=max_context,
            ),
        )
        for quant in entry.recommended_quants
    ]
    # The first recommended quant among those with the best verdict.
    return min(options, key=lambda c: c.fit.verdict.rank)
