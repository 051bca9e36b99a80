"""The Downloads page: the queue with progress, speed and time left; pause, resume, cancel, retry.

The transfers run on the download manager's own thread; this page only shows the statuses it
reports (through :class:`~autoglm_desktop.qt.workers.hub_session.DownloadBridge`) and forwards the
user's buttons to it. Downloads interrupted by quitting are listed again, and continue, at the
next start.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.hub.downloads import DownloadState, DownloadStatus
from autoglm_desktop.core.hub.source import format_ref
from autoglm_desktop.core.models.library import reveal_in_file_manager
from autoglm_desktop.qt.common.plain_text import plain_label
from autoglm_desktop.qt.models.widgets import (
    NoticeBar,
    duration_text,
    muted_label,
    page_title,
    size_text,
)
from autoglm_desktop.qt.workers.hub_session import HubSession

PROGRESS_STEPS = 1000
_GREY_BAR = "QProgressBar::chunk { background-color: #9e9e9e; }"
ACTIVE_STATES = (DownloadState.QUEUED, DownloadState.RUNNING)
# Which buttons each state offers.
_ACTIONS = {
    DownloadState.QUEUED: ("pause", "cancel"),
    DownloadState.RUNNING: ("pause", "cancel"),
    DownloadState.PAUSED: ("resume", "cancel"),
    DownloadState.FAILED: ("retry", "settings", "remove"),
    DownloadState.CANCELLED: ("retry", "remove"),
    DownloadState.COMPLETED: ("use", "reveal", "remove"),
}


class DownloadRow(QFrame):
    """One download: name, progress bar, what is happening, and its buttons."""

    actionRequested = Signal(str, str)  # action key, download id

    def __init__(self, status: DownloadStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = status
        self.setObjectName("downloadRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#downloadRow { border: 1px solid palette(mid); border-radius: 6px; "
            "background: palette(base); }"
        )
        self.title = plain_label()  # file and repository names: never HTML
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.origin = muted_label()
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.detail = plain_label()  # may quote a server's or the disk's error
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        labels = {
            "pause": self.tr("Pause"),
            "resume": self.tr("Resume"),
            "cancel": self.tr("Cancel"),
            "retry": self.tr("Retry"),
            "settings": self.tr("Hub settings…"),
            "use": self.tr("Use in chat"),
            "reveal": self.tr("Show in folder"),
            "remove": self.tr("Remove from list"),
        }
        self.buttons: dict[str, QPushButton] = {}
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        for key, label in labels.items():
            button = QPushButton(label)
            button.clicked.connect(lambda _checked=False, key=key: self._request(key))
            buttons.addWidget(button)
            self.buttons[key] = button
        grid = QGridLayout(self)
        grid.setContentsMargins(12, 8, 12, 8)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.origin, 0, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.progress, 1, 0, 1, 2)
        grid.addWidget(self.detail, 2, 0)
        grid.addLayout(buttons, 2, 1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        grid.setColumnStretch(0, 1)
        self.show_status(status)

    def _request(self, key: str) -> None:
        self.actionRequested.emit(key, self.status.id)

    def show_status(self, status: DownloadStatus) -> None:
        self.status = status
        quant = status.quant or ""
        shown_quant = quant and quant.lower() not in status.name.lower()
        self.title.setText(status.name + (f" · {quant}" if shown_quant else ""))
        self.origin.setText(format_ref(status.source, status.repo_id))
        self.progress.setValue(int(status.fraction * PROGRESS_STEPS))
        self.progress.setVisible(status.state is not DownloadState.COMPLETED)
        paused = status.state in (DownloadState.PAUSED, DownloadState.QUEUED)
        self.progress.setStyleSheet(_GREY_BAR if paused else "")
        failed = status.state is DownloadState.FAILED
        self.detail.setStyleSheet("color: #b3261e;" if failed else "")
        self.detail.setText(self.describe(status))
        wanted = _ACTIONS[status.state]
        for key, button in self.buttons.items():
            button.setVisible(key in wanted)

    def describe(self, status: DownloadStatus) -> str:
        """What is happening, in words."""
        done, total = size_text(status.bytes_done), size_text(status.bytes_total)
        amount = self.tr("%1 of %2").replace("%1", done).replace("%2", total)
        state = status.state
        if state is DownloadState.RUNNING:
            return self._describe_running(status, amount)
        if state is DownloadState.QUEUED:
            if status.bytes_done:
                return self.tr("Waiting to continue · %1 already here").replace("%1", done)
            return self.tr("Waiting to start · %1").replace("%1", total)
        if state is DownloadState.PAUSED:
            return self.tr("Paused · %1").replace("%1", amount)
        if state is DownloadState.COMPLETED:
            return self.tr("Done · %1 · %2").replace("%1", total).replace("%2", str(status.path))
        if state is DownloadState.CANCELLED:
            return self.tr("Cancelled; the partial file was deleted.")
        return status.error or self.tr("The download failed.")

    def _describe_running(self, status: DownloadStatus, amount: str) -> str:
        if status.message and status.message not in ("Downloading…", "Starting…"):
            return f"{amount} · {self._core_message(status.message)}"
        parts = [amount]
        if status.speed_bps > 0:
            parts.append(self.tr("%1/s").replace("%1", size_text(status.speed_bps)))
        if status.eta_s is not None:
            parts.append(self.tr("%1 left").replace("%1", duration_text(status.eta_s)))
        if status.file_count > 1:
            parts.append(
                self.tr("part %1 of %2")
                .replace("%1", str(status.file_index + 1))
                .replace("%2", str(status.file_count))
            )
        return " · ".join(parts)

    def _core_message(self, message: str) -> str:
        if message == "Checking…":
            return self.tr("checking the file…")
        return message


class DownloadsPage(QWidget):
    useRequested = Signal(object)  # Path
    settingsRequested = Signal()
    discoverRequested = Signal()
    downloadCompleted = Signal(object)  # DownloadStatus
    activeCountChanged = Signal(int)

    def __init__(self, session: HubSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.rows: dict[str, DownloadRow] = {}
        title = page_title(self.tr("Downloads"))
        self.summary = muted_label()
        self.clear_button = QPushButton(self.tr("Clear finished"))
        self.clear_button.clicked.connect(self.clear_finished)
        self.notice = NoticeBar()
        self.empty = QWidget()
        empty_layout = QVBoxLayout(self.empty)
        empty_label = muted_label(
            self.tr("No downloads yet. Find a model that fits this PC in Discover.")
        )
        empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        discover = QPushButton(self.tr("Discover models"))
        discover.clicked.connect(self.discoverRequested)
        empty_layout.addStretch(1)
        empty_layout.addWidget(empty_label)
        empty_layout.addWidget(discover, 0, Qt.AlignmentFlag.AlignCenter)
        empty_layout.addStretch(2)

        self._list = QWidget()
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.setSpacing(8)
        self._list_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(self._list)

        header = QHBoxLayout()
        header.addWidget(title)
        header.addWidget(self.summary, 1)
        header.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.notice)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.scroll_area, 1)

        session.bridge.statusChanged.connect(self.update_status)
        for status in session.downloads.statuses():
            self._row_for(status)
        self._refresh_summary()

    # -- statuses ------------------------------------------------------------------------

    def update_status(self, status: DownloadStatus) -> None:
        row = self.rows.get(status.id)
        if row is None:
            self._row_for(status)
        else:
            was_completed = row.status.state is DownloadState.COMPLETED
            row.show_status(status)
            if status.state is DownloadState.COMPLETED and not was_completed:
                self.downloadCompleted.emit(status)
        self._refresh_summary()

    def _row_for(self, status: DownloadStatus) -> DownloadRow:
        row = DownloadRow(status)
        row.actionRequested.connect(self._on_action)
        self._list_layout.insertWidget(self._list_layout.count() - 1, row)
        self.rows[status.id] = row
        return row

    def _refresh_summary(self) -> None:
        statuses = [row.status for row in self.rows.values()]
        active = [s for s in statuses if s.state in ACTIVE_STATES]
        self.empty.setVisible(not statuses)
        self.scroll_area.setVisible(bool(statuses))
        self.clear_button.setEnabled(any(s.state is DownloadState.COMPLETED for s in statuses))
        if active:
            left = sum(s.bytes_total - s.bytes_done for s in active)
            self.summary.setText(
                self.tr("%1 in progress · %2 to go")
                .replace("%1", str(len(active)))
                .replace("%2", size_text(left))
            )
        else:
            self.summary.setText("")
        self.activeCountChanged.emit(len(active))

    def active_count(self) -> int:
        return sum(1 for row in self.rows.values() if row.status.state in ACTIVE_STATES)

    # -- actions -------------------------------------------------------------------------

    def _on_action(self, key: str, download_id: str) -> None:
        manager = self.session.downloads
        row = self.rows.get(download_id)
        if row is None:
            return
        self.notice.hide()
        try:
            if key == "pause":
                manager.pause(download_id)
            elif key == "resume" or key == "retry":
                manager.resume(download_id)
                self.session.start_downloads()
            elif key == "cancel":
                manager.cancel(download_id)
            elif key == "remove":
                manager.remove(download_id)
                self._drop_row(download_id)
            elif key == "use":
                self.useRequested.emit(row.status.path)
            elif key == "reveal":
                reveal_in_file_manager(row.status.path)
            elif key == "settings":
                self.settingsRequested.emit()
        except AutoGLMError as error:
            self.notice.show_message(str(error))

    def _drop_row(self, download_id: str) -> None:
        row = self.rows.pop(download_id, None)
        if row is not None:
            row.hide()
            row.deleteLater()
        self._refresh_summary()

    def clear_finished(self) -> None:
        for download_id, row in list(self.rows.items()):
            if row.status.state is DownloadState.COMPLETED:
                self.session.downloads.remove(download_id)
                self._drop_row(download_id)
