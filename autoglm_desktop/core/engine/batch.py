"""Continuous batching: several replies decoded together in one llama.cpp batch.

As llama-server's slots do, each reply has a sequence of its own in the context's (unified) KV
cache, sequences 1..``parallel`` (sequence 0 stays the window's conversation). Each step puts
the next token of every reply that is writing and, in what room the batch has left, the next
piece of the prompts still being read, into one ``llama_decode``; then each reply samples its
token from its own logits with its own sampler chain (its seed, grammar, penalties). Replies
join and leave between steps, so a new request starts while others are halfway through.

A reply joins only when the cache has room for its prompt and its ``max_tokens`` beside the
others' (the window's conversation is dropped from the cache if a reply alone needs the room;
its state is kept in the KV state cache). Its prompt starts from the longest beginning the
cache holds: its sequence's parked cells, or another batch sequence's cells, shared. Between
steps the thread governor moves the thread count with the machine's load, as between tokens.
llama-cpp-python's high-level ``Llama`` decodes one sequence only, hence the low-level batch,
sampler and detokenizer calls here.
"""

from __future__ import annotations

import codecs
import ctypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import llama_cpp.llama_cpp as llama_lib
from llama_cpp._internals import LlamaSampler

from autoglm_desktop.core.common.errors import AutoGLMError, EngineError
from autoglm_desktop.core.common.types import GenerationStats, SamplingSettings, StopReason
from autoglm_desktop.core.engine.context_window import common_prefix
from autoglm_desktop.core.engine.events import (
    EngineEvent,
    GenerationFinished,
    ReasoningChunk,
    TokenChunk,
)
from autoglm_desktop.core.engine.protocol import GenerateRequest
from autoglm_desktop.core.engine.reasoning import ParsedText, ReasoningParser
from autoglm_desktop.core.engine.runtime import LlamaRuntime, PreparedReply

PENALTY_LAST_N = 64  # as llama-cpp-python's default
# Prompt tokens read in one step at most: a step is never long, so replies being written keep
# flowing while a long prompt is read, and a cancelled reply stops within a step.
PROMPT_TOKENS_PER_STEP = 128
PIECE_BYTES = 64


@dataclass(eq=False)
class _Slot:
    """One reply in the batch."""

    seq: int
    request_id: str
    reply: PreparedReply
    sampler: LlamaSampler
    parser: ReasoningParser  # splits a thinking model's reasoning from its answer
    reserve: int  # cells held for it: prompt + max_tokens
    started: float
    fed: int = 0  # prompt tokens decoded so far (or found in parked cells)
    reused: int = 0  # prompt tokens found in parked cells
    pos: int = 0  # tokens in its sequence
    next_token: int | None = None  # sampled, to be decoded in the next step
    written: list[int] = field(default_factory=list)  # sampled tokens decoded into its cells
    generated: int = 0
    first_at: float | None = None
    text: str = ""  # decoded but held back: it may be the start of a stop string
    batch_index: int = -1  # where its logits are in the last batch (-1: none)
    cancelled: bool = False
    neighbours: int = 0  # the most other replies decoded in one batch with it
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))


class BatchDecoder:
    """Decodes the replies added to it together, one step at a time (engine main thread)."""

    def __init__(
        self,
        runtime: LlamaRuntime,
        *,
        emit: Callable[[str, EngineEvent], None],
        fail: Callable[[str, AutoGLMError], None],
    ) -> None:
        """``emit``/``fail`` send one reply's events, or its error, named by its request id."""
        self._runtime = runtime
        self._llm = runtime.llama
        self._emit = emit
        self._fail = fail
        self._n_ctx = self._llm.n_ctx()
        self._n_batch = self._llm.n_batch
        self._vocab = self._llm._model.vocab
        self._memory = llama_lib.llama_get_memory(self._llm.ctx)
        self._n_swa = int(llama_lib.llama_model_n_swa(self._llm.model))
        self._free_seqs = list(range(runtime.parallel, 0, -1))
        # Free sequences whose cells still hold a finished reply's tokens, oldest first: the
        # next prompt that starts the same way (the same conversation, one turn on) reuses
        # them, as llama-server's slots keep their prompt cache.
        self._parked: dict[int, list[int]] = {}
        self._waiting: list[tuple[GenerateRequest, PreparedReply, float]] = []
        self._slots: list[_Slot] = []
        self._batch = llama_lib.llama_batch_init(self._n_batch, 0, 1)
        self._governor = runtime.thread_governor
        self._piece = ctypes.create_string_buffer(PIECE_BYTES)

    @property
    def busy(self) -> bool:
        return bool(self._slots or self._waiting)

    def add(self, request: GenerateRequest) -> None:
        """Queue a reply; it joins the batch at the next step with room for it."""
        try:
            reply = self._runtime.prepare_reply(request)
        except AutoGLMError as error:
            self._fail(request.request_id, error)
            return
        self._waiting.append((request, reply, time.perf_counter()))

    def cancel(self, request_id: str) -> None:
        for index, (request, reply, _) in enumerate(self._waiting):
            if request.request_id == request_id:
                del self._waiting[index]
                stats = GenerationStats(
                    prompt_tokens=len(reply.tokens), stop_reason=StopReason.STOPPED.value
                )
                self._emit(request_id, GenerationFinished(stats=stats, request_id=request_id))
                return
        for slot in self._slots:
            if slot.request_id == request_id:
                slot.cancelled = True

    def cancel_all(self) -> None:
        for request, _, _ in list(self._waiting):
            self.cancel(request.request_id)
        for slot in self._slots:
            slot.cancelled = True

    def step(self) -> None:
        """Admit what fits, decode one batch, sample every reply that has logits."""
        self._admit()
        for slot in [s for s in self._slots if s.cancelled]:
            self._finish(slot, StopReason.STOPPED)
        if not self._slots:
            return
        reading = self._fill_batch()
        self._follow_load(reading=reading)
        result = llama_lib.llama_decode(self._llm.ctx, self._batch)
        if result != 0:
            error = EngineError(f"llama.cpp failed to decode the batch (status {result}).")
            for slot in list(self._slots):
                self._drop(slot, error)
            return
        busy = sum(1 for s in self._slots if s.batch_index >= 0 or s.fed < len(s.reply.tokens))
        for slot in list(self._slots):
            slot.neighbours = max(slot.neighbours, busy - 1)
            if slot.batch_index >= 0:
                self._sample(slot)

    def close(self) -> None:
        """End every reply (as stopped), forget the parked cells, free the native batch.

        Call before the single-reply path uses the context again: llama-cpp-python clears
        every sequence's cells past its own.
        """
        self.cancel_all()
        for slot in list(self._slots):
            self._finish(slot, StopReason.STOPPED)
        for seq in list(self._parked):
            self._unpark(seq)
        llama_lib.llama_batch_free(self._batch)

    # -- steps ----------------------------------------------------------------------------

    def _follow_load(self, *, reading: bool) -> None:
        """Let the thread governor move the thread count between steps, as between tokens.

        llama.cpp gives a step of one token the decode threads and any larger step the batch
        threads: a step of several replies' next tokens costs several times one token's on a
        CPU that computes more than it waits for memory, so it is worked like a prompt. A step
        that reads a prompt starts a new measuring window, as a reply's first token does.
        """
        governor = self._governor
        if governor is None:
            return
        setting = governor.begin_reply() if reading else governor.on_token()
        if setting is not None:
            llama_lib.llama_set_n_threads(self._llm.ctx, setting.n_threads, setting.n_threads_batch)

    def _admit(self) -> None:
        while self._waiting and self._free_seqs:
            request, reply, queued_at = self._waiting[0]
            reserve = min(len(reply.tokens) + reply.max_tokens, self._n_ctx)
            seq, reused = self._best_seq(reply.tokens)
            if not self._make_room(reserve, keep=seq):
                return  # waits until replies in the batch end and free their cells
            del self._waiting[0]
            self._free_seqs.remove(seq)
            reused = self._take_seq(seq, reused, prompt=reply.tokens)
            self._slots.append(
                _Slot(
                    seq=seq,
                    request_id=request.request_id,
                    reply=reply,
                    sampler=_sampler(self._llm, request.sampling, request, reply),
                    parser=reply.reasoning_parser(),
                    reserve=reserve,
                    started=queued_at,
                    fed=reused,
                    pos=reused,
                    reused=reused,
                )
            )

    def _best_seq(self, prompt: list[int]) -> tuple[int, int]:
        """The free sequence whose parked cells serve most of ``prompt``, and how many."""
        best_seq, best = self._free_seqs[-1], 0
        for seq in self._free_seqs:
            shared = common_prefix(self._parked.get(seq, []), prompt)
            if shared > best:
                best_seq, best = seq, shared
        return best_seq, min(best, len(prompt) - 1)  # the last prompt token gives the logits

    def _make_room(self, reserve: int, *, keep: int) -> bool:
        """Free cells for a reply of ``reserve`` cells (parked ones first, except ``keep``'s).

        The window's conversation goes too when the reply alone needs its room. False: the
        replies in the batch hold too much; wait for them.
        """

        def used() -> int:
            parked = sum(len(t) for seq, t in self._parked.items() if seq != keep)
            held = sum(slot.reserve for slot in self._slots)
            return held + parked + int(self._llm.n_tokens) + reserve

        for seq in list(self._parked):  # oldest first
            if used() <= self._n_ctx:
                break
            if seq != keep:
                self._unpark(seq)
        if used() > self._n_ctx and not self._slots:
            self._drop_conversation()
        return used() <= self._n_ctx or not self._slots

    def _take_seq(self, seq: int, reused: int, *, prompt: list[int]) -> int:
        """Give ``seq`` the longest start of ``prompt`` the cache already holds; how long.

        That is its own first ``reused`` parked cells, or, when another reply's sequence
        (parked or being written) shares more of the prompt, those cells: in the unified KV
        cache a cell can belong to several sequences, so sharing copies nothing (a system
        prompt every client sends is read once). The rest of its parked cells go.
        """
        self._parked.pop(seq, None)
        memory = self._memory
        if memory is None:
            return reused
        donor, shared = self._best_donor(prompt, taker=seq)
        if shared > reused and self._holds_start(donor, shared):
            llama_lib.llama_memory_seq_rm(memory, seq, -1, -1)
            llama_lib.llama_memory_seq_cp(memory, donor, seq, 0, shared)
            return shared
        llama_lib.llama_memory_seq_rm(memory, seq, reused, -1)
        if reused and not self._holds_start(seq, reused):
            llama_lib.llama_memory_seq_rm(memory, seq, -1, -1)
            return 0
        return reused

    def _best_donor(self, prompt: list[int], *, taker: int) -> tuple[int, int]:
        """The other batch sequence whose decoded cells start ``prompt`` the longest; how many.

        The window's sequence 0 is never a donor: its cells may have been shifted.
        """
        best_seq, best = -1, 0
        held = [(seq, tokens) for seq, tokens in self._parked.items() if seq != taker]
        held += [(s.seq, [*s.reply.tokens[: s.fed], *s.written]) for s in self._slots]
        for seq, tokens in held:
            shared = common_prefix(tokens, prompt)
            if shared > best:
                best_seq, best = seq, shared
        return best_seq, min(best, len(prompt) - 1)  # the last prompt token gives the logits

    def _holds_start(self, seq: int, count: int) -> bool:
        """Whether ``seq``'s cells still serve a next token at position ``count``.

        With a sliding window (swa_full off) llama.cpp may reuse a sequence's cells that fell
        out of its window, oldest first; the next token needs the ``n_swa`` cells before it.
        """
        assert self._memory is not None
        first = int(llama_lib.llama_memory_seq_pos_min(self._memory, seq))
        return 0 <= first <= max(0, count - self._n_swa)

    def _unpark(self, seq: int) -> None:
        del self._parked[seq]
        if self._memory is not None:
            llama_lib.llama_memory_seq_rm(self._memory, seq, -1, -1)

    def _fill_batch(self) -> bool:
        """Writing replies' next tokens first, then prompt pieces in the room left.

        True when the batch holds prompt tokens.
        """
        n = 0
        for slot in self._slots:
            slot.batch_index = -1
            if slot.next_token is not None:
                self._put(n, slot.next_token, slot, logits=True)
                slot.written.append(slot.next_token)
                slot.batch_index = n
                slot.next_token = None
                n += 1
        decoding = n
        limit = min(self._n_batch, decoding + PROMPT_TOKENS_PER_STEP)
        for slot in self._slots:
            prompt = slot.reply.tokens
            while slot.fed < len(prompt) and n < limit:
                last = slot.fed == len(prompt) - 1
                self._put(n, prompt[slot.fed], slot, logits=last)
                if last:
                    slot.batch_index = n
                slot.fed += 1
                n += 1
        self._batch.n_tokens = n
        return n > decoding

    def _put(self, index: int, token: int, slot: _Slot, *, logits: bool) -> None:
        batch = self._batch
        batch.token[index] = token
        batch.pos[index] = slot.pos
        batch.n_seq_id[index] = 1
        batch.seq_id[index][0] = slot.seq
        batch.logits[index] = logits
        slot.pos += 1

    def _sample(self, slot: _Slot) -> None:
        token = slot.sampler.sample(self._llm._ctx, slot.batch_index)
        now = time.perf_counter()
        if slot.first_at is None:
            slot.first_at = now
        if llama_lib.llama_vocab_is_eog(self._vocab, token):
            self._finish(slot, StopReason.EOS)
            return
        slot.generated += 1
        slot.text += slot.decoder.decode(self._piece_of(token))
        if self._emit_text(slot):
            self._finish(slot, StopReason.EOS)  # a stop string
        elif slot.generated >= slot.reply.max_tokens:
            self._finish(slot, StopReason.LENGTH)
        else:
            slot.next_token = token

    def _emit_text(self, slot: _Slot) -> bool:
        """Send what cannot be part of a stop string; True when a stop string appeared."""
        stops = slot.reply.stop
        found = [i for i in (slot.text.find(s) for s in stops) if i >= 0]
        if found:
            self._send_text(slot, slot.text[: min(found)])
            slot.text = ""
            return True
        held = _held_back(slot.text, stops)
        self._send_text(slot, slot.text[: len(slot.text) - held])
        slot.text = slot.text[len(slot.text) - held :]
        return False

    def _send_text(self, slot: _Slot, text: str) -> None:
        if text:
            self._send_parsed(slot, slot.parser.feed(text))

    def _send_parsed(self, slot: _Slot, parsed: ParsedText) -> None:
        if parsed.reasoning:
            self._emit(slot.request_id, ReasoningChunk(text=parsed.reasoning))
        if parsed.answer:
            self._emit(slot.request_id, TokenChunk(text=parsed.answer))

    def _piece_of(self, token: int) -> bytes:
        n = llama_lib.llama_token_to_piece(self._vocab, token, self._piece, PIECE_BYTES, 0, False)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = llama_lib.llama_token_to_piece(self._vocab, token, buffer, -n, 0, False)
            return buffer.raw[:n]
        return self._piece.raw[:n]

    def _finish(self, slot: _Slot, reason: StopReason) -> None:
        if reason is not StopReason.STOPPED:  # a stopped reply's held-back text is dropped
            self._send_text(slot, slot.text + slot.decoder.decode(b"", final=True))
        self._send_parsed(slot, slot.parser.finish())
        stats = self._stats(slot, StopReason.STOPPED if slot.cancelled else reason)
        self._release(slot, keep=[*slot.reply.tokens[: slot.fed], *slot.written])
        self._emit(slot.request_id, GenerationFinished(stats=stats, request_id=slot.request_id))

    def _drop(self, slot: _Slot, error: AutoGLMError) -> None:
        self._release(slot)
        self._fail(slot.request_id, error)

    def _release(self, slot: _Slot, *, keep: list[int] | None = None) -> None:
        """Free the slot's sequence; ``keep``: the tokens its cells hold, parked for reuse."""
        self._slots.remove(slot)
        if keep:
            self._parked[slot.seq] = keep
        elif self._memory is not None:
            llama_lib.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
        self._free_seqs.insert(0, slot.seq)
        slot.sampler.close()  # type: ignore[no-untyped-call]

    def _stats(self, slot: _Slot, reason: StopReason) -> GenerationStats:
        finished = time.perf_counter()
        first = slot.first_at or finished
        decode_s = finished - first
        return GenerationStats(
            prompt_tokens=len(slot.reply.tokens),
            evaluated_prompt_tokens=slot.fed - slot.reused,
            generated_tokens=slot.generated,
            ttft_s=first - slot.started,
            tokens_per_s=(slot.generated - 1) / decode_s
            if slot.generated > 1 and decode_s
            else 0.0,
            total_s=finished - slot.started,
            stop_reason=reason.value,
            context_used=slot.pos,
            context_size=self._n_ctx,
            batched_with=slot.neighbours,
        )

    def _conversation_cells(self) -> int:
        return int(self._llm.n_tokens)

    def _drop_conversation(self) -> None:
        """Free the window's conversation's cells (its state stays in the KV state cache)."""
        if self._memory is not None:
            llama_lib.llama_memory_seq_rm(self._memory, 0, -1, -1)
        self._llm.n_tokens = 0


def _held_back(text: str, stops: list[str]) -> int:
    """How many characters at the end of ``text`` may begin a stop string."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


def _sampler(
    llm: Any, sampling: SamplingSettings, request: GenerateRequest, reply: PreparedReply
) -> LlamaSampler:
    """The sampler chain llama-cpp-python would build for this request."""
    options = request.options
    sampler = LlamaSampler()  # type: ignore[no-untyped-call]
    sampler.add_penalties(
        n_vocab=llm.n_vocab(),
        penalty_last_n=PENALTY_LAST_N,
        penalty_repeat=sampling.repeat_penalty,
        penalty_freq=options.frequency_penalty,
        penalty_present=options.presence_penalty,
    )
    if reply.grammar is not None:
        sampler.add_grammar(llm._model, reply.grammar)
    if sampling.temperature <= 0.0:
        sampler.add_greedy()  # type: ignore[no-untyped-call]
        return sampler
    sampler.add_top_k(sampling.top_k)
    sampler.add_top_p(sampling.top_p, 1)
    sampler.add_min_p(sampling.min_p, 1)
    sampler.add_temp(sampling.temperature)
    sampler.add_dist(reply.seed)
    return sampler
