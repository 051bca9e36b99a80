"""Plain data shared by the engine, the history store and the UI."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


class Role(str, enum.Enum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(str, enum.Enum):
    COMPLETE = "complete"
    STREAMING = "streaming"  # being written right now (or the app died while it was)
    INTERRUPTED = "interrupted"  # stopped by the user or cut short by an engine crash
    ERROR = "error"


class StopReason(str, enum.Enum):
    EOS = "eos"  # the model finished its answer
    LENGTH = "length"  # max tokens or context reached
    STOPPED = "stopped"  # the user pressed Stop


def _from_dict(cls: Any, data: dict[str, Any] | None) -> Any:
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in (data or {}).items() if k in known})


@dataclass(frozen=True)
class SamplingSettings:
    """Per-conversation sampling settings (llama.cpp's sampler chain)."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 1024
    seed: int = -1  # -1: a new random seed for every reply

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SamplingSettings:
        return _from_dict(cls, data)  # type: ignore[no-any-return]


class Thinking(str, enum.Enum):
    """A conversation's Think setting: what the model is asked for before it answers."""

    DEFAULT = ""  # as the model's chat template recommends
    ON = "on"
    OFF = "off"
    LOW = "low"  # reasoning effort (gpt-oss)
    MEDIUM = "medium"
    HIGH = "high"


class ReasoningFormat(str, enum.Enum):
    """How a model's output marks its reasoning apart from its answer."""

    NONE = "none"
    THINK_TAGS = "think"  # <think>...</think> (Qwen3, DeepSeek-R1, GLM-Z1, GLM-4.5)
    HARMONY = "harmony"  # gpt-oss: <|channel|>analysis<|message|>... then the final channel


class ThinkControl(str, enum.Enum):
    """How the chat template lets the app switch thinking on and off."""

    NONE = "none"  # no switch: the model thinks (or not) as it was trained
    ENABLE_THINKING = "enable_thinking"  # the template's enable_thinking variable
    NO_THINK_SUFFIX = "suffix"  # "/no_think" after the user's message (Qwen3-style)
    REASONING_EFFORT = "effort"  # the template's reasoning_effort: low, medium, high


@dataclass(frozen=True)
class ReasoningSupport:
    """What a model's chat template declares about reasoning."""

    format: ReasoningFormat = ReasoningFormat.NONE
    control: ThinkControl = ThinkControl.NONE
    default: Thinking = Thinking.DEFAULT  # the setting the template applies when told nothing
    no_think_suffix: str = ""  # for NO_THINK_SUFFIX: "/no_think" or "/nothink"
    history_field: str = ""  # earlier reasoning goes back in this message field ("": dropped)

    @property
    def choices(self) -> tuple[Thinking, ...]:
        """The settings the user may pick (none: no switch to show)."""
        if self.control is ThinkControl.REASONING_EFFORT:
            return (Thinking.LOW, Thinking.MEDIUM, Thinking.HIGH)
        if self.control is ThinkControl.NONE:
            return ()
        return (Thinking.ON, Thinking.OFF)

    def resolve(self, setting: Thinking) -> Thinking:
        """``setting`` as this model applies it (DEFAULT or a foreign choice: its default)."""
        return setting if setting in self.choices else self.default


@dataclass(frozen=True)
class ChatTurn:
    """One message as the engine sees it."""

    role: Role
    content: str
    reasoning: str = ""  # an assistant message's reasoning, kept apart from its answer


@dataclass(frozen=True)
class GenerationStats:
    """What one reply cost."""

    prompt_tokens: int = 0  # tokens of the whole formatted prompt
    evaluated_prompt_tokens: int = 0  # of those, evaluated now (the rest reused from the KV cache)
    generated_tokens: int = 0
    ttft_s: float = 0.0  # request sent -> first token
    tokens_per_s: float = 0.0  # decode speed, first token excluded
    total_s: float = 0.0
    stop_reason: str = StopReason.EOS.value
    trimmed_messages: int = 0  # oldest messages left out to fit the context
    context_used: int = 0  # tokens in the context after the reply
    context_size: int = 0
    n_threads: int = 0  # decode threads in use at the end of the reply (0: unknown)
    thread_changes: int = 0  # times the engine changed its thread count during the reply
    batched_with: int = 0  # the most other replies decoded in one batch with this one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GenerationStats:
        return _from_dict(cls, data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class LoadPlan:
    """How to load a model: what llama.cpp is told at load time."""

    model_path: Path
    n_ctx: int = 4096
    n_threads: int | None = None  # None: llama-cpp-python's default
    n_threads_batch: int | None = None
    n_gpu_layers: int = 0
    n_batch: int = 512
    n_ubatch: int = 512
    type_k: str = "f16"
    type_v: str = "f16"
    flash_attn: bool = False
    use_mmap: bool = True
    use_mlock: bool = False
    # False: the engine process sees no GPU at all (not even for a compute buffer), for when
    # the GPU's memory is too full to hold anything.
    use_gpu: bool = True
    # True: the engine moves n_threads/n_threads_batch with the CPU load while it generates
    # (between 1 and ``max_threads``). False: the user fixed the threads, they stay as given.
    adaptive_threads: bool = True
    max_threads: int | None = None  # decode threads at most; None: the usable cores
    # When a conversation outgrows the context: True shifts the KV cache past the oldest
    # turns (where the model allows it); False leaves them out in steps of half the context.
    context_shift: bool = True
    # KV states of recent conversations kept for when the user returns to them.
    kv_cache_ram_bytes: int = 256 * 1024**2
    kv_cache_disk_bytes: int = 2 * 1024**3

    def cache_identity(self) -> dict[str, Any]:
        """The fields that decide what a KV state holds (not the cache budgets)."""
        data = self.to_dict()
        not_in_state = (
            "kv_cache_ram_bytes",
            "kv_cache_disk_bytes",
            "use_mlock",
            "use_mmap",
            "n_threads",
            "n_threads_batch",
            "adaptive_threads",
            "max_threads",
        )
        for name in not_in_state:
            data.pop(name)
        return data

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model_path"] = str(self.model_path)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadPlan:
        data = dict(data)
        data["model_path"] = Path(data["model_path"])
        return _from_dict(cls, data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ModelInfo:
    """A loaded model, as reported by the engine."""

    path: Path
    name: str
    architecture: str
    n_ctx: int
    n_ctx_train: int
    n_params: int
    size_bytes: int
    has_chat_template: bool
    load_seconds: float = 0.0
    metadata: dict[str, str] = field(default_factory=dict)
    reasoning: ReasoningSupport = field(default_factory=ReasoningSupport)
