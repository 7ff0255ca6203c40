"""EXIF (pure): the TIFF IFDs of an EXIF block, and the recipe a JPEG or WebP file carries.

`read_exif(tiff)` reads IFD0's ImageDescription (0x010E) and Software (0x0131) and, through the
ExifIFD pointer (0x8769), UserComment (0x9286), in either byte order. UserComment's 8-byte
charset prefix is honoured: `ASCII\\0\\0\\0`, `UNICODE\\0` (UTF-16: a BOM, else the order its
bytes show, else the TIFF header's; A1111 writes big-endian through piexif), `\\0` * 8
(undefined: UTF-8, else Latin-1); `JIS` comments are not read; a value with no known prefix is
read whole as undefined.

Loop-proof: IFD0, the IFDs its next-IFD links chain to, and the Exif IFD are walked with one set
of visited offsets. An IFD reached a second time (a chain that loops, or a pointer back to
IFD0) raises MetadataError: a correct writer never links one, so the walk is not cut off and
the file is not half-trusted. At most MAX_IFDS IFDs and MAX_IFD_ENTRIES entries each; every
offset and count is checked against the block before it is read (the values of tags SceneVault
does not read are never dereferenced).

`read_jpeg_or_webp(data, mime_type)` puts it together: A1111 infotext in UserComment gives tool
"a1111"; else SceneVault's sv:recipe in XMP gives "scenevault"; else a description (XMP
dc:description, then EXIF ImageDescription, then a plain UserComment) gives "xmp" or "exif"; a
file with none of those gives None. Raw texts are kept under "exif:<Tag>" and "xmp".

    >>> tiff = (b"MM\\0*\\0\\0\\0\\x08" + b"\\0\\x01" + b"\\x01\\x0e\\0\\x02\\0\\0\\0\\x04fox\\0"
    ...         + b"\\0\\0\\0\\0")
    >>> read_exif(tiff).image_description
    'fox'
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

from app.core.errors import MetadataError, PngError
from app.core.metadata.containers import blocks_of
from app.core.metadata.source import MAX_RAW_CHARS, RECIPE_FIELDS, SourceMetadata
from app.core.metadata.xmp import XmpFields, read_packet
from app.core.pngmeta import parse_parameters

__all__ = ["MAX_IFDS", "MAX_IFD_ENTRIES", "ExifText", "read_exif", "read_jpeg_or_webp"]

MAX_IFDS = 16            # IFD0, IFD1 (the thumbnail) and the Exif IFD in practice
MAX_IFD_ENTRIES = 512    # a camera's IFD has fewer than 100 entries
MAX_TEXT_BYTES = 2 * MAX_RAW_CHARS + 8  # a UTF-16 text of MAX_RAW_CHARS and its charset prefix
IMAGE_DESCRIPTION, SOFTWARE, EXIF_IFD_POINTER, USER_COMMENT = 0x010E, 0x0131, 0x8769, 0x9286
TAG_NAMES = {IMAGE_DESCRIPTION: "ImageDescription", SOFTWARE: "Software",
             USER_COMMENT: "UserComment"}
# Bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, ..., IFD).
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
CHARSET_ASCII, CHARSET_UNICODE, CHARSET_JIS = b"ASCII\0\0\0", b"UNICODE\0", b"JIS\0\0\0\0\0"
CHARSET_UNDEFINED = b"\0" * 8
MAX_NUMBER_CHARS = 32


@dataclass(frozen=True)
class Entry:
    """One IFD entry: tag, field type, value count, and where its 4-byte value field sits."""

    tag: int
    type: int
    count: int
    field_offset: int


@dataclass(frozen=True)
class ExifText:
    """The texts SceneVault reads from EXIF (None when absent or empty)."""

    image_description: str | None = None
    software: str | None = None
    user_comment: str | None = None

    def raw(self) -> dict[str, str]:
        """The texts found, keyed "exif:<Tag>"."""
        values = {IMAGE_DESCRIPTION: self.image_description, SOFTWARE: self.software,
                  USER_COMMENT: self.user_comment}
        return {f"exif:{TAG_NAMES[tag]}": text for tag, text in values.items() if text is not None}


@dataclass(frozen=True)
class _Tiff:
    """A TIFF block and its byte order ("<" little-endian "II", ">" big-endian "MM")."""

    data: bytes
    order: str

    def u16(self, offset: int) -> int:
        return struct.unpack_from(self.order + "H", self.data, offset)[0]

    def u32(self, offset: int) -> int:
        return struct.unpack_from(self.order + "I", self.data, offset)[0]


# --- TIFF IFDs ----------------------------------------------------------------------------------
def read_exif(tiff: bytes) -> ExifText:
    """The description, software and user comment of a TIFF/EXIF block (no `Exif\\0\\0` prefix)."""
    block = _tiff_header(tiff)
    ifds = _walk_ifds(block)
    ifd0, exif_ifd = ifds.get("IFD0", {}), ifds.get("ExifIFD", {})
    return ExifText(_ascii_value(block, ifd0.get(IMAGE_DESCRIPTION)),
                    _ascii_value(block, ifd0.get(SOFTWARE)),
                    _user_comment(block, exif_ifd.get(USER_COMMENT)))


def _tiff_header(tiff: bytes) -> _Tiff:
    if tiff[:4] == b"II*\0":
        return _Tiff(tiff, "<")
    if tiff[:4] == b"MM\0*":
        return _Tiff(tiff, ">")
    raise MetadataError(f"the EXIF block does not start with a TIFF header (II*\\0 or MM\\0*): "
                        f"{tiff[:4]!r}")


def _walk_ifds(block: _Tiff) -> dict[str, dict[int, Entry]]:
    """IFD0, its next-IFD chain and the Exif IFD, by name; each offset visited once."""
    if len(block.data) < 8:
        raise MetadataError("the EXIF block is truncated inside its TIFF header")
    found: dict[str, dict[int, Entry]] = {}
    visited: set[int] = set()
    pending = [("IFD0", block.u32(4), 0)]
    while pending:
        name, offset, chain_index = pending.pop()
        if offset in visited:
            raise MetadataError(f"the EXIF {name} at byte {offset} was already read: the IFD "
                                "links loop")
        if len(visited) == MAX_IFDS:
            raise MetadataError(f"the EXIF block links more than {MAX_IFDS} IFDs")
        visited.add(offset)
        entries, next_offset = _read_ifd(block, offset, name)
        found[name] = entries
        if next_offset and name != "ExifIFD":
            pending.append((f"IFD{chain_index + 1}", next_offset, chain_index + 1))
        pointer = entries.get(EXIF_IFD_POINTER)
        if name == "IFD0" and pointer is not None:
            pending.append(("ExifIFD", _pointer(block, pointer), 0))
    return found


def _read_ifd(block: _Tiff, offset: int, name: str) -> tuple[dict[int, Entry], int]:
    """An IFD's entries by tag (the first of a repeated tag counts) and its next-IFD offset
    (0 when the 4 bytes for it are missing at the very end of the block)."""
    size = len(block.data)
    if offset < 8 or offset + 2 > size:
        raise MetadataError(f"the EXIF {name} offset {offset} is outside the block ({size} bytes)")
    count = block.u16(offset)
    if count > MAX_IFD_ENTRIES:
        raise MetadataError(f"the EXIF {name} at byte {offset} has {count:,} entries; the limit "
                            f"is {MAX_IFD_ENTRIES}")
    table_end = offset + 2 + 12 * count
    if table_end > size:
        raise MetadataError(f"the EXIF {name} at byte {offset} has {count} entries, which run "
                            f"past the end of the block ({size} bytes)")
    entries: dict[int, Entry] = {}
    for start in range(offset + 2, table_end, 12):
        tag, kind = block.u16(start), block.u16(start + 2)
        entries.setdefault(tag, Entry(tag, kind, block.u32(start + 4), start + 8))
    next_offset = block.u32(table_end) if table_end + 4 <= size else 0
    return entries, next_offset


def _pointer(block: _Tiff, entry: Entry) -> int:
    if entry.type not in (4, 13) or entry.count != 1:
        raise MetadataError(f"the EXIF IFD pointer (tag {entry.tag:#06x}) has type {entry.type} "
                            f"and count {entry.count}; it must be one LONG")
    return block.u32(entry.field_offset)


def _value_bytes(block: _Tiff, entry: Entry) -> bytes:
    """An entry's value bytes: inline when they fit in 4, else at the offset the field holds."""
    length = entry.count * TYPE_SIZES.get(entry.type, 1)
    name = TAG_NAMES.get(entry.tag, f"tag {entry.tag:#06x}")
    if length > MAX_TEXT_BYTES:
        raise MetadataError(f"the EXIF {name} has {length:,} bytes; the limit is "
                            f"{MAX_TEXT_BYTES:,}")
    start = entry.field_offset if length <= 4 else block.u32(entry.field_offset)
    if start + length > len(block.data):
        raise MetadataError(f"the EXIF {name} value ({length:,} bytes at byte {start}) runs past "
                            f"the end of the block ({len(block.data)} bytes)")
    return block.data[start:start + length]


# --- text values --------------------------------------------------------------------------------
def _ascii_value(block: _Tiff, entry: Entry | None) -> str | None:
    """An ASCII field up to its first NUL; UTF-8 when it is (many writers use it), else Latin-1."""
    if entry is None:
        return None
    return _nonempty(_utf8_or_latin1(_value_bytes(block, entry).partition(b"\0")[0]))


def _user_comment(block: _Tiff, entry: Entry | None) -> str | None:
    if entry is None:
        return None
    value = _value_bytes(block, entry)
    charset, body = value[:8], value[8:]
    if charset == CHARSET_UNICODE:
        return _nonempty(_utf16(body, block.order).rstrip("\0"))
    if charset == CHARSET_JIS:
        return None
    if charset not in (CHARSET_ASCII, CHARSET_UNDEFINED):
        body = value
    return _nonempty(_utf8_or_latin1(body).rstrip("\0"))


def _utf16(body: bytes, tiff_order: str) -> str:
    """UTF-16 by its BOM, else by where its zero bytes fall (ASCII-heavy text shows its order),
    else in the TIFF header's order."""
    if len(body) % 2:
        raise MetadataError("the EXIF UserComment is UNICODE but has an odd length "
                            f"({len(body)} bytes)")
    codec = "utf-16" if body[:2] in (b"\xff\xfe", b"\xfe\xff") else _utf16_order(body, tiff_order)
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        raise MetadataError(f"the EXIF UserComment is not valid UTF-16 at byte "
                            f"{exc.start}") from None


def _utf16_order(body: bytes, tiff_order: str) -> str:
    sample = body[:512]
    high_zero, low_zero = sample[0::2].count(0), sample[1::2].count(0)
    if high_zero > 2 * low_zero:
        return "utf-16-be"
    if low_zero > 2 * high_zero:
        return "utf-16-le"
    return "utf-16-be" if tiff_order == ">" else "utf-16-le"


def _utf8_or_latin1(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _nonempty(text: str) -> str | None:
    if len(text) > MAX_RAW_CHARS:
        raise MetadataError(f"an EXIF text has {len(text):,} characters; the limit is "
                            f"{MAX_RAW_CHARS:,}")
    return text if text.strip() else None


# --- the recipe a JPEG or WebP carries ----------------------------------------------------------
def read_jpeg_or_webp(data: bytes, mime_type: str) -> SourceMetadata | None:
    """The recipe and raw texts in a whole JPEG or WebP file's EXIF and XMP, or None."""
    blocks = blocks_of(data, mime_type)
    text = read_exif(blocks.exif) if blocks.exif is not None else ExifText()
    packet = read_packet(blocks.xmp) if blocks.xmp is not None else None
    raw = text.raw() | ({"xmp": packet.text} if packet else {})
    found = (_a1111(text.user_comment) or _scenevault(packet)
             or _description(packet, text))
    if found is None:
        return None
    tool, fields = found
    return SourceMetadata(tool, {"kind": "image", **fields, "provider": tool}, raw)


def _a1111(comment: str | None) -> tuple[str, dict[str, Any]] | None:
    """A1111's infotext (its settings line has Steps) in the UserComment."""
    if comment is None or "Steps:" not in comment:
        return None
    try:
        parameters = parse_parameters(comment)
    except PngError as exc:
        raise MetadataError(f"the EXIF UserComment: {exc}") from None
    if "Steps" not in parameters.settings:
        return None
    fields = parameters.to_recipe_fields()
    if parameters.settings.get("Sampler"):
        fields["sampler"] = parameters.settings["Sampler"]
    cfg_scale = _finite_number(parameters.settings.get("CFG scale", ""))
    if cfg_scale is not None:
        fields["cfg_scale"] = cfg_scale
    return "a1111", fields


def _finite_number(text: str) -> float | None:
    if not text or len(text) > MAX_NUMBER_CHARS:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _scenevault(packet: XmpFields | None) -> tuple[str, dict[str, Any]] | None:
    """SceneVault's recipe JSON in XMP sv:recipe, each field of RECIPE_FIELDS of the right type."""
    if packet is None or packet.recipe is None:
        return None
    fields = {name: value for name, value in packet.recipe.items()
              if name in RECIPE_FIELDS and name not in ("kind", "provider") and _typed(name, value)}
    return "scenevault", fields


def _typed(name: str, value: Any) -> bool:
    if name in ("seed", "steps", "width", "height"):
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "cfg_scale":
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    return isinstance(value, str)


def _description(packet: XmpFields | None, text: ExifText) -> tuple[str, dict[str, Any]] | None:
    """A plain description: XMP dc:description, else EXIF ImageDescription or UserComment."""
    if packet is not None and packet.description and packet.description.strip():
        return "xmp", {"prompt": packet.description}
    exif_text = text.image_description or text.user_comment
    return ("exif", {"prompt": exif_text}) if exif_text else None
