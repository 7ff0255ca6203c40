"""Media in the page (browser): Blobs from bytes, and the two readings the vault takes from the
media itself: `inspect` on the write path (its SHA-256, width, height and duration) and
`make_preview` afterwards, in the background (app/store/preview_maker.py), for the small
gallery image.

What the write path reads (`inspect`), cheaply:
- an image is decoded once (`createImageBitmap`: its size, and proof that it decodes); its
  preview, scaled down from that decoded bitmap, costs little more and comes with it;
- audio and video are opened in a detached <audio>/<video> that loads only their metadata:
  the duration (a live-recorded WebM that does not state it is sought to its end, which reads
  its index and decodes nothing) and, for video, the picture size. Nothing is decoded, so a
  20 MB narration is stored at the speed of its hashing and its transaction.

What the background makes (`make_preview`; all `PREVIEW_TYPE`, at most `PREVIEW_MAX_PX` on the
longer side):
- audio is decoded with `OfflineAudioContext.decodeAudioData` (no user gesture needed) and
  drawn as its waveform (min/max peaks per column, `WAVEFORM_SIZE`, on the app's dark surface);
- a video is loaded in a detached <video>, seeked to a representative moment
  (min(`POSTER_AT_S`, duration / 3)) and that frame becomes its poster;
- an image is scaled down (for an image stored without one, e.g. by an older version).

The media stays a JS Blob throughout: hashing runs in `crypto.subtle`, decoding in
`createImageBitmap`, Web Audio or a <video>, so megabytes never cross into the Python heap; only
the digest, a few numbers and the preview Blob's handle do. Hashing and reading run
concurrently, and Python awaits the pair once (each await in Pyodide costs a trip through the
browser's task queue). Media the browser cannot open, or a video without a picture, raises
InvalidAsset; audio and video give up after `DECODE_TIMEOUT_MS`.

    blob = to_blob(wav_bytes, "audio/wav")
    info = await inspect(blob, "audio/wav")        # MediaInfo(sha256=..., duration_ms=...)
    waveform = await make_preview(blob, "audio/wav")   # a small WebP Blob, or InvalidAsset

Object URLs: `object_url(blob)` hands the caller a URL that the caller owns; whoever shows it
(the UI card) calls `revoke_url` when the element goes away. `inspect` and `make_preview`
revoke their own, on success, failure and timeout alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import js
from pyodide.ffi import JsException, JsProxy, to_js
from pyscript.js_modules import sv_media

from app.core.errors import InvalidAsset
from app.core.model import AUDIO_TYPES, IMAGE_TYPES, VIDEO_TYPES

PREVIEW_MAX_PX = 320
PREVIEW_TYPE = "image/webp"
PREVIEW_QUALITY = 0.82
DECODE_TIMEOUT_MS = 15_000
POSTER_AT_S = 0.5
WAVEFORM_SIZE = (320, 80)
WAVEFORM_COLORS = {"background": "#171a23", "axis": "#2b3040", "wave": "#a78bfa"}
# decodeAudioData resamples to its context's rate; 8 kHz keeps a long file's decoded samples
# small (a 16 kHz narration halves, nothing grows) and is plenty for 320 columns of peaks.
AUDIO_DECODE_RATE = 8_000

# The JS half is static/js/bridge/media.mjs (pyscript.toml loads it as `sv_media`), configured
# once with the constants above.
_sha256 = sv_media.sha256
_media = sv_media.inspector(to_js(
    {"previewMaxPx": PREVIEW_MAX_PX, "previewType": PREVIEW_TYPE,
     "previewQuality": PREVIEW_QUALITY, "timeoutMs": DECODE_TIMEOUT_MS,
     "posterAtS": POSTER_AT_S, "decodeRate": AUDIO_DECODE_RATE,
     "waveWidth": WAVEFORM_SIZE[0], "waveHeight": WAVEFORM_SIZE[1],
     "colors": WAVEFORM_COLORS}, dict_converter=js.Object.fromEntries))
_probe, _preview = _media.probe, _media.preview


@dataclass(frozen=True)
class MediaInfo:
    """What the media says about itself; `preview` is a small image Blob (images only: audio
    and video get theirs in the background), or None."""

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


async def own_copy(blob):
    """A Blob that holds its own bytes, with `blob`'s type. Chromium's IndexedDB stores a File
    the user picked (or a slice of one, such as a stored entry of a zip being imported) as a
    reference to the file on disk: once that file is moved, edited or deleted, the stored Blob
    can no longer be read (NotReadableError). Every import stores a copy made here."""
    headers = to_js({"headers": {"Content-Type": str(blob.type)}},
                    dict_converter=js.Object.fromEntries)
    try:
        return await js.Response.new(blob.stream(), headers).blob()
    except JsException as exc:
        raise InvalidAsset(f"The file could not be read ({exc.name}: {exc.message}); was it "
                           "moved or deleted while it was being imported?") from None


async def sha256_hex(blob) -> str:
    """SHA-256 of a Blob, computed by the browser; only the hex digest enters Python."""
    return str(await _sha256(blob))


async def inspect(blob, mime_type: str) -> MediaInfo:
    """Hash the media and read its size or duration (module docstring: audio and video are not
    decoded). Media the browser cannot open, or a video with no picture, raises InvalidAsset."""
    try:
        return media_info(await probe(blob, mime_type))
    except JsException as exc:
        raise probe_error(exc, mime_type) from None


def probe(blob, mime_type: str):
    """`inspect` in two halves, for a caller that chains work onto the JS promise itself
    (app/store/vault.py starts its write as the probe resolves): the promise of the probe;
    `media_info` reads what it resolves to, `probe_error` says what a rejection means."""
    return _probe(blob, _family(mime_type))


def media_info(info) -> MediaInfo:
    """The MediaInfo of what `probe`'s promise resolved to."""
    return MediaInfo(sha256=str(info.sha256), width=_optional(info, "width"),
                     height=_optional(info, "height"), duration_ms=_optional(info, "durationMs"),
                     preview=getattr(info, "preview", None))


def probe_error(exc: JsException, mime_type: str) -> InvalidAsset:
    """The InvalidAsset a rejected `probe` stands for."""
    return InvalidAsset(f"The {_family(mime_type)} cannot be decoded ({exc.message}); the file may "
                        f"be corrupt, or not really {mime_type}")


async def make_preview(blob, mime_type: str):
    """The small gallery image of this media (a JS Blob): a waveform, a poster frame or a
    thumbnail. Raises InvalidAsset, saying why, when none can be made."""
    family = _family(mime_type)
    try:
        made = await _preview(blob, family)
    except JsException as exc:
        raise InvalidAsset(f"No preview of this {family} could be made ({exc.name}: "
                           f"{exc.message})") from None
    return made.preview


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
