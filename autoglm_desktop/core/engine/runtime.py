"""llama.cpp itself, as used inside the engine process.

Only the engine process's main thread ever touches these objects: llama.cpp contexts are not
thread-safe (two threads on one ``Llama`` abort the process). This module imports llama_cpp at
the top, so only the engine process imports it.
"""

from __future__ import annotations

import contextlib
import ctypes
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import llama_cpp
import llama_cpp.llama_chat_format as llama_chat_format
import llama_cpp.llama_cpp as llama_lib
from llama_cpp.llama_chat_format import ChatFormatterResponse, Jinja2ChatFormatter
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar, json_schema_to_gbnf

from autoglm_desktop.core.common.error_text import describe_exception, sentence
from autoglm_desktop.core.common.errors import (
    ChatTemplateMemoryError,
    ChatTemplateTimeoutError,
    EngineError,
    ModelFileError,
    ModelLoadError,
    NoModelLoadedError,
    OperationCancelledError,
    PromptTooLongError,
    RequestError,
)
from autoglm_desktop.core.common.regular_file import open_regular_file
from autoglm_desktop.core.common.types import (
    ChatTurn,
    GenerationStats,
    LoadPlan,
    ModelInfo,
    ReasoningFormat,
    ReasoningSupport,
    Role,
    StopReason,
    ThinkControl,
    Thinking,
)
from autoglm_desktop.core.engine.chat_render import Message, render_apart
from autoglm_desktop.core.engine.context_window import (
    CacheReuse,
    FittedPrompt,
    common_prefix,
    fit_conversation,
    plan_reuse,
    reply_reserve,
)
from autoglm_desktop.core.engine.embeddings import Embedder
from autoglm_desktop.core.engine.events import (
    ContextTrimmed,
    EngineEvent,
    LoadProgress,
    ReasoningChunk,
    TokenChunk,
)
from autoglm_desktop.core.engine.ggml_backends import register_ggml_backends
from autoglm_desktop.core.engine.kv_cache import KvStateCache, StoredTokens, cache_key
from autoglm_desktop.core.engine.prompt_tokens import PieceTokenizer
from autoglm_desktop.core.engine.protocol import GenerateRequest, ReplyOptions, Stage
from autoglm_desktop.core.engine.reasoning import (
    ParsedText,
    ReasoningParser,
    analyse_template,
    marker_texts,
    template_variables,
)
from autoglm_desktop.core.engine.template_sandbox import BoundedChatFormatter, TemplateMemoryError
from autoglm_desktop.core.engine.thread_governor import (
    GovernorFactory,
    ThreadGovernor,
    ThreadSetting,
    governor_for,
)
from autoglm_desktop.core.engine.time_limit import StopRequested, TimeLimitExpired, time_limit
from autoglm_desktop.core.models.gguf_info import read_gguf_info

KV_CACHE_TYPES = {
    "f32": llama_lib.GGML_TYPE_F32,
    "f16": llama_lib.GGML_TYPE_F16,
    "q8_0": llama_lib.GGML_TYPE_Q8_0,
    "q4_0": llama_lib.GGML_TYPE_Q4_0,
}

# Used when a GGUF file carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

GGUF_MAGIC = b"GGUF"
# The longest context a model may claim to be trained on (the longest real ones: 10M tokens).
MAX_TRAINED_CONTEXT = 1 << 24
# Real chat templates render in milliseconds; one still running after this loops.
TEMPLATE_LIMIT_SECONDS = 10.0
# No token stands for more characters than this or than the vocabulary's longest token text: a
# prompt longer than that many per token of the context cannot fit, and is refused untokenized
# (tokenizing 10 MB takes most of a minute).
MIN_CHARS_PER_TOKEN = 32

# llama.cpp's KV cache holds one sequence here (llama-cpp-python decodes into sequence 0).
SEQ = 0
# A stored state is restored only if it saves at least this many prompt tokens over the live one.
MIN_RESTORE_GAIN = 8
# Token attributes of the texts that llama.cpp cuts out before tokenizing (its special tokens).
SPECIAL_ATTRS = (
    llama_lib.LLAMA_TOKEN_ATTR_CONTROL
    | llama_lib.LLAMA_TOKEN_ATTR_USER_DEFINED
    | llama_lib.LLAMA_TOKEN_ATTR_UNKNOWN
)


def check_model_file(path: Path) -> None:
    """Fail early, with a readable message, on paths that cannot be a GGUF model."""
    if not path.exists():
        raise ModelFileError(f"The model file {path} does not exist.")
    try:
        str(path).encode("utf-8")  # llama.cpp takes the path as UTF-8 text
    except UnicodeEncodeError:
        raise ModelFileError(
            f"The path of {path.name!r} has bytes that are not text (UTF-8), which llama.cpp "
            "cannot open: rename the file or its folder."
        ) from None
    try:
        with open_regular_file(path) as handle:  # never blocks on a named pipe
            magic = handle.read(4)
    except OSError as exc:
        raise ModelFileError(f"The model file {path} cannot be read: {exc.strerror}.") from exc
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"{path.name} looks damaged or is not a model file (it is not a GGUF model file)."
        )
    # Our bounded reader refuses absurd headers (200,000 metadata keys, a 1 GB header) before
    # llama.cpp spends minutes on them, beyond the reach of Cancel.
    read_gguf_info(path)


@contextlib.contextmanager
def _load_callbacks(progress: Callable[[float], bool]) -> Iterator[None]:
    """Install llama.cpp's load-progress callback for the duration of one ``Llama(...)``.

    llama-cpp-python builds its model parameters from ``llama_model_default_params()`` and
    offers no argument for the callback, so the defaults are patched while the model loads.
    """
    callback = llama_lib.llama_progress_callback(lambda fraction, _data: progress(fraction))
    original = llama_lib.llama_model_default_params

    def params_with_progress() -> Any:
        params = original()
        params.progress_callback = callback
        return params

    llama_lib.llama_model_default_params = params_with_progress
    try:
        yield
    finally:
        llama_lib.llama_model_default_params = original


class _UnusedChatFormatter:
    """Stands in for the formatters ``Llama(...)`` builds from every chat template in the file.

    llama-cpp-python compiles each ``tokenizer.chat_template*`` while the model loads, with no
    time limit and beyond the reach of Stop; a hostile template can loop there. The engine
    formats prompts itself and compiles the one template it uses within its time limit
    (:meth:`LlamaRuntime._prepare_template`).
    """

    def __init__(self, **_kwargs: Any) -> None:
        pass

    def to_chat_handler(self) -> None:
        return None


@contextlib.contextmanager
def _templates_left_alone() -> Iterator[None]:
    """While ``Llama(...)`` runs: it compiles no chat template (:class:`_UnusedChatFormatter`)."""
    original = llama_chat_format.Jinja2ChatFormatter
    llama_chat_format.Jinja2ChatFormatter = _UnusedChatFormatter  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        llama_chat_format.Jinja2ChatFormatter = original  # type: ignore[misc]


@dataclass(frozen=True)
class PreparedReply:
    """A request made ready for llama.cpp (the single path's and the batch decoder's)."""

    tokens: list[int]
    dropped_turns: int
    stop: list[str]  # the model's end-of-turn text and the request's stop strings
    grammar: LlamaGrammar | None
    max_tokens: int  # the request's, within what the context leaves after the prompt
    seed: int  # the request's, or a fresh random one
    # How the reply marks its reasoning, and the prompt's end (which may have opened it).
    reasoning_format: ReasoningFormat = ReasoningFormat.NONE
    prompt_tail: str = ""
    verbatim: bool = False  # a raw text prompt's continuation: its text goes out as it comes

    def reasoning_parser(self) -> ReasoningParser:
        """What splits this reply's text into reasoning and answer."""
        return ReasoningParser(
            reasoning_format=self.reasoning_format, prompt=self.prompt_tail, verbatim=self.verbatim
        )


@contextlib.contextmanager
def _sequences(n_seq_max: int) -> Iterator[None]:
    """Give the next ``Llama(...)``'s context ``n_seq_max`` sequences over one unified KV cache.

    Sequence 0 is the window's conversation; the batch decoder uses the others. Unified, the
    sequences share the context's cells (no more memory than one sequence of ``n_ctx``).
    llama-cpp-python has no argument for either, so the defaults are patched meanwhile.
    """
    if n_seq_max <= 1:
        yield
        return
    original = llama_lib.llama_context_default_params

    def params_with_sequences() -> Any:
        params = original()
        params.n_seq_max = n_seq_max
        params.kv_unified = True
        return params

    llama_lib.llama_context_default_params = params_with_sequences
    try:
        yield
    finally:
        llama_lib.llama_context_default_params = original


class LlamaRuntime:
    """One loaded model and its context; prompt formatting, context fitting and streaming."""

    def __init__(
        self,
        *,
        stop_requested: Callable[[], bool],
        emit: Callable[[EngineEvent], None],
        governor_factory: GovernorFactory = governor_for,
        template_limit_s: float = TEMPLATE_LIMIT_SECONDS,
        report_stage: Callable[[Stage], None] = lambda _stage: None,
    ) -> None:
        """Set up the runtime; no model is loaded yet.

        Args:
            stop_requested: asked often while llama.cpp works; true ends the work early.
            emit: sends an event to the app.
            governor_factory: picks the thread governor of a loaded model.
            template_limit_s: one run of the chat template stops after this long.
            report_stage: hears when the chat template starts and ends (the app's deadlines).
        """
        register_ggml_backends()  # release builds load llama.cpp's CPU/GPU backends at run time
        self._stop_requested = stop_requested
        self._template_limit_s = template_limit_s
        self._report_stage = report_stage
        self._emit = emit
        self._llm: llama_cpp.Llama | None = None
        self._formatter: Jinja2ChatFormatter | None = None
        self._stop_strings: list[str] = []
        self._governor_factory = governor_factory
        self._governor: ThreadGovernor | None = None
        self._tokenizer: PieceTokenizer | None = None
        self._content_counts: dict[str, int] = {}
        self._states: KvStateCache | None = None
        self._can_shift = False
        self._parallel = 1
        self._embedder: Embedder | None = None
        self._reasoning = ReasoningSupport()
        self._variables: dict[str, Any] = {}  # the chat template's, for the request at hand
        self._prompt_tail = ""  # the end of the prompt last rendered
        self._chars_per_token: int | None = None  # see _cannot_fit(); found when first needed
        # ctypes callbacks must outlive every native call that may invoke them.
        self._abort_callback = llama_lib.ggml_abort_callback(lambda _data: self._stop_requested())
        self._no_abort_callback = llama_lib.ggml_abort_callback()

    # -- loading -------------------------------------------------------------------------

    def load(
        self, plan: LoadPlan, *, kv_cache_dir: Path | None = None, parallel: int = 1
    ) -> ModelInfo:
        """Load the plan's model; KV states of its conversations persist in ``kv_cache_dir``.

        ``parallel`` > 1 leaves room for that many replies decoded together (the batch
        decoder's sequences) beside the conversation's own.
        """
        self.close()
        path = Path(plan.model_path)
        check_model_file(path)
        started = time.perf_counter()
        last_reported = -1.0

        def on_progress(fraction: float) -> bool:
            nonlocal last_reported
            if fraction - last_reported >= 0.01 or fraction >= 1.0:
                last_reported = fraction
                self._emit(LoadProgress(fraction=float(fraction)))
            return not self._stop_requested()

        try:
            with (
                _load_callbacks(on_progress),
                _templates_left_alone(),
                _sequences(parallel + 1 if parallel > 1 else 1),
            ):
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=plan.n_ctx,
                    n_threads=plan.n_threads,
                    n_threads_batch=plan.n_threads_batch,
                    n_gpu_layers=plan.n_gpu_layers if plan.use_gpu else 0,
                    n_batch=plan.n_batch,
                    n_ubatch=plan.n_ubatch,
                    type_k=KV_CACHE_TYPES[plan.type_k],
                    type_v=KV_CACHE_TYPES[plan.type_v],
                    flash_attn=plan.flash_attn,
                    use_mmap=plan.use_mmap,
                    use_mlock=plan.use_mlock,
                    swa_full=False,  # llama-cpp-python's default keeps a full-size SWA cache
                    verbose=False,
                )
        except jinja2.TemplateError as exc:  # llama-cpp-python compiles the model's template
            raise ModelLoadError(
                sentence(f"The chat template of {path.name} is broken", describe_exception(exc))
            ) from None
        except (ValueError, RuntimeError) as exc:
            if self._stop_requested():
                raise OperationCancelledError("Loading the model was cancelled.") from exc
            raise ModelLoadError(
                f"llama.cpp could not load {path.name}: the file may be damaged, use an "
                "architecture this version does not support, or need more memory "
                f"({describe_exception(exc)})."
            ) from exc
        self._parallel = parallel
        template = llm.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        try:
            self._check_load_not_stopped()  # a Stop that came while llama.cpp read the weights
            _check_trained_context(llm, path)
            formatter, self._stop_strings, template_text = self._prepare_template(
                llm, template, path.name
            )
            reasoning = self._analyse(template, formatter)
            self._check_load_not_stopped()  # the analysis ends its runs early on Stop
            _render_reasoning_markers(llm, marker_texts(reasoning.format))
            special = _special_tokens(llm, stop_requested=self._stop_requested)
            self._check_load_not_stopped()
        except BaseException:
            llm.close()
            raise
        self._llm, self._formatter, self._reasoning = llm, formatter, reasoning
        self._governor = self._governor_factory(plan, self._threads_in_use())
        self._tokenizer = PieceTokenizer(
            tokenize=lambda text, bos, parse_special: list(
                llm.tokenize(text.encode("utf-8"), add_bos=bos, special=parse_special)
            ),
            special_texts=special,
            guarded_texts=_guarded_texts(llm, template_text, special),
        )
        memory = llama_lib.llama_get_memory(llm.ctx)
        self._can_shift = plan.context_shift and bool(
            memory is not None and llama_lib.llama_memory_can_shift(memory)
        )
        stat = path.stat()
        key = cache_key(
            str(path.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            llama_cpp.__version__,
            sorted(plan.cache_identity().items()),
        )
        self._states = KvStateCache(
            root=kv_cache_dir,
            key=key,
            ram_budget_bytes=plan.kv_cache_ram_bytes,
            disk_budget_bytes=plan.kv_cache_disk_bytes,
        )
        return _model_info(
            llm, path, load_seconds=time.perf_counter() - started, reasoning=self._reasoning
        )

    def _check_load_not_stopped(self) -> None:
        if self._stop_requested():
            raise OperationCancelledError("Loading the model was cancelled.")

    def _prepare_template(
        self, llm: llama_cpp.Llama, template: str, name: str
    ) -> tuple[Jinja2ChatFormatter, list[str], str]:
        """Compile the model's chat template and render a sample with it, within its time limit.

        A template is code from the file: compiling it may loop (Jinja computes constant
        expressions then) and so may the sample. Returns the formatter, the stop strings and the
        template's text with the sample's output.

        Raises:
            ChatTemplateTimeoutError: compiling and the sample ran past the limit.
            OperationCancelledError: Stop was requested meanwhile.
            ModelLoadError: the template cannot be compiled.
        """
        self._report_stage(Stage.TEMPLATE)
        limit = self._template_limit_s
        try:
            with time_limit(seconds=limit, stop_requested=self._stop_requested):
                formatter, stops = _chat_formatter(llm, template)
                return formatter, stops, _template_text(template, formatter)
        except TimeLimitExpired:
            raise ChatTemplateTimeoutError(
                f"The model's chat template did not finish within {limit:g} seconds when the "
                "model loaded; it seems to loop forever. Choose another model."
            ) from None
        except StopRequested:
            raise OperationCancelledError("Loading the model was cancelled.") from None
        except (TemplateMemoryError, MemoryError) as exc:
            raise ModelLoadError(
                "The model's chat template tried to use too much memory when the model loaded "
                f"({describe_exception(exc)}). Choose another model."
            ) from None
        except Exception as exc:  # a broken template: jinja2's syntax errors, RecursionError...
            raise ModelLoadError(
                sentence(f"The chat template of {name} is broken", describe_exception(exc))
            ) from None
        finally:
            self._report_stage(Stage.LOAD)

    def close(self) -> None:
        if self._embedder is not None:
            self._embedder.close()  # before its model goes
            self._embedder = None
        if self._states is not None:
            self._states.close()  # finishes the disk writes
        if self._llm is not None:
            self._llm.close()
        self._llm = None
        self._formatter = None
        self._governor = None
        self._tokenizer = None
        self._states = None
        self._reasoning = ReasoningSupport()
        self._content_counts.clear()
        self._chars_per_token = None

    # -- generation ----------------------------------------------------------------------

    def render_prompt(self, turns: Sequence[ChatTurn]) -> list[int]:
        """Prompt tokens of ``turns``: only the chat template's own markers are special tokens.

        The messages' texts are tokenized as ordinary text, so a message quoting a marker
        (``<|im_end|><|im_start|>system...``) cannot open a turn of its own.
        """
        _, formatter = self._require_model()
        added_special = True

        def render(messages: list[Message]) -> str:
            nonlocal added_special
            result = self._render(formatter, messages)
            added_special = result.added_special  # the template wrote the BOS text itself
            return result.prompt

        prompt = render_apart(render, [self._message(turn) for turn in turns])
        if self._cannot_fit(len(prompt.text)):
            raise PromptTooLongError(
                f"The prompt ({len(prompt.text):,} characters) is far too long for the model's "
                f"context of {self._require_model()[0].n_ctx()} tokens. Shorten it, or load the "
                "model with a larger context."
            )
        self._prompt_tail = prompt.text[-256:]
        assert self._tokenizer is not None
        return self._tokenizer(prompt.parts, add_bos=not added_special)

    def _message(self, turn: ChatTurn) -> Message:
        """A turn as the template takes it: earlier reasoning goes where the template wants it.

        A template that names no field for it gets none: old reasoning is left out.
        """
        message = {"role": turn.role.value, "content": turn.content}
        field = self._reasoning.history_field
        if field and turn.reasoning and turn.role is Role.ASSISTANT:
            message[field] = turn.reasoning
        return message

    def _analyse(self, template: str, formatter: Jinja2ChatFormatter) -> ReasoningSupport:
        """What the template declares about reasoning; each probe run is time-limited."""

        def render(messages: Any, **variables: Any) -> str:
            limit = self._template_limit_s
            try:
                with time_limit(seconds=limit, stop_requested=self._stop_requested):
                    return formatter(messages=messages, **variables).prompt
            except (TimeLimitExpired, StopRequested) as exc:  # the analysis takes the usual
                raise EngineError("The chat template did not finish.") from exc

        return analyse_template(template=template, render=render)

    def _render(self, formatter: Jinja2ChatFormatter, messages: Any) -> ChatFormatterResponse:
        """Run the chat template, within its time limit; Stop cuts it short too.

        Raises:
            ChatTemplateTimeoutError: the template ran past the limit (it loops).
            OperationCancelledError: Stop was requested meanwhile.
            EngineError: the template failed.
        """
        self._report_stage(Stage.TEMPLATE)
        limit = self._template_limit_s
        try:
            with time_limit(seconds=limit, stop_requested=self._stop_requested):
                return formatter(messages=messages, **self._variables)
        except TimeLimitExpired:
            raise ChatTemplateTimeoutError(
                f"The model's chat template did not finish within {limit:g} seconds; it seems to "
                "loop forever, so no reply was written. Choose another model."
            ) from None
        except StopRequested:
            raise OperationCancelledError("The reply was stopped.") from None
        except (TemplateMemoryError, MemoryError) as exc:
            raise ChatTemplateMemoryError(
                "The model's chat template tried to use too much memory "
                f"({describe_exception(exc)}), so no reply was written. Choose another model."
            ) from None
        except Exception as exc:  # a template may raise anything (jinja2 errors, ValueError...)
            # Its message is the model's text, maybe 100 MB long: cut here, before it is sent.
            raise EngineError(
                sentence("The model's chat template failed", describe_exception(exc))
            ) from None
        finally:
            self._report_stage(Stage.REPLY)

    def _cannot_fit(self, chars: int) -> bool:
        """Whether a text of ``chars`` characters has more tokens than the context holds.

        Cheap: it tokenizes nothing (once, for a long text, it reads the vocabulary).
        """
        llm, _ = self._require_model()
        n_ctx = llm.n_ctx()
        if chars <= n_ctx * MIN_CHARS_PER_TOKEN:
            return False
        if self._chars_per_token is None:
            self._chars_per_token = max(MIN_CHARS_PER_TOKEN, _longest_token_text(llm))
        return chars > n_ctx * self._chars_per_token

    def _count_tokens(self, text: str) -> int:
        """Tokens of one message's text alone, remembered (a turn counts only new messages).

        A text too long to fit is not tokenized: the count is then a lower bound (more than the
        context holds).
        """
        if self._cannot_fit(len(text)):
            assert self._chars_per_token is not None
            return len(text) // self._chars_per_token
        count = self._content_counts.get(text)
        if count is None:
            llm, _ = self._require_model()
            count = len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
            if len(self._content_counts) > 4096:
                self._content_counts.clear()
            self._content_counts[text] = count
        return count

    def generate(self, request: GenerateRequest) -> GenerationStats:
        llm, _ = self._require_model()
        started = time.perf_counter()
        changes_before = self._governor.changes if self._governor else 0
        self._set_threads(self._governor.begin_reply() if self._governor else None)
        n_ctx = llm.n_ctx()
        sampling, options = request.sampling, request.options
        reply = self.prepare_reply(request)
        prompt = reply.tokens
        self._prepare_cache(llm, prompt)
        reused = 0
        if llm.n_tokens:
            reused = min(common_prefix(llm._input_ids.tolist(), prompt), len(prompt) - 1)

        generated = 0
        first_token_at: float | None = None

        def after_each_token(_ids: Any, _logits: Any) -> bool:
            nonlocal generated, first_token_at
            generated += 1
            if first_token_at is None:
                first_token_at = time.perf_counter()
                # Prompt evaluation is over: stop paying for the abort check on every graph node.
                self._set_abort_check(enabled=False)
            self._set_threads(self._governor.on_token() if self._governor else None)
            return self._stop_requested()

        max_tokens = reply.max_tokens
        stop_reason = StopReason.EOS
        self._set_abort_check(enabled=True)
        stream: Any = llm.create_completion(
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,
            min_p=sampling.min_p,
            repeat_penalty=sampling.repeat_penalty,
            frequency_penalty=options.frequency_penalty,
            presence_penalty=options.presence_penalty,
            seed=reply.seed,
            stop=reply.stop,
            grammar=reply.grammar,
            stopping_criteria=llama_cpp.StoppingCriteriaList([after_each_token]),
            stream=True,
        )
        parser = reply.reasoning_parser()
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                if choice["text"]:
                    self._emit_parsed(parser.feed(choice["text"]))
                if choice.get("finish_reason") == "length":
                    stop_reason = StopReason.LENGTH
        except RuntimeError as exc:
            # llama_decode returns an error when the abort callback fired mid-prompt.
            if not self._stop_requested():
                raise EngineError(f"llama.cpp failed while generating: {exc}") from exc
        finally:
            stream.close()
            self._set_abort_check(enabled=False)
            self._emit_parsed(parser.finish())
        if self._stop_requested():
            stop_reason = StopReason.STOPPED
        finished = time.perf_counter()
        # llama-cpp-python samples (and asks the stopping criteria about) one token past the
        # limit before it ends a reply at max_tokens; that token is not part of the reply.
        generated = min(generated, max_tokens)
        decode_s = finished - first_token_at if first_token_at is not None else 0.0
        return GenerationStats(
            prompt_tokens=len(prompt),
            evaluated_prompt_tokens=len(prompt) - reused,
            generated_tokens=generated,
            ttft_s=(first_token_at or finished) - started,
            tokens_per_s=(generated - 1) / decode_s if generated > 1 and decode_s > 0 else 0.0,
            total_s=finished - started,
            stop_reason=stop_reason.value,
            trimmed_messages=reply.dropped_turns,
            context_used=llm.n_tokens,
            context_size=n_ctx,
            n_threads=self._threads_in_use().n_threads,
            thread_changes=(self._governor.changes if self._governor else 0) - changes_before,
        )

    def prepare_reply(self, request: GenerateRequest) -> PreparedReply:
        """What llama.cpp is given for ``request``: prompt tokens, stops, grammar, limits.

        Raises:
            RequestError: the JSON schema cannot be used (checked before any other work).
            PromptTooLongError: the prompt does not fit (and may not be trimmed).
        """
        llm, _ = self._require_model()
        n_ctx = llm.n_ctx()
        grammar = _grammar_for(request.options)
        fitted = self._fitted_prompt(request, n_ctx=n_ctx)
        sampling = request.sampling
        chat = request.options.prompt_text is None
        return PreparedReply(
            tokens=fitted.tokens,
            dropped_turns=fitted.dropped_turns,
            stop=[*self._stop_strings, *request.options.stop],
            grammar=grammar,
            max_tokens=min(sampling.max_tokens, n_ctx - len(fitted.tokens)),
            seed=sampling.seed if sampling.seed >= 0 else random.randrange(2**31),
            reasoning_format=self._reasoning.format if chat else ReasoningFormat.NONE,
            prompt_tail=self._prompt_tail if chat else "",
            verbatim=not chat,
        )

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Unit-length embeddings of ``texts`` and the tokens read (see :mod:`embeddings`)."""
        llm, _ = self._require_model()
        if self._embedder is None:
            self._embedder = Embedder(llm)
        return self._embedder.embed(texts)

    @property
    def parallel(self) -> int:
        """How many replies the loaded context can decode together (1: one at a time)."""
        return self._parallel

    @property
    def thread_governor(self) -> ThreadGovernor | None:
        """Moves the thread count with the machine's load (None: the user fixed the threads)."""
        return self._governor

    @property
    def llama(self) -> llama_cpp.Llama:
        """The loaded model's ``Llama`` (for the batch decoder, which shares its context)."""
        return self._require_model()[0]

    def _emit_parsed(self, parsed: ParsedText) -> None:
        if parsed.reasoning:
            self._emit(ReasoningChunk(text=parsed.reasoning))
        if parsed.answer:
            self._emit(TokenChunk(text=parsed.answer))

    def _apply_thinking(self, setting: Thinking, turns: list[ChatTurn]) -> list[ChatTurn]:
        """Set the template's variables for ``setting``; a suffix switch changes the last turn."""
        support = self._reasoning
        chosen = support.resolve(setting)
        self._variables = template_variables(support.control, chosen)
        if support.control is ThinkControl.NO_THINK_SUFFIX and chosen is Thinking.OFF:
            users = [i for i, turn in enumerate(turns) if turn.role is Role.USER]
            if users:
                turn = turns[users[-1]]
                turns[users[-1]] = ChatTurn(turn.role, f"{turn.content} {support.no_think_suffix}")
        return turns

    def _fitted_prompt(self, request: GenerateRequest, *, n_ctx: int) -> FittedPrompt:
        """The request's conversation as prompt tokens that leave room for the reply.

        Raises:
            PromptTooLongError: it does not fit, and the request forbids leaving turns out
                (or is a raw text prompt).
        """
        if request.options.prompt_text is not None:
            return self._raw_prompt(request.options.prompt_text, n_ctx=n_ctx)
        turns = self._apply_thinking(request.thinking, list(request.turns))
        if request.system_prompt.strip():
            turns.insert(0, ChatTurn(role=Role.SYSTEM, content=request.system_prompt))
        budget = n_ctx - reply_reserve(n_ctx=n_ctx, max_tokens=request.sampling.max_tokens)
        # Shifting makes a cut cheap, so as little as possible is left out; without it the cut
        # moves in steps of half the budget, so the turns between two steps share a prefix.
        step = 1 if self._can_shift else max(1, budget // 2)
        fitted = fit_conversation(
            turns, render=self.render_prompt, budget=budget, count=self._count_tokens, step=step
        )
        if not fitted.tokens:  # llama.cpp needs at least one token to answer
            raise EngineError(
                "The prompt came out empty: the model's chat template wrote nothing for this "
                "conversation, or its vocabulary cannot encode the text. Choose another model."
            )
        if fitted.dropped_turns and not request.options.trim_to_fit:
            raise PromptTooLongError(
                f"The messages need more than the {budget} tokens the context leaves for them "
                f"(the context holds {n_ctx} tokens, with room kept for the reply)."
            )
        if fitted.dropped_turns:
            self._emit(
                ContextTrimmed(
                    dropped_messages=fitted.dropped_turns,
                    prompt_tokens=len(fitted.tokens),
                    context_size=n_ctx,
                )
            )
        return fitted

    def _raw_prompt(self, text: str, *, n_ctx: int) -> FittedPrompt:
        """A text to continue, as llama-server reads it: special tokens' texts are tokens."""
        llm, _ = self._require_model()
        if self._cannot_fit(len(text)):
            raise PromptTooLongError(
                f"The prompt has {len(text):,} characters, far more than a context of {n_ctx} "
                "tokens holds."
            )
        tokens = list(llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))
        if len(tokens) >= n_ctx:
            raise PromptTooLongError(
                f"The prompt has {len(tokens)} tokens; the context holds {n_ctx}."
            )
        return FittedPrompt(tokens=tokens, dropped_turns=0)

    def _threads_in_use(self) -> ThreadSetting:
        llm, _ = self._require_model()
        return ThreadSetting(
            n_threads=int(llama_lib.llama_n_threads(llm.ctx)),
            n_threads_batch=int(llama_lib.llama_n_threads_batch(llm.ctx)),
        )

    def _set_threads(self, setting: ThreadSetting | None) -> None:
        """Apply a governor's decision; llama.cpp uses it from the next decode on."""
        if setting is not None and self._llm is not None:
            llama_lib.llama_set_n_threads(self._llm.ctx, setting.n_threads, setting.n_threads_batch)

    # -- KV cache ------------------------------------------------------------------------

    def _prepare_cache(self, llm: llama_cpp.Llama, prompt: list[int]) -> None:
        """Bring the KV cache to the state that serves most of ``prompt``.

        That is the live state, or a stored one (another conversation's, or this one's from
        before a switch or a restart), possibly with the oldest turns shifted out of it.
        llama-cpp-python then evaluates only what follows the longest common prefix.
        """
        live = llm._input_ids.tolist()
        best = plan_reuse(live, prompt, allow_shift=self._can_shift)
        source: StoredTokens | None = None
        if self._states is not None:
            for entry in self._states.entries():
                reuse = plan_reuse(entry.tokens, prompt, allow_shift=self._can_shift)
                if reuse.reused >= best.reused + MIN_RESTORE_GAIN:
                    best, source = reuse, entry
            if source is not None:
                data = self._states.get(source)
                if data is None or not self._restore(llm, source.tokens, data):
                    best = plan_reuse(llm._input_ids.tolist(), prompt, allow_shift=self._can_shift)
        if best.discard:
            self._shift(llm, best)

    def _restore(self, llm: llama_cpp.Llama, tokens: tuple[int, ...], data: bytes) -> bool:
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_lib.llama_state_seq_set_data(llm.ctx, buffer, len(data), SEQ) != len(data):
            llm.n_tokens = 0
            memory = llama_lib.llama_get_memory(llm.ctx)
            if memory is not None:
                llama_lib.llama_memory_clear(memory, True)
            return False
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        llm._requires_eval = True  # the logits are not those of the restored state
        return True

    def _shift(self, llm: llama_cpp.Llama, reuse: CacheReuse) -> None:
        """Discard ``reuse.discard`` cached tokens after the first ``reuse.keep``; shift the rest.

        llama-cpp-python's own bookkeeping (``input_ids``, ``n_tokens``) follows, so its prefix
        match sees the shifted cache.
        """
        memory = llama_lib.llama_get_memory(llm.ctx)
        keep, discard, n = reuse.keep, reuse.discard, llm.n_tokens
        if memory is None or not llama_lib.llama_memory_seq_rm(memory, SEQ, keep, keep + discard):
            return
        llama_lib.llama_memory_seq_add(memory, SEQ, keep + discard, -1, -discard)
        llm.input_ids[keep : n - discard] = llm.input_ids[keep + discard : n].copy()
        llm.n_tokens = n - discard
        llm._requires_eval = True

    def remember_state(self) -> None:
        """Store the KV state of the conversation just answered (call after its reply)."""
        llm, states = self._llm, self._states
        if llm is None or states is None or llm.n_tokens == 0:
            return
        memory = llama_lib.llama_get_memory(llm.ctx)
        if memory is not None:  # cells of a decode cut short by Stop are not part of the state
            llama_lib.llama_memory_seq_rm(memory, SEQ, llm.n_tokens, -1)
        size = llama_lib.llama_state_seq_get_size(llm.ctx, SEQ)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_lib.llama_state_seq_get_data(llm.ctx, buffer, size, SEQ)
        if 0 < written <= size:
            states.put(llm._input_ids.tolist(), ctypes.string_at(buffer, written))

    def _set_abort_check(self, *, enabled: bool) -> None:
        if self._llm is None:
            return
        callback = self._abort_callback if enabled else self._no_abort_callback
        llama_lib.llama_set_abort_callback(self._llm.ctx, callback, None)

    def _require_model(self) -> tuple[llama_cpp.Llama, Jinja2ChatFormatter]:
        if self._llm is None or self._formatter is None:
            raise NoModelLoadedError("No model is loaded.")
        return self._llm, self._formatter


def _check_trained_context(llm: llama_cpp.Llama, path: Path) -> None:
    """Refuse a trained context no model has: llama-cpp-python sizes every tokenize buffer by it.

    (A context of 2^32 - 1 reads as -1 and fails every tokenize; 2^30 would allocate 4 GB each.)
    """
    n_ctx_train = int(llm._model.n_ctx_train())
    if not 0 <= n_ctx_train <= MAX_TRAINED_CONTEXT:
        raise ModelLoadError(
            f"{path.name} says the model was trained on a context of "
            f"{n_ctx_train % (1 << 32):,} tokens, which no model is: the file is damaged."
        )


def _grammar_for(options: ReplyOptions) -> LlamaGrammar | None:
    """The grammar that holds the reply to the JSON the request asks for (None: free text).

    Raises:
        RequestError: the schema is not JSON, or llama.cpp cannot turn it into a grammar.
    """
    try:
        if options.json_schema is not None:
            gbnf = json_schema_to_gbnf(options.json_schema)
        elif options.json_object:
            gbnf = JSON_GBNF
        else:
            return None
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except (ValueError, TypeError, KeyError, RecursionError, NotImplementedError) as exc:
        raise RequestError(f"The JSON schema cannot be used: {exc}") from exc


def _chat_formatter(llm: llama_cpp.Llama, template: str) -> tuple[Jinja2ChatFormatter, list[str]]:
    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
    formatter = BoundedChatFormatter(template=template, eos_token=eos, bos_token=bos)
    return formatter, [eos] if eos else []


def _render_reasoning_markers(llm: llama_cpp.Llama, texts: Sequence[str]) -> None:
    """Make the reply's text show the reasoning markers even where they are control tokens.

    llama-cpp-python writes the reply without control tokens; a model whose ``<think>`` (or
    harmony ``<|channel|>``) is one would lose the marks that set its reasoning apart. Only
    those tokens are written as text, one by one, so every other token reads as before.
    """
    model = llm._model
    hidden: set[int] = set()
    for text in texts:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(ids) == 1 and model.token_get_attr(ids[0]) & llama_lib.LLAMA_TOKEN_ATTR_CONTROL:
            hidden.add(ids[0])
    if not hidden:
        return
    plain = llm.detokenize

    def detokenize(
        tokens: list[int], prev_tokens: list[int] | None = None, special: bool = False
    ) -> bytes:
        if special or not hidden.intersection(tokens):
            return plain(tokens, prev_tokens=prev_tokens, special=special)
        pieces: list[bytes] = []
        run: list[int] = []
        for token in tokens:  # llama.cpp writes token by token: the pieces join up exactly
            if token not in hidden:
                run.append(token)
                continue
            if run:
                pieces.append(plain(run))
                run = []
            pieces.append(plain([token], special=True))
        if run:
            pieces.append(plain(run))
        return b"".join(pieces)

    llm.detokenize = detokenize  # type: ignore[method-assign]


def _longest_token_text(llm: llama_cpp.Llama) -> int:
    """The most characters of one token's text: no token stands for more of a prompt.

    (A byte-level vocabulary writes each byte of a character as a character of its own, and a
    byte-fallback token such as ``<0xE4>`` stands for one byte: never for more.)
    """
    model = llm._model
    return max((len(model.token_get_text(token)) for token in range(model.n_vocab())), default=1)


def _special_tokens(llm: llama_cpp.Llama, *, stop_requested: Callable[[], bool]) -> dict[str, int]:
    """The texts of the tokens llama.cpp treats as special in a prompt, with their attributes.

    A large vocabulary takes a while (Gemma 3's 262k tokens): the scan ends early, with what it
    found so far, once ``stop_requested`` is true.
    """
    model = llm._model
    texts: dict[str, int] = {}
    for token in range(model.n_vocab()):
        if token % 8192 == 0 and stop_requested():
            break
        attr = int(model.token_get_attr(token))
        if attr & SPECIAL_ATTRS:
            texts[model.token_get_text(token)] = attr
    return texts


def _template_text(template: str, formatter: Jinja2ChatFormatter) -> str:
    """The template's source and what it writes around a short conversation (its markers)."""
    texts = [template]
    for first in ([{"role": "system", "content": "a"}], []):
        rest = [{"role": r, "content": c} for r, c in (("user", "b"), ("assistant", "c"))]
        try:
            texts.append(formatter(messages=[*first, *rest]).prompt)  # type: ignore[list-item]
        except Exception:  # a template may refuse a system turn (Gemma 2): try without
            continue
    return "\n".join(texts)


def _guarded_texts(llm: llama_cpp.Llama, template: str, special: dict[str, int]) -> list[str]:
    """User-defined tokens that mark turns: llama.cpp matches them even in plain text.

    Those are the ones the chat template writes (``template``: its source and its output),
    and the BOS and EOS tokens.
    """
    ends = {llm._model.token_get_text(t) for t in (llm.token_bos(), llm.token_eos()) if t != -1}
    return [
        text
        for text, attr in special.items()
        if attr & llama_lib.LLAMA_TOKEN_ATTR_USER_DEFINED
        and not attr & llama_lib.LLAMA_TOKEN_ATTR_CONTROL
        and text.strip()
        and (text in template or text in ends)
    ]


def _model_info(
    llm: llama_cpp.Llama, path: Path, *, load_seconds: float, reasoning: ReasoningSupport
) -> ModelInfo:
    metadata = {str(k): str(v) for k, v in llm.metadata.items() if len(str(v)) < 4096}
    return ModelInfo(
        path=path,
        name=path.stem,
        architecture=llm.metadata.get("general.architecture", "unknown"),
        n_ctx=llm.n_ctx(),
        n_ctx_train=int(llm._model.n_ctx_train()),
        n_params=int(llm._model.n_params()),
        size_bytes=int(llm._model.size()),
        has_chat_template="tokenizer.chat_template" in llm.metadata,
        load_seconds=load_seconds,
        metadata=metadata,
        reasoning=reasoning,
    )
