"""The window's small line icons, drawn in the palette's text colour (light and dark alike).

The icons are SVG files under ``resources/icons/ui/`` drawn with ``currentColor``; each is
rendered through Qt's SVG image plugin (bundled, see installers/pyinstaller) at the sizes and
pixel ratios asked for, with ``currentColor`` replaced by a colour: one file serves both
themes and any screen scale, without importing QtSvg.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QByteArray, QSize
from PySide6.QtGui import QColor, QIcon, QPalette, QPixmap

from autoglm_desktop.core.common import paths

ICON_SIZES = (16, 20, 24, 32)
PIXEL_RATIOS = (1.0, 2.0)


def icon(name: str, color: QColor | str) -> QIcon:
    """The icon ``name`` (a file stem under resources/icons/ui) drawn in ``color``.

    An icon file that is missing gives an empty icon: the buttons keep their text.
    """
    return _icon(name, QColor(color).name(QColor.NameFormat.HexArgb))


def palette_icon(name: str, palette: QPalette) -> QIcon:
    """The icon ``name`` in the palette's button text colour."""
    return icon(name, palette.color(QPalette.ColorRole.ButtonText))


@functools.cache
def _icon(name: str, color: str) -> QIcon:
    source = _svg_source(name)
    result = QIcon()
    if not source:
        return result
    # SVG wants #rrggbb plus an opacity; QColor's HexArgb is #aarrggbb.
    rgb, alpha = "#" + color[3:], int(color[1:3], 16) / 255
    tinted = source.replace('stroke="currentColor"', f'stroke="{rgb}" stroke-opacity="{alpha}"')
    tinted = tinted.replace('fill="currentColor"', f'fill="{rgb}" fill-opacity="{alpha}"')
    for size in ICON_SIZES:
        for ratio in PIXEL_RATIOS:
            pixels = round(size * ratio)
            sized = tinted.replace('width="24" height="24"', f'width="{pixels}" height="{pixels}"')
            pixmap = QPixmap()
            if pixmap.loadFromData(QByteArray(sized.encode()), "SVG"):
                pixmap.setDevicePixelRatio(ratio)
                result.addPixmap(pixmap)
    return result


@functools.cache
def _svg_source(name: str) -> str:
    path = paths.resources_dir() / "icons" / "ui" / f"{name}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def icon_size(logical: int) -> QSize:
    return QSize(logical, logical)
