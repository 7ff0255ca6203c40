"""Media in the page (browser): Blobs from bytes, and one inspection that reads everything the
vault needs from the media itself: its SHA-256, width, height, duration and a small preview.

The media stays a JS Blob throughout: hashing runs in `crypto.subtle`, decoding in
`createImageBitmap` or a media element, so megabytes never cross into the Python heap; only
the digest and a few numbers do. Hashing and decoding run concurrently, and Python awaits the
pair once (each await in Pyodide costs a trip through the browser's task queue).

    blob = to_blob(png_bytes, "image/png")
    info = await inspect(blob)          # MediaInfo(sha256=..., width=..., preview=<Blob>)

Object URLs: `object_url(blob)` hands the caller a URL that the caller owns; whoever shows it
(the UI card) calls `revoke_url` when the element goes away. `inspect` revokes its own.
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

_JS = js.Function.new("previewMaxPx", "previewType", "previewQuality", "timeoutMs", r"""
const hex = (buffer) => Array.from(new Uint8Array(buffer),
                                   (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (blob) => hex(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
const fail = (where, e) => { throw new DOMException(`${where}: ${(e && e.message) || e}`, "EncodingError"); };

async function image(blob) {
  let bitmap;
  try { bitmap = await createImageBitmap(blob); } catch (e) { fail("image", e); }
  try {
    const { width, height } = bitmap;
    const scale = Math.min(1, previewMaxPx / Math.max(width, height));
    const canvas = new OffscreenCanvas(Math.max(1, Math.round(width * scale)),
                                       Math.max(1, Math.round(height * scale)));
    const context = canvas.getContext("2d");
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const preview = await canvas.convertToBlob({ type: previewType, quality: previewQuality });
    return { width, height, preview };
  } finally { bitmap.close(); }
}

function timed(blob, tag) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(blob);
    const el = document.createElement(tag);
    const finish = (fn, value) => { clearTimeout(timer); el.removeAttribute("src"); el.load();
                                    URL.revokeObjectURL(url); fn(value); };
    const timer = setTimeout(() => finish(reject, new DOMException(
        `${tag}: reading the metadata took too long`, "TimeoutError")), timeoutMs);
    el.preload = "metadata";
    el.muted = true;
    el.onloadedmetadata = () => finish(resolve, {
        durationMs: Number.isFinite(el.duration) ? Math.round(el.duration * 1000) : undefined,
        width: el.videoWidth || undefined, height: el.videoHeight || undefined });
    el.onerror = () => finish(reject, new DOMException(
        `${tag}: ${(el.error && el.error.message) || "the browser cannot decode this media"}`,
        "EncodingError"));
    el.src = url;
  });
}

return {
  sha256,
  inspect: async (blob, family) => {
    const probe = family === "image" ? image(blob) : timed(blob, family);
    const [digest, info] = await Promise.all([sha256(blob), probe]);
    return { sha256: digest, ...info };
  },
};
""")(PREVIEW_MAX_PX, PREVIEW_TYPE, PREVIEW_QUALITY, METADATA_TIMEOUT_MS)


@dataclass(frozen=True)
class MediaInfo:
    """What the media says about itself; `preview` is a small image Blob, or None."""

    sha256: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    preview: object | None = None


def to_blob(media, mime_type: str):
    """A JS Blob of `media` (bytes-like, or a Blob re-labelled with `mime_type` without a copy)."""
    if isinstance(media, (bytes, bytearray, memoryview)):
        data = bytes(media)
        array = js.Uint8Array.new(len(data))
        array.assign(data)
        return js.Blob.new([array], to_js({"type": mime_type}, dict_converter=js.Object.fromEntries))
    if isinstance(media, JsProxy) and js.Blob.prototype.isPrototypeOf(media):
        return media if media.type == mime_type else media.slice(0, media.size, mime_type)
    raise InvalidAsset(f"Media must be bytes or a Blob, not {type(media).__name__}")


async def sha256_hex(blob) -> str:
    """SHA-256 of a Blob, computed by the browser; only the hex digest enters Python."""
    return str(await _JS.sha256(blob))


async def inspect(blob, mime_type: str) -> MediaInfo:
    """Hash the media and read its size/duration from the media itself (images also get a
    preview). Media the browser cannot decode raises InvalidAsset."""
    family = _family(mime_type)
    try:
        info = await _JS.inspect(blob, family)
    except JsException as exc:
        raise InvalidAsset(f"The {family} cannot be decoded ({exc.message}); the file may be "
                           f"corrupt, or not really {mime_type}") from None
    return MediaInfo(sha256=str(info.sha256), width=_optional(info, "width"),
                     height=_optional(info, "height"), duration_ms=_optional(info, "durationMs"),
                     preview=getattr(info, "preview", None))


def _family(mime_type: str) -> str:
    if mime_type in IMAGE_TYPES:
        return "image"
    if mime_type in VIDEO_TYPES:
        return "video"
    if mime_type in AUDIO_TYPES:
        return "audio"
    raise InvalidAsset(f"Media type {mime_type!r} cannot be inspected")


def _optional(info, name: str) -> int | None:
    value = getattr(info, name, None)
    return None if value is None else int(value)


async def blob_bytes(blob) -> bytes:
    """Copy a Blob into Python bytes (for tests and pure-Python consumers; avoid for media)."""
    return (await blob.arrayBuffer()).to_bytes()


def object_url(blob) -> str:
    """A URL showing `blob`. The CALLER owns it and must pass it to `revoke_url` when done."""
    return js.URL.createObjectURL(blob)


def revoke_url(url: str) -> None:
    js.URL.revokeObjectURL(url)
