"""A span canvas and a seeded number source for the local image provider (server-only).

Owns `Rand` (numbers drawn from SHA-256 in counter mode: no `random` state, no floats, so the
same key gives the same numbers everywhere) and `Canvas`, where shapes are painted as
horizontal spans of one colour per row, in painter's order. `Canvas.rows()` flattens each
row into raw bytes plus runs of equal colour, which is what `pngwrite.RunEncoder` needs; the
work per row is a few slice assignments, not a Python loop per pixel. All geometry is integer.

    rand = Rand(b"key")
    canvas = Canvas(64, 32, sky=lambda y: b"\\x80\\x90\\xff")
    canvas.disc(32, 16, 8, solid(b"\\xff\\xee\\x99"))
    for raw, runs in canvas.rows(): ...
"""

from __future__ import annotations

import hashlib
from math import isqrt
from typing import Callable, Iterator, Sequence, TypeVar

Colour = bytes  # 3 bytes: R, G, B
Shade = Callable[[int], Colour]  # row -> colour, so a shape can darken toward its foot
T = TypeVar("T")


class Rand:
    """Deterministic integers from a key: SHA-256(key || counter), 8 bytes per draw."""

    def __init__(self, key: bytes):
        self._key = key
        self._counter = 0
        self._pool = b""

    def below(self, n: int) -> int:
        if len(self._pool) < 8:
            self._pool += hashlib.sha256(self._key + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        value, self._pool = int.from_bytes(self._pool[:8], "big"), self._pool[8:]
        return value % n

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return low + self.below(high - low + 1)

    def chance(self, percent: int) -> bool:
        return self.below(100) < percent

    def pick(self, items: Sequence[T]) -> T:
        return items[self.below(len(items))]


def rgb(r: int, g: int, b: int) -> Colour:
    return bytes((max(0, min(255, r)), max(0, min(255, g)), max(0, min(255, b))))


def mix(a: Colour, b: Colour, part: int, whole: int = 100) -> Colour:
    """`part/whole` of the way from colour a to colour b (integer arithmetic)."""
    part = max(0, min(whole, part))
    return bytes((x * (whole - part) + y * part) // whole for x, y in zip(a, b))


def solid(colour: Colour) -> Shade:
    return lambda _y: colour


def fade(top: Colour, bottom: Colour, y0: int, y1: int) -> Shade:
    """A vertical gradient from `top` at row y0 to `bottom` at row y1."""
    span = max(1, y1 - y0)
    return lambda y: mix(top, bottom, y - y0, span)


class Canvas:
    """Rows of painted spans (x0, x1, colour); later spans cover earlier ones."""

    def __init__(self, width: int, height: int, sky: Shade):
        self.width, self.height = width, height
        self._spans: list[list[tuple[int, int, Colour]]] = [[(0, width, sky(y))] for y in range(height)]

    def span(self, y: int, x0: int, x1: int, colour: Colour) -> None:
        if 0 <= y < self.height:
            x0, x1 = max(0, x0), min(self.width, x1)
            if x0 < x1:
                self._spans[y].append((x0, x1, colour))

    def rect(self, x0: int, y0: int, x1: int, y1: int, shade: Shade) -> None:
        for y in range(max(0, y0), min(self.height, y1)):
            self.span(y, x0, x1, shade(y))

    def ellipse(self, cx: int, cy: int, rx: int, ry: int, shade: Shade, top_only: bool = False) -> None:
        """A filled ellipse (or its upper half, for hills and domes)."""
        rx, ry = max(1, rx), max(1, ry)
        for dy in range(-ry, 1 if top_only else ry + 1):
            half = rx * isqrt(ry * ry - dy * dy) // ry
            self.span(cy + dy, cx - half, cx + half + 1, shade(cy + dy))

    def disc(self, cx: int, cy: int, r: int, shade: Shade) -> None:
        self.ellipse(cx, cy, r, r, shade)

    def peak(self, px: int, py: int, foot_y: int, left: int, right: int, shade: Shade) -> None:
        """A triangle with its apex at (px, py), `left`/`right` half-widths at row `foot_y`."""
        rows = max(1, foot_y - py)
        for y in range(max(0, py), min(self.height, foot_y + 1)):
            depth = y - py
            self.span(y, px - left * depth // rows, px + right * depth // rows + 1, shade(y))

    def trapezoid(self, cx: int, y0: int, y1: int, top_half: int, bottom_half: int,
                  shade: Shade) -> None:
        """A symmetric trapezoid centred on cx: half-width top_half at y0, bottom_half at y1."""
        rows = max(1, y1 - y0)
        for y in range(max(0, y0), min(self.height, y1)):
            half = top_half + (bottom_half - top_half) * (y - y0) // rows
            self.span(y, cx - half, cx + half + 1, shade(y))

    def rows(self) -> Iterator[tuple[bytes, list[tuple[int, Colour]]]]:
        """Per row: the raw PNG row (filter byte 0, then RGB) and its runs [(length, colour)]."""
        for spans in self._spans:
            yield _flatten(spans, self.width)


def _flatten(spans: list[tuple[int, int, Colour]], width: int) -> tuple[bytes, list[tuple[int, Colour]]]:
    row = bytearray(3 * width)
    cuts = {0, width}
    for x0, x1, colour in spans:
        row[3 * x0:3 * x1] = colour * (x1 - x0)
        cuts.add(x0)
        cuts.add(x1)
    bounds = sorted(cuts)
    runs: list[tuple[int, Colour]] = []
    for a, b in zip(bounds, bounds[1:]):
        colour = bytes(row[3 * a:3 * a + 3])
        if runs and runs[-1][1] == colour:
            runs[-1] = (runs[-1][0] + b - a, colour)
        else:
            runs.append((b - a, colour))
    return b"\0" + row, runs
