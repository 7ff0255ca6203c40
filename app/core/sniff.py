"""What a file really is (pure): the media type from its first bytes, never from its name, and
the recipe a PNG carries (SceneVault's own iTXt recipe, or A1111's `parameters` text).

    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8))
    'image/png'
    >>> sniff(b"<svg xmlns='...'>")
    Traceback (most recent call last):
    ...
    app.core.errors.InvalidAsset: This is an SVG image. SVG can carry scripts, so SceneVault does not store it; export it as PNG or WebP and import that.
"""

from __future__ import annotations

from app.core import pngmeta
from app.core.errors import InvalidAsset, PngError

SNIFF_BYTES = 64
_MARKUP = {b"<svg": "an SVG image", b"<?xml": "an XML/SVG document", b"<!doctype html": "an HTML page",
           b"<html": "an HTML page", b"<script": "a script", b"<head": "an HTML page",
           b"<body": "an HTML page"}


def sniff(head: bytes) -> str:
    """The media type the leading bytes prove, or InvalidAsset saying what the file is. Only
    the first SNIFF_BYTES count, however many it is given."""
    head = head[:SNIFF_BYTES]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                    and head[1] & 0x06):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head[4:8] == b"ftyp":
        return "audio/mp4" if head[8:11] == b"M4A" else "video/mp4"
    _refuse(head)


def _refuse(head: bytes):
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    for marker, what in _MARKUP.items():
        if text.startswith(marker):
            if b"svg" in marker or b"xml" in marker:
                raise InvalidAsset(f"This is {what}. SVG can carry scripts, so SceneVault does not "
                                   "store it; export it as PNG or WebP and import that.")
            raise InvalidAsset(f"This is {what}, not media, whatever its name says. SceneVault "
                               "stores images (PNG, JPEG, WebP, GIF), audio and video only.")
    raise InvalidAsset("This file is not an image, audio or video SceneVault can store (its first "
                       "bytes match no known format). Use PNG, JPEG, WebP, GIF, WAV, MP3, OGG, "
                       "MP4 or WebM.")


def recipe_from_png(png: bytes) -> dict | None:
    """The recipe inside a PNG: SceneVault's own, else A1111's `parameters` fields, else None
    (also when the PNG or its text breaks a pngmeta rule or cap)."""
    try:
        own = pngmeta.read_recipe(png)
        if own:
            return own
        text = pngmeta.read_text(png).get(pngmeta.PARAMETERS_KEY)
        if not text:
            return None
        fields = pngmeta.parse_parameters(text).to_recipe_fields()
    except PngError:
        return None
    return {"kind": "image", "provider": "a1111", **{k: v for k, v in fields.items() if v != ""}}
