"""The hub session the model pages share: settings, client, access token and downloads.

:class:`HubSession` holds the hub settings, the :class:`HubClient` made from them and the
:class:`DownloadManager`, whose own thread does the transfers; :class:`DownloadBridge` turns its
listener calls into a Qt signal delivered on the GUI thread. Requests to the hub run through a
page's :class:`~autoglm_desktop.qt.workers.background.CallRunner`.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, Signal

from autoglm_desktop.core.hub.client import HubClient
from autoglm_desktop.core.hub.downloads import DownloadManager, DownloadStatus, RetryPolicy
from autoglm_desktop.core.hub.settings import (
    HubSettings,
    clear_access_token,
    load_access_token,
    load_hub_settings,
    save_access_token,
    save_hub_settings,
)

_STOP_DOWNLOADS_TIMEOUT_S = 3.0


class DownloadBridge(QObject):
    """Re-emits the download manager's listener calls (on its thread) as a queued signal."""

    statusChanged = Signal(object)  # DownloadStatus

    def relay(self, status: DownloadStatus) -> None:
        with contextlib.suppress(RuntimeError):  # the window closed as a download wound down
            self.statusChanged.emit(status)


class HubSession(QObject):
    """The hub settings, the client made from them, the access token and the download queue."""

    settingsChanged = Signal(object)  # HubSettings
    tokenChanged = Signal(bool)  # whether a token is saved

    def __init__(self, *, policy: RetryPolicy | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.settings: HubSettings = load_hub_settings()
        self.client = HubClient(settings=self.settings)
        self.bridge = DownloadBridge(self)
        self.downloads = DownloadManager(
            client=self.client, policy=policy, listener=self.bridge.relay
        )
        self._started = False

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

    def _new_client(self) -> None:
        self.client = HubClient(settings=self.settings)
        self.downloads.client = self.client  # the next request of a running download uses it

    def start_downloads(self) -> None:
        """Start the download thread (it then runs queued downloads one after another)."""
        self.downloads.start()
        self._started = True

    def close(self) -> None:
        """Stop transfers; parts are kept and running downloads resume at the next start."""
        if self._started:
            self.downloads.stop(timeout=_STOP_DOWNLOADS_TIMEOUT_S)
            self._started = False
