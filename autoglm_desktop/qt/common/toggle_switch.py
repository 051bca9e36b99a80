"""An on/off switch: a checkable button drawn as a pill with a sliding knob.

It is a :class:`QAbstractButton`, so ``toggled``, ``setChecked`` and keyboard use (Space) work
as on any check box; its accessible name is the text given. Colours come from the palette
(the highlight when on), so it follows the light and dark schemes.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QAbstractButton, QSizePolicy, QWidget

TRACK_WIDTH = 40
TRACK_HEIGHT = 22
KNOB_MARGIN = 3


class ToggleSwitch(QAbstractButton):
    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCheckable(True)
        self.setAccessibleName(text)
        self.setToolTip(text)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(TRACK_WIDTH + 4, TRACK_HEIGHT + 4)

    def paintEvent(self, _event: QPaintEvent) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QRectF(2, 2, TRACK_WIDTH, TRACK_HEIGHT)
        on = self.isChecked()
        if on:
            fill = palette.color(QPalette.ColorRole.Highlight)
        else:
            fill = QColor(palette.color(QPalette.ColorRole.WindowText))
            fill.setAlphaF(0.25)
        if not self.isEnabled():
            fill.setAlphaF(fill.alphaF() * 0.45)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(track, TRACK_HEIGHT / 2, TRACK_HEIGHT / 2)
        if self.hasFocus():
            focus = QColor(palette.color(QPalette.ColorRole.Highlight))
            painter.setPen(focus)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(track.adjusted(-1.5, -1.5, 1.5, 1.5), 12.5, 12.5)
            painter.setPen(Qt.PenStyle.NoPen)
        diameter = TRACK_HEIGHT - 2 * KNOB_MARGIN
        left = track.right() - KNOB_MARGIN - diameter if on else track.left() + KNOB_MARGIN
        painter.setBrush(QColor("#ffffff"))
        painter.drawEllipse(QRectF(left, track.top() + KNOB_MARGIN, diameter, diameter))
        painter.end()
