"""Render the app icon: one SVG drawn here, PNGs at every size, a Windows .ico, a macOS .icns.

    .venv/bin/python installers/render_icons.py [--out resources/icons]

Everything is drawn with Qt (QtSvg), so no image tools or downloads are needed. The outputs are
committed; run this again only when the drawing changes.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parents[1]
NAME = "autoglm-desktop"

# A chat bubble with three dots on a rounded indigo-to-violet square (the 512 px canvas
# leaves the usual 32 px margin that desktop icon themes expect).
ICON_SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">
  <defs>
    <linearGradient id="background" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#4c6ef5"/>
      <stop offset="1" stop-color="#7048e8"/>
    </linearGradient>
  </defs>
  <rect x="32" y="32" width="448" height="448" rx="100" fill="url(#background)"/>
  <path fill="#ffffff" d="M136 136 h240 a40 40 0 0 1 40 40 v132 a40 40 0 0 1 -40 40 h-124
    l-76 64 v-64 h-40 a40 40 0 0 1 -40 -40 v-132 a40 40 0 0 1 40 -40 z"/>
  <circle cx="186" cy="242" r="26" fill="#5f3dc4"/>
  <circle cx="256" cy="242" r="26" fill="#5f3dc4"/>
  <circle cx="326" cy="242" r="26" fill="#5f3dc4"/>
</svg>
"""

PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# macOS icns element types holding PNG data, by pixel size.
ICNS_TYPES = ((b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256))
ICNS_TYPES += ((b"ic09", 512), (b"ic10", 1024))
APP_ICON_SIZE = 256  # resources/icons/autoglm-desktop.png, the window icon


def render_png(renderer: QSvgRenderer, size: int) -> bytes:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"Qt could not encode a {size} px PNG")
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows icon with PNG-compressed images (supported since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, images = b"", b""
    for size, png in sorted(pngs.items()):
        side = 0 if size >= 256 else size  # 0 means 256 in the directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        images += png
        offset += len(png)
    return header + entries + images


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS icon file: typed PNG elements after a length-prefixed header."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def render_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    renderer = QSvgRenderer(QByteArray(ICON_SVG.encode()))
    if not renderer.isValid():
        raise RuntimeError("the icon SVG did not parse")
    sizes = sorted({*PNG_SIZES, *ICO_SIZES, *(size for _kind, size in ICNS_TYPES)})
    pngs = {size: render_png(renderer, size) for size in sizes}
    written = {
        out / f"{NAME}.svg": ICON_SVG.encode(),
        out / f"{NAME}.png": pngs[APP_ICON_SIZE],
        out / f"{NAME}.ico": ico_bytes({size: pngs[size] for size in ICO_SIZES}),
        out / f"{NAME}.icns": icns_bytes(pngs),
    }
    written.update({out / f"{NAME}-{size}.png": pngs[size] for size in PNG_SIZES})
    for path, data in written.items():
        path.write_bytes(data)
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "icons")
    args = parser.parse_args(argv)
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for path in render_all(args.out):
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
