/* Media inspection in the page, for app/store/media.py (loaded as `sv_media` by pyscript.toml;
 * static/js/bridge/render.mjs only tells it the digest of each video it made), in two halves:
 * - `probe(blob, family)`, on the write path: the SHA-256, width, height or duration, read
 *   without decoding audio or video (a detached <audio>/<video> loads only its metadata); an
 *   image is decoded once anyway (its size, and whether it decodes), so its small preview
 *   comes with it;
 * - `preview(blob, family)`, for the background preview maker (app/store/preview_maker.py):
 *   a narration's waveform (a full decode) or a clip's poster frame (a seek and one frame).
 * The media stays a Blob: hashing runs in crypto.subtle, decoding in createImageBitmap, Web
 * Audio or a detached <video>. Failures reject with DOMExceptions (EncodingError,
 * TimeoutError) that app/store/media.py turns into InvalidAsset. The sizes, types and timeouts
 * come from app/store/media.py's constants.
 */

const hex = (buffer) => Array.from(new Uint8Array(buffer),
                                   (b) => b.toString(16).padStart(2, "0")).join("");
// Blob -> its SHA-256, for Blobs whose maker hashed them as it wrote them (the render worker,
// through static/js/bridge/render.mjs): hashing here reads the whole Blob into memory at once.
const digests = new WeakMap();
/** Remember the SHA-256 (hex) that `blob`'s maker computed from the very bytes it holds. */
export const rememberDigest = (blob, digest) => { digests.set(blob, digest); };
/** The SHA-256 of a Blob, as lowercase hex. */
export const sha256 = async (blob) =>
  digests.get(blob) || hex(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
const refuse = (message) => new DOMException(message, "EncodingError");
const fail = (where, e) => { throw refuse(`${where}: ${(e && e.message) || e}`); };

/** `inspector(options)` for family "image" | "audio" | "video", configured by `options`:
 * {previewMaxPx, previewType, previewQuality, timeoutMs, posterAtS, decodeRate, waveWidth,
 * waveHeight, colors: {background, axis, wave}}. It returns {probe, preview}:
 * `probe(blob, family)` resolves to {sha256, width?, height?, durationMs?, preview?} (hashing
 * and reading concurrently; `preview` for images only); `preview(blob, family)` to
 * {preview, durationMs?} (a waveform or a poster frame; an image's thumbnail). */
export function inspector(options) {
  const { previewMaxPx, previewType, previewQuality, timeoutMs, posterAtS, decodeRate,
          waveWidth, waveHeight, colors } = options;
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
          `${el.localName}: ${(el.error && el.error.message) || "the browser cannot decode this media"}`)); };
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

  function detached(tag, blob, preload) {
    const url = URL.createObjectURL(blob);
    const el = document.createElement(tag);
    el.muted = true;
    el.preload = preload;
    const release = () => { el.removeAttribute("src"); el.load(); URL.revokeObjectURL(url); };
    return { el, url, release };
  }

  async function video(blob) {
    const { el, url, release } = detached("video", blob, "auto");
    const work = poster(el);
    el.src = url;
    try { return await deadline(work, "video"); }
    finally { release(); }
  }

  // --- the write path: metadata only ----------------------------------------------------------
  async function metadata(el, family) {
    await next(el, "loadedmetadata");
    if (family === "video" && (!el.videoWidth || !el.videoHeight)) {
      throw refuse("video: it has no picture to show");
    }
    // A live recording (MediaRecorder WebM) does not say how long it is: seeking past the end
    // makes the element find out, reading the file's index and not decoding it. Only once it
    // has loaded data, and with preload "auto": a seek issued straight after the metadata of a
    // "metadata"-preload element could stall until the deadline (a CI run's 30 s import wait).
    if (!Number.isFinite(el.duration)) {
      el.preload = "auto";
      if (el.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) await next(el, "loadeddata");
      if (!Number.isFinite(el.duration)) await seek(el, 1e9);
    }
    const info = Number.isFinite(el.duration) ? { durationMs: Math.round(el.duration * 1000) } : {};
    return family === "video" ? { width: el.videoWidth, height: el.videoHeight, ...info } : info;
  }

  function timed(family) {
    return async (blob) => {
      const { el, url, release } = detached(family, blob, "metadata");
      const work = metadata(el, family);
      el.src = url;
      try { return await deadline(work, family); }
      finally { release(); }
    };
  }

  const probes = { image, audio: timed("audio"), video: timed("video") };
  const previews = { image, audio: (blob) => deadline(audio(blob), "audio"), video };

  return {
    probe: async (blob, family) => {
      const [digest, info] = await Promise.all([sha256(blob), probes[family](blob)]);
      return { sha256: digest, ...info };
    },
    preview: (blob, family) => previews[family](blob),
  };
}
