"""Reasoning apart from the answer: the streaming parser and what chat templates declare.

The parser is fed real output shapes split at every possible point (and at random sets of
points): where the pieces are cut never changes what lands in the reasoning and in the answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from autoglm_desktop.core.common.types import (
    ReasoningFormat,
    ThinkControl,
    Thinking,
)
from autoglm_desktop.core.engine.reasoning import (
    ReasoningParser,
    analyse_template,
    starts_in_reasoning,
    template_variables,
)

THINK = ReasoningFormat.THINK_TAGS
HARMONY = ReasoningFormat.HARMONY

# Real shapes of output, as the models stream them (the tags as llama.cpp detokenizes them).
QWEN3 = "<think>\nThe user greets me. I should greet back.\n</think>\n\nHello! How can I help?"
GLM45 = "\n<think>The user greets me. I should greet back.</think>\nHello! How can I help?"
R1_DISTILL = "Okay, 2 + 2 is 4 </thin... no, it is 4.\n</think>\n\nThe answer is **4**."
GPT_OSS = (
    "<|channel|>analysis<|message|>User asks for 2+2. Answer: 4.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4."
)
# llama.cpp renders gpt-oss's <|end|> as nothing (a control token): the next header ends it.
GPT_OSS_NO_END = (
    "<|channel|>analysis<|message|>Simple question.<|start|>assistant<|channel|>final"
    "<|message|>Yes."
)


def parse(
    pieces: Sequence[str], reasoning_format: ReasoningFormat, prompt: str = ""
) -> tuple[str, str]:
    parser = ReasoningParser(reasoning_format=reasoning_format, prompt=prompt)
    reasoning: list[str] = []
    answer: list[str] = []
    for piece in pieces:
        parsed = parser.feed(piece)
        reasoning.append(parsed.reasoning)
        answer.append(parsed.answer)
    parsed = parser.finish()
    return "".join([*reasoning, parsed.reasoning]), "".join([*answer, parsed.answer])


def every_split(text: str) -> list[list[str]]:
    """The text cut once at each point, and cut into single characters."""
    return [[text[:i], text[i:]] for i in range(len(text) + 1)] + [list(text)]


GREETING = ("The user greets me. I should greet back.", "Hello! How can I help?")
R1_PARTS = ("Okay, 2 + 2 is 4 </thin... no, it is 4.", "The answer is **4**.")
QWEN3_OFF = "<|im_start|>assistant\n<think>\n\n</think>\n\n"
UNFINISHED = "Still thinking when it stopped </thi"
HARMONY_REST = "more thoughts<|end|><|start|>assistant<|channel|>final<|message|>Done"
HARMONY_OPENED = "<|start|>assistant<|channel|>analysis<|message|>"


@pytest.mark.parametrize(
    ("output", "reasoning_format", "prompt", "expected"),
    [
        (QWEN3, THINK, "<|im_start|>assistant\n", GREETING),
        # GLM-4.5 starts its reply with a newline, then the tag.
        (GLM45, THINK, "[gMASK]<sop><|user|>\nHi<|assistant|>", GREETING),
        (GLM45, THINK, "<|assistant|>\n<think>", GREETING),  # GLM-Z1 opens it itself
        (R1_DISTILL, THINK, "<｜Assistant｜><think>\n", R1_PARTS),
        # The template opened <think> and the model writes it again anyway.
        (QWEN3, THINK, "<|assistant|>\n<think>", GREETING),
        ("Hi <think>there</think>", THINK, "", ("", "Hi <think>there</think>")),
        ("Plain answer.", THINK, QWEN3_OFF, ("", "Plain answer.")),
        (UNFINISHED, THINK, "<think>\n", (UNFINISHED, "")),
        (GPT_OSS, HARMONY, "<|start|>assistant", ("User asks for 2+2. Answer: 4.", "2 + 2 = 4.")),
        (GPT_OSS_NO_END, HARMONY, "<|start|>assistant", ("Simple question.", "Yes.")),
        (HARMONY_REST, HARMONY, HARMONY_OPENED, ("more thoughts", "Done")),
        ("<think>x</think>y", ReasoningFormat.NONE, "", ("", "<think>x</think>y")),
    ],
)
def test_real_outputs_split_at_every_point(
    output: str, reasoning_format: ReasoningFormat, prompt: str, expected: tuple[str, str]
) -> None:
    for pieces in every_split(output):
        assert parse(pieces, reasoning_format, prompt) == expected, pieces


# Texts rich in the characters of the tags, so partial tags meet every split.
_ALPHABET = st.sampled_from([*list("<>/|thinkcaels ma\n_x"), "<think>", "</think>", "<|end|>"])
_TEXT = st.lists(_ALPHABET, max_size=30).map("".join)


def _cuts(text: str, points: list[int]) -> list[str]:
    bounds = sorted({0, len(text), *(p % (len(text) + 1) for p in points)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@given(
    reasoning=_TEXT.filter(lambda t: "</think>" not in t and not t.lstrip().startswith("<think>")),
    answer=_TEXT,
    opened_by_prompt=st.booleans(),
    points=st.lists(st.integers(min_value=0), max_size=12),
)
def test_think_tags_any_text_any_split(
    reasoning: str, answer: str, opened_by_prompt: bool, points: list[int]
) -> None:
    output = ("" if opened_by_prompt else "<think>") + reasoning + "</think>" + answer
    prompt = "<|im_start|>assistant\n" + ("<think>\n" if opened_by_prompt else "")
    expected = (reasoning.strip(), answer.lstrip())
    assert parse([output], THINK, prompt) == expected
    assert parse(_cuts(output, points), THINK, prompt) == expected
    for pieces in every_split(output):
        assert parse(pieces, THINK, prompt) == expected


_HARMONY_TEXT = st.lists(
    st.sampled_from([*list("<>|a nlysis\n"), "<|", "|>", "<|end", "message"]), max_size=25
).map("".join)


@given(
    analysis=_HARMONY_TEXT.filter(lambda t: "<|" not in t),
    final=_HARMONY_TEXT.filter(lambda t: "<|" not in t),
    with_end=st.booleans(),
    points=st.lists(st.integers(min_value=0), max_size=12),
)
def test_harmony_any_text_any_split(
    analysis: str, final: str, with_end: bool, points: list[int]
) -> None:
    output = (
        f"<|channel|>analysis<|message|>{analysis}{'<|end|>' if with_end else ''}"
        f"<|start|>assistant<|channel|>final<|message|>{final}"
    )
    expected = (analysis.strip(), final.lstrip())
    assert parse([output], HARMONY) == expected
    assert parse(_cuts(output, points), HARMONY) == expected
    for pieces in every_split(output):
        assert parse(pieces, HARMONY) == expected


@given(text=_TEXT, points=st.lists(st.integers(min_value=0), max_size=12))
def test_any_output_parses_the_same_however_it_is_cut(text: str, points: list[int]) -> None:
    """Even output that breaks the format's rules: the cut points never matter."""
    for reasoning_format in ReasoningFormat:
        for prompt in ("", "<think>\n", "<|channel|>analysis<|message|>"):
            whole = parse([text], reasoning_format, prompt)
            assert parse(_cuts(text, points), reasoning_format, prompt) == whole
            assert parse(list(text), reasoning_format, prompt) == whole


# --- what templates declare ------------------------------------------------------------------

# Trimmed from the templates the publishers ship, keeping what bears on reasoning.
QWEN3_TEMPLATE = (
    "{%- for message in messages %}{%- if message.role == 'assistant' %}"
    "{%- set content = message.content %}{%- if message.reasoning_content is string %}"
    "{%- set reasoning_content = message.reasoning_content %}{%- endif %}"
    "{{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
)
R1_DISTILL_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{'<｜User｜>' + message['content']}}{% elif message['role'] == 'assistant' %}"
    "{% set content = message['content'] %}{% if '</think>' in content %}"
    "{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
)
GPT_OSS_TEMPLATE = (
    "{%- if not reasoning_effort is defined %}{%- set reasoning_effort = 'medium' %}{%- endif %}"
    "<|start|>system<|message|>Reasoning: {{ reasoning_effort }}<|end|>"
    "{%- for message in messages %}{%- if message.role == 'user' %}"
    "<|start|>user<|message|>{{ message.content }}<|end|>{%- else %}"
    "<|start|>assistant<|channel|>final<|message|>{{ message.content }}<|end|>"
    "{%- endif %}{%- endfor %}{%- if add_generation_prompt %}<|start|>assistant{%- endif %}"
)
OFF_BY_DEFAULT_TEMPLATE = (
    "{%- for message in messages %}{{ message.role }}: {{ message.content }}\n{%- endfor %}"
    "{%- if add_generation_prompt %}assistant: {%- if enable_thinking is defined and "
    "enable_thinking %}<think>{%- endif %}{%- endif %}"
)
SUFFIX_TEMPLATE = (
    "{%- for message in messages %}{{ message.role }}: {{ message.content }}\n{%- endfor %}"
    "{# '/no_think' in a user message skips the <think> block #}assistant: "
)
GLM45_TEMPLATE = (
    "[gMASK]<sop>{%- for m in messages %}{%- if m.role == 'user' %}<|user|>\n{{ m.content }}"
    "{{- '/nothink' if (enable_thinking is defined and not enable_thinking and not "
    "m.content.endswith('/nothink')) else '' -}}{%- elif m.role == 'assistant' %}<|assistant|>"
    "{%- set reasoning_content = '' %}{%- if m.reasoning_content is string %}"
    "{%- set reasoning_content = m.reasoning_content %}{%- endif %}"
    "{{ '\n<think></think>' }}\n{{ m.content }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|assistant|>{{- '\n<think></think>' if (enable_thinking "
    "is defined and not enable_thinking) else '' -}}{%- endif %}"
)
GLM_Z1_TEMPLATE = (
    "[gMASK]<sop>{%- for m in messages %}<|{{ m.role }}|>\n{{ m.content }}"
    "{%- if m.role == 'assistant' and '</think>' in m.content %}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|assistant|>\n<think>{%- endif %}"
)
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def renderer(template: str) -> Jinja2ChatFormatter:
    return Jinja2ChatFormatter(template=template, eos_token="</s>", bos_token="<s>")


def analyse(template: str):  # type: ignore[no-untyped-def]
    formatter = renderer(template)
    return analyse_template(
        template=template,
        render=lambda messages, **variables: formatter(messages=messages, **variables).prompt,
    )


@pytest.mark.parametrize(
    ("template", "reasoning_format", "control", "default", "history"),
    [
        (QWEN3_TEMPLATE, THINK, ThinkControl.ENABLE_THINKING, Thinking.ON, "reasoning_content"),
        (R1_DISTILL_TEMPLATE, THINK, ThinkControl.NONE, Thinking.DEFAULT, ""),
        (GPT_OSS_TEMPLATE, HARMONY, ThinkControl.REASONING_EFFORT, Thinking.MEDIUM, ""),
        (OFF_BY_DEFAULT_TEMPLATE, THINK, ThinkControl.ENABLE_THINKING, Thinking.OFF, ""),
        (SUFFIX_TEMPLATE, THINK, ThinkControl.NO_THINK_SUFFIX, Thinking.ON, ""),
        (GLM45_TEMPLATE, THINK, ThinkControl.ENABLE_THINKING, Thinking.ON, "reasoning_content"),
        (GLM_Z1_TEMPLATE, THINK, ThinkControl.NONE, Thinking.DEFAULT, ""),
        (CHATML, ReasoningFormat.NONE, ThinkControl.NONE, Thinking.DEFAULT, ""),
    ],
)
def test_the_template_declares_format_switch_and_default(
    template: str,
    reasoning_format: ReasoningFormat,
    control: ThinkControl,
    default: Thinking,
    history: str,
) -> None:
    support = analyse(template)
    assert support.format is reasoning_format
    assert support.control is control
    assert support.default is default
    assert support.history_field == history
    if control is ThinkControl.NO_THINK_SUFFIX:
        assert support.no_think_suffix == "/no_think"


def test_the_switch_changes_the_prompt_as_the_template_says() -> None:
    formatter = renderer(QWEN3_TEMPLATE)
    messages = [{"role": "user", "content": "Hi"}]
    off = formatter(
        messages=messages,  # type: ignore[arg-type]
        **template_variables(ThinkControl.ENABLE_THINKING, Thinking.OFF),
    ).prompt
    on = formatter(
        messages=messages,  # type: ignore[arg-type]
        **template_variables(ThinkControl.ENABLE_THINKING, Thinking.ON),
    ).prompt
    assert off.endswith("<think>\n\n</think>\n\n") and not on.endswith("</think>\n\n")
    assert not starts_in_reasoning(THINK, off)
    effort = template_variables(ThinkControl.REASONING_EFFORT, Thinking.HIGH)
    gpt = renderer(GPT_OSS_TEMPLATE)(messages=messages, **effort).prompt  # type: ignore[arg-type]
    assert "Reasoning: high" in gpt
    assert template_variables(ThinkControl.ENABLE_THINKING, Thinking.DEFAULT) == {}


def test_a_template_that_fails_on_probing_gets_the_usual_default() -> None:
    def failing(_messages: object, **_variables: object) -> str:
        raise ValueError("no")

    support = analyse_template(template=QWEN3_TEMPLATE, render=failing)
    assert support.default is Thinking.ON
    assert support.resolve(Thinking.DEFAULT) is Thinking.ON
    assert support.resolve(Thinking.HIGH) is Thinking.ON  # an effort means nothing here
    assert support.resolve(Thinking.OFF) is Thinking.OFF
