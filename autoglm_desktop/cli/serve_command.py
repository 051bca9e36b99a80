"""``autoglm-desktop serve [MODEL]``: serve a model through the OpenAI API, without the window.

The model loads with the window's tuned plan for this machine; its KV states stay in RAM (the
server writes no files). Up to ``--parallel`` requests are decoded together (continuous
batching), sharing the plan's context. The address is 127.0.0.1 unless ``--allow-network``
and an API key say otherwise. Ctrl+C stops the server and the engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from autoglm_desktop.cli.output import print_error
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.engine.build import llama_build
from autoglm_desktop.core.engine.request_queue import EngineQueue
from autoglm_desktop.core.models.library import choose_default_model, find_model, scan_library
from autoglm_desktop.core.planning.machine_plan import tuned_plan
from autoglm_desktop.core.server import ServerConfig, build_app
from autoglm_desktop.core.server.config import DEFAULT_HOST, DEFAULT_PORT
from autoglm_desktop.core.server.runner import bind_socket, serve_forever

API_KEY_ENV = "AUTOGLM_API_KEY"
DEFAULT_PARALLEL = 4


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve", help="serve a model to other programs through the OpenAI API"
    )
    serve.add_argument(
        "model",
        nargs="?",
        help="model name (as `models` shows it) or .gguf path; default: the window's default model",
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    serve.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV) or None,
        help=f"the key clients must send (default: ${API_KEY_ENV})",
    )
    serve.add_argument(
        "--allow-network",
        action="store_true",
        help="allow an address other computers can reach (needs --api-key)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web page origin allowed to call the server (repeatable; default: none)",
    )
    serve.add_argument("--ctx", type=int, help="context size in tokens (default: the plan's)")
    serve.add_argument(
        "--max-tokens",
        type=int,
        default=ServerConfig.max_tokens_limit,
        help="the most tokens one reply may ask for",
    )
    serve.add_argument(
        "--timeout",
        type=float,
        default=ServerConfig.request_timeout_s,
        help="seconds a request may take, waiting included",
    )
    serve.add_argument(
        "--threads", type=int, help="CPU threads for llama.cpp (default: the plan's)"
    )
    serve.add_argument(
        "--threads-batch",
        type=int,
        help="CPU threads for prompts and for steps of several replies (default: --threads)",
    )
    serve.add_argument(
        "--parallel",
        type=int,
        default=DEFAULT_PARALLEL,
        help="requests decoded together in one batch (1: one after another)",
    )
    serve.add_argument(
        "--load-anyway", action="store_true", help="load even if the plan says it may not fit"
    )
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = ServerConfig(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        allow_network=args.allow_network,
        cors_origins=tuple(args.cors_origin),
        max_tokens_limit=args.max_tokens,
        request_timeout_s=args.timeout,
    )
    client = EngineClient()
    queue: EngineQueue | None = None
    try:
        sock = bind_socket(config)  # before the model loads: a taken port fails at once
        plan = _plan(args)
        if args.parallel < 1:
            raise AutoGLMError("--parallel must be at least 1.")
        _load(client, plan, parallel=args.parallel)
        queue = EngineQueue(client, max_waiting=config.max_waiting)
        app = build_app(engine=queue, config=config)
        port = sock.getsockname()[1]
        _announce(plan, host=config.host, port=port, keyed=config.api_key is not None)
        serve_forever(app, sock=sock)
    except AutoGLMError as exc:
        return print_error(exc, command="serve")
    except KeyboardInterrupt:
        pass
    finally:
        if queue is not None:
            queue.close()
        client.shutdown()
    return 0


def _plan(args: argparse.Namespace) -> LoadPlan:
    path = _model_path(args.model)
    tuned = tuned_plan(path, hardware=None, build=llama_build())
    if not tuned.fits and not args.load_anyway:
        raise AutoGLMError(f"{path.name} may not fit: {tuned.explanation} (--load-anyway loads it)")
    plan = tuned.plan
    if args.ctx:
        plan = dataclasses.replace(plan, n_ctx=args.ctx)
    if args.threads or args.threads_batch:
        threads = args.threads or plan.n_threads
        plan = dataclasses.replace(
            plan,
            n_threads=threads,
            n_threads_batch=args.threads_batch or threads,
            adaptive_threads=False,
        )
    return dataclasses.replace(plan, kv_cache_disk_bytes=0)  # the server writes no files


def _model_path(query: str | None) -> Path:
    if query is not None and query.lower().endswith(".gguf") and Path(query).is_file():
        return Path(query)
    models = scan_library()
    if query is not None:
        return find_model(query, models).path
    chosen = choose_default_model(models)
    if chosen is None:
        raise AutoGLMError("No model on this PC: name a .gguf file, or `pull` one first.")
    return chosen.path


def _load(client: EngineClient, plan: LoadPlan, *, parallel: int) -> None:
    print(
        f"Loading {plan.model_path.name} (context {plan.n_ctx} tokens, {parallel} at once)…",
        file=sys.stderr,
    )
    for _event in client.load(plan, parallel=parallel):
        pass


def _announce(plan: LoadPlan, *, host: str, port: int, keyed: bool) -> None:
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/v1"
    key = ' -H "Authorization: Bearer $AUTOGLM_API_KEY"' if keyed else ""
    print(
        f"Serving {plan.model_path.stem} at {base} (Ctrl+C stops)\n"
        f"  curl {base}/chat/completions{key} -H 'Content-Type: application/json' -d "
        f'\'{{"model": "{plan.model_path.stem}", "messages": '
        '[{"role": "user", "content": "Hello"}]}\'',
        file=sys.stderr,
        flush=True,
    )
