"""Deterministic PNG encoding (server-only) for images made of horizontal runs of colour.

`zlib.compress` is not the same everywhere (zlib, zlib-ng and others emit different streams
for the same input), so a PNG that must be the same bytes on every machine and Python cannot
use it. `RunEncoder` writes the DEFLATE stream itself: one block with the fixed Huffman code, in
which a run of one colour is its first pixel as literals plus back-references at distance 3,
and a row equal to the row above is back-references at distance `stride`. CRC-32 and Adler-32
are plain checksums, the same in every build. Any inflater (zlib, a browser) reads the result.

    encoder = RunEncoder(width=4)
    encoder.add_row(b"\\x00" + b"\\xff\\x00\\x00" * 4, [(4, b"\\xff\\x00\\x00")])
    png = png_bytes(4, 1, encoder.finish())
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_right
from functools import lru_cache

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LENGTH_BASE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
               99, 115, 131, 163, 195, 227, 258)
LENGTH_EXTRA = (0,) * 8 + (1,) * 4 + (2,) * 4 + (3,) * 4 + (4,) * 4 + (5,) * 4 + (0,)
DIST_BASE = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
             1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577)
DIST_EXTRA = (0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11,
              12, 12, 13, 13)
MAX_MATCH = 258
ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window, no dictionary, "fastest" level tag


def _reversed_bits(code: int, width: int) -> int:
    """Huffman codes are sent most significant bit first into an LSB-first bit stream."""
    return int(format(code, f"0{width}b")[::-1], 2)


def _literal(symbol: int) -> tuple[int, int]:
    """The fixed Huffman code of a literal/length symbol (RFC 1951, 3.2.6), as (bits, width)."""
    if symbol < 144:
        return _reversed_bits(0x30 + symbol, 8), 8
    if symbol < 256:
        return _reversed_bits(0x190 + symbol - 144, 9), 9
    if symbol < 280:
        return _reversed_bits(symbol - 256, 7), 7
    return _reversed_bits(0xC0 + symbol - 280, 8), 8


LITERALS = tuple(_literal(symbol) for symbol in range(256))
END_OF_BLOCK = _literal(256)


def _index(bases: tuple[int, ...], value: int) -> int:
    return bisect_right(bases, value) - 1


@lru_cache(maxsize=None)  # at most 256 lengths x the few distances used (3 and row strides)
def match_bits(length: int, distance: int) -> tuple[int, int]:
    """One back-reference (3..258 bytes at `distance`) as (bits, width)."""
    li = _index(LENGTH_BASE, length)
    bits, width = _literal(257 + li)
    bits |= (length - LENGTH_BASE[li]) << width
    width += LENGTH_EXTRA[li]
    di = _index(DIST_BASE, distance)
    bits |= _reversed_bits(di, 5) << width
    width += 5
    bits |= (distance - DIST_BASE[di]) << width
    return bits, width + DIST_EXTRA[di]


@lru_cache(maxsize=8192)
def copy_bits(total: int, distance: int) -> tuple[int, int]:
    """Back-references copying `total` bytes from `distance` back, split into legal lengths."""
    bits, width = 0, 0
    while total:
        step = min(total, MAX_MATCH)
        if 0 < total - step < 3:
            step = total - 3
        piece, piece_width = match_bits(step, distance)
        bits |= piece << width
        width += piece_width
        total -= step
    return bits, width


class RunEncoder:
    """Builds a zlib stream row by row. Each row comes as its raw bytes (filter byte 0 + RGB)
    and as runs [(length, rgb)] that describe the same pixels."""

    def __init__(self, width: int):
        self.stride = 3 * width + 1
        self._out = bytearray(ZLIB_HEADER)
        self._bits, self._width = 0b011, 3  # BFINAL=1, BTYPE=01 (fixed Huffman)
        self._adler = 1
        self._previous = b""
        self._colours: dict[bytes, tuple[int, int]] = {}
        self._same_row = copy_bits(self.stride, self.stride)

    def add_row(self, raw: bytes, runs: list[tuple[int, bytes]]) -> None:
        self._adler = zlib.adler32(raw, self._adler)
        if raw == self._previous:
            self._put(*self._same_row)
        else:
            self._put(*self._row_bits(runs))
        self._previous = raw

    def _row_bits(self, runs: list[tuple[int, bytes]]) -> tuple[int, int]:
        bits, width = LITERALS[0]  # filter type 0 (None)
        for length, colour in runs:
            head, head_width = self._colours.get(colour) or self._colour_bits(colour)
            bits |= head << width
            width += head_width
            if length > 1:
                tail, tail_width = copy_bits(3 * (length - 1), 3)
                bits |= tail << width
                width += tail_width
        return bits, width

    def _colour_bits(self, colour: bytes) -> tuple[int, int]:
        bits, width = 0, 0
        for byte in colour:
            code, code_width = LITERALS[byte]
            bits |= code << width
            width += code_width
        self._colours[colour] = (bits, width)
        return bits, width

    def _put(self, bits: int, width: int) -> None:
        self._bits |= bits << self._width
        self._width += width
        whole = self._width >> 3
        if whole:
            self._out += (self._bits & ((1 << (whole * 8)) - 1)).to_bytes(whole, "little")
            self._bits >>= whole * 8
            self._width &= 7

    def finish(self) -> bytes:
        """The complete zlib stream: end-of-block, padding, then Adler-32 (big-endian)."""
        self._put(*END_OF_BLOCK)
        if self._width:
            self._out.append(self._bits & 0xFF)
        self._bits = self._width = 0
        return bytes(self._out) + struct.pack(">I", self._adler)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, zlib_stream: bytes) -> bytes:
    """An 8-bit RGB PNG around an already-compressed image stream."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib_stream)
            + chunk(b"IEND", b""))
