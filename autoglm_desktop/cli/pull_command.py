"""``autoglm-desktop pull [SOURCE:]REPO[/FILE] [--quant Q | --file NAME] [--source S] [--list]``.

Downloads a GGUF model from the hub or from ModelScope, resumably: a progress bar on a
terminal, and the same command again resumes an interrupted pull (Ctrl+C pauses it). ``REPO``
is ``owner/name`` on the source of ``--source`` (default: the app's setting), or names its
source itself (``modelscope:Qwen/Qwen2.5-0.5B-Instruct-GGUF``, ``hf:owner/name``), the way
``search`` prints it; a file may follow the name (``modelscope:owner/name/model-Q4_K_M.gguf``)
instead of ``--file``. Without ``--quant`` or ``--file`` it takes the file recommended for this
PC; ``--list`` shows every file with its verdict and downloads nothing. Verdicts and
recommendation are the Models window's, made by the same functions
(:mod:`autoglm_desktop.core.planning.recommend`): the memory estimator's, from the files' GGUF
headers. The addresses, proxy, offline mode and tokens are the app's hub settings;
``HF_ENDPOINT`` and ``HF_TOKEN`` work as with huggingface_hub, ``MODELSCOPE_ENDPOINT`` and
``MODELSCOPE_API_TOKEN`` as with ModelScope's.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from huggingface_hub.utils.tqdm import tqdm

from autoglm_desktop.cli.output import format_size, print_error, print_plain, print_table
from autoglm_desktop.cli.search_command import add_source_option, chosen_source
from autoglm_desktop.core.common.errors import AutoGLMError, HubNotFoundError, NothingFitsError
from autoglm_desktop.core.hub.connect import connect
from autoglm_desktop.core.hub.downloads import (
    DownloadManager,
    DownloadRequest,
    DownloadState,
    DownloadStatus,
)
from autoglm_desktop.core.hub.source import format_ref, parse_model_ref
from autoglm_desktop.core.hub.source_client import SourceClient
from autoglm_desktop.core.planning.recommend import (
    RatedModel,
    RepoRating,
    rate_repo_by_headers,
    rate_repo_by_size,
)

INTERRUPTED_EXIT = 130
FAILED_EXIT = 1


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pull = commands.add_parser("pull", help="download a GGUF model from the hub (resumable)")
    pull.add_argument(
        "repo",
        help="the repository, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF or "
        "modelscope:Qwen/Qwen2.5-0.5B-Instruct-GGUF[/file.gguf]",
    )
    which = pull.add_mutually_exclusive_group()
    which.add_argument("--quant", help="quantization to download, e.g. Q4_K_M")
    which.add_argument("--file", help="file name to download")
    pull.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    pull.add_argument(
        "--list", action="store_true", help="list the files and how they fit; download nothing"
    )
    add_source_option(pull)
    pull.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _pull(args)
    except AutoGLMError as error:
        return print_error(error)


def _pull(args: argparse.Namespace) -> int:
    ref = parse_model_ref(args.repo, default=chosen_source(args))
    filename = args.file
    if ref.filename is not None:
        if args.quant or (filename and filename != ref.filename):
            raise HubNotFoundError(
                f"“{args.repo}” already names a file; leave out --quant and --file."
            )
        filename = ref.filename
    client = connect(ref.source)
    print(f"{format_ref(ref.source, ref.repo_id)} on {client.host}", file=sys.stderr)
    quick = rate_repo_by_size(client=client, repo_id=ref.repo_id, revision=args.revision)
    if args.quant or filename:
        quick.choose(quant=args.quant, filename=filename)  # a wrong name fails before any header
    rating = rate_repo_by_headers(client=client, rating=quick)
    if args.list:
        print_files(rating)
        return 0
    chosen = _choose(rating, quant=args.quant, filename=filename)
    return _download(client, rating, chosen)


def _choose(rating: RepoRating, *, quant: str | None, filename: str | None) -> RatedModel:
    try:
        return rating.choose(quant=quant, filename=filename)
    except NothingFitsError as error:
        if not rating.detail.models:
            raise
        raise NothingFitsError(
            f"{error} See them with --list and pick one with --quant or --file."
        ) from None


def print_files(rating: RepoRating) -> None:
    """The table of ``pull --list``: every chat model with its verdict, then the other files."""
    rows = [
        (
            r.model.quant or "?",
            format_size(r.model.size),
            r.fit.label,
            f"{r.fit.context_tokens:,}",
            r.model.primary_path
            + (f" (+{len(r.model.files) - 1} parts)" if r.model.is_split else ""),
        )
        for r in rating.rated
    ]
    print_table(("QUANT", "SIZE", "FIT", "CONTEXT", "FILE"), rows, right={1, 3})
    for projector in rating.detail.projectors:
        print_plain(f"vision projector (not a chat model): {projector.primary_path}")
    for name in rating.detail.incomplete:
        print_plain(f"incomplete split model (parts missing on the hub): {name}")


def _download(client: SourceClient, rating: RepoRating, chosen: RatedModel) -> int:
    model, fit = chosen.model, chosen.fit
    bar = _ProgressBar(sys.stderr)
    manager = DownloadManager(client=client, listener=bar.update)
    status = manager.add(DownloadRequest.for_model(rating.detail, model))
    if status.state is DownloadState.COMPLETED:
        bar.close()
        print(f"Already downloaded: {status.path}")
        return 0
    resuming = f", resuming at {format_size(status.bytes_done)}" if status.bytes_done else ""
    print_plain(
        f"Downloading {model.primary_path} ({model.quant or 'unknown quant'}, "
        f"{format_size(model.size)}{resuming}) — {fit.label.lower()}.",
        file=sys.stderr,
    )
    try:
        status = manager.run(status.id)
    except KeyboardInterrupt:
        bar.close()
        print("\nPaused. Run the same command again to resume.", file=sys.stderr)
        return INTERRUPTED_EXIT
    finally:
        bar.close()
    if status.state is not DownloadState.COMPLETED:
        print(f"Download {status.state.value}.", file=sys.stderr)
        return FAILED_EXIT
    print(status.path)
    return 0


class _ProgressBar:
    """A tqdm bar on a terminal; plain lines for retries either way."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: Any = None
        self._last_message = ""

    def update(self, status: DownloadStatus) -> None:
        if self._bar is None and status.bytes_total:
            self._bar = tqdm(  # type: ignore[no-untyped-call]  # tqdm has no type hints
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
