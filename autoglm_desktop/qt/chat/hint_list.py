"""A list view that says something while it is empty (e.g. "Your chats will appear here")."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QListView, QWidget

from autoglm_desktop.qt.common.colors import blend

HINT_MARGIN = 14


class HintListView(QListView):
    """A QListView that draws ``hint`` in muted text while its model has no rows."""

    def __init__(self, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hint = hint
        # Long titles are elided: a horizontal scroll bar would only hide the last row.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    @property
    def hint(self) -> str:
        return self._hint

    def set_hint(self, hint: str) -> None:
        if hint != self._hint:
            self._hint = hint
            self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is None or model.rowCount() > 0 or not self._hint:
            return
        painter = QPainter(self.viewport())
        palette = self.palette()
        muted = blend(
            palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base), 0.45
        )
        painter.setPen(QColor(muted))
        area = self.viewport().rect().adjusted(HINT_MARGIN, HINT_MARGIN, -HINT_MARGIN, 0)
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        painter.drawText(area, int(flags) | int(Qt.TextFlag.TextWordWrap), self._hint)
        painter.end()
