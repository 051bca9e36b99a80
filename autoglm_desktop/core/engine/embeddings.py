"""Embeddings of texts from the loaded model, for the local server's ``/v1/embeddings``.

A second llama.cpp context on the same model weights (no second copy of the model) computes
them with mean pooling, as llama-server does with ``--embeddings --pooling mean``: the
generation context keeps its KV cache and its conversation. The context is made on the first
request and holds ``EMBED_CTX`` tokens, so one text may have at most that many; vectors come
back normalised (unit length), as OpenAI's do. llama-cpp-python's ``Llama.embed`` needs a
model loaded for embeddings only, hence the low-level context here.
"""

from __future__ import annotations

import math
from typing import Any

import llama_cpp.llama_cpp as llama_lib

from autoglm_desktop.core.common.errors import EngineError, PromptTooLongError

EMBED_CTX = 2048  # tokens one text may have (and the embedding context's size)


class Embedder:
    """Mean-pooled, normalised embeddings from a ``Llama``'s model (engine main thread)."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._n_ctx = min(EMBED_CTX, int(llm._model.n_ctx_train()) or EMBED_CTX)
        params = llama_lib.llama_context_default_params()
        params.n_ctx = self._n_ctx
        params.n_batch = params.n_ubatch = self._n_ctx  # a pooled text is one micro-batch
        params.n_seq_max = 1
        params.embeddings = True
        params.pooling_type = llama_lib.LLAMA_POOLING_TYPE_MEAN
        params.n_threads = llm.context_params.n_threads
        params.n_threads_batch = llm.context_params.n_threads_batch
        ctx = llama_lib.llama_init_from_model(llm._model.model, params)
        if not ctx:
            raise EngineError("llama.cpp could not make a context for embeddings (memory?).")
        self._ctx = ctx
        self._n_embd = int(llama_lib.llama_model_n_embd(llm._model.model))
        self._batch = llama_lib.llama_batch_init(self._n_ctx, 0, 1)

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """One vector per text, and the tokens read.

        Raises:
            PromptTooLongError: a text has more tokens than the embedding context holds.
            EngineError: llama.cpp failed.
        """
        vectors, total = [], 0
        for index, text in enumerate(texts):
            tokens = list(self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))
            if len(tokens) > self._n_ctx:
                raise PromptTooLongError(
                    f"Input {index} has {len(tokens)} tokens; an embedding reads at most "
                    f"{self._n_ctx}."
                )
            vectors.append(self._vector(tokens))
            total += len(tokens)
        return vectors, total

    def _vector(self, tokens: list[int]) -> list[float]:
        memory = llama_lib.llama_get_memory(self._ctx)
        if memory is not None:
            llama_lib.llama_memory_clear(memory, True)
        batch = self._batch
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = True
        batch.n_tokens = len(tokens)
        if llama_lib.llama_decode(self._ctx, batch) != 0:
            raise EngineError("llama.cpp failed to compute the embedding.")
        pointer = llama_lib.llama_get_embeddings_seq(self._ctx, 0)
        if not pointer:
            raise EngineError("llama.cpp gave no embedding for the text.")
        values = [float(pointer[i]) for i in range(self._n_embd)]
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [v / norm for v in values]

    def close(self) -> None:
        llama_lib.llama_batch_free(self._batch)
        llama_lib.llama_free(self._ctx)
