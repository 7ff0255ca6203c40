"""JPEG segments and WebP RIFF chunks (pure): where a file keeps its EXIF and XMP blocks.

Owns the container walk only; what the blocks say is read by `exif.py` (TIFF) and `xmp.py`.
A JPEG is SOI, then markers with big-endian lengths up to SOS (the image data, never read): an
APP1 segment starting `Exif\\0\\0` holds TIFF EXIF, one starting with the XMP namespace name
(http://ns.adobe.com/xap/1.0/ and a NUL) holds an XMP packet (the first of each counts; Adobe's
extended XMP, split over more segments, is not joined). A WebP is a RIFF file `RIFF <size> WEBP`
of chunks (little-endian sizes, odd sizes padded by one byte): `EXIF` holds TIFF (with or
without the `Exif\\0\\0` prefix), `XMP ` a packet, `VP8X` the canvas (it must come first).
Every length is checked against the bytes there are and every count is capped (MAX_*): a
truncated or inconsistent file raises MetadataError naming the offset and what is wrong, in
time linear in the file.

    >>> exif = b"\\xff\\xe1\\x00\\x0cExif\\x00\\x00MM\\x00*"
    >>> jpeg = b"\\xff\\xd8" + exif + b"\\xff\\xda\\x00\\x02"
    >>> jpeg_blocks(jpeg).exif
    b'MM\\x00*'
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterator

from app.core.errors import MetadataError

__all__ = ["MAX_JPEG_SEGMENTS", "MAX_WEBP_CHUNKS", "EXIF_PREFIX", "XMP_PREFIX", "Blocks",
           "Segment", "RiffChunk", "iter_jpeg_segments", "iter_webp_chunks", "jpeg_blocks",
           "webp_blocks", "blocks_of"]

MAX_JPEG_SEGMENTS = 4096   # a camera JPEG has about 10 before SOS; ICC profiles split into <= 255
MAX_WEBP_CHUNKS = 1 << 16  # an animation has one ANMF chunk a frame; EXIF and XMP come last
EXIF_PREFIX = b"Exif\0\0"
XMP_PREFIX = b"http://ns.adobe.com/xap/1.0/" + b"\0"
SOI, SOS, EOI, APP1 = 0xD8, 0xDA, 0xD9, 0xE1
# Markers with no length field: TEM, RST0-RST7, SOI, EOI.
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), SOI, EOI})


@dataclass(frozen=True)
class Blocks:
    """The metadata blocks a container holds: the TIFF bytes of its EXIF and the XMP packet."""

    exif: bytes | None = None
    xmp: bytes | None = None


@dataclass(frozen=True)
class Segment:
    """One JPEG marker segment: the marker byte, where it starts, and its payload."""

    marker: int
    start: int
    payload: bytes


@dataclass(frozen=True)
class RiffChunk:
    """One WebP chunk: its four-letter type, where it starts, and its payload (no padding)."""

    fourcc: bytes
    start: int
    payload: bytes


def blocks_of(data: bytes, mime_type: str) -> Blocks:
    """The EXIF and XMP blocks of a whole JPEG or WebP file."""
    if mime_type == "image/jpeg":
        return jpeg_blocks(data)
    if mime_type == "image/webp":
        return webp_blocks(data)
    raise MetadataError(f"EXIF and XMP are read from JPEG and WebP, not {mime_type!r}")


# --- JPEG ---------------------------------------------------------------------------------------
def jpeg_blocks(data: bytes) -> Blocks:
    """The first APP1 EXIF (TIFF bytes, prefix removed) and the first APP1 XMP packet."""
    exif = xmp = None
    for segment in iter_jpeg_segments(data):
        if segment.marker != APP1:
            continue
        if exif is None and segment.payload.startswith(EXIF_PREFIX):
            exif = segment.payload[len(EXIF_PREFIX):]
        elif xmp is None and segment.payload.startswith(XMP_PREFIX):
            xmp = segment.payload[len(XMP_PREFIX):]
    return Blocks(exif, xmp)


def iter_jpeg_segments(data: bytes) -> Iterator[Segment]:
    """Every marker segment from SOI up to SOS (or EOI), at most MAX_JPEG_SEGMENTS of them."""
    if data[:2] != b"\xff\xd8":
        raise MetadataError("not a JPEG: the file does not start with the SOI marker FF D8")
    offset = 2
    for _count in range(MAX_JPEG_SEGMENTS):
        marker, offset = _marker_at(data, offset)
        if marker in STANDALONE:
            if marker == EOI:
                return
            continue
        segment, offset = _segment_at(data, marker, offset)
        yield segment
        if marker == SOS:
            return
    raise MetadataError(f"the JPEG has more than {MAX_JPEG_SEGMENTS:,} segments before its "
                        "image data")


def _marker_at(data: bytes, offset: int) -> tuple[int, int]:
    """The marker at `offset` (fill bytes FF before it skipped) and the offset after it."""
    if offset >= len(data):
        raise MetadataError(f"the JPEG is truncated at byte {offset} (no SOS marker)")
    if data[offset] != 0xFF:
        raise MetadataError(f"the JPEG has byte {data[offset]:#04x} at byte {offset} where a "
                            "marker (FF) must start")
    while offset < len(data) and data[offset] == 0xFF:
        offset += 1
    if offset >= len(data):
        raise MetadataError(f"the JPEG is truncated at byte {offset} (a marker with no type)")
    if data[offset] == 0x00:
        raise MetadataError(f"the JPEG has an escaped FF 00 at byte {offset - 1} outside the "
                            "image data")
    return data[offset], offset + 1


def _segment_at(data: bytes, marker: int, offset: int) -> tuple[Segment, int]:
    """The segment whose two length bytes start at `offset`, and the offset after it."""
    if offset + 2 > len(data):
        raise MetadataError(f"the JPEG segment FF {marker:02X} at byte {offset - 2} is truncated "
                            "before its length")
    (length,) = struct.unpack_from(">H", data, offset)
    if length < 2:
        raise MetadataError(f"the JPEG segment FF {marker:02X} at byte {offset - 2} has length "
                            f"{length}; the least is 2")
    end = offset + length
    if end > len(data):
        raise MetadataError(f"the JPEG segment FF {marker:02X} at byte {offset - 2} has length "
                            f"{length}, past the end of the file ({len(data)} bytes)")
    return Segment(marker, offset - 2, data[offset + 2:end]), end


# --- WebP ---------------------------------------------------------------------------------------
def webp_blocks(data: bytes) -> Blocks:
    """The first `EXIF` chunk (TIFF bytes, an `Exif\\0\\0` prefix removed) and the first `XMP `."""
    exif = xmp = None
    for chunk in iter_webp_chunks(data):
        if chunk.fourcc == b"VP8X":
            _check_vp8x(chunk)
        elif chunk.fourcc == b"EXIF" and exif is None:
            exif = chunk.payload.removeprefix(EXIF_PREFIX)
        elif chunk.fourcc == b"XMP " and xmp is None:
            xmp = chunk.payload
    return Blocks(exif, xmp)


def iter_webp_chunks(data: bytes) -> Iterator[RiffChunk]:
    """Every chunk inside the RIFF size, at most MAX_WEBP_CHUNKS of them. Bytes after the RIFF
    size are ignored (the WebP container spec says so)."""
    end = _riff_end(data)
    offset = 12
    for _count in range(MAX_WEBP_CHUNKS):
        if offset >= end:
            return
        chunk, offset = _riff_chunk_at(data, offset, end)
        yield chunk
    if offset < end:
        raise MetadataError(f"the WebP has more than {MAX_WEBP_CHUNKS:,} chunks")


def _riff_end(data: bytes) -> int:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise MetadataError("not a WebP: the file does not start with RIFF <size> WEBP")
    (size,) = struct.unpack_from("<I", data, 4)
    if size < 4 or size % 2:
        raise MetadataError(f"the WebP's RIFF size {size} is invalid (at least 4 and even)")
    if 8 + size > len(data):
        raise MetadataError(f"the WebP's RIFF size {size} runs past the end of the file "
                            f"({len(data)} bytes): the file is truncated")
    return 8 + size


def _riff_chunk_at(data: bytes, offset: int, end: int) -> tuple[RiffChunk, int]:
    """The chunk at `offset` and the offset of the next one (after an odd size's pad byte)."""
    if offset + 8 > end:
        raise MetadataError(f"the WebP chunk header at byte {offset} is truncated")
    fourcc, size = struct.unpack_from("<4sI", data, offset)
    payload_end = offset + 8 + size
    if payload_end > end:
        raise MetadataError(f"the WebP chunk {fourcc!r} at byte {offset} has size {size}, past "
                            f"the end of the RIFF data (byte {end})")
    return RiffChunk(fourcc, offset, data[offset + 8:payload_end]), payload_end + size % 2


def _check_vp8x(chunk: RiffChunk) -> None:
    if len(chunk.payload) < 10:
        raise MetadataError(f"the WebP VP8X chunk at byte {chunk.start} has {len(chunk.payload)} "
                            "bytes; it must have 10")
    if chunk.start != 12:
        raise MetadataError(f"the WebP VP8X chunk is at byte {chunk.start}; it must come first")
