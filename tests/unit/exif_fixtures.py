"""Byte builders for the EXIF, XMP, JPEG and WebP tests: files in the layout the tools write.

piexif (what A1111 uses) writes a big-endian "MM" TIFF block, IFD0 at byte 8, and a UserComment
of `UNICODE\\0` + UTF-16-BE; piexif.insert puts it in an APP1 `Exif\\0\\0` segment right after
SOI. Pillow and libwebp put the same TIFF block in a WebP `EXIF` chunk (no prefix) and XMP in
`XMP `, after a VP8X chunk whose flags announce them.
"""

from __future__ import annotations

import struct

# TIFF field types
ASCII, SHORT, LONG, UNDEFINED = 2, 3, 4, 7
IMAGE_DESCRIPTION, SOFTWARE, EXIF_IFD, USER_COMMENT = 0x010E, 0x0131, 0x8769, 0x9286
TYPE_SIZES = {1: 1, ASCII: 1, SHORT: 2, LONG: 4, UNDEFINED: 1}


def user_comment(text: str, charset: str = "unicode", order: str = ">") -> bytes:
    """A UserComment value: the 8-byte charset prefix, then the text."""
    if charset == "unicode":
        return b"UNICODE\0" + text.encode("utf-16-be" if order == ">" else "utf-16-le")
    if charset == "ascii":
        return b"ASCII\0\0\0" + text.encode("ascii")
    return b"\0" * 8 + text.encode("utf-8")


def tiff(ifd0: dict[int, tuple[int, bytes]], exif: dict[int, tuple[int, bytes]] | None = None,
         order: str = ">") -> bytes:
    """A TIFF block: IFD0 with `ifd0`'s entries (tag: (type, value bytes)), and an Exif IFD with
    `exif`'s entries when given, values after each IFD, in byte order `order` ("<" or ">")."""
    header = (b"MM\0*" if order == ">" else b"II*\0") + struct.pack(order + "I", 8)
    entries0 = dict(ifd0)
    if exif is not None:
        entries0[EXIF_IFD] = (LONG, b"\0\0\0\0")  # patched below
    ifd0_bytes, end0 = _ifd(entries0, 8, order)
    if exif is None:
        return header + ifd0_bytes
    exif_bytes, _ = _ifd(exif, end0, order)
    entries0[EXIF_IFD] = (LONG, struct.pack(order + "I", end0))
    ifd0_bytes, _ = _ifd(entries0, 8, order)
    return header + ifd0_bytes + exif_bytes


def _ifd(entries: dict[int, tuple[int, bytes]], offset: int, order: str) -> tuple[bytes, int]:
    """An IFD at `offset` (entries sorted by tag, next-IFD 0, then the values that do not fit
    in 4 bytes) and the offset after it."""
    table_end = offset + 2 + 12 * len(entries) + 4
    table, values = [struct.pack(order + "H", len(entries))], b""
    for tag, (kind, value) in sorted(entries.items()):
        count = len(value) // TYPE_SIZES[kind]
        if len(value) <= 4:
            field = value.ljust(4, b"\0")
        else:
            field = struct.pack(order + "I", table_end + len(values))
            values += value + b"\0" * (len(value) % 2)
        table.append(struct.pack(order + "HHI", tag, kind, count) + field)
    table.append(b"\0\0\0\0")
    return b"".join(table) + values, table_end + len(values)


def a1111_tiff(infotext: str, order: str = ">") -> bytes:
    """What A1111 writes for a JPEG or WebP: piexif's Exif IFD holding only the UserComment."""
    return tiff({}, {USER_COMMENT: (UNDEFINED, user_comment(infotext, "unicode", order))}, order)


def segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def tiny_jpeg(*app_segments: bytes) -> bytes:
    """A valid 1x1 grey baseline JPEG (one all-zero block), with `app_segments` after SOI."""
    dqt = segment(0xDB, b"\x00" + bytes([1] * 64))
    sof = segment(0xC0, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00")
    # one code of length 1 in each table: DC category 0, AC end-of-block
    dht = segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00"
                  + b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    sos = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + b"".join(app_segments) + dqt + sof + dht + sos + b"\x3f\xff\xd9"


def exif_segment(tiff_block: bytes) -> bytes:
    return segment(0xE1, b"Exif\0\0" + tiff_block)


def xmp_segment(packet: bytes) -> bytes:
    return segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + packet)


def riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)


# A 1x1 lossless WebP (VP8L), the smallest there is.
VP8L_1X1 = riff_chunk(b"VP8L", bytes.fromhex("2f00000010071011118888fe07"))


def webp(*chunks: bytes) -> bytes:
    """A WebP of `chunks` (each from riff_chunk) with the RIFF size right."""
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def extended_webp(exif: bytes | None = None, xmp: bytes | None = None) -> bytes:
    """A 1x1 WebP with VP8X (flags for EXIF and XMP), the image, then EXIF and XMP chunks."""
    flags = (0x08 if exif is not None else 0) | (0x04 if xmp is not None else 0)
    vp8x = riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + b"\0\0\0" + b"\0\0\0")
    extra = [riff_chunk(b"EXIF", exif)] if exif is not None else []
    extra += [riff_chunk(b"XMP ", xmp)] if xmp is not None else []
    return webp(vp8x, VP8L_1X1, *extra)
