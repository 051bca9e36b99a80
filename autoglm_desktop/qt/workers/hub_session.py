"""The hub session the model pages share: settings, sources, access tokens and downloads.

:class:`HubSession` holds the hub settings, a client per model source made from them (the
Hugging Face hub's :class:`HubClient` and ModelScope's :class:`ModelScopeClient`), the source the
Discover page searches, and the :class:`DownloadManager`, whose own thread does the transfers
from either source; :class:`DownloadBridge` turns its
listener calls into a Qt signal delivered on the GUI thread. Requests to the hub run through a
page's :class:`~autoglm_desktop.qt.workers.background.CallRunner`.
"""

from __future__ import annotations

import functools
import os

from PySide6.QtCore import QLocale, QObject, Signal

from autoglm_desktop.core.hub.client import HubClient
from autoglm_desktop.core.hub.downloads import DownloadManager, DownloadStatus, RetryPolicy
from autoglm_desktop.core.hub.modelscope import ModelScopeClient
from autoglm_desktop.core.hub.settings import (
    HubSettings,
    clear_access_token,
    load_access_token,
    load_hub_settings,
    save_access_token,
    save_hub_settings,
    settle_source,
)
from autoglm_desktop.core.hub.source import Source
from autoglm_desktop.core.hub.source_client import SourceClient
from autoglm_desktop.qt.workers.background import OwnerPost

_STOP_DOWNLOADS_TIMEOUT_S = 3.0


class DownloadBridge(QObject):
    """Re-emits the download manager's listener calls (on its thread) on the GUI thread."""

    statusChanged = Signal(object)  # DownloadStatus

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._post = OwnerPost(self)  # dropped once the window has closed

    def relay(self, status: DownloadStatus) -> None:
        """Safe from any thread."""
        self._post(functools.partial(self._emit_status, status))

    def _emit_status(self, status: DownloadStatus) -> None:
        self.statusChanged.emit(status)


def ui_language() -> str:
    """The language the window speaks (``AUTOGLM_LANGUAGE``, else the system's), as app.py."""
    return os.environ.get("AUTOGLM_LANGUAGE") or QLocale.system().name()


class HubSession(QObject):
    """The hub settings, the clients made from them, the access tokens and the download queue.

    ``source`` is where Discover searches: the user's choice, kept in the hub settings; the
    first time, an existing installation's Hugging Face hub or, for a new user, the source
    suggested for the window's language (ModelScope for Simplified Chinese), saved then so that
    it stays the same.
    """

    settingsChanged = Signal(object)  # HubSettings
    tokenChanged = Signal(bool)  # whether a Hugging Face token is saved
    sourceChanged = Signal(object)  # Source

    def __init__(self, *, policy: RetryPolicy | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.settings: HubSettings = settle_source(load_hub_settings(), locale_name=ui_language())
        self.clients: dict[Source, SourceClient] = {}
        self._make_clients()
        self.bridge = DownloadBridge(self)
        self.downloads = DownloadManager(
            client=self.clients[Source.HUGGING_FACE], policy=policy, listener=self.bridge.relay
        )
        self.downloads.set_client(self.clients[Source.MODELSCOPE])
        self._started = False

    @property
    def source(self) -> Source:
        return self.settings.source or Source.HUGGING_FACE

    @property
    def client(self) -> SourceClient:
        """The client of the source Discover searches."""
        return self.clients[self.source]

    def set_source(self, source: Source) -> None:
        """Search and browse ``source`` from now on, and remember it.

        Raises:
            SettingsFileError: the choice could not be saved (it applies for this run).
        """
        if source is self.source:
            return
        self.settings = self.settings.updated(source=source)
        self.sourceChanged.emit(source)
        save_hub_settings(self.settings)

    @property
    def offline(self) -> bool:
        return self.settings.is_offline

    @property
    def has_token(self) -> bool:
        return load_access_token() is not None

    def apply_settings(self, settings: HubSettings) -> None:
        """Save the settings and use them from the next request on.

        Raises:
            HubSettingsError: the custom address or the proxy is not valid.
        """
        if settings.source is None:
            settings = settings.updated(source=self.source)
        save_hub_settings(settings)
        self.settings = settings
        self._new_client()
        self.settingsChanged.emit(settings)

    def save_token(self, token: str) -> None:
        """Raises HubSettingsError when the text is not a token."""
        save_access_token(token)
        self._new_client()
        self.tokenChanged.emit(True)

    def clear_token(self) -> None:
        clear_access_token()
        self._new_client()
        self.tokenChanged.emit(False)

    def save_modelscope_token(self, token: str) -> None:
        """Raises HubSettingsError when the text is not a token."""
        save_access_token(token, source=Source.MODELSCOPE)
        self._new_client()

    def clear_modelscope_token(self) -> None:
        clear_access_token(source=Source.MODELSCOPE)
        self._new_client()

    @property
    def has_modelscope_token(self) -> bool:
        return load_access_token(source=Source.MODELSCOPE) is not None

    def _make_clients(self) -> None:
        self.clients = {
            Source.HUGGING_FACE: HubClient(settings=self.settings),
            Source.MODELSCOPE: ModelScopeClient(settings=self.settings),
        }

    def _new_client(self) -> None:
        self._make_clients()
        for client in self.clients.values():  # the next request of a running download uses it
            self.downloads.set_client(client)

    def start_downloads(self) -> None:
        """Start the download thread (it then runs queued downloads one after another)."""
        self.downloads.start()
        self._started = True

    def close(self) -> None:
        """Stop transfers; parts are kept and running downloads resume at the next start."""
        if self._started:
            self.downloads.stop(timeout=_STOP_DOWNLOADS_TIMEOUT_S)
            self._started = False
