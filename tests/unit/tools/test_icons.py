"""tools/icons.py: the committed PNG icons are the ones the script draws (same pixels), and the
drawing follows static/icons/icon.svg (a dark tile, a violet frame, a yellow play sign)."""

import struct
import zlib
from pathlib import Path

import pytest

from tools import icons

ROOT = Path(__file__).resolve().parents[3]


def decode_rgba(data: bytes) -> tuple[int, list[tuple[int, int, int, int]]]:
    """(size, pixels) of an unfiltered 8-bit RGBA PNG as tools/icons.py writes it."""
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, depth, colour) == (height, 8, 6)
    idat, offset = b"", 8
    while offset < len(data):
        length, tag = struct.unpack(">I4s", data[offset:offset + 8])
        if tag == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    rows = [raw[y * stride:(y + 1) * stride] for y in range(height)]
    assert all(row[0] == 0 for row in rows)  # filter type None
    return width, [tuple(row[1 + 4 * x:5 + 4 * x]) for row in rows for x in range(width)]


@pytest.mark.parametrize("name, size, maskable", [("icon-48.png", 48, False),
                                                  ("icon-96.png", 96, False)])
def test_committed_icons_are_what_the_script_draws(name, size, maskable):
    decoded_size, pixels = decode_rgba((ROOT / "static" / "icons" / name).read_bytes())
    assert decoded_size == size and pixels == icons.draw(size, maskable)


def test_every_drawn_icon_is_committed():
    names = {f"icon-{s}.png" for s in icons.SIZES} | {f"icon-maskable-{s}.png" for s in icons.MASKABLE_SIZES}
    assert names <= {p.name for p in (ROOT / "static" / "icons").iterdir()}


def test_the_drawing_has_the_svg_colours_where_the_svg_has_them():
    size = 64  # one pixel per SVG unit
    pixels = icons.draw(size, maskable=False)
    at = lambda x, y: pixels[y * size + x]  # noqa: E731
    assert at(0, 0)[3] == 0  # outside the rounded tile: transparent
    assert at(5, 32) == (*icons.BACKGROUND, 255)
    assert at(10, 32) == (*icons.FRAME, 255)  # the frame's stroke, x 8..12
    assert at(31, 32) == (*icons.PLAY, 255)  # inside the play triangle
    maskable = icons.draw(size, maskable=True)
    assert maskable[0] == (*icons.BACKGROUND, 255)  # full bleed for any mask shape
