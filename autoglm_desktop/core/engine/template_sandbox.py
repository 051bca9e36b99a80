"""The chat template's sandbox, with its memory bounded: no template can build a huge value.

Jinja2's sandbox keeps a template away from Python's internals, but not from memory: ``{{ 'x' *
10**10 }}``, a string doubled 40 times with ``~``, ``'%99999999999s'|format('x')`` or
``lipsum(n=10**6)`` allocate gigabytes in one step. Here each operation that can make a large
value is checked before it runs and refused when its result would pass a limit: the operators
``*``, ``+``, ``**``, ``%`` and ``~``; calls of string methods (``center``, ``replace``,
``join``, ``format``...); the filters (``center``, ``indent``, ``format``, ``join``,
``batch``, ``tojson``, ``string``...); ``lipsum``; and the text of each ``{{ }}``. What all
operations make adds up against a budget per rendering, and the output is bounded too.

The limits grow with what the template is given (its own text and the messages' text), so a
long conversation renders as before; a refusal raises :class:`TemplateMemoryError`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jinja2
import jinja2.ext
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from llama_cpp.llama_chat_format import ChatFormatterResponse, Jinja2ChatFormatter

# Sizes are in characters (a list counts 8 per item, an integer its bytes).
BASE_VALUE_LIMIT = 64 << 20  # the largest value an operation may make...
BASE_OUTPUT_LIMIT = 64 << 20  # ...the longest output (or macro's, or {% set %} block's)...
BASE_BUDGET = 256 << 20  # ...and all the values a rendering makes together,
GIVEN_FACTOR = 4  # each plus this many times the characters the template is given
GIVEN_BUDGET_FACTOR = 16
ITEM_SIZE = 8  # a list's share of each item
_FORMAT_NUMBERS = re.compile(r"%[#0 +-]*(\d*|\*)(?:\.(\d*|\*))?|\{[^{}]*?:[^{}]*?(\d+)")


class TemplateMemoryError(Exception):
    """The template tried to make a value, or write output, past the sandbox's limits."""


def _shallow_size(value: object) -> int:
    """What making ``value`` cost, not counting the values it holds."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple | dict | set | frozenset):
        return ITEM_SIZE * len(value)
    if isinstance(value, int):
        return value.bit_length() // 8
    return 0


def text_size(value: object, limit: int) -> int:
    """About how many characters ``str(value)`` has (containers: their items' too).

    Counting stops once past ``limit``, so a list that holds one huge string 100,000 times
    costs only a few steps.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, list | tuple | set | frozenset | dict):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item.items() if isinstance(item, dict) else item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1  # a decimal digit holds 3.3 bits
        else:
            total += 16
    return total


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``~`` checked by the environment before it joins."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:  # as Jinja's own: Markup where autoescaping is on
            markup = "context.eval_ctx.volatile"
        else:
            markup = "True" if frame.eval_ctx.autoescape else "False"
        self.write(f"environment.checked_concat({markup}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with the memory limits of this module."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start(given=0)
        self.finalize = self._checked_output
        self.concat = self._checked_join  # type: ignore[method-assign]
        self.globals["lipsum"] = self._lipsum

    def start(self, *, given: int) -> None:
        """Limits for a rendering of a template given ``given`` characters; a full budget."""
        self.value_limit = BASE_VALUE_LIMIT + GIVEN_FACTOR * given
        self.output_limit = BASE_OUTPUT_LIMIT + GIVEN_FACTOR * given
        self.budget_left = BASE_BUDGET + GIVEN_BUDGET_FACTOR * given

    def check_filters(self) -> None:
        """Check every filter's arguments and result (call once the filters are all set)."""
        for name, function in list(self.filters.items()):
            self.filters[name] = self._checked_filter(name, function)

    # -- what the template's code calls ------------------------------------------------

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self._allow(_binop_size(operator, left, right, self.value_limit))
        return self._made(self.binop_table[operator](left, right))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        args = self._check_call(obj, args, kwargs)
        return self._made(super().call(context, obj, *args, **kwargs))

    def checked_concat(self, markup: bool, values: Sequence[Any]) -> str:
        """``a ~ b ~ ...``: refused when the text would pass the value limit."""
        self._allow(sum(text_size(value, self.value_limit) for value in values))
        joined: str = (markup_join if markup else str_join)(values)
        self._made(joined)
        return joined

    # -- checks ------------------------------------------------------------------------

    def _allow(self, size: int) -> None:
        if size > self.value_limit:
            raise TemplateMemoryError(
                f"it tried to make a value of about {size:,} characters (at most "
                f"{self.value_limit:,} are allowed)"
            )

    def _made(self, value: Any) -> Any:
        self.budget_left -= _shallow_size(value)
        if self.budget_left < 0:
            raise TemplateMemoryError("its values together passed the memory it is allowed")
        return value

    def _checked_output(self, value: Any) -> Any:
        if not isinstance(value, str):
            self._allow(text_size(value, self.value_limit))
        return value

    def _checked_join(self, pieces: Iterable[str]) -> str:
        """The output of the template (or of a macro, a block), refused past its limit."""
        kept: list[str] = []
        total = 0
        for piece in pieces:
            total += len(piece)
            if total > self.output_limit:
                raise TemplateMemoryError(
                    f"it wrote more than {self.output_limit:,} characters of output"
                )
            kept.append(piece)
        return self._made("".join(kept))  # type: ignore[no-any-return]

    def _lipsum(self, n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        words = int(n) * int(max)
        self._allow(words * 12)  # a word and its markup
        return self._made(generate_lorem_ipsum(n=n, html=html, min=min, max=max))  # type: ignore[no-any-return]

    def _check_call(
        self, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, ...]:
        """Refuse a string method that would make a huge string; the arguments to call with."""
        method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
        owner = getattr(method, "__self__", None)
        if not isinstance(owner, str):
            return args
        name = getattr(method, "__name__", "")
        if name == "join" and args:
            items = list(args[0])
            self._allow(_joined_size(owner, items, self.value_limit))
            return (items, *args[1:])
        self._allow(_method_size(owner, name, args, kwargs, self.value_limit))
        return args

    def _checked_filter(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        passes_first = getattr(function, "jinja_pass_arg", None) is not None

        @functools.wraps(function)  # keeps jinja_pass_arg: Jinja passes the context the same
        def checked(*args: Any, **kwargs: Any) -> Any:
            skip = 1 if passes_first else 0
            if len(args) > skip:
                value, rest = args[skip], args[skip + 1 :]
                value, size = _filter_size(name, value, rest, kwargs, self.value_limit)
                self._allow(size)
                args = (*args[:skip], value, *rest)
            return self._made(function(*args, **kwargs))

        return checked


def _binop_size(operator: str, left: Any, right: Any, limit: int) -> int:
    """About the size of ``left <operator> right``, found without computing it."""
    if operator == "*":
        if isinstance(left, int) and not isinstance(right, int):
            left, right = right, left
        if isinstance(right, int) and not isinstance(left, int):
            return _shallow_size(left) * max(right, 0)
        if isinstance(left, int) and isinstance(right, int):
            return (left.bit_length() + right.bit_length()) // 8
    elif operator == "+":
        return _shallow_size(left) + _shallow_size(right)
    elif operator == "**" and isinstance(left, int) and isinstance(right, int):
        if right > 0 and abs(left) > 1:
            return right * abs(left).bit_length() // 8
    elif operator == "%" and isinstance(left, str):
        return _formatted_size(left, right, limit)
    return 0


def _formatted_size(template: str, args: Any, limit: int) -> int:
    """About the size of ``template % args`` or ``template.format(*args)``: widths count."""
    numbers = (
        int(group)
        for found in _FORMAT_NUMBERS.finditer(template)
        for group in found.groups()
        if group and group.isdigit()
    )
    values = args if isinstance(args, tuple) else (args,)
    stars = (value for value in values if isinstance(value, int) and "*" in template)
    return len(template) + sum(numbers) + sum(stars) + sum(text_size(v, limit) for v in values)


def _joined_size(separator: str, items: Sequence[Any], limit: int) -> int:
    return len(separator) * max(len(items) - 1, 0) + text_size(list(items), limit)


def _method_size(
    text: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int
) -> int:
    """About the size of ``text.<name>(*args, **kwargs)`` for the string methods that grow."""
    first = args[0] if args else None
    if name in ("center", "ljust", "rjust", "zfill"):
        width = kwargs.get("width", first)
        return max(width, len(text)) if isinstance(width, int) else 0
    if name == "expandtabs":
        size = kwargs.get("tabsize", first if first is not None else 8)
        return len(text) * max(size, 1) if isinstance(size, int) else 0
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], args[1]
        times = text.count(old) if old else len(text) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            times = min(times, args[2])
        return len(text) + times * max(0, text_size(new, limit) - len(old))
    if name in ("format", "format_map"):
        values = (*args, *kwargs.values(), *(first.values() if isinstance(first, Mapping) else ()))
        return _formatted_size(text, tuple(values), limit)
    return 0


def _filter_size(
    name: str, value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int
) -> tuple[Any, int]:
    """About the size of ``value|name(*rest, **kwargs)``, for the filters that can grow a value.

    Returns the value to filter too: an iterable that is measured is made a list first.
    """
    if name in _LISTING_FILTERS and not isinstance(value, str | Mapping):
        value = list(value)
    measure = _FILTER_SIZES.get(name)
    if measure is None:
        return value, 0
    return value, measure(_FilterCall(value, rest, kwargs, limit))


class _FilterCall:
    """A filter's value and arguments, as the size checks read them."""

    def __init__(
        self, value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int
    ) -> None:
        self.value, self.rest, self.kwargs, self.limit = value, rest, kwargs, limit
        self.text = value if isinstance(value, str) else ""

    def argument(self, position: int, name: str, default: Any = None) -> Any:
        """The filter's argument at ``position`` after the value, or named ``name``."""
        if name in self.kwargs:
            return self.kwargs[name]
        return self.rest[position] if len(self.rest) > position else default

    def number(self, position: int, name: str, default: int) -> int:
        found = self.argument(position, name, default)
        if isinstance(found, str):  # indent's width may be a string
            return len(found)
        return found if isinstance(found, int) else default

    def text_size(self) -> int:
        return text_size(self.value, self.limit)


def _wordwrap_size(call: _FilterCall) -> int:
    wrap = call.argument(2, "wrapstring") or "\n"
    width = max(call.number(0, "width", 79), 1)
    return len(call.text) + (len(call.text) // width + call.text.count("\n") + 1) * len(wrap)


def _replace_size(call: _FilterCall) -> int:
    arguments = (call.argument(0, "old"), call.argument(1, "new"), call.argument(2, "count"))
    return _method_size(call.text, "replace", arguments, {}, call.limit)


def _batch_size(call: _FilterCall) -> int:
    filled = call.argument(1, "fill_with") is not None
    return ITEM_SIZE * call.number(0, "linecount", 0) if filled else 0


def _join_size(call: _FilterCall) -> int:
    separator = str(call.argument(0, "d", ""))
    if isinstance(call.value, str):  # its characters
        return len(call.value) * (1 + len(separator))
    return _joined_size(separator, call.value, call.limit)


def _sum_size(call: _FilterCall) -> int:
    items = call.value if isinstance(call.value, list) else []
    return sum(map(_shallow_size, items)) + _shallow_size(call.argument(1, "start", 0))


def _tojson_size(call: _FilterCall) -> int:
    """JSON with an indent of N: up to N more characters for each value.

    llama-cpp-python's tojson takes ensure_ascii first and the indent after: any number or
    string among the arguments may be the indent.
    """
    arguments = (*call.rest, *call.kwargs.values())
    indent = max(
        (len(a) if isinstance(a, str) else a for a in arguments if isinstance(a, int | str)),
        default=0,
    )
    return (2 + indent) * call.text_size()


_LISTING_FILTERS = frozenset({"join", "sum", "list", "unique", "sort", "reverse", "batch", "slice"})
_FILTER_SIZES: dict[str, Callable[[_FilterCall], int]] = {
    "center": lambda call: max(call.number(0, "width", 80), len(call.text)),
    "indent": lambda call: (
        len(call.text) + (call.text.count("\n") + 1) * call.number(0, "width", 4)
    ),
    "wordwrap": _wordwrap_size,
    "replace": _replace_size,
    "format": lambda call: _formatted_size(
        str(call.value), (*call.rest, *call.kwargs.values()), call.limit
    ),
    "batch": _batch_size,
    "slice": lambda call: 8 * ITEM_SIZE * call.number(0, "slices", 0),
    "join": _join_size,
    "sum": _sum_size,
    "list": lambda call: ITEM_SIZE * len(call.value),
    "string": _FilterCall.text_size,
    "pprint": _FilterCall.text_size,
    "tojson": _tojson_size,
    "e": lambda call: 6 * call.text_size(),  # &#34; for "
    "escape": lambda call: 6 * call.text_size(),
    "forceescape": lambda call: 6 * call.text_size(),
    "urlencode": lambda call: 9 * call.text_size(),  # %E4 for each byte
    "urlize": lambda call: 16 * call.text_size(),  # a link's markup for a short address
}


class BoundedChatFormatter(Jinja2ChatFormatter):
    """llama-cpp-python's chat formatter, rendering in the bounded sandbox."""

    def __init__(
        self,
        template: str,
        eos_token: str,
        bos_token: str,
        add_generation_prompt: bool = True,
        stop_token_ids: list[int] | None = None,
    ) -> None:
        # As Jinja2ChatFormatter.__init__, whose environment is built inside it: compiling there
        # would already run the template's constant expressions, unbounded.
        self.template = template
        self.eos_token = eos_token
        self.bos_token = bos_token
        self.add_generation_prompt = add_generation_prompt
        self.stop_token_ids = set(stop_token_ids) if stop_token_ids is not None else None
        sandbox = BoundedSandbox(
            loader=jinja2.BaseLoader(),
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=[Jinja2ChatFormatter.IgnoreGenerationTags, jinja2.ext.loopcontrols],
        )
        sandbox.filters["tojson"] = self.tojson
        sandbox.check_filters()
        self._sandbox = sandbox
        self._environment = sandbox.from_string(template)

    def __call__(self, *, messages: Any, **kwargs: Any) -> ChatFormatterResponse:
        given = len(self.template) + text_size([messages, kwargs], limit=1 << 62)
        self._sandbox.start(given=given)
        return super().__call__(messages=messages, **kwargs)
