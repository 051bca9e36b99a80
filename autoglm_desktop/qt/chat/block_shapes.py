"""Rounded grounds under the transcript's shaded blocks: the user's messages and code blocks.

QTextDocument paints a block's background as a plain rectangle that ends where its text
begins: no padding, no rounded corners (only frames and tables have those, and every frame
costs on each edit: see markdown_render). So the view paints, under the visible text, one
rounded rectangle around each run of adjacent blocks shaded in a given colour, reaching
``pad`` pixels beyond their backgrounds on both sides (the blocks' margins make the room).
The blocks' own backgrounds, in the same colour, vanish into it. A run may start with a
strip of another colour (a code block's header), drawn on top with the run's top corners.

Only the blocks in view are looked at, so a paint costs the same however long the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QPainter,
    QPainterPath,
    QPen,
    QTextBlock,
    QTextDocument,
    QTextFormat,
)

MAX_RUN_BLOCKS = 2_000  # a run is followed at most this far out of view (then: cut off)
_GAP = 1.5  # blocks closer than this (pixels) belong to one run


@dataclass(frozen=True)
class Shape:
    """How to draw the runs of blocks with background ``color``."""

    color: QColor
    pad: float  # the ground reaches this far beyond the blocks' backgrounds, left and right
    radius: float = 10.0
    strip: QColor | None = None  # a header strip's colour, part of the run, drawn on top
    border: QColor | None = None  # a thin outline (for a ground close to the page's colour)


def paint_shapes(
    painter: QPainter,
    document: QTextDocument,
    *,
    offset: QPointF,
    visible: QRectF,
    shapes: Sequence[Shape],
) -> None:
    """Paint the grounds of the runs that meet ``visible`` (document coordinates + offset)."""
    colors: dict[int, Shape] = {}
    for kind in shapes:
        colors[kind.color.rgb()] = kind
        if kind.strip is not None:
            colors[kind.strip.rgb()] = kind
    layout = document.documentLayout()
    top = visible.top() - offset.y()
    bottom = visible.bottom() - offset.y()
    position = layout.hitTest(
        QPointF(visible.left() - offset.x(), top), Qt.HitTestAccuracy.FuzzyHit
    )
    block = document.findBlock(max(0, position))
    right_edge = document.textWidth() - document.documentMargin()
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.translate(offset)
    while block.isValid():
        rect = layout.blockBoundingRect(block)
        if rect.top() > bottom:
            break
        shape = colors.get(_background(block))
        if shape is None:
            block = block.next()
            continue
        run = _Run(shape, colors, layout, right_edge)
        run.collect(block, limit=bottom)
        _paint_run(painter, run, top=top, bottom=bottom)
        block = run.blocks[-1].next()
    painter.restore()


def _background(block: QTextBlock) -> int:
    """The block's background colour as 0xAARRGGBB; -1 when it has none."""
    fmt = block.blockFormat()
    if not fmt.hasProperty(QTextFormat.Property.BackgroundBrush):
        return -1
    brush = fmt.background()
    return -1 if brush.style() == Qt.BrushStyle.NoBrush else brush.color().rgb()


class _Run:
    """Adjacent blocks of one shape, with where Qt paints each one's background."""

    def __init__(
        self,
        shape: Shape,
        colors: dict[int, Shape],
        layout: QAbstractTextDocumentLayout,
        right_edge: float,
    ) -> None:
        self.shape = shape
        self._colors = colors
        self._layout = layout
        self._right_edge = right_edge
        self.blocks: list[QTextBlock] = []
        self.rects: list[QRectF] = []

    def collect(self, block: QTextBlock, *, limit: float) -> None:
        """The run ``block`` is in: back to its start (out of view too), on to past ``limit``."""
        before: list[tuple[QTextBlock, QRectF]] = []
        first, first_rect = block, self._rect(block)
        for _ in range(MAX_RUN_BLOCKS):
            previous = first.previous()
            if not self._belongs(previous):
                break
            previous_rect = self._rect(previous)
            if first_rect.top() - previous_rect.bottom() > _GAP:
                break
            before.append((previous, previous_rect))
            first, first_rect = previous, previous_rect
        for earlier, rect in reversed(before):
            self._add(earlier, rect)
        current, current_rect = block, self._rect(block)
        self._add(current, current_rect)
        while current_rect.top() <= limit:
            following = current.next()
            if not self._belongs(following):
                break
            following_rect = self._rect(following)
            if following_rect.top() - current_rect.bottom() > _GAP:
                break
            current, current_rect = following, following_rect
            self._add(current, current_rect)

    def _belongs(self, block: QTextBlock) -> bool:
        return block.isValid() and self._colors.get(_background(block)) is self.shape

    def _add(self, block: QTextBlock, rect: QRectF) -> None:
        self.blocks.append(block)
        self.rects.append(rect)

    def _rect(self, block: QTextBlock) -> QRectF:
        """Where Qt paints the background of a block of the document's main flow.

        The layout reports the lines' box: from the left margin on, and (a quirk) short of
        the right edge by twice the right margin; the background ends one right margin short.
        """
        rect = self._layout.blockBoundingRect(block)
        fmt = block.blockFormat()
        left = rect.left() + fmt.leftMargin()
        right = self._right_edge - fmt.rightMargin()
        return QRectF(left, rect.top(), right - left, rect.height())


def _paint_run(painter: QPainter, run: _Run, *, top: float, bottom: float) -> None:
    shape, blocks, rects = run.shape, run.blocks, run.rects
    ground = QRectF(rects[0])
    for rect in rects[1:]:
        ground = ground.united(rect)
    # A run cut off out of view keeps its corners out of view too.
    ground.setTop(max(ground.top(), top - 2 * shape.radius))
    ground.setBottom(min(ground.bottom(), bottom + 2 * shape.radius))
    ground.adjust(-shape.pad, 0, shape.pad, 0)
    path = QPainterPath()
    path.addRoundedRect(ground, shape.radius, shape.radius)
    painter.fillPath(path, shape.color)
    if shape.strip is not None:
        _paint_strips(painter, blocks, rects, shape.strip, path)
    if shape.border is not None:
        painter.save()
        painter.setPen(QPen(shape.border, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        painter.restore()


def _paint_strips(
    painter: QPainter,
    blocks: list[QTextBlock],
    rects: list[QRectF],
    color: QColor,
    ground: QPainterPath,
) -> None:
    """The run's blocks of the strip's colour, as wide as the ground, within its corners."""
    bounds = ground.boundingRect()
    painter.save()
    painter.setClipPath(ground)
    for block, rect in zip(blocks, rects, strict=True):
        if _background(block) == color.rgb():
            painter.fillRect(
                QRectF(bounds.left(), rect.top(), bounds.width(), rect.height()), color
            )
    painter.restore()
