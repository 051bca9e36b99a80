"""Where models come from: the Hugging Face hub or ModelScope, and what a client of either does.

Search, repository detail, GGUF header reads (:mod:`~autoglm_desktop.core.hub.remote_gguf`),
fit verdicts (:mod:`~autoglm_desktop.core.planning`) and downloads
(:mod:`~autoglm_desktop.core.hub.downloads`) work the same on both; they reach the network only
through a :class:`~autoglm_desktop.core.hub.source_client.SourceClient`, which
:class:`~autoglm_desktop.core.hub.client.HubClient` and
:class:`~autoglm_desktop.core.hub.modelscope.ModelScopeClient` implement.

A model is named by a *reference*: ``owner/repo`` on the chosen source, or with the source in
front (``modelscope:owner/repo``, ``hf:owner/repo``), optionally followed by a file in the
repository (``modelscope:owner/repo/model-Q4_K_M.gguf``). :func:`parse_model_ref` reads them.

Mainland-China users reach ModelScope more easily than the Hugging Face hub, so a new user whose
language is Simplified Chinese (``zh_CN``) is offered ModelScope first
(:func:`suggested_source`); a choice the user made, or an existing installation, is never changed.
"""

from __future__ import annotations

import enum
import locale
import os
from dataclasses import dataclass

from autoglm_desktop.core.common.errors import HubNotFoundError


class Source(str, enum.Enum):
    """A model source. The value is what settings files, queue files and ``--source`` hold."""

    HUGGING_FACE = "huggingface"
    MODELSCOPE = "modelscope"

    @property
    def label(self) -> str:
        """The source's name as people know it (not translated: a brand)."""
        return _LABELS[self]

    @property
    def prefix(self) -> str:
        """The short prefix of a reference to a model of this source (``modelscope:``)."""
        return _PREFIXES[self][0] + ":"


_LABELS = {Source.HUGGING_FACE: "Hugging Face", Source.MODELSCOPE: "ModelScope"}
# The first of each is the one shown; the others are accepted.
_PREFIXES = {
    Source.HUGGING_FACE: ("hf", "huggingface", "hugging-face"),
    Source.MODELSCOPE: ("modelscope", "ms"),
}
_MAINLAND_LOCALES = ("zh_CN", "zh_Hans", "zh_SG")


def source_named(text: str) -> Source:
    """The source called ``text`` (``modelscope``, ``ms``, ``hf``, ``huggingface``...).

    Raises:
        HubNotFoundError: no source has that name.
    """
    wanted = text.strip().lower()
    for source, names in _PREFIXES.items():
        if wanted in names or wanted == source.value:
            return source
    choices = ", ".join(s.value for s in Source)
    raise HubNotFoundError(f"There is no model source “{text}”. Choose one of: {choices}.")


def suggested_source(locale_name: str | None) -> Source:
    """The source offered first for a UI language (``zh_CN``: ModelScope; others: Hugging Face)."""
    name = (locale_name or "").replace("-", "_")
    if any(name == m or name.startswith(m + "_") for m in _MAINLAND_LOCALES):
        return Source.MODELSCOPE
    return Source.HUGGING_FACE


def environment_locale() -> str | None:
    """The language the environment asks for (``LC_ALL``, ``LC_MESSAGES``, ``LANG``)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "").strip()
        if value:
            return value.split(".", 1)[0]
    return locale.getlocale()[0]


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class ModelRef:
    """A model named on the command line: its source, repository and perhaps one file."""

    source: Source
    repo_id: str
    filename: str | None = None

    def __str__(self) -> str:
        return format_ref(self.source, self.repo_id, self.filename)


def format_ref(source: Source, repo_id: str, filename: str | None = None) -> str:
    """``modelscope:owner/repo[/file]``; a Hugging Face repository keeps its plain name."""
    text = repo_id + (f"/{filename}" if filename else "")
    return text if source is Source.HUGGING_FACE else source.prefix + text


def parse_model_ref(text: str, *, default: Source) -> ModelRef:
    """Read ``[source:]owner/repo[/path/in/repo.gguf]``; without a prefix, ``default`` applies.

    Raises:
        HubNotFoundError: the text names no repository, or an unknown source.
    """
    ref = text.strip()
    source = default
    prefix, colon, rest = ref.partition(":")
    if colon and "/" not in prefix and not rest.startswith("//"):
        source, ref = source_named(prefix), rest
    parts = [p for p in ref.strip("/").split("/") if p]
    if len(parts) < 2:
        raise HubNotFoundError(
            f"“{text}” does not name a repository. Write it as owner/name, for example "
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF or modelscope:Qwen/Qwen2.5-0.5B-Instruct-GGUF."
        )
    filename = "/".join(parts[2:]) or None
    return ModelRef(source=source, repo_id=f"{parts[0]}/{parts[1]}", filename=filename)
