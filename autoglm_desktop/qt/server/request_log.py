"""The local server's request log: the newest requests first, at most :data:`MAX_ROWS`."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from autoglm_desktop.core.common.untrusted_text import plain_message
from autoglm_desktop.core.server.request_log import RequestRecord
from autoglm_desktop.qt.common.colors import is_dark
from autoglm_desktop.qt.common.plain_text import plain_tooltip

MAX_ROWS = 200
# Status colours (on a light background, on a dark one): refused by the client's fault, failed.
CLIENT_ERROR = ("#a15c00", "#ffb74d")
SERVER_ERROR = ("#c0392b", "#ff8a80")
TIME, METHOD, PATH, STATUS, TOKENS, DURATION = range(6)


class RequestLogTable(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, 6)
        self.setHorizontalHeaderLabels(
            [
                self.tr("Time"),
                self.tr("Method"),
                self.tr("Path"),
                self.tr("Status"),
                self.tr("Tokens"),
                self.tr("Duration"),
            ]
        )
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(PATH, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideLeft)  # a narrow path keeps its end
        tokens_header = QTableWidgetItem(self.tr("Tokens"))
        tokens_header.setToolTip(self.tr("Tokens the model read (the prompt) → tokens it wrote"))
        self.setHorizontalHeaderItem(TOKENS, tokens_header)

    def add_record(self, record: RequestRecord) -> None:
        """Show ``record`` at the top; the oldest rows go past :data:`MAX_ROWS`."""
        self.insertRow(0)
        tokens = ""
        if record.prompt_tokens or record.completion_tokens:
            tokens = f"{record.prompt_tokens} → {record.completion_tokens}"
        cells = (
            time.strftime("%H:%M:%S", time.localtime(record.started)),
            plain_message(record.method, limit=16),
            plain_message(record.path, limit=200),  # the caller's text
            str(record.status),
            tokens,
            _duration(record.duration_s),
        )
        tooltip = plain_tooltip(
            self.tr("From %1").replace("%1", record.client) if record.client else ""
        )
        color = self._status_color(record.status)
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column in (STATUS, TOKENS, DURATION):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == STATUS and color is not None:
                item.setForeground(color)
            item.setToolTip(tooltip)
            self.setItem(0, column, item)
        while self.rowCount() > MAX_ROWS:
            self.removeRow(self.rowCount() - 1)

    def _status_color(self, status: int) -> QColor | None:
        if status < 400:
            return None
        dark = is_dark(self.palette())
        return QColor((SERVER_ERROR if status >= 500 else CLIENT_ERROR)[dark])

    def rows_shown(self) -> list[tuple[str, ...]]:
        """The text of each row, newest first."""
        return [
            tuple(self._text(row, column) for column in range(self.columnCount()))
            for row in range(self.rowCount())
        ]

    def _text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""


def _duration(seconds: float) -> str:
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s"
