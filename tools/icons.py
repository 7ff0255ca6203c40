"""SceneVault's app icons as PNG, drawn from the same shapes as static/icons/icon.svg (stdlib).

It owns static/icons/icon-<size>.png and icon-maskable-<size>.png, which the web app manifest
lists (Chromium wants at least a 192 and a 512 px icon to call the app installable). The PNGs
are committed; run this again only when the design changes. Shapes are signed-distance
functions in the SVG's 64-unit space, so every size is antialiased and nothing is scaled.

    $ python3 tools/icons.py          # rewrites the PNGs in static/icons/
    >>> len(draw(48, maskable=False))  # 48 * 48 RGBA pixels
    2304
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "static" / "icons"
SIZES = (48, 96, 192, 512)
MASKABLE_SIZES = (192, 512)
BACKGROUND = (0x1F, 0x29, 0x37)
FRAME = (0xA7, 0x8B, 0xFA)
PLAY = (0xFB, 0xBF, 0x24)
TRIANGLE = ((28.0, 25.0), (28.0, 39.0), (40.0, 32.0))
MASKABLE_SAFE_ZONE = 0.8  # the part of a maskable icon every mask shape keeps


def rounded_box(x: float, y: float, cx: float, cy: float, hw: float, hh: float, r: float) -> float:
    """Signed distance from (x, y) to a rounded rectangle centred on (cx, cy)."""
    qx, qy = abs(x - cx) - hw + r, abs(y - cy) - hh + r
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - r


def triangle(x: float, y: float, points=TRIANGLE) -> float:
    """Signed distance from (x, y) to a triangle (negative inside)."""
    nearest, sign = math.inf, 1.0
    for (ax, ay), (bx, by) in zip(points, points[1:] + points[:1]):
        ex, ey, wx, wy = bx - ax, by - ay, x - ax, y - ay
        t = min(max((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0), 1.0)
        nearest = min(nearest, math.hypot(wx - ex * t, wy - ey * t))
        if (ay <= y) != (by <= y) and x < ax + (y - ay) * ex / ey:
            sign = -sign
    return sign * nearest


def coverage(distance: float, pixel: float) -> float:
    """How much of a pixel `pixel` units wide a shape at `distance` covers (0..1)."""
    return min(max(0.5 - distance / pixel, 0.0), 1.0)


def over(under: tuple, colour: tuple, alpha: float) -> tuple:
    """Paint `colour` with `alpha` over the straight-alpha RGBA pixel `under`."""
    r, g, b, a = under
    out = alpha + a * (1 - alpha)
    if out == 0:
        return (0.0, 0.0, 0.0, 0.0)
    mix = [(c * alpha + u * a * (1 - alpha)) / out for c, u in zip(colour, (r, g, b))]
    return (*mix, out)


def shade(x: float, y: float, pixel: float, maskable: bool) -> tuple:
    """The RGBA colour at icon coordinates (x, y) in the SVG's 0..64 space."""
    background = 1.0 if maskable else coverage(rounded_box(x, y, 32, 32, 32, 32, 14), pixel)
    colour = over((0.0, 0.0, 0.0, 0.0), BACKGROUND, background)
    frame = abs(rounded_box(x, y, 32, 32, 22, 16, 5)) - 2.0
    colour = over(colour, FRAME, coverage(frame, pixel))
    return over(colour, PLAY, coverage(triangle(x, y), pixel))


def draw(size: int, maskable: bool) -> list[tuple[int, int, int, int]]:
    """size x size RGBA pixels; a maskable icon fills the square and keeps its art in the safe zone."""
    scale = MASKABLE_SAFE_ZONE if maskable else 1.0
    pixel = 64.0 / (size * scale)
    offset = 32.0 - 32.0 / scale
    pixels = []
    for row in range(size):
        for column in range(size):
            x, y = offset + (column + 0.5) * pixel, offset + (row + 0.5) * pixel
            r, g, b, a = shade(x, y, pixel, maskable)
            pixels.append((round(r), round(g), round(b), round(a * 255)))
    return pixels


def png(size: int, pixels: list[tuple[int, int, int, int]]) -> bytes:
    """An 8-bit RGBA PNG of size x size pixels."""
    rows = b"".join(b"\x00" + bytes(c for p in pixels[y * size:(y + 1) * size] for c in p)
                    for y in range(size))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


def main() -> int:
    for size in SIZES:
        (ICONS / f"icon-{size}.png").write_bytes(png(size, draw(size, maskable=False)))
    for size in MASKABLE_SIZES:
        (ICONS / f"icon-maskable-{size}.png").write_bytes(png(size, draw(size, maskable=True)))
    print(f"wrote {len(SIZES) + len(MASKABLE_SIZES)} icons to {ICONS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
