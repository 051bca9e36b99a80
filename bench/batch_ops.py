"""Which of llama.cpp's operations grow when a step decodes several sequences, on this PC.

Each node of llama.cpp's graph is timed (CPU time of this process) through the scheduler's
eval callback, which makes llama.cpp compute the graph node by node: a step of one token
from one sequence against steps of N tokens from N sequences (every row with logits), one
thread, the context as ``serve --parallel 8`` makes it (unified KV cache, flash attention).
Printed: milliseconds per step of each kind of node (its name without the layer number and
its operation, summed over the layers), and the share of the matrix products. The callback
costs a few microseconds per node, which the small operations show most.

    python bench/batch_ops.py [--model PATH] [--sizes 1,4,8] [--steps 8] [--top 12]
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import re
import time
from pathlib import Path

import llama_cpp
import llama_cpp.llama_cpp as llama_lib

PROMPT_TOKENS = 20
PARALLEL = 8


class NodeClock:
    """CPU time per kind of graph node, from llama.cpp's eval callback."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
        self._name = lib.ggml_get_name
        self._name.restype, self._name.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
        self._op = lib.ggml_op_desc
        self._op.restype, self._op.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
        self.times: collections.defaultdict[str, float] = collections.defaultdict(float)
        self.last = 0.0
        self.callback = llama_lib.ggml_backend_sched_eval_callback(self._on_node)

    def _on_node(self, tensor: int, ask: bool, _data: int) -> bool:
        if ask:
            return True  # observe every node: llama.cpp computes them one by one
        now = time.process_time()
        name = re.sub(r"-\d+$", "", self._name(tensor).decode())
        if name.startswith("node_"):
            name = "(unnamed)"
        self.times[f"{name} {self._op(tensor).decode()}"] += now - self.last
        self.last = time.process_time()
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the starter model")
    parser.add_argument("--sizes", type=lambda s: [int(n) for n in s.split(",")], default=[1, 4, 8])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    if args.model is None:
        from autoglm_desktop.core.common import paths
        from autoglm_desktop.core.models.starter_model import ensure_starter_model

        args.model = ensure_starter_model(models_dir=paths.models_dir()).path

    clock = NodeClock()
    llama_lib.llama_backend_init()
    model = llama_lib.llama_model_load_from_file(
        str(args.model).encode(), llama_lib.llama_model_default_params()
    )
    params = llama_lib.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch = 4096, 512, 512
    params.n_seq_max, params.kv_unified = PARALLEL + 1, True
    params.n_threads = params.n_threads_batch = 1
    params.flash_attn_type = llama_lib.LLAMA_FLASH_ATTN_TYPE_ENABLED
    params.cb_eval = clock.callback
    ctx = llama_lib.llama_init_from_model(model, params)
    batch = llama_lib.llama_batch_init(512, 0, 1)

    def decode(rows: list[tuple[int, int]], *, all_logits: bool) -> None:
        for index, (seq, pos) in enumerate(rows):
            batch.token[index] = 100 + pos
            batch.pos[index] = pos
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = seq
            batch.logits[index] = all_logits or index == len(rows) - 1
        batch.n_tokens = len(rows)
        clock.last = time.process_time()
        if llama_lib.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")

    for seq in range(1, max(args.sizes) + 1):
        decode([(seq, pos) for pos in range(PROMPT_TOKENS)], all_logits=False)
    memory = llama_lib.llama_get_memory(ctx)
    per_size: dict[int, dict[str, float]] = {}
    totals: dict[int, float] = {}
    for size in args.sizes:
        clock.times.clear()
        started = time.process_time()
        for step in range(args.steps):
            decode([(seq, PROMPT_TOKENS + step) for seq in range(1, size + 1)], all_logits=True)
        totals[size] = (time.process_time() - started) / args.steps
        per_size[size] = {key: value / args.steps for key, value in clock.times.items()}
        for seq in range(1, size + 1):
            llama_lib.llama_memory_seq_rm(memory, seq, PROMPT_TOKENS, -1)
    llama_lib.llama_batch_free(batch)
    llama_lib.llama_free(ctx)
    llama_lib.llama_model_free(model)

    largest = per_size[max(args.sizes)]
    print(f"{args.model.name}: CPU ms per step, one thread")
    print(f"{'node':<34}" + "".join(f"{f'{n} seq':>10}" for n in args.sizes))
    for key in sorted(largest, key=lambda k: -largest[k])[: args.top]:
        cells = "".join(f"{per_size[n].get(key, 0.0) * 1e3:>10.2f}" for n in args.sizes)
        print(f"{key[:33]:<34}{cells}")
    print(f"{'all nodes':<34}" + "".join(f"{totals[n] * 1e3:>10.2f}" for n in args.sizes))
    shares = [
        sum(v for k, v in per_size[n].items() if k.endswith("MUL_MAT")) / totals[n]
        for n in args.sizes
    ]
    print(f"{'matrix products':<34}" + "".join(f"{share:>10.0%}" for share in shares))


if __name__ == "__main__":
    main()
