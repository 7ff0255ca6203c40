"""Media in the page (browser): Blobs from bytes, and one inspection that reads everything the
vault needs from the media itself: its SHA-256, width, height, duration and a small preview.

The previews (all `PREVIEW_TYPE`, at most `PREVIEW_MAX_PX` on their longer side):
- an image is scaled down;
- audio is decoded with `OfflineAudioContext.decodeAudioData` (no user gesture needed): the
  duration comes from the decoded AudioBuffer, and the preview is its waveform (min/max peaks
  per column, `WAVEFORM_SIZE`, on the app's dark surface);
- a video is loaded in a detached <video>, seeked to a representative moment
  (min(`POSTER_AT_S`, duration / 3)) and that frame becomes its poster.

The media stays a JS Blob throughout: hashing runs in `crypto.subtle`, decoding in
`createImageBitmap`, Web Audio or a <video>, so megabytes never cross into the Python heap; only
the digest, a few numbers and the preview Blob's handle do. Hashing and decoding run
concurrently, and Python awaits the pair once (each await in Pyodide costs a trip through the
browser's task queue). Media the browser cannot decode, or a video without a frame to show,
raises InvalidAsset; audio and video give up after `DECODE_TIMEOUT_MS`.

    blob = to_blob(png_bytes, "image/png")
    info = await inspect(blob, "image/png")   # MediaInfo(sha256=..., width=..., preview=<Blob>)

Object URLs: `object_url(blob)` hands the caller a URL that the caller owns; whoever shows it
(the UI card) calls `revoke_url` when the element goes away. `inspect` revokes its own, on
success, failure and timeout alike.
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
DECODE_TIMEOUT_MS = 15_000
POSTER_AT_S = 0.5
WAVEFORM_SIZE = (320, 80)
WAVEFORM_COLORS = {"background": "#171a23", "axis": "#2b3040", "wave": "#a78bfa"}
# decodeAudioData resamples to its context's rate; 8 kHz keeps a long file's decoded samples
# small (a 16 kHz narration halves, nothing grows) and is plenty for 320 columns of peaks.
AUDIO_DECODE_RATE = 8_000

_JS = js.Function.new("options", r"""
const { previewMaxPx, previewType, previewQuality, timeoutMs, posterAtS, decodeRate,
        waveWidth, waveHeight, colors } = options;
const hex = (buffer) => Array.from(new Uint8Array(buffer),
                                   (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (blob) => hex(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
const refuse = (message) => new DOMException(message, "EncodingError");
const fail = (where, e) => { throw refuse(`${where}: ${(e && e.message) || e}`); };
const encode = (canvas) => canvas.convertToBlob({ type: previewType, quality: previewQuality });

function fitted(width, height) {
  const scale = Math.min(1, previewMaxPx / Math.max(width, height));
  const canvas = new OffscreenCanvas(Math.max(1, Math.round(width * scale)),
                                     Math.max(1, Math.round(height * scale)));
  const context = canvas.getContext("2d");
  context.imageSmoothingQuality = "high";
  return { canvas, context };
}

function deadline(promise, what) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new DOMException(
      `${what}: decoding took longer than ${timeoutMs / 1000} s`, "TimeoutError")), timeoutMs); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function image(blob) {
  let bitmap;
  try { bitmap = await createImageBitmap(blob); } catch (e) { fail("image", e); }
  try {
    const { width, height } = bitmap;
    const { canvas, context } = fitted(width, height);
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return { width, height, preview: await encode(canvas) };
  } finally { bitmap.close(); }
}

// --- audio: decode once, then peaks -> waveform -------------------------------------------
function peaks(buffer, columns) {
  const low = new Float32Array(columns), high = new Float32Array(columns);
  const per = buffer.length / columns;
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const samples = buffer.getChannelData(c);
    for (let x = 0; x < columns; x++) {
      const end = Math.min(samples.length, Math.ceil((x + 1) * per));
      for (let i = Math.floor(x * per); i < end; i++) {
        const s = samples[i];
        if (s < low[x]) low[x] = s;
        if (s > high[x]) high[x] = s;
      }
    }
  }
  return { low, high };
}

function waveform({ low, high }) {
  const canvas = new OffscreenCanvas(waveWidth, waveHeight);
  const context = canvas.getContext("2d");
  const middle = waveHeight / 2;
  const loudest = Math.max(0.01, ...high, ...low.map(Math.abs));
  const gain = (middle - 2) / loudest;  // normalised, with a 2 px margin
  context.fillStyle = colors.background;
  context.fillRect(0, 0, waveWidth, waveHeight);
  context.fillStyle = colors.axis;
  context.fillRect(0, Math.floor(middle), waveWidth, 1);
  context.fillStyle = colors.wave;
  for (let x = 0; x < waveWidth; x++) {
    const top = middle - high[x] * gain, bottom = middle - low[x] * gain;
    context.fillRect(x, Math.floor(top), 1, Math.max(1, Math.ceil(bottom - top)));
  }
  return encode(canvas);
}

async function audio(blob) {
  let decoded;
  try {
    const context = new OfflineAudioContext(1, 1, decodeRate);
    decoded = await context.decodeAudioData(await blob.arrayBuffer());
  } catch (e) { fail("audio", e); }
  if (!decoded.length) throw refuse("audio: it holds no samples");
  return { durationMs: Math.round(decoded.duration * 1000),
           preview: await waveform(peaks(decoded, waveWidth)) };
}

// --- video: metadata, a seek, one frame ------------------------------------------------------
function next(el, event) {
  return new Promise((resolve, reject) => {
    const done = () => { el.removeEventListener(event, ok); el.removeEventListener("error", bad); };
    const ok = () => { done(); resolve(); };
    const bad = () => { done(); reject(refuse(
        `video: ${(el.error && el.error.message) || "the browser cannot decode this media"}`)); };
    el.addEventListener(event, ok);
    el.addEventListener("error", bad);
  });
}

async function seek(el, seconds) {
  const seeked = next(el, "seeked");
  el.currentTime = seconds;
  await seeked;
}

async function poster(el) {
  await next(el, "loadeddata");
  if (!el.videoWidth || !el.videoHeight) throw refuse("video: it has no picture to show");
  if (!Number.isFinite(el.duration)) await seek(el, 1e9);  // e.g. recorder WebM: find the end
  const seconds = Number.isFinite(el.duration) ? el.duration : 0;
  const at = Math.min(posterAtS, seconds / 3);
  if (el.currentTime !== at) await seek(el, at);
  if (el.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) {
    throw refuse(`video: no frame could be decoded at ${at.toFixed(2)} s`);
  }
  const { videoWidth: width, videoHeight: height } = el;
  const { canvas, context } = fitted(width, height);
  context.drawImage(el, 0, 0, canvas.width, canvas.height);
  return { width, height, preview: await encode(canvas),
           durationMs: Number.isFinite(el.duration) ? Math.round(el.duration * 1000) : undefined };
}

async function video(blob) {
  const url = URL.createObjectURL(blob);
  const el = document.createElement("video");
  el.muted = true;
  el.preload = "auto";
  const work = poster(el);
  el.src = url;
  try { return await deadline(work, "video"); }
  finally { el.removeAttribute("src"); el.load(); URL.revokeObjectURL(url); }
}

const probes = { image, audio: (blob) => deadline(audio(blob), "audio"), video };

return {
  sha256,
  inspect: async (blob, family) => {
    const [digest, info] = await Promise.all([sha256(blob), probes[family](blob)]);
    return { sha256: digest, ...info };
  },
};
""")(to_js({"previewMaxPx": PREVIEW_MAX_PX, "previewType": PREVIEW_TYPE,
            "previewQuality": PREVIEW_QUALITY, "timeoutMs": DECODE_TIMEOUT_MS,
            "posterAtS": POSTER_AT_S, "decodeRate": AUDIO_DECODE_RATE,
            "waveWidth": WAVEFORM_SIZE[0], "waveHeight": WAVEFORM_SIZE[1],
            "colors": WAVEFORM_COLORS}, dict_converter=js.Object.fromEntries))


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
    """Hash the media and read its size/duration and preview from the media itself (module
    docstring). Media the browser cannot decode, or a video with no frame, raises InvalidAsset."""
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
