"""A client for a model source: :func:`connect` makes the Hugging Face or the ModelScope one."""

from __future__ import annotations

from autoglm_desktop.core.hub.client import HubClient
from autoglm_desktop.core.hub.modelscope import ModelScopeClient
from autoglm_desktop.core.hub.settings import HubSettings
from autoglm_desktop.core.hub.source import Source
from autoglm_desktop.core.hub.source_client import SourceClient


def connect(
    source: Source, *, settings: HubSettings | None = None, token: str | bool | None = None
) -> SourceClient:
    """The client of ``source`` with the hub ``settings`` (the saved ones by default).

    ``token=None`` uses the token saved for that source; ``False`` sends none.
    """
    if source is Source.MODELSCOPE:
        return ModelScopeClient(settings=settings, token=token)
    return HubClient(settings=settings, token=token)
