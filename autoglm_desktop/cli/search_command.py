"""``autoglm-desktop search QUERY [--json] [--sort downloads|likes|recent|trending]``.

The GGUF repositories on the hub (the app's hub settings: address, proxy, offline mode, token)
whose names match the query.
"""

from __future__ import annotations

import argparse
import json

from autoglm_desktop.cli.output import print_error, print_table
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.hub.client import HubClient, HubModel, SearchSort, search_models

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
    search.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        results = search_models(
            HubClient(), args.query, sort=SORTS[args.sort], limit=max(1, args.limit)
        )
    except AutoGLMError as error:
        return print_error(error)
    if args.json:
        print(json.dumps([_result_json(m) for m in results], indent=2))
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
    print_table(("MODEL", "DOWNLOADS", "LIKES", "UPDATED"), table, right={1, 2})
    return 0


def _result_json(model: HubModel) -> dict[str, object]:
    return {
        "repo_id": model.repo_id,
        "author": model.author,
        "downloads": model.downloads,
        "likes": model.likes,
        "last_modified": model.last_modified.isoformat() if model.last_modified else None,
        "gated": model.gated,
        "n_params": model.n_params,
        "architecture": model.architecture,
        "context_length": model.context_length,
    }
