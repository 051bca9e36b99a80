"""Malicious chat templates through the real engine: nothing read, written or run; no hang.

One synthetic model carries every attack in its chat template; the last user message picks
the attack (the template is ChatML otherwise, so the model loads normally). The engine is a
real llama.cpp process limited to 4 GiB of address space, with a one-second template limit.
A canary file must stay unread (its secret is never in an error or a reply; its access time
does not move, where the file system keeps access times) and unchanged, and no command may
run (a marker file must not appear). Every attack must end with the reply or a typed error,
and the engine must answer the next message.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from core.synthetic_gguf import CHATML_TEMPLATE, SyntheticModel, write_synthetic_gguf
from gguf_corpus import LOOPING_TEMPLATE, VT, base_model, enc_str
from hostile_runs import LimitedEngineClient, SharedEngineClient, has_terminal_controls

from autoglm_desktop.core.common.errors import (
    AutoGLMError,
    ChatTemplateMemoryError,
    ChatTemplateTimeoutError,
    EngineError,
    EngineHungError,
    ModelLoadError,
    ModelLoadHungError,
    PromptTooLongError,
)
from autoglm_desktop.core.common.types import ChatTurn, LoadPlan, Role, SamplingSettings
from autoglm_desktop.core.engine import EngineClient, GenerationFinished, ModelLoaded, TokenChunk
from autoglm_desktop.core.engine.client import EngineDeadlines
from autoglm_desktop.core.engine.protocol import GenerateRequest, ReplyOptions
from autoglm_desktop.core.engine.runtime import LlamaRuntime

pytestmark = pytest.mark.timeout(120)

SHORT = SamplingSettings(temperature=0.0, seed=1, max_tokens=2)
# ``N`` is 1 at run time; multiplying by it keeps Jinja from computing a bomb when it compiles.
N = "(messages|length)"
# Attacks as template code; CANARY and MARKER become string literals of the paths.
ATTACKS: dict[str, str] = {
    # The classic escapes through Python's object graph.
    "str-mro-subclasses": "{{ raise_exception(''.__class__.__mro__[1].__subclasses__()|string) }}",
    "tuple-bases-subclasses": "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "int-base-subclasses": "{{ (1).__class__.__base__.__subclasses__() }}",
    "subclasses-popen": (
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}"
        "{% if c.__name__ == 'Popen' %}{{ c(['touch', MARKER]) }}{% endif %}{% endfor %}"
    ),
    "getitem-dunder": "{{ ''['__class__']['__mro__'][1]['__subclasses__']() }}",
    # Jinja's own globals, and the functions llama-cpp-python adds.
    "cycler-globals-popen": "{{ cycler.__init__.__globals__.os.popen('touch ' ~ MARKER).read() }}",
    "joiner-globals-system": "{{ joiner.__init__.__globals__.os.system('touch ' ~ MARKER) }}",
    "namespace-builtins-open": (
        "{{ raise_exception(namespace.__init__.__globals__.__builtins__.open(CANARY).read()) }}"
    ),
    "lipsum-globals-os": (
        "{{ raise_exception(lipsum.__globals__['os'].popen('cat ' ~ CANARY).read()) }}"
    ),
    "lipsum-import": (
        "{{ lipsum.__globals__.__builtins__['__import__']('os').system('touch ' ~ MARKER) }}"
    ),
    "range-self": "{{ raise_exception(range.__self__|string) }}",
    "raise-exception-globals": "{{ raise_exception.__globals__['os'].system('touch ' ~ MARKER) }}",
    "raise-exception-closure": "{{ raise_exception.__closure__ }}",
    "strftime-now-globals": "{{ strftime_now.__globals__ }}",
    "cycler-via-getitem": "{{ cycler['__init__']['__globals__']['os'] }}",
    # The template's own context.
    "self-template-reference-context": (
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os"
        ".popen('touch ' ~ MARKER) }}"
    ),
    "self-context-environment": "{{ self._TemplateReference__context.environment.globals }}",
    "self-dict": "{{ self.__dict__ }}",
    "loader-get-source": (
        "{{ raise_exception(self._TemplateReference__context.environment.loader"
        ".get_source(self._TemplateReference__context.environment, CANARY)|string) }}"
    ),
    "loop-internals": "{% for i in [1] %}{{ loop.__class__.__init__.__globals__ }}{% endfor %}",
    "macro-internals": "{% macro m() %}{% endmacro %}{{ m._func.__globals__ }}",
    # Filters and string formatting that reach attributes indirectly.
    "attr-filter": "{{ ''|attr('__class__')|attr('__mro__') }}",
    "attr-filter-escaped-underscores": (
        "{{ (''|attr('\\x5f\\x5fclass\\x5f\\x5f')|attr('\\x5f\\x5fbase\\x5f\\x5f')"
        "|attr('\\x5f\\x5fsubclasses\\x5f\\x5f'))() }}"
    ),
    "str-format-attribute": "{{ raise_exception('{0.__class__.__mro__}'.format('')) }}",
    "str-format-globals": "{{ raise_exception('{0.__init__.__globals__}'.format(cycler)) }}",
    "str-format-map": "{{ raise_exception('{x.__class__.__base__}'.format_map({'x': ''})) }}",
    "format-stored-then-called": (  # CVE-2024-56326: an indirect reference to str.format
        "{% set f = '{0.__init__.__globals__[os]}'.format %}{{ raise_exception(f(cycler)) }}"
    ),
    "attr-format": (  # CVE-2025-27516: |attr('format') past the sandbox's format check
        "{{ raise_exception(('{0.__init__.__globals__}'|attr('format'))(cycler)) }}"
    ),
    "percent-format": "{{ raise_exception('%s'|format(cycler.__init__.__globals__)) }}",
    "map-attribute": "{{ [''] | map(attribute='__class__') | list }}",
    "sort-attribute": "{{ messages | sort(attribute='__class__.__init__.__globals__') | list }}",
    "selectattr": "{{ messages | selectattr('__class__.__base__') | list }}",
    # Files through the template language itself.
    "include-canary": "{% include CANARY %}",
    "import-canary": "{% import CANARY as x %}{{ x }}",
    "from-import-canary": "{% from CANARY import x %}{{ x }}",
    "extends-canary": "{% extends CANARY %}",
    "write-canary": (
        "{{ namespace.__init__.__globals__.__builtins__.open(CANARY, 'w').write('pwned') }}"
    ),
    # Changing what the engine holds.
    "messages-append": "{{ messages.append({'role': 'system', 'content': 'pwned'}) }}",
    "messages-pop": "{{ messages.pop() }}",
    "message-update": "{{ messages[0].update({'role': 'system'}) }}",
    "namespace-dunder": "{% set ns = namespace() %}{% set ns.__class__ = 1 %}{{ ns }}",
    # Resource bombs that must end with an error (recursion, conversion limit); the memory
    # bombs are in MEMORY_BOMBS.
    "recursion": "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}",
    "int-to-string-limit": f"{{{{ (10 ** ({N} * 100000))|string }}}}",
    "huge-output-10-mb": f"{{{{ 'x' * ({N} * 10000000) }}}}",
    # Hostile error messages.
    "raise-huge-message": f"{{{{ raise_exception('x' * ({N} * 50000000)) }}}}",
    "raise-terminal-escapes": "{{ raise_exception('\\x1b]0;pwned\\x07\\x1b[2J<img src=x>') }}",
}
# A string of a million characters, made at run time.
MILLION = f"{{% set s = 'x' * ({N} * 1000000) %}}"
# Templates that try to make a value (or output) of gigabytes: each must end at once with a
# ChatTemplateMemoryError, the engine unharmed (no memory limit needed: the sandbox refuses).
MEMORY_BOMBS: dict[str, str] = {
    "string-times": f"{{{{ ('x' * ({N} * 10 ** 10))|length }}}}",
    "constant-string-times": "{{ ('x' * 10 ** 10)|length }}",  # not computed when it compiles
    "list-times": f"{{{{ ([0] * ({N} * 10 ** 10))|length }}}}",
    "string-doubling": (
        "{% set ns = namespace(s='x') %}"
        "{% for i in range(48) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
    ),
    "string-plus-doubling": (
        "{% set ns = namespace(s='x') %}"
        "{% for i in range(48) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}"
    ),
    "list-doubling": (
        "{% set ns = namespace(l=[0]) %}"
        "{% for i in range(48) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}"
    ),
    "power-of-two": f"{{{{ (2 ** ({N} * 10 ** 11))|string|length }}}}",
    "format-width": f"{{{{ ('%' ~ ({N} * 10 ** 10) ~ 's')|format('x') }}}}",
    "percent-width": f"{{{{ ('%' ~ ({N} * 10 ** 10) ~ 's') % 'x' }}}}",
    "str-format-width": f"{{{{ ('{{:>' ~ ({N} * 10 ** 10) ~ '}}').format('x') }}}}",
    "center-method": f"{{{{ 'x'.center({N} * 10 ** 10)|length }}}}",
    "center-filter": f"{{{{ ('x'|center({N} * 10 ** 10))|length }}}}",
    "zfill": f"{{{{ 'x'.zfill({N} * 10 ** 10)|length }}}}",
    "expandtabs": MILLION + f"{{{{ s.replace('x', '\\t').expandtabs({N} * 100000)|length }}}}",
    "replace-growth": MILLION + "{{ s.replace('x', 'y' * 100000)|length }}",
    "replace-filter": MILLION + "{{ (s|replace('x', 'y' * 100000))|length }}",
    "join-filter": MILLION + "{{ ([s] * 100000)|join|length }}",
    "join-method": MILLION + "{{ s.join(['a'] * 100000)|length }}",
    "string-of-repeats": MILLION + "{{ ([s] * 100000)|string|length }}",
    "output-of-repeats": MILLION + "{{ [s] * 100000 }}",
    "concat-of-repeats": MILLION + "{{ ([s] * 100000) ~ 'x' }}",
    "indent": f"{{{{ ('\\n' * ({N} * 1000000))|indent({N} * 100000)|length }}}}",
    "wordwrap": MILLION + "{{ s|wordwrap(1, true, 'y' * 100000)|length }}",
    "batch-fill": f"{{{{ [1]|batch({N} * 10 ** 10, 0)|list|length }}}}",
    "tojson-indent": f"{{{{ messages|tojson(indent={N} * 10 ** 9)|length }}}}",
    "sum-of-lists": f"{{{{ ([[0] * 100000] * ({N} * 100000))|sum(start=[])|length }}}}",
    "lipsum-huge": f"{{{{ lipsum(n={N} * 10 ** 6)|length }}}}",
    # Pieces of 10 MB: the limits are reached within a few steps, long before the time limit.
    "output-loop": "{% for i in range(100000) %}{{ 'x' * 10000000 }}{% endfor %}",
    "macro-output": (  # one string of 30 MB, written 100,000 times by a macro
        f"{{% set s = 'x' * ({N} * 30000000) %}}"
        "{% macro m() %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endmacro %}"
        "{{ m()|length }}"
    ),
    "many-values": (  # each value small, all of them together gigabytes
        "{% for i in range(100000) %}{% set x = 'x' * (i + 10000000) %}{% endfor %}"
    ),
}
# Templates that never end: the engine's one-second limit (or Stop) must end each.
RUNAWAYS: dict[str, str] = {
    "nested-range": (
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    ),
    "exponential-macro": (
        "{% macro twice(n) %}{% if n > 0 %}{{ twice(n - 1) }}{{ twice(n - 1) }}{% endif %}"
        "{% endmacro %}{{ twice(60) }}"
    ),
    "lipsum": (  # lipsum made a paragraph at a time: the memory it takes stays small
        "{% for i in range(99999) %}{% for j in range(99999) %}{% set x = lipsum(n=1) %}"
        "{% endfor %}{% endfor %}"
    ),
}
# One call into C that runs for minutes (a power of 84 million bits): only the client's kill
# ends it.
C_LEVEL = {"power": f"{{% set x = 7 ** ({N} * 30000000) %}}"}
# Error texts are cut to a bounded length and carry no control characters.
MAX_ERROR_CHARS = 10_000


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("canary")
    secret = secrets.token_hex(16)
    path = folder / "canary.txt"
    path.write_text(secret)
    os.utime(path, (0, time.time()))  # atime long before mtime: any read would move it
    return path, secret


def attack_template(canary: Path, marker: Path) -> str:
    every = {**ATTACKS, **MEMORY_BOMBS, **RUNAWAYS, **C_LEVEL}
    triggers = "".join(
        f"{{% if messages[-1]['content'] == '{name}' %}}{body}{{% endif %}}"
        for name, body in every.items()
    )
    code = triggers.replace("CANARY", repr(str(canary))).replace("MARKER", repr(str(marker)))
    return code + CHATML_TEMPLATE


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file that only a command run by a template would create."""
    return tmp_path_factory.mktemp("marker") / "MARKER"


@pytest.fixture(scope="module")
def attack_engine(
    tmp_path_factory: pytest.TempPathFactory, canary: tuple[Path, str], marker: Path
) -> Iterator[EngineClient]:
    folder = tmp_path_factory.mktemp("attacks")
    template = attack_template(canary[0], marker)
    model = write_synthetic_gguf(folder / "attacks.gguf", SyntheticModel(chat_template=template))
    client = LimitedEngineClient(
        deadlines=EngineDeadlines(template_limit_s=1.0, template_s=5.0, stop_grace_s=2.0),
        kv_cache_dir=folder / "kv",
        log_path=folder / "engine.log",
    )
    try:
        events = list(client.load(LoadPlan(model_path=model, n_ctx=256)))
        assert isinstance(events[-1], ModelLoaded)
        yield client
    finally:
        client.shutdown()


def say(client: EngineClient, text: str) -> tuple[str, AutoGLMError | None]:
    """The reply's text, or the typed error the request ended with."""
    reply = []
    try:
        for event in client.generate(turns=[ChatTurn(Role.USER, text)], sampling=SHORT):
            if isinstance(event, TokenChunk):
                reply.append(event.text)
            elif isinstance(event, GenerationFinished):
                return "".join(reply), None
    except AutoGLMError as error:
        return "".join(reply), error
    raise AssertionError("the reply ended without GenerationFinished")


def read_without_access_time(path: Path) -> str:
    """The file's text, read without moving its access time (where the OS allows it)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
    with os.fdopen(fd, encoding="utf-8") as handle:
        return handle.read()


def assert_canary_intact(canary: tuple[Path, str], marker: Path, *texts: str) -> None:
    path, secret = canary
    assert read_without_access_time(path) == secret, "the canary file was changed"
    assert not marker.exists(), "a command ran"
    for text in texts:
        assert secret not in text, "the canary's secret came out"


def assert_canary_unread(canary: tuple[Path, str]) -> None:
    """Where the file system keeps access times, the canary's did not move."""
    path, _ = canary
    assert os.stat(path).st_atime == 0, "the canary file was read"


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_template_attack_is_contained(
    attack_engine: EngineClient, canary: tuple[Path, str], marker: Path, attack: str
) -> None:
    reply, error = say(attack_engine, attack)
    message = str(error) if error is not None else ""
    assert_canary_intact(canary, marker, reply, message)
    assert error is None or isinstance(error, EngineError | PromptTooLongError), repr(error)[:500]
    assert not message.rstrip().endswith(":"), f"an error that says nothing: {message!r}"
    # The engine answers the next message (reloading the model if the attack killed it).
    next_reply, next_error = say(attack_engine, "hello")
    assert next_error is None, str(next_error)[:500]
    assert_canary_intact(canary, marker, next_reply)


@pytest.mark.parametrize("bomb", list(MEMORY_BOMBS))
def test_a_memory_bomb_is_refused_with_a_clear_error(
    attack_engine: EngineClient, canary: tuple[Path, str], marker: Path, bomb: str
) -> None:
    pid = attack_engine.pid
    reply, error = say(attack_engine, bomb)
    assert_canary_intact(canary, marker, reply, str(error))
    assert isinstance(error, ChatTemplateMemoryError), repr(error)[:500]
    assert "chat template tried to use too much memory" in str(error)
    assert "not enough memory" not in str(error)  # the sandbox refused it, nothing was allocated
    assert attack_engine.pid == pid  # refused by the sandbox: the engine is not restarted
    assert say(attack_engine, "hello")[1] is None


@pytest.mark.parametrize("attack", ["raise-huge-message", "raise-terminal-escapes"])
def test_hostile_error_text_is_made_safe(attack_engine: EngineClient, attack: str) -> None:
    _, error = say(attack_engine, attack)
    assert isinstance(error, EngineError)
    message = str(error)
    assert len(message) <= MAX_ERROR_CHARS
    assert not has_terminal_controls(message)  # markup stays: the UI shows it as plain text


def test_runaway_templates_end_at_the_engines_limit(
    attack_engine: EngineClient, canary: tuple[Path, str], marker: Path
) -> None:
    """All in one test: each costs the one-second limit; the same engine answers after."""
    pid = attack_engine.pid
    for name in RUNAWAYS:
        _, error = say(attack_engine, name)
        assert isinstance(error, ChatTemplateTimeoutError), f"{name}: {error!r}"[:500]
        assert attack_engine.pid == pid, name
    reply, error = say(attack_engine, "hello")
    assert error is None
    assert_canary_intact(canary, marker, reply)


def test_a_template_stuck_in_c_is_killed_and_the_engine_restarts(
    attack_engine: EngineClient, canary: tuple[Path, str], marker: Path
) -> None:
    pid = attack_engine.pid
    _, error = say(attack_engine, "power")
    assert isinstance(error, EngineHungError) and error.restarted, repr(error)
    assert "chat template" in str(error)
    reply, error = say(attack_engine, "hello")
    assert error is None
    assert attack_engine.pid not in (None, pid)
    assert_canary_intact(canary, marker, reply)


# -- templates that misbehave while the model loads -------------------------------------------

# What loading a model whose template (``tokenizer.chat_template``, or a named one) is the value
# must end with: an error of this type whose text says this, or None: the model loads.
ON_LOAD: dict[str, tuple[str, str, type[AutoGLMError] | None, str]] = {
    "loops-while-loading": (
        "tokenizer.chat_template",
        LOOPING_TEMPLATE,
        ChatTemplateTimeoutError,
        "when the model loaded",
    ),
    "syntax-error": (
        "tokenizer.chat_template",
        "{% for %}",
        ModelLoadError,
        "chat template of .* is broken",
    ),
    "nested-too-deep": (
        "tokenizer.chat_template",
        "{% if true %}" * 2000 + "{% endif %}" * 2000,
        ModelLoadError,
        "chat template of .* is broken",
    ),
    "named-template-syntax-error": (
        "tokenizer.chat_template.tool_use",
        "{% for %}",
        None,
        "",
    ),
}


@pytest.fixture(scope="module")
def load_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineClient]:
    """A short template limit; the load's own deadline is far longer (a hang would show)."""
    deadlines = EngineDeadlines(template_limit_s=1.0, template_s=30.0, load_silence_s=600.0)
    client = SharedEngineClient(deadlines=deadlines)
    try:
        yield client
    finally:
        client.shutdown()


@pytest.mark.parametrize("case", list(ON_LOAD))
def test_a_hostile_template_in_the_file_is_bounded_while_the_model_loads(
    tmp_path: Path, load_engine: EngineClient, case: str
) -> None:
    key, template, error_type, words = ON_LOAD[case]
    base = base_model(tmp_path / "source")
    model = tmp_path / f"{case}.gguf"
    model.write_bytes(base.with_kv(key, VT.STRING, enc_str(template)).serialize()[0])
    load = LoadPlan(model_path=model, n_ctx=256)
    if error_type is None:
        assert isinstance(list(load_engine.load(load))[-1], ModelLoaded)
        assert say(load_engine, "hello")[1] is None
        return
    with pytest.raises(error_type, match=words):
        list(load_engine.load(load))


def test_a_template_that_writes_nothing_gets_a_clear_error(
    tmp_path: Path, load_engine: EngineClient
) -> None:
    template = "{% for message in messages %}{% endfor %}"
    model = write_synthetic_gguf(tmp_path / "silent.gguf", SyntheticModel(chat_template=template))
    assert isinstance(
        list(load_engine.load(LoadPlan(model_path=model, n_ctx=256)))[-1], ModelLoaded
    )
    _, error = say(load_engine, "hello")
    assert isinstance(error, EngineError)
    assert "prompt came out empty" in str(error)


# -- a prompt far too long to fit, and a model whose load hangs --------------------------------


@pytest.mark.parametrize("where", ["template", "message"])
def test_a_prompt_far_too_long_is_refused_before_it_is_tokenized(
    tmp_path: Path, where: str
) -> None:
    """10 MiB of text (the template's own, or a message's) cannot fit in 256 tokens."""
    text = "The same words, again and again. " * (10 << 20 >> 5)
    template = text + CHATML_TEMPLATE if where == "template" else CHATML_TEMPLATE
    message = text if where == "message" else "Again."
    model = write_synthetic_gguf(tmp_path / "long.gguf", SyntheticModel(chat_template=template))
    runtime = LlamaRuntime(stop_requested=lambda: False, emit=lambda _event: None)
    try:
        runtime.load(LoadPlan(model_path=model, n_ctx=256, n_threads=1, n_threads_batch=1))
        tokenizer = runtime._tokenizer
        assert tokenizer is not None
        turns = (ChatTurn(Role.USER, "Hello."), ChatTurn(Role.ASSISTANT, "Hi."))
        for options in (ReplyOptions(), ReplyOptions(trim_to_fit=False)):
            request = GenerateRequest(
                turns=(*turns, ChatTurn(Role.USER, message)),
                system_prompt="",
                sampling=SHORT,
                options=options,
            )
            with pytest.raises(PromptTooLongError, match="too long"):
                runtime.prepare_reply(request)
        assert tokenizer.tokenized_chars == 0  # refused by its length, not after tokenizing it
    finally:
        runtime.close()


# One call into C (minutes) while the model loads: only the client's kill ends it.
HANGS_WHILE_LOADING = f"{{% set x = 7 ** ({N} * 30000000) %}}" + CHATML_TEMPLATE


def test_a_model_whose_load_hung_is_not_loaded_again_by_each_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = SyntheticModel(chat_template=HANGS_WHILE_LOADING)
    model = write_synthetic_gguf(tmp_path / "hangs.gguf", spec)
    client = LimitedEngineClient(
        deadlines=EngineDeadlines(template_s=2.0, load_silence_s=600.0),
        log_path=tmp_path / "engine.log",
    )
    starts: list[bool] = []
    start_process = client._start_process

    def counted_start(*, hide_gpus: bool = False) -> None:
        starts.append(True)
        start_process(hide_gpus=hide_gpus)

    monkeypatch.setattr(client, "_start_process", counted_start)
    plan = LoadPlan(model_path=model, n_ctx=256)
    try:
        with pytest.raises(EngineHungError, match="chat template") as hung:
            list(client.load(plan))
        assert hung.value.restarted and len(starts) == 1
        for _ in range(2):  # each message fails at once, no engine started for it
            _, error = say(client, "hello")
            assert isinstance(error, ModelLoadHungError), repr(error)[:500]
            assert error.model_name == "hangs" and "Load it again" in str(error)
        assert len(starts) == 1
        with pytest.raises(EngineHungError, match="chat template"):  # Load tries again
            list(client.load(plan))
        assert len(starts) == 2
    finally:
        client.shutdown()


def test_canary_was_never_read(
    attack_engine: EngineClient, canary: tuple[Path, str], tmp_path: Path
) -> None:
    """Runs last, after every attack here: the canary's access time is still the fixture's."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    os.utime(probe, (0, time.time()))
    probe.read_text()
    if os.stat(probe).st_atime == 0 or not hasattr(os, "O_NOATIME"):
        pytest.skip("reads leave no trace here (noatime), or checking leaves one (no O_NOATIME)")
    assert_canary_unread(canary)
