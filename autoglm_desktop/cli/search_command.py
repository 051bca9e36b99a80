"""``autoglm-desktop search QUERY [--source huggingface|modelscope] [--json] [--sort ...]``.

The GGUF repositories on the hub or on ModelScope (the app's hub settings: addresses, proxy,
offline mode, tokens, and which source is searched when ``--source`` is not given) whose names
match the query. A ModelScope result is printed as ``modelscope:owner/name``, the reference
``pull`` takes.
"""

from __future__ import annotations

import argparse
import json

from autoglm_desktop.cli.output import print_error, print_table
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.hub.client import HubModel, SearchSort
from autoglm_desktop.core.hub.connect import connect
from autoglm_desktop.core.hub.settings import load_hub_settings, settle_source
from autoglm_desktop.core.hub.source import Source, environment_locale, format_ref, source_named

SORTS = {
    "downloads": SearchSort.DOWNLOADS,
    "likes": SearchSort.LIKES,
    "recent": SearchSort.RECENT,
    "trending": SearchSort.TRENDING,
}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    search = commands.add_parser("search", help="search the model hub for GGUF models")
    search.add_argument("query", help="words in the model's name, e.g. 'qwen 1.5b'")
    search.add_argument("--sort", choices=sorted(SORTS), default="downloads")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true", help="print JSON")
    add_source_option(search)
    search.set_defaults(run=run)


def add_source_option(parser: argparse.ArgumentParser) -> None:
    """``--source``: the model source, for ``search`` and ``pull`` alike."""
    parser.add_argument(
        "--source",
        choices=[s.value for s in Source],
        default=None,
        help="where to look: huggingface or modelscope (default: as set in the app)",
    )


def chosen_source(args: argparse.Namespace) -> Source:
    """``--source``, else the app's setting (a new Simplified Chinese user's: ModelScope)."""
    if args.source:
        return source_named(args.source)
    settings = settle_source(load_hub_settings(), locale_name=environment_locale())
    return settings.source or Source.HUGGING_FACE


def run(args: argparse.Namespace) -> int:
    try:
        client = connect(chosen_source(args))
        results = client.search(
            args.query,
            sort=SORTS[args.sort],
            page_size=max(1, args.limit),
            max_results=max(1, args.limit),
        ).next_page()
    except AutoGLMError as error:
        return print_error(error)
    if args.json:
        print(json.dumps([_result_json(m) for m in results], indent=2))
        return 0
    if not results:
        print(f"No GGUF models found for “{args.query}” on {client.host}.")
        return 0
    table = [
        (
            format_ref(m.source, m.repo_id) + ("  (gated)" if m.gated else ""),
            f"{m.downloads:,}",
            f"{m.likes:,}",
            m.last_modified.date().isoformat() if m.last_modified else "",
        )
        for m in results
    ]
    print_table(("MODEL", "DOWNLOADS", "LIKES", "UPDATED"), table, right={1, 2})
    return 0


def _result_json(model: HubModel) -> dict[str, object]:
    return {
        "repo_id": model.repo_id,
        "source": model.source.value,
        "ref": format_ref(model.source, model.repo_id),
        "author": model.author,
        "downloads": model.downloads,
        "likes": model.likes,
        "last_modified": model.last_modified.isoformat() if model.last_modified else None,
        "gated": model.gated,
        "n_params": model.n_params,
        "architecture": model.architecture,
        "context_length": model.context_length,
    }
