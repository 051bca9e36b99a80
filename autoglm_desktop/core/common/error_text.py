"""Unexpected exceptions told in plain words, for the messages the user reads.

An exception from a library or a model's chat template may have an empty message
(``AssertionError()``) or one only a programmer understands; :func:`describe_exception` gives
its message, made safe by :func:`plain_message`, or a plain description of its kind.
"""

from __future__ import annotations

from autoglm_desktop.core.common.untrusted_text import plain_message

# By class name, so the core needs no import of jinja2 (the engine's templates raise these).
_KIND_DESCRIPTIONS = {
    "TemplateSyntaxError": "the template has a syntax error",
    "UndefinedError": "the template uses something that is not defined",
    "SecurityError": "the template tried something the sandbox forbids",
    "TemplateError": "the template reported an error",
    "AssertionError": "an internal consistency check failed",
    "MemoryError": "there was not enough memory",
    "RecursionError": "something is nested too deeply",
    "ZeroDivisionError": "a division by zero happened",
    "OverflowError": "a number was too large",
    "KeyError": "a required entry is missing",
    "IndexError": "an item it needed is missing",
    "UnicodeError": "some text is not valid UTF-8",
    "TypeError": "a value has the wrong type",
    "ValueError": "a value is not valid",
    "OSError": "the file could not be read",
}


def describe_exception(error: BaseException, *, limit: int = 300) -> str:
    """What ``error`` says, on one line without a final period; a plain description if empty.

    Args:
        error: any exception.
        limit: the most characters of the exception's own message kept.
    """
    message = plain_message(error, limit=limit, one_line=True).rstrip(".")
    kind = _kind_description(type(error))
    # A KeyError's message is only the key's repr: it goes after the description, never alone.
    if isinstance(error, KeyError):
        return f"{kind} ({message})" if message else str(kind)
    if message:
        return message
    return kind or f"an unexpected error happened ({type(error).__name__})"


def _kind_description(error_type: type[BaseException]) -> str | None:
    for cls in error_type.__mro__:
        description = _KIND_DESCRIPTIONS.get(cls.__name__)
        if description is not None:
            return description
    return None


def sentence(lead: str, detail: str) -> str:
    """``lead: detail.`` with a single final period."""
    return f"{lead}: {detail.rstrip('.')}."
