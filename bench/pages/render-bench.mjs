// The page half of bench/render.py: the bench project's media, the frames the app draws (its
// timeline arithmetic ported from app/render/timeline.py, checked against `plan.layers` before
// anything is timed), the reference frames captured raw from the canvas, encoder variants run
// straight on Mediabunny/WebCodecs, and the Long Tasks observer.
//
//   const kit = await import("/bench/pages/render-bench.mjs");
//   kit.watchLongTasks();
//   const { ms, size, frames } = await kit.encodeVariant(spec, { codec: "vp8", latencyMode: "realtime" });

const seeded = (seed) => {
  let state = seed * 2654435761 >>> 0;
  return () => {
    state = (state + 0x6D2B79F5) >>> 0; let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

// A grainy picture: a gradient, soft discs and seeded noise, as a PNG Blob.
async function picture(seed, width, height) {
  const random = seeded(seed);
  const canvas = new OffscreenCanvas(width, height), ctx = canvas.getContext("2d");
  const sky = ctx.createLinearGradient(0, 0, width, height);
  sky.addColorStop(0, `hsl(${seed * 97 % 360} 60% 65%)`);
  sky.addColorStop(1, `hsl(${(seed * 97 + 140) % 360} 45% 25%)`);
  ctx.fillStyle = sky;
  ctx.fillRect(0, 0, width, height);
  for (let i = 0; i < 40; i++) {
    ctx.fillStyle = `hsl(${(seed * 13 + i * 29) % 360} 65% 50% / 0.45)`;
    ctx.beginPath();
    ctx.arc(random() * width, random() * height, 20 + random() * 140, 0, 2 * Math.PI);
    ctx.fill();
  }
  const image = ctx.getImageData(0, 0, width, height), px = image.data;
  for (let i = 0; i < px.length; i += 4) {
    const grain = (random() - 0.5) * 18;
    px[i] += grain; px[i + 1] += grain; px[i + 2] += grain;
  }
  ctx.putImageData(image, 0, 0);
  return canvas.convertToBlob({ type: "image/png" });
}

// Speech-like narration: 16 kHz mono 16-bit WAV, buzzy syllables with a swell-and-fade
// envelope, gaps between words, silence at both ends.
function narration(ms, seed) {
  const rate = 16000, count = Math.round(ms * rate / 1000), random = seeded(seed + 100);
  const samples = new Int16Array(count);
  const edge = 0.2 * rate, syllable = 0.3 * rate, gap = 0.08 * rate;
  let phase = 0;
  for (let at = edge; at + syllable < count - edge; at += syllable + gap) {
    const pitch = 100 + random() * 60;
    for (let i = 0; i < syllable; i++) {
      const envelope = Math.sin(Math.PI * i / syllable);
      phase += 2 * Math.PI * pitch / rate;
      let value = 0;
      for (let h = 1; h <= 6; h++) value += Math.sin(h * phase) / h;
      samples[at + i] = Math.round(9000 * envelope * value + (random() - 0.5) * 600);
    }
  }
  const bytes = new ArrayBuffer(44 + 2 * count), view = new DataView(bytes);
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * count, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true);
  view.setUint16(22, 1, true); view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, "data"); view.setUint32(40, 2 * count, true);
  new Int16Array(bytes, 44).set(samples);
  return new Blob([bytes], { type: "audio/wav" });
}

/** `images` grainy PNGs of width x height and one narration per entry of `sceneMs`, kept on
 * window.benchImages / window.benchVoices for Python to store. Resolves to the PNGs' sizes. */
export async function makeMedia(images, sceneMs, width, height) {
  window.benchImages = await Promise.all(Array.from({ length: images }, (_, i) => picture(i + 1, width, height)));
  window.benchVoices = sceneMs.map((ms, i) => narration(ms, i + 1));
  return window.benchImages.map((blob) => blob.size);
}

const PAN_ZOOM = 0.08;
const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;

/** [scene, alpha, scale, shiftX, shiftY, ...] for one frame, bottom layer first: RenderPlan.layers. */
export function layersAt(spec, frame) {
  const s = spec.settings, scenes = spec.scenes, n = scenes.length;
  const end = (i) => scenes[i][0] + scenes[i][1];
  const transition = (b) => (s.transition === "cut" || !(0 < b && b < n)) ? 0
    : Math.min(s.transitionMs, scenes[b - 1][1], scenes[b][1]);
  const layer = (index, alpha, time) => {
    if (!s.pan) return [index, alpha, 1, 0, 0];
    const begin = scenes[index][0] - transition(index) / 2;
    const finish = end(index) + transition(index + 1) / 2;
    const progress = Math.min(1, Math.max(0, (time - begin) / (finish - begin)));
    const growth = index % 2 === 0 ? progress : 1 - progress;
    const scale = 1 + PAN_ZOOM * growth;
    const direction = index % 4 < 2 ? 1 : -1;
    return [index, alpha, round(scale, 5), round(direction * (progress - 0.5) * (scale - 1), 5), 0];
  };
  const time = frame * 1000 / s.fps;
  let index = scenes.findIndex((_, i) => time < end(i));
  if (index < 0) index = n - 1;
  const intoNext = transition(index + 1) / 2, fromPrevious = transition(index) / 2;
  let bottom, progress;
  if (intoNext && time >= end(index) - intoNext) {
    bottom = index; progress = (time - end(index) + intoNext) / (2 * intoNext);
  } else if (fromPrevious && time < scenes[index][0] + fromPrevious) {
    bottom = index - 1; progress = (time - scenes[index][0] + fromPrevious) / (2 * fromPrevious);
  } else {
    return layer(index, 1, time);
  }
  const layers = layer(bottom, 1, time);
  if (progress > 0) layers.push(...layer(bottom + 1, round(Math.min(1, progress), 4), time));
  return layers;
}

/** Every frame's layers, to compare with what Python's plan says. */
export const allLayers = (spec) => Array.from({ length: spec.frames }, (_, frame) => layersAt(spec, frame));

// Draws one frame as static/js/render/worker.mjs does (cover, pan, crossfade alpha).
function draw(context, bitmaps, layers, width, height) {
  context.globalAlpha = 1;
  context.fillStyle = "#000";
  context.fillRect(0, 0, width, height);
  for (let i = 0; i < layers.length; i += 5) {
    const bitmap = bitmaps[layers[i]];
    const cover = Math.max(width / bitmap.width, height / bitmap.height) * layers[i + 2];
    const w = bitmap.width * cover, h = bitmap.height * cover;
    context.globalAlpha = layers[i + 1];
    context.drawImage(bitmap, (width - w) / 2 + layers[i + 3] * width,
                      (height - h) / 2 + layers[i + 4] * height, w, h);
  }
}

// A canvas of the spec's size and a `paint(frame)` that draws that frame of the video; the
// scenes' bitmaps are decoded once, before any timing starts.
async function painter(spec) {
  const s = spec.settings;
  const bitmaps = await Promise.all(spec.images.map((i) => createImageBitmap(window.benchImages[i])));
  const canvas = new OffscreenCanvas(s.width, s.height);
  const context = canvas.getContext("2d", { alpha: false, willReadFrequently: false });
  context.imageSmoothingQuality = "high";
  return {
    canvas, context,
    paint: (frame) => draw(context, bitmaps, layersAt(spec, frame), s.width, s.height),
    close: () => bitmaps.forEach((b) => b.close()),
  };
}

/** Frames [from, to) as raw RGBA, one after the other, in one Blob (the reference frames). */
export async function referenceFrames(spec, from, to) {
  const { context, paint, close } = await painter(spec);
  const parts = [];
  for (let frame = from; frame < to; frame++) {
    paint(frame);
    parts.push(context.getImageData(0, 0, spec.settings.width, spec.settings.height).data);
  }
  close();
  return new Blob(parts);
}

/** Saves `blob` as a download named `name` (the bench reads it from Playwright's download). */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

let mediabunny = null;
const load = (modulePath) => mediabunny || (mediabunny = import(new URL(modulePath, document.baseURI).href));

/** Whether Mediabunny/WebCodecs can encode `codec` at the spec's size with these options. */
export async function canEncode(spec, codec, options) {
  const mb = await load(spec.module), s = spec.settings;
  return mb.canEncodeVideo(codec, { width: s.width, height: s.height, bitrate: s.videoBitrate, ...options });
}

/** Draws and encodes every frame of the video (no audio) with Mediabunny's CanvasSource into a
 * WebM in memory, with the encoder options `variant` ({codec, bitrate, latencyMode,
 * keyFrameInterval, hardwareAcceleration}); the timed part is the frame loop and the finalize.
 * Resolves to {ms, size, packets}; the WebM is left on window.benchVideo. */
export async function encodeVariant(spec, variant) {
  const mb = await load(spec.module), s = spec.settings;
  const { canvas, paint, close } = await painter(spec);
  const { codec, ...options } = variant;
  const output = new mb.Output({ format: new mb.WebMOutputFormat(), target: new mb.BufferTarget() });
  let packets = 0;
  const source = new mb.CanvasSource(canvas, { codec, bitrate: s.videoBitrate, ...options,
                                              onEncodedPacket: () => { packets += 1; } });
  output.addVideoTrack(source, { frameRate: s.fps });
  await output.start();
  const start = performance.now();
  for (let frame = 0; frame < spec.frames; frame++) {
    paint(frame);
    await source.add(frame / s.fps, 1 / s.fps);
  }
  source.close();
  await output.finalize();
  const ms = performance.now() - start;
  close();
  window.benchVideo = new Blob([output.target.buffer], { type: "video/webm" });
  return { ms, size: window.benchVideo.size, packets };
}

/** Draws every frame and wraps it in a VideoFrame (what CanvasSource does before encoding),
 * without encoding: the ceiling any encoder setting can reach with this compositing. */
export async function drawOnly(spec) {
  const s = spec.settings;
  const { canvas, paint, close } = await painter(spec);
  const start = performance.now();
  for (let frame = 0; frame < spec.frames; frame++) {
    paint(frame);
    new VideoFrame(canvas, { timestamp: Math.round(frame * 1e6 / s.fps) }).close();
    if (frame % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const ms = performance.now() - start;
  close();
  return ms;
}

const longTasks = [];
let observer = null;
/** Starts recording the page's long tasks (buffered: those before the call count too). */
export function watchLongTasks() {
  if (observer) return;
  observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longTasks.push([entry.startTime, entry.duration]);
  });
  observer.observe({ type: "longtask", buffered: true });
}

/** The longest task overlapping [start, end] (performance.now() times; 0: none reached 50 ms). */
export function longestTask(start, end) {
  for (const entry of observer.takeRecords()) longTasks.push([entry.startTime, entry.duration]);
  return Math.max(0, ...longTasks.filter(([at, ms]) => at < end && at + ms > start).map(([, ms]) => ms));
}

/** Resolves to the Blob's bytes as base64 (for small Blobs: an encoded video). */
export async function base64(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 32768) text += String.fromCharCode(...bytes.subarray(i, i + 32768));
  return btoa(text);
}
