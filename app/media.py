"""Media in the page (browser): Blobs from bytes, SHA-256 without copying into Python, and what
the media itself says about its size (width, height, duration), plus a small preview.

The media stays a JS Blob throughout: hashing runs in `crypto.subtle`, decoding in
`createImageBitmap` or a media element, so megabytes never cross into the Python heap. Only
the 32-byte digest does.

    blob = to_blob(png_bytes, "image/png")
    digest = await sha256_hex(blob)
    info = await probe(blob, "image/png")     # MediaInfo(width=..., height=..., preview=Blob)

Object URLs: `object_url(blob)` hands the caller a URL that the caller owns; whoever shows it
(the UI card) calls `revoke_url` when the element goes away. `probe` revokes its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import js
from pyodide.ffi import JsException, JsProxy, to_js

from app.errors import InvalidAsset
from app.model import AUDIO_TYPES, IMAGE_TYPES, VIDEO_TYPES

PREVIEW_MAX_PX = 320
PREVIEW_TYPE = "image/webp"
PREVIEW_QUALITY = 0.82
METADATA_TIMEOUT_MS = 15_000

# Reads duration (and video size) from a media element; rejects on error or timeout.
_READ_MEDIA_METADATA = js.Function.new("blob", "tag", "timeoutMs", r"""
return new Promise((resolve, reject) => {
  const url = URL.createObjectURL(blob);
  const el = document.createElement(tag);
  const finish = (fn, value) => { clearTimeout(timer); el.removeAttribute("src"); el.load();
                                  URL.revokeObjectURL(url); fn(value); };
  const timer = setTimeout(() => finish(reject, new DOMException(
      "Reading the media's metadata took too long", "TimeoutError")), timeoutMs);
  el.preload = "metadata";
  el.muted = true;
  el.onloadedmetadata = () => finish(resolve, {
      duration: Number.isFinite(el.duration) ? el.duration : undefined,
      width: el.videoWidth || undefined, height: el.videoHeight || undefined});
  el.onerror = () => finish(reject, new DOMException(
      (el.error && el.error.message) || "The browser cannot decode this media", "EncodingError"));
  el.src = url;
});
""")


@dataclass(frozen=True)
class MediaInfo:
    """What the media says about itself; `preview` is a small image Blob, or None."""

    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    preview: object | None = None


def _js_options(options: dict):
    return to_js(options, dict_converter=js.Object.fromEntries)


def to_blob(media, mime_type: str):
    """A JS Blob of `media` (bytes-like, or a Blob re-labelled with `mime_type` without a copy)."""
    if isinstance(media, (bytes, bytearray, memoryview)):
        data = bytes(media)
        array = js.Uint8Array.new(len(data))
        array.assign(data)
        return js.Blob.new([array], _js_options({"type": mime_type}))
    if isinstance(media, JsProxy) and js.Blob.prototype.isPrototypeOf(media):
        return media if media.type == mime_type else media.slice(0, media.size, mime_type)
    raise InvalidAsset(f"Media must be bytes or a Blob, not {type(media).__name__}")


async def sha256_hex(blob) -> str:
    """SHA-256 of a Blob, computed by the browser; only the digest enters Python."""
    digest = await js.crypto.subtle.digest("SHA-256", await blob.arrayBuffer())
    return js.Uint8Array.new(digest).to_bytes().hex()


async def blob_bytes(blob) -> bytes:
    """Copy a Blob into Python bytes (for tests and pure-Python consumers; avoid for media)."""
    return (await blob.arrayBuffer()).to_bytes()


def object_url(blob) -> str:
    """A URL showing `blob`. The CALLER owns it and must pass it to `revoke_url` when done."""
    return js.URL.createObjectURL(blob)


def revoke_url(url: str) -> None:
    js.URL.revokeObjectURL(url)


async def probe(blob, mime_type: str) -> MediaInfo:
    """Read size/duration from the media itself; images also get a preview. Bad media raises."""
    if mime_type in IMAGE_TYPES:
        return await _probe_image(blob)
    if mime_type in AUDIO_TYPES or mime_type in VIDEO_TYPES:
        return await _probe_timed(blob, "video" if mime_type in VIDEO_TYPES else "audio")
    raise InvalidAsset(f"Media type {mime_type!r} cannot be probed")


async def _probe_image(blob) -> MediaInfo:
    try:
        bitmap = await js.createImageBitmap(blob)
    except JsException as exc:
        raise InvalidAsset(f"The image cannot be decoded ({exc.name}); the file may be corrupt "
                           "or not really a " + blob.type) from None
    try:
        width, height = bitmap.width, bitmap.height
        preview = await _preview(bitmap, width, height)
    finally:
        bitmap.close()
    return MediaInfo(width=width, height=height, preview=preview)


async def _preview(bitmap, width: int, height: int):
    scale = min(1.0, PREVIEW_MAX_PX / max(width, height))
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas = js.OffscreenCanvas.new(w, h)
    context = canvas.getContext("2d")
    context.imageSmoothingQuality = "high"
    context.drawImage(bitmap, 0, 0, w, h)
    return await canvas.convertToBlob(_js_options({"type": PREVIEW_TYPE, "quality": PREVIEW_QUALITY}))


async def _probe_timed(blob, tag: str) -> MediaInfo:
    try:
        meta = await _READ_MEDIA_METADATA(blob, tag, METADATA_TIMEOUT_MS)
    except JsException as exc:
        raise InvalidAsset(f"The {tag} cannot be read ({exc.name}: {exc.message}); the file may be "
                           "corrupt or in a format this browser does not play") from None
    duration = getattr(meta, "duration", None)
    return MediaInfo(width=getattr(meta, "width", None), height=getattr(meta, "height", None),
                     duration_ms=None if duration is None else round(duration * 1000))
