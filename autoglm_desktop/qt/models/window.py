"""The Models window: Discover, Downloads, My models and Settings, with a navigation bar.

The main window creates it once, hidden, so that downloads interrupted by quitting continue at
the next start; scanning the library and ranking the catalog wait until it is first shown.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QStyle,
    QWidget,
)

from autoglm_desktop import APP_NAME
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.common.untrusted_text import plain_message
from autoglm_desktop.core.hub.client import RemoteModel, RepoDetail
from autoglm_desktop.core.hub.downloads import DownloadRequest, DownloadState, RetryPolicy
from autoglm_desktop.core.hub.source import Source
from autoglm_desktop.core.models.library import LibrarySources, LocalModel
from autoglm_desktop.qt.models.discover_page import DiscoverPage
from autoglm_desktop.qt.models.downloads_page import DownloadsPage
from autoglm_desktop.qt.models.hub_settings_page import HubSettingsPage
from autoglm_desktop.qt.models.library_page import LibraryPage
from autoglm_desktop.qt.models.widgets import source_name
from autoglm_desktop.qt.workers.hub_session import HubSession
from autoglm_desktop.qt.workers.library_worker import start_library_worker

PAGES = ("discover", "downloads", "library", "settings")


class ModelsWindow(QMainWindow):
    useModelRequested = Signal(object)  # Path: load it in the chat
    libraryChanged = Signal(object)  # list[LocalModel]: the models on this PC changed

    def __init__(
        self,
        *,
        library_sources: LibrarySources | None = None,
        download_policy: RetryPolicy | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Models — %1").replace("%1", APP_NAME))
        self.resize(1180, 760)
        self.session = HubSession(policy=download_policy, parent=self)
        self.library_thread = start_library_worker(library_sources)
        self.discover = DiscoverPage(self.session)
        self.downloads = DownloadsPage(self.session)
        self.library = LibraryPage(self.library_thread.worker)
        self.settings_page = HubSettingsPage(self.session)
        self._known_models: list[Path] | None = None
        self._closed = False

        self.nav = QListWidget()
        self.nav.setObjectName("modelsNav")
        self.nav.setFixedWidth(180)
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setSpacing(2)
        self.nav.setStyleSheet(
            "#modelsNav { border: none; background: palette(window); font-size: 11pt; }"
            "#modelsNav::item { padding: 8px 6px; border-radius: 6px; }"
            "#modelsNav::item:selected { background: palette(highlight); "
            "color: palette(highlighted-text); }"
        )
        self.stack = QStackedWidget()
        style = self.style()
        icons = {
            "discover": QStyle.StandardPixmap.SP_FileDialogContentsView,
            "downloads": QStyle.StandardPixmap.SP_ArrowDown,
            "library": QStyle.StandardPixmap.SP_DriveHDIcon,
            "settings": QStyle.StandardPixmap.SP_FileDialogDetailedView,
        }
        for name, page in zip(
            PAGES, (self.discover, self.downloads, self.library, self.settings_page), strict=True
        ):
            QListWidgetItem(style.standardIcon(icons[name]), self._page_title(name), self.nav)
            self.stack.addWidget(page)
        self.nav.currentRowChanged.connect(self._on_nav)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._connect()
        self.nav.setCurrentRow(0)
        self._show_hub_state()
        self._update_downloads_title(self.downloads.active_count())
        if self.downloads.active_count():
            self.session.start_downloads()  # continue what quitting interrupted

    def _page_title(self, name: str) -> str:
        return {
            "discover": self.tr("Discover"),
            "downloads": self.tr("Downloads"),
            "library": self.tr("My models"),
            "settings": self.tr("Settings"),
        }[name]

    def _connect(self) -> None:
        discover, downloads, library = self.discover, self.downloads, self.library
        discover.downloadRequested.connect(self.start_download)
        for page in (discover, downloads, library):
            page.useRequested.connect(self._use)
        discover.showDownloadsRequested.connect(self._show_downloads)
        discover.settingsRequested.connect(self._show_settings)
        downloads.settingsRequested.connect(self._show_settings)
        downloads.discoverRequested.connect(self._show_discover)
        library.discoverRequested.connect(self._show_discover)
        downloads.downloadCompleted.connect(self._on_download_completed)
        downloads.activeCountChanged.connect(self._update_downloads_title)
        self.session.bridge.statusChanged.connect(discover.update_download)
        library.libraryScanned.connect(self._on_library_scanned)
        self.settings_page.libraryChanged.connect(library.refresh)
        self.session.settingsChanged.connect(self._show_hub_state)
        self.session.sourceChanged.connect(self._show_hub_state)

    # -- pages ---------------------------------------------------------------------------

    def show_page(self, name: str) -> None:
        self.nav.setCurrentRow(PAGES.index(name))

    def current_page(self) -> str:
        return PAGES[self.stack.currentIndex()]

    def _show_downloads(self) -> None:
        self.show_page("downloads")

    def _show_settings(self) -> None:
        self.show_page("settings")

    def _show_discover(self) -> None:
        self.show_page("discover")

    def _on_nav(self, row: int) -> None:
        if row >= 0:
            self.stack.setCurrentIndex(row)

    def _update_downloads_title(self, active: int) -> None:
        title = self._page_title("downloads")
        item = self.nav.item(PAGES.index("downloads"))
        item.setText(f"{title} ({active})" if active else title)

    def _show_hub_state(self, _settings: object = None) -> None:
        settings = self.session.settings
        if settings.is_offline:
            text = self.tr("Offline mode: no network connections")
        else:
            client = self.session.client
            if client.source is Source.HUGGING_FACE:
                text = self.tr("Hub: %1").replace("%1", client.endpoint)
            else:
                text = f"{source_name(client.source)}: {client.endpoint}"
            if settings.proxy:
                text += " · " + self.tr("proxy %1").replace("%1", settings.proxy)
        self.statusBar().showMessage(text)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._known_models is None and not self.library.scanning:
            self.library.refresh()

    # -- actions -------------------------------------------------------------------------

    def start_download(self, detail: RepoDetail, model: RemoteModel) -> None:
        try:
            status = self.session.downloads.add(DownloadRequest.for_model(detail, model))
        except AutoGLMError as error:
            self.statusBar().showMessage(plain_message(error), 10_000)
            return
        if status.state is DownloadState.COMPLETED:
            self.statusBar().showMessage(
                self.tr("%1 is already downloaded.").replace("%1", model.name), 8000
            )
            return
        if status.state is DownloadState.PAUSED:
            self.session.downloads.resume(status.id)
        self.session.start_downloads()
        self.statusBar().showMessage(
            self.tr("Downloading %1: see Downloads for its progress.").replace("%1", model.name),
            8000,
        )

    def _use(self, path: Path) -> None:
        self.useModelRequested.emit(path)

    def _on_download_completed(self, _status: object) -> None:
        self.library.refresh()

    def _on_library_scanned(self, models: list[LocalModel]) -> None:
        paths = [m.path for m in models]
        self.discover.set_on_disk(set(paths))
        self.settings_page.show_folders()
        if paths != self._known_models:
            self._known_models = paths
            self.libraryChanged.emit(models)

    # -- closing -------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        # Closing the window only hides it: downloads go on until the app quits.
        super().closeEvent(event)

    def shutdown(self) -> None:
        """At quit: stop transfers (they continue at the next start) and the library thread.

        Hub requests in flight are abandoned, never waited for.
        """
        if self._closed:
            return
        self._closed = True
        self.discover.shutdown()
        self.session.close()
        self.library_thread.close()
        self.close()


def open_models_window(window: ModelsWindow, page: str = "discover") -> None:
    window.show_page(page)
    window.show()
    window.raise_()
    window.activateWindow()
    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
