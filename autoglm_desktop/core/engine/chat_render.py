"""Rendering a chat template with the messages' own text kept apart from the template's.

Only a template's own markup (``<|im_start|>``, ``<|eot_id|>``...) may become special
tokens: a message that contains ``<|im_end|>`` must reach the model as those characters, not
as the end of its turn. So the template is rendered with each message's text replaced by a
placeholder that carries a random nonce (no message can contain it: a nonce found in one is
drawn again), and everything outside the placeholders is the template's. The messages' texts
then go back in place as the template wrote them: templates often trim a message (Llama 3,
Gemma), so the prompt rendered with the real texts tells which of a few such forms each took.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autoglm_desktop.core.common.errors import EngineError

# A message as chat templates see it: {"role": ..., "content": ...}, maybe "reasoning_content".
Message = dict[str, str]
# The fields of a message that hold its text (the rest are the template's: the role).
TEXT_FIELDS = ("content", "reasoning_content")
# Renders messages with the model's chat template.
Render = Callable[[list[Message]], str]

NONCE_ATTEMPTS = 8
# The forms a template may give a message's text, most faithful first.
FORMS: tuple[Callable[[str], str], ...] = (str, str.strip, str.lstrip, str.rstrip)


@dataclass(frozen=True)
class SplitPrompt:
    """A rendered prompt as the template's text and the messages' text, alternating.

    ``parts[0]``, ``parts[2]``... are the template's own; ``parts[1]``, ``parts[3]``... are
    messages' texts (a template may leave a message out, or write one twice).
    """

    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def template_parts(self) -> tuple[str, ...]:
        return self.parts[0::2]

    @property
    def message_parts(self) -> tuple[str, ...]:
        return self.parts[1::2]


def render_apart(render: Render, messages: Sequence[Message]) -> SplitPrompt:
    """Render ``messages`` with the texts of the messages apart from the template's text.

    Raises:
        EngineError: when no placeholder could be found that the output lacks (never seen).
    """
    slots_of = [(i, name) for i, m in enumerate(messages) for name in TEXT_FIELDS if m.get(name)]
    contents = [messages[i][name] for i, name in slots_of]
    for _ in range(NONCE_ATTEMPTS):
        nonce = secrets.token_hex(8)
        if any(nonce in text for text in (*contents, *(m["role"] for m in messages))):
            continue
        masked = [dict(m) for m in messages]
        for index, (i, name) in enumerate(slots_of):
            masked[i][name] = _placeholder(nonce, index)
        slot = re.escape(_placeholder(nonce, "@")).replace("@", r"(\d+)")
        pieces = re.split(slot, render(masked))
        template = pieces[0::2]
        if any(nonce in text for text in template):
            continue
        slots = [contents[int(index)] for index in pieces[1::2]]
        texts = _as_rendered(render(list(messages)), template, slots)
        parts = [template[0]]
        for text, after in zip(texts, template[1:], strict=True):
            parts += [text, after]
        return SplitPrompt(parts=tuple(parts))
    raise EngineError("The chat template could not be rendered with the messages kept apart.")


def _placeholder(nonce: str, index: object) -> str:
    return f"[[message-{nonce}-{index}]]"


def _as_rendered(real: str, template: Sequence[str], contents: Sequence[str]) -> list[str]:
    """Each slot's text in the form the template gave it in ``real``.

    Past the first slot whose form is not found, the texts stay as they are.
    """
    texts: list[str] = []
    pos = len(template[0]) if real.startswith(template[0]) else -1
    for content, after in zip(contents, template[1:], strict=True):
        form = _form_at(real, pos, content, after) if pos >= 0 else None
        if form is None:
            pos = -1
            texts.append(content)
        else:
            texts.append(form)
            pos += len(form) + len(after)
    return texts


def _form_at(real: str, pos: int, content: str, after: str) -> str | None:
    for form in dict.fromkeys(f(content) for f in FORMS):
        if real.startswith(form, pos) and real.startswith(after, pos + len(form)):
            return form
    return None
