"""The model commands of the command line: ``search``, ``pull``, ``models`` and ``rm``.

    autoglm-desktop search QUERY [--json] [--sort downloads|likes|recent|trending]
    autoglm-desktop pull REPO [--quant Q4_K_M | --file NAME] [--list]
    autoglm-desktop models [--json]
    autoglm-desktop rm MODEL [--yes]

``pull`` shows a progress bar on a terminal and resumes an interrupted pull of the same model
(Ctrl+C pauses it). The hub address, proxy, offline mode and token are the app's hub settings;
``HF_ENDPOINT`` and ``HF_TOKEN`` work as with huggingface_hub. The core modules are imported
only when a model command runs, so the other commands start fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from autoglm_desktop import APP_ID
from autoglm_desktop.core.common.errors import AutoGLMError

if TYPE_CHECKING:
    from autoglm_desktop.core.hub.downloads import DownloadStatus
    from autoglm_desktop.core.models.library import LocalModel
    from autoglm_desktop.core.planning.recommend import RepoRating

COMMANDS = ("search", "pull", "models", "rm")
_SORTS = {"downloads": "DOWNLOADS", "likes": "LIKES", "recent": "RECENT", "trending": "TRENDING"}


def add_commands(commands: Any) -> None:
    """Register the model subcommands on ``build_parser``'s subparsers."""
    search = commands.add_parser("search", help="search the model hub for GGUF models")
    search.add_argument("query", help="words in the model's name, e.g. 'qwen 1.5b'")
    search.add_argument("--sort", choices=sorted(_SORTS), default="downloads")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true", help="print JSON")

    pull = commands.add_parser("pull", help="download a GGUF model from the hub (resumable)")
    pull.add_argument("repo", help="the hub repository, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF")
    which = pull.add_mutually_exclusive_group()
    which.add_argument("--quant", help="quantization to download, e.g. Q4_K_M")
    which.add_argument("--file", help="file name to download")
    pull.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    pull.add_argument(
        "--list", action="store_true", help="list the files and how they fit; download nothing"
    )

    models = commands.add_parser("models", help="list the models on this PC")
    models.add_argument("--json", action="store_true", help="print JSON")

    rm = commands.add_parser("rm", help="delete a model from this PC")
    rm.add_argument("model", help="the model's name (as `models` shows it) or path")
    rm.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run(args: argparse.Namespace) -> int:
    """Run a model command; returns the exit code."""
    handlers = {"search": _search, "pull": _pull, "models": _models, "rm": _rm}
    try:
        return handlers[args.command](args)
    except AutoGLMError as error:
        print(f"{APP_ID}: error: {error}", file=sys.stderr)
        return 2


# --------------------------------------------------------------------------- search


def _search(args: argparse.Namespace) -> int:
    from autoglm_desktop.core.hub.client import HubClient, SearchSort, search_models

    sort = SearchSort[_SORTS[args.sort]]
    results = search_models(HubClient(), args.query, sort=sort, limit=max(1, args.limit))
    if args.json:
        rows = [
            {
                "repo_id": m.repo_id,
                "author": m.author,
                "downloads": m.downloads,
                "likes": m.likes,
                "last_modified": m.last_modified.isoformat() if m.last_modified else None,
                "gated": m.gated,
                "n_params": m.n_params,
                "architecture": m.architecture,
                "context_length": m.context_length,
            }
            for m in results
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not results:
        print(f"No GGUF models found for “{args.query}”.")
        return 0
    table = [
        (
            m.repo_id + ("  (gated)" if m.gated else ""),
            f"{m.downloads:,}",
            f"{m.likes:,}",
            m.last_modified.date().isoformat() if m.last_modified else "",
        )
        for m in results
    ]
    _print_table(("MODEL", "DOWNLOADS", "LIKES", "UPDATED"), table, right={1, 2})
    return 0


# --------------------------------------------------------------------------- pull


def _pull(args: argparse.Namespace) -> int:
    from autoglm_desktop.core.common.errors import NothingFitsError
    from autoglm_desktop.core.hub.client import HubClient
    from autoglm_desktop.core.hub.downloads import DownloadManager, DownloadRequest, DownloadState
    from autoglm_desktop.core.planning.recommend import rate_repo_by_headers, rate_repo_by_size

    client = HubClient()
    quick = rate_repo_by_size(client=client, repo_id=args.repo, revision=args.revision)
    if args.quant or args.file:
        quick.choose(quant=args.quant, filename=args.file)  # a wrong name fails before any header
    rating = rate_repo_by_headers(client=client, rating=quick)
    if args.list:
        _print_files(rating)
        return 0
    try:
        chosen = rating.choose(quant=args.quant, filename=args.file)
    except NothingFitsError as error:
        if not rating.detail.models:
            raise
        raise NothingFitsError(
            f"{error} See them with --list and pick one with --quant or --file."
        ) from None
    model, fit = chosen.model, chosen.fit
    bar = _ProgressBar(sys.stderr)
    manager = DownloadManager(client=client, listener=bar.update)
    status = manager.add(DownloadRequest.for_model(rating.detail, model))
    if status.state is DownloadState.COMPLETED:
        bar.close()
        print(f"Already downloaded: {status.path}")
        return 0
    resuming = f", resuming at {_size(status.bytes_done)}" if status.bytes_done else ""
    print(
        f"Downloading {model.primary_path} ({model.quant or 'unknown quant'}, "
        f"{_size(model.size)}{resuming}) — {fit.label.lower()}.",
        file=sys.stderr,
    )
    try:
        status = manager.run(status.id)
    except KeyboardInterrupt:
        bar.close()
        print("\nPaused. Run the same command again to resume.", file=sys.stderr)
        return 130
    finally:
        bar.close()
    if status.state is not DownloadState.COMPLETED:
        print(f"Download {status.state.value}.", file=sys.stderr)
        return 1
    print(status.path)
    return 0


def _print_files(rating: RepoRating) -> None:
    rows = [
        (
            r.model.quant or "?",
            _size(r.model.size),
            r.fit.label,
            f"{r.fit.context_tokens:,}",
            r.model.primary_path
            + (f" (+{len(r.model.files) - 1} parts)" if r.model.is_split else ""),
        )
        for r in rating.rated
    ]
    _print_table(("QUANT", "SIZE", "FIT", "CONTEXT", "FILE"), rows, right={1, 3})
    for projector in rating.detail.projectors:
        print(f"vision projector (not a chat model): {projector.primary_path}")
    for name in rating.detail.incomplete:
        print(f"incomplete split model (parts missing on the hub): {name}")


class _ProgressBar:
    """A tqdm bar on a terminal; plain lines for retries either way."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: Any = None
        self._last_message = ""

    def update(self, status: DownloadStatus) -> None:
        from huggingface_hub.utils import tqdm

        if self._bar is None and status.bytes_total:
            self._bar = tqdm(
                total=status.bytes_total,
                initial=status.bytes_done,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                desc=status.name[:40],
                file=self._stream,
                disable=None,  # only on a terminal
            )
        if self._bar is not None:
            self._bar.update(status.bytes_done - self._bar.n)
        if status.message != self._last_message and status.message.startswith("Connection"):
            if self._bar is not None and not self._bar.disable:
                self._bar.write(status.message, file=self._stream)
            else:
                print(status.message, file=self._stream)
        self._last_message = status.message

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# --------------------------------------------------------------------------- models and rm


def _models(args: argparse.Namespace) -> int:
    from autoglm_desktop.core.models.library import scan_library

    models = scan_library()
    if args.json:
        print(json.dumps([_model_json(m) for m in models], indent=2))
        return 0
    if not models:
        print("No models yet. Find one with: autoglm-desktop search QUERY")
        return 0
    rows = [
        (m.name, _size(m.size_bytes), m.quant or "", m.source.label, str(m.path)) for m in models
    ]
    _print_table(("NAME", "SIZE", "QUANT", "SOURCE", "PATH"), rows, right={1})
    return 0


def _model_json(model: LocalModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "path": str(model.path),
        "size_bytes": model.size_bytes,
        "quant": model.quant,
        "source": model.source.value,
        "repo_id": model.repo_id,
        "parts": [str(p) for p in model.parts],
    }


def _rm(args: argparse.Namespace) -> int:
    from autoglm_desktop.core.models.library import delete_model, find_model, scan_library

    model = find_model(args.model, scan_library())
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"{APP_ID}: error: add --yes to delete {model.path}", file=sys.stderr)
            return 2
        answer = input(f"Delete {model.name} ({_size(model.size_bytes)}) at {model.path}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    delete_model(model)
    print(f"Deleted {model.name} ({_size(model.size_bytes)}).")
    return 0


# --------------------------------------------------------------------------- formatting


def _size(n_bytes: int) -> str:
    from autoglm_desktop.core.hub.downloads import format_bytes

    return format_bytes(n_bytes)


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]], *, right: set[int]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            str(cell).rjust(width) if i in right else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
