"""``autoglm-desktop models [--json]``: the models on this PC (the app's and other apps')."""

from __future__ import annotations

import argparse
import json
from typing import Any

from autoglm_desktop.cli.output import format_size, print_error, print_table
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.models.library import LocalModel, scan_library


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = commands.add_parser("models", help="list the models on this PC")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        models = scan_library()
    except AutoGLMError as error:
        return print_error(error)
    if args.json:
        print(json.dumps([model_json(m) for m in models], indent=2))
        return 0
    if not models:
        print("No models yet. Find one with: autoglm-desktop search QUERY")
        return 0
    rows = [
        (m.name, format_size(m.size_bytes), m.quant or "", m.source.label, str(m.path))
        for m in models
    ]
    print_table(("NAME", "SIZE", "QUANT", "SOURCE", "PATH"), rows, right={1})
    return 0


def model_json(model: LocalModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "path": str(model.path),
        "size_bytes": model.size_bytes,
        "quant": model.quant,
        "source": model.source.value,
        "repo_id": model.repo_id,
        "parts": [str(p) for p in model.parts],
    }
