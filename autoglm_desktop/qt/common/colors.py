"""Colours mixed from the palette, for style sheets that follow the light or dark scheme."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette


def blend(first: QColor, second: QColor, amount: float) -> str:
    """`second` mixed into `first` by `amount` (0..1), as #rrggbb."""
    return QColor(
        round(first.red() + (second.red() - first.red()) * amount),
        round(first.green() + (second.green() - first.green()) * amount),
        round(first.blue() + (second.blue() - first.blue()) * amount),
    ).name()


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128
