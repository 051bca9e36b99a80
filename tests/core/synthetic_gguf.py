"""The synthetic GGUF writer, which lives in the app (it measures this PC's speed with it)."""

from autoglm_desktop.core.models.synthetic_gguf import (
    ARCHITECTURES,
    CHATML_TEMPLATE,
    MIN_VOCAB_SIZE,
    QT,
    WEIGHT_TYPES,
    SyntheticModel,
    TensorSpec,
    _data,
    _write_hyperparameters,
    _write_vocabulary,
    write_synthetic_gguf,
)

# Chat template code that never ends in practice, by the user message that sets it off.
RUNAWAY_TEMPLATES = {
    # 10^10 iterations of template code.
    "loop": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    # 2^60 calls.
    "macro": (
        "{% macro twice(n) %}{% if n > 0 %}{{ twice(n - 1) }}{{ twice(n - 1) }}{% endif %}"
        "{% endmacro %}{{ twice(60) }}"
    ),
    # lipsum a paragraph at a time, 10^10 times (the sandbox refuses one huge lipsum at once).
    "lipsum": (
        "{% for i in range(99999) %}{% for j in range(99999) %}{% set x = lipsum(n=1) %}"
        "{% endfor %}{% endfor %}"
    ),
    # One call into C (a power of 30 million bits, about 40 s): Python cannot cut it short.
    "power": "{% set x = 7 ** (messages|length * 30000000) %}",
    # The same, again and again, for hours (one far larger power is refused for its memory).
    "forever": (
        "{% for i in range(99999) %}{% set x = 7 ** (messages|length * 30000000) %}{% endfor %}"
    ),
}


def hostile_chat_template() -> str:
    """ChatML, except that a last message equal to a key of ``RUNAWAY_TEMPLATES`` runs it.

    The message count in the powers keeps Jinja from computing them when it compiles.
    """
    triggers = "".join(
        f"{{% if messages[-1]['content'] == '{name}' %}}{body}{{% endif %}}"
        for name, body in RUNAWAY_TEMPLATES.items()
    )
    return triggers + CHATML_TEMPLATE


__all__ = [
    "ARCHITECTURES",
    "CHATML_TEMPLATE",
    "MIN_VOCAB_SIZE",
    "QT",
    "RUNAWAY_TEMPLATES",
    "WEIGHT_TYPES",
    "SyntheticModel",
    "TensorSpec",
    "_data",  # the helpers sparse_gguf.py and test_remote_gguf.py build files with
    "_write_hyperparameters",
    "_write_vocabulary",
    "hostile_chat_template",
    "write_synthetic_gguf",
]
