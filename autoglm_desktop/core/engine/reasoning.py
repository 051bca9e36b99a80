"""Reasoning in a model's output: what its chat template declares, and a streaming parser.

Thinking models write their reasoning before the answer, marked in the model's own way:
``<think>...</think>`` (Qwen3, DeepSeek-R1 distills, GLM-Z1, GLM-4.5; the template may open
``<think>`` itself at the end of the prompt, so the output starts inside it) or the harmony
channels of gpt-oss (``<|channel|>analysis<|message|>...<|end|><|start|>assistant<|channel|>
final<|message|>...``). Which one a model uses, and how thinking is switched, is read from its
chat template (:func:`analyse_template`), never guessed from the model's name.

:class:`ReasoningParser` splits the streamed text into reasoning and answer. Text arrives in
pieces cut anywhere (a tag may straddle two pieces), so a piece's tail that could begin a tag is
held back until the next piece tells; the result does not depend on where the pieces were cut.
Hand-written: the template-aware parsers of llama.cpp (``common/chat.cpp``) are not exposed by
llama-cpp-python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autoglm_desktop.core.common.types import (
    ReasoningFormat,
    ReasoningSupport,
    ThinkControl,
    Thinking,
)

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
HARMONY_MARKERS = (
    "<|start|>",
    "<|channel|>",
    "<|message|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|constrain|>",
)
REASONING_CHANNEL = "analysis"
NO_THINK_SUFFIXES = ("/no_think", "/nothink")
EFFORTS = (Thinking.LOW, Thinking.MEDIUM, Thinking.HIGH)
# Renders the chat template with messages and template variables; raises when it fails.
TemplateRender = Callable[..., str]
_PROBE = [{"role": "user", "content": "Hi"}]
_HARMONY_TAIL = re.compile(r"<\|channel\|>(\w+)<\|message\|>\s*$")


# --- what the template declares -----------------------------------------------------------


def analyse_template(*, template: str, render: TemplateRender) -> ReasoningSupport:
    """What the chat template ``template`` declares about reasoning.

    Args:
        template: the template's source.
        render: runs the template on messages (template variables as keyword arguments);
            used to find which Think setting the template applies when told nothing.
    """
    if "<|channel|>" in template:
        reasoning_format = ReasoningFormat.HARMONY
    elif THINK_OPEN in template or THINK_CLOSE in template:
        reasoning_format = ReasoningFormat.THINK_TAGS
    else:
        return ReasoningSupport()
    control, suffix = _control(template)
    return ReasoningSupport(
        format=reasoning_format,
        control=control,
        default=_default_setting(control, render),
        no_think_suffix=suffix,
        history_field="reasoning_content" if "reasoning_content" in template else "",
    )


def _control(template: str) -> tuple[ThinkControl, str]:
    if "reasoning_effort" in template:
        return ThinkControl.REASONING_EFFORT, ""
    if "enable_thinking" in template:
        return ThinkControl.ENABLE_THINKING, ""
    suffix = next((s for s in NO_THINK_SUFFIXES if s in template), "")
    if suffix:
        return ThinkControl.NO_THINK_SUFFIX, suffix
    return ThinkControl.NONE, ""


def _default_setting(control: ThinkControl, render: TemplateRender) -> Thinking:
    """The setting whose rendering equals the template's own when told nothing."""
    if control is ThinkControl.NONE:
        return Thinking.DEFAULT
    if control is ThinkControl.NO_THINK_SUFFIX:
        return Thinking.ON
    fallback = Thinking.MEDIUM if control is ThinkControl.REASONING_EFFORT else Thinking.ON
    try:
        plain = render(_PROBE)
        for setting in EFFORTS if control is ThinkControl.REASONING_EFFORT else _SWITCH:
            if render(_PROBE, **template_variables(control, setting)) == plain:
                return setting
    except Exception:  # a template may raise anything; the usual default will do
        return fallback
    return fallback


_SWITCH = (Thinking.ON, Thinking.OFF)


def template_variables(control: ThinkControl, setting: Thinking) -> dict[str, Any]:
    """The chat template variables that apply ``setting`` (none for DEFAULT)."""
    if control is ThinkControl.ENABLE_THINKING and setting in _SWITCH:
        return {"enable_thinking": setting is Thinking.ON}
    if control is ThinkControl.REASONING_EFFORT and setting in EFFORTS:
        return {"reasoning_effort": setting.value}
    return {}


def marker_texts(reasoning_format: ReasoningFormat) -> tuple[str, ...]:
    """The texts that mark reasoning in the output of this format."""
    if reasoning_format is ReasoningFormat.THINK_TAGS:
        return (THINK_OPEN, THINK_CLOSE)
    if reasoning_format is ReasoningFormat.HARMONY:
        return HARMONY_MARKERS
    return ()


def starts_in_reasoning(reasoning_format: ReasoningFormat, prompt: str) -> bool:
    """Whether the prompt (its end) already opened the reasoning the output continues."""
    if reasoning_format is ReasoningFormat.THINK_TAGS:
        return prompt.rstrip().endswith(THINK_OPEN)
    if reasoning_format is ReasoningFormat.HARMONY:
        match = _HARMONY_TAIL.search(prompt[-200:])
        return match is not None and match.group(1) == REASONING_CHANNEL
    return False


# --- the streaming parser -----------------------------------------------------------------


@dataclass(frozen=True)
class ParsedText:
    """What a piece of output added to the reasoning and to the answer."""

    reasoning: str = ""
    answer: str = ""


class _Output:
    """Gathers a piece's reasoning and answer; trims the whitespace around each.

    Leading whitespace of both is dropped, and so is trailing whitespace of the reasoning (held
    back until more reasoning follows it).
    """

    def __init__(self) -> None:
        self.reasoning_started = False
        self.answer_started = False
        self._pending_space = ""
        self._reasoning: list[str] = []
        self._answer: list[str] = []

    def reasoning(self, text: str) -> None:
        if not self.reasoning_started:
            text = text.lstrip()
            self.reasoning_started = bool(text)
        text = self._pending_space + text
        body = text.rstrip()
        self._pending_space = text[len(body) :]
        if body:
            self._reasoning.append(body)

    def answer(self, text: str) -> None:
        self._pending_space = ""  # the reasoning's last words are out: its trailing space goes
        if not self.answer_started:
            text = text.lstrip()
            self.answer_started = bool(text)
        if text:
            self._answer.append(text)

    def take(self) -> ParsedText:
        parsed = ParsedText(reasoning="".join(self._reasoning), answer="".join(self._answer))
        self._reasoning.clear()
        self._answer.clear()
        return parsed


def _held_back(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest end of ``text`` that begins one of ``markers`` (not all of it)."""
    longest = max(len(m) for m in markers) - 1
    for size in range(min(longest, len(text)), 0, -1):
        tail = text[-size:]
        if any(m.startswith(tail) for m in markers):
            return size
    return 0


class ReasoningParser:
    """Splits a streamed reply into reasoning and answer, as its format marks them.

    Feed it the output as it comes (:meth:`feed`), then call :meth:`finish` once.
    """

    def __init__(
        self, *, reasoning_format: ReasoningFormat, prompt: str = "", verbatim: bool = False
    ) -> None:
        """Set up the parser for one reply.

        Args:
            reasoning_format: how the output marks its reasoning.
            prompt: the rendered prompt (its end), which may have opened the reasoning.
            verbatim: all of it is answer, as it comes, whitespace included (the
                continuation of a raw text prompt).
        """
        self._format = reasoning_format
        self._verbatim = verbatim
        self._out = _Output()
        self._buffer = ""
        inside = starts_in_reasoning(reasoning_format, prompt)
        # THINK_TAGS: "start" (an opening tag may come), "reasoning", "answer".
        self._state = "reasoning" if inside else "start"
        # HARMONY: the channel of the message being written (None: outside any).
        self._channel: str | None = REASONING_CHANNEL if inside else None
        self._in_header = False
        self._header_channel: list[str] | None = None

    def feed(self, text: str) -> ParsedText:
        """The reasoning and answer text that ``text`` completes."""
        if self._verbatim:
            return ParsedText(answer=text)
        self._buffer += text
        if self._format is ReasoningFormat.THINK_TAGS:
            self._feed_think()
        elif self._format is ReasoningFormat.HARMONY:
            self._feed_harmony()
        else:
            self._out.answer(self._buffer)
            self._buffer = ""
        return self._out.take()

    def finish(self) -> ParsedText:
        """The text still held back (an unfinished tag is text after all)."""
        rest, self._buffer = self._buffer, ""
        if self._format is ReasoningFormat.HARMONY:
            self._harmony_text(rest)
        elif self._state == "reasoning":
            self._out.reasoning(rest)
        else:
            self._out.answer(rest)
        return self._out.take()

    # -- <think>...</think> ------------------------------------------------------------------

    def _feed_think(self) -> None:
        while self._buffer and self._think_step():
            pass

    def _think_step(self) -> bool:
        """Consume what the buffer settles; whether to go on."""
        if self._state == "answer":
            self._out.answer(self._buffer)
            self._buffer = ""
            return False
        if self._state == "start" or not self._out.reasoning_started:
            opened = self._opening_tag()
            if opened is not None:
                return opened
        if self._state == "start":
            self._state = "answer"
            return True
        end = self._buffer.find(THINK_CLOSE)
        if end >= 0:
            self._out.reasoning(self._buffer[:end])
            self._buffer = self._buffer[end + len(THINK_CLOSE) :]
            self._state = "answer"
            return True
        keep = _held_back(self._buffer, (THINK_CLOSE,))
        self._out.reasoning(self._buffer[: len(self._buffer) - keep])
        self._buffer = self._buffer[len(self._buffer) - keep :]
        return False

    def _opening_tag(self) -> bool | None:
        """An opening tag before any text: True, consumed; False, maybe one (wait); None: no."""
        stripped = self._buffer.lstrip()
        if stripped.startswith(THINK_OPEN):
            self._buffer = stripped[len(THINK_OPEN) :]
            self._state = "reasoning"
            return True
        if THINK_OPEN.startswith(stripped):
            return False
        return None

    # -- harmony channels --------------------------------------------------------------------

    def _feed_harmony(self) -> None:
        pattern = _HARMONY_PATTERN
        while True:
            match = pattern.search(self._buffer)
            if match is None:
                keep = _held_back(self._buffer, HARMONY_MARKERS)
                self._harmony_text(self._buffer[: len(self._buffer) - keep])
                self._buffer = self._buffer[len(self._buffer) - keep :]
                return
            self._harmony_text(self._buffer[: match.start()])
            self._buffer = self._buffer[match.end() :]
            self._harmony_marker(match.group())

    def _harmony_marker(self, marker: str) -> None:
        if marker in ("<|start|>", "<|channel|>"):
            self._in_header = True
            self._header_channel = [] if marker == "<|channel|>" else None
        elif marker == "<|constrain|>":
            self._header_channel = None
        elif marker == "<|message|>":
            words = "".join(self._header_channel or ()).split()
            self._channel = words[0] if words else None
            self._in_header = False
            self._header_channel = None
        else:  # the message ended
            self._in_header = False
            self._channel = None

    def _harmony_text(self, text: str) -> None:
        if not text:
            return
        if self._in_header:
            if self._header_channel is not None:
                self._header_channel.append(text)
        elif self._channel == REASONING_CHANNEL:
            self._out.reasoning(text)
        else:
            self._out.answer(text)


_HARMONY_PATTERN = re.compile("|".join(re.escape(m) for m in HARMONY_MARKERS))
