/* The render worker (a dedicated module Worker, started by static/js/bridge/render.mjs for each
 * render; nothing else talks to it): decodes the scenes' frame images and clips, composites every
 * frame on an OffscreenCanvas, and encodes video + sound into a WebM with Mediabunny, written as it
 * goes into a temporary Origin Private File System file (StreamTarget over a sync access handle),
 * so memory does not grow with the video's length. The page's main thread only posts messages.
 *
 * Messages in:  {type: "probe", clips: [Blob|null]}          -> {type: "probed", clips: [info|null]}
 *               {type: "render", ...see render() below}       -> {type: "progress", done} ...,
 *                                                                then {type: "done", blob, sha256}
 *               {type: "cancel"}                              -> the render stops: {type: "cancelled"}
 * While rendering with sound it asks for the mix a segment at a time: {type: "sound-wanted"} out,
 *               {type: "sound", channels: [Float32Array]|null} in (null: the sound has ended).
 * Any failure -> {type: "error", name, message}; the message names the scene ("scene 2's clip …").
 * The temporary file is the worker's alone: when the video is finished it is read back into the
 * Blob that "done" carries and removed; on cancel or failure it is removed. Leftovers of a crashed
 * render are swept at the start of the next render (a file another live render is writing is
 * locked by its access handle, and stays).
 *
 *   const worker = new Worker(new URL("../render/worker.mjs", import.meta.url), { type: "module" });
 *   worker.postMessage({ type: "probe", clips: [null, clipBlob] });
 */

import * as mb from "../../vendor/mediabunny/mediabunny.min.mjs";
import { createSHA256 } from "../../vendor/hash-wasm/index.esm.min.js";

const FIELDS = 6, PER_FRAME = 12;   // app/render/timeline.py: LAYER_FIELDS, FRAME_LAYERS * LAYER_FIELDS
const PROGRESS_EVERY = 5;          // frames between progress messages
const TEMP_DIR = "scenevault-render";
const COPY_CHUNK = 4 << 20;        // bytes read back from the temporary file at a time
let cancelled = false;

class Failure extends Error {
  constructor(name, message) { super(message); this.name = name; }
}
const fail = (name, message) => { throw new Failure(name, message); };
const reason = (e) => String((e && e.message) || e);

let soundArrived = null;  // resolves the feeder's pending request for the next segment

self.onmessage = async ({ data }) => {
  if (data.type === "cancel") { cancelled = true; return; }
  if (data.type === "sound") { const arrived = soundArrived; soundArrived = null; arrived(data.channels); return; }
  try {
    if (data.type === "probe") self.postMessage({ type: "probed", clips: await probeAll(data.clips) });
    else if (data.type === "render") await render(data);
  } catch (e) {
    if (e === CANCELLED) self.postMessage({ type: "cancelled" });
    else self.postMessage({ type: "error", name: e instanceof Failure ? e.name : "EncodingError",
                            message: reason(e) });
  }
};
const CANCELLED = Symbol("cancelled");

// --- clips ---------------------------------------------------------------------------------
async function openClip(blob, scene) {
  const input = new mb.Input({ source: new mb.BlobSource(blob), formats: mb.ALL_FORMATS });
  try {
    const video = await input.getPrimaryVideoTrack();
    if (!video) fail("DataError", `scene ${scene}'s clip has no video track (is it a sound file?); ` +
                     "import a video clip, or remove the clip to use the frame image");
    if (!(await video.canDecode())) fail("NotSupportedError",
      `scene ${scene}'s clip is ${await video.getCodec() || "in a codec"} this browser cannot decode`);
    return { input, video };
  } catch (e) {
    input.dispose();
    if (e instanceof Failure) throw e;
    fail("DataError", `scene ${scene}'s clip cannot be read as a video (${reason(e)}); import it again`);
  }
}

async function probeAll(clips) {
  const found = [];
  for (let i = 0; i < clips.length; i++) {
    if (!clips[i]) { found.push(null); continue; }
    const { input, video } = await openClip(clips[i], i + 1);
    try {
      const audio = await input.getPrimaryAudioTrack();
      found.push({ hasAudio: Boolean(audio && await audio.canDecode()),
                   width: await video.getDisplayWidth(), height: await video.getDisplayHeight(),
                   rotation: await video.getRotation() });
    } finally { input.dispose(); }
  }
  return found;
}

// A clip being shown: its frames at the times the frame table asks for, in order, drawn upright
// (rotation metadata applied) and fitted into the output frame with black bars (CanvasSink's
// "contain"). Frames come out at the output size, so a 4K clip is never kept at 4K beyond the
// decoder's own few frames; any frame rate is resampled (the frame shown at each output time).
async function clipReader(blob, scene, times, s) {
  const { input, video } = await openClip(blob, scene);
  const damaged = (detail) => `scene ${scene}'s clip is damaged or cut short (${detail}); import or generate it again`;
  let first, end;
  try { [first, end] = [await video.getFirstTimestamp(), await video.computeDuration()]; }
  catch (e) { input.dispose(); fail("EncodingError", damaged(reason(e))); }
  const longest = Math.max(...times) / 1000;  // the clip's length as the vault measured it, held after
  if (end - first < longest * 0.9 - 0.1) {
    input.dispose();
    fail("EncodingError", damaged(`its pictures stop at ${(end - first).toFixed(2)} s of ${longest.toFixed(2)} s`));
  }
  const sink = new mb.CanvasSink(video, { width: s.width, height: s.height, fit: "contain", poolSize: 2 });
  const frames = sink.canvasesAtTimestamps(times.map((t) => first + t / 1000));
  let at = 0;
  return {
    async next() {
      const wanted = times[at++];
      let step;
      try { step = await frames.next(); }
      catch (e) { fail("EncodingError", damaged(`it cannot be decoded at ${(wanted / 1000).toFixed(2)} s: ${reason(e)}`)); }
      if (step.done || !step.value) fail("EncodingError", damaged(`no picture at ${(wanted / 1000).toFixed(2)} s`));
      return step.value.canvas;
    },
    end,
    close: async () => { try { await frames.return(); } catch { /* already failed */ } input.dispose(); },
  };
}

// --- drawing ---------------------------------------------------------------------------------
function drawImage(context, bitmap, t, k, width, height) {
  const cover = Math.max(width / bitmap.width, height / bitmap.height) * t[k + 2];
  const w = bitmap.width * cover, h = bitmap.height * cover;
  context.drawImage(bitmap, (width - w) / 2 + t[k + 3] * width, (height - h) / 2 + t[k + 4] * height, w, h);
}

// Which frames use each scene, from the table: its first and last frame, and the clip times asked.
function usage(table, frames, scenes) {
  const first = new Array(scenes).fill(-1), last = new Array(scenes).fill(-1);
  const times = Array.from({ length: scenes }, () => []);
  for (let f = 0; f < frames; f++) {
    for (let k = f * PER_FRAME; k < (f + 1) * PER_FRAME; k += FIELDS) {
      const scene = table[k];
      if (scene < 0) continue;
      if (first[scene] < 0) first[scene] = f;
      last[scene] = f;
      if (table[k + 5] >= 0) times[scene].push(table[k + 5]);
    }
  }
  return { first, last, times };
}

// Opens a scene's image or clip when a frame first needs it, and closes it after its last frame.
function sources(m, use) {
  const open = new Map();
  const get = (scene) => {
    if (!open.has(scene)) {
      const n = scene + 1;
      open.set(scene, m.clips[scene] && use.times[scene].length
        ? clipReader(m.clips[scene], n, use.times[scene], m.settings).then((r) => ({ clip: r }))
        : createImageBitmap(m.images[scene]).then((b) => ({ bitmap: b }), (e) => fail(
            "EncodingError", `the frame image of scene ${n} cannot be decoded (${reason(e)}); generate or import it again`)));
    }
    return open.get(scene);
  };
  const close = async (entry) => {
    const made = await entry.catch(() => null);
    if (made && made.bitmap) made.bitmap.close();
    if (made && made.clip) await made.clip.close();
  };
  return {
    get,
    release: async (frame) => {
      for (const [scene, entry] of open) {
        if (use.last[scene] < frame) { open.delete(scene); await close(entry); }
      }
    },
    closeAll: async () => { await Promise.all([...open.values()].map(close)); open.clear(); },
  };
}

// --- the temporary file ------------------------------------------------------------------------
async function tempDirectory() {
  return (await navigator.storage.getDirectory()).getDirectoryHandle(TEMP_DIR, { create: true });
}

async function sweep(directory) {
  for await (const [name] of directory.entries()) {
    try { await directory.removeEntry(name); } catch { /* another render's file: locked */ }
  }
}

async function openTemp() {
  const directory = await tempDirectory();
  await sweep(directory);
  const name = `render-${Date.now()}-${Math.random().toString(36).slice(2, 10)}.webm`;
  const handle = await directory.getFileHandle(name, { create: true });
  const access = await handle.createSyncAccessHandle();
  const writable = new WritableStream({
    write(chunk) { access.write(chunk.data, { at: chunk.position }); },
  });
  return {
    name, writable,
    // The WebM as a Blob of its own, read back from the file COPY_CHUNK at a time (so this worker
    // never holds the whole video) and hashed as it is read (the vault's SHA-256 of it, which
    // would otherwise read the whole video into memory at once), then the file is removed. A
    // Blob backed by the OPFS file itself would not do: an in-memory IndexedDB (a private
    // window) keeps referring to the file it was given, and the stored video would break when
    // the file goes. -> {blob, sha256}
    finish: async (type) => {
      access.flush();
      const size = access.getSize();
      const hash = await createSHA256();
      hash.init();
      let blob = new Blob([], { type });
      for (let at = 0; at < size; at += COPY_CHUNK) {
        const part = new Uint8Array(Math.min(COPY_CHUNK, size - at));
        access.read(part, { at });
        hash.update(part);
        blob = new Blob([blob, part], { type });
      }
      access.close();
      await directory.removeEntry(name);
      return { blob, sha256: hash.digest("hex") };
    },
    discard: async () => {
      try { access.close(); } catch { /* closed */ }
      try { await directory.removeEntry(name); } catch { /* gone */ }
    },
  };
}

// --- the render --------------------------------------------------------------------------------
const NAMED_TAGS = { TITLE: "title", DESCRIPTION: "description", COMMENT: "comment" };
function metadataTags(tags) {
  const named = { raw: {} };
  for (const [name, text] of Object.entries(tags || {})) {
    if (NAMED_TAGS[name]) named[NAMED_TAGS[name]] = text; else named.raw[name] = text;
  }
  return named;
}

// Feeds the sound in one-second samples, up to `seconds`: the page mixes it a segment at a time
// (static/js/render/mixer.mjs), and each segment is asked for when the last one is used up.
function soundFeeder(source, audio) {
  if (!source) return { upTo: async () => {}, rest: async () => {} };
  const { sampleRate, samples } = audio;
  const pull = () => new Promise((arrived) => {
    soundArrived = arrived;
    self.postMessage({ type: "sound-wanted" });
  });
  let done = 0, segment = null, used = 0;
  const upTo = async (seconds) => {
    const until = Math.min(samples, Math.ceil(seconds * sampleRate));
    while (done < until) {
      if (!segment || used === segment[0].length) {
        segment = await pull();
        used = 0;
        if (!segment || !segment[0].length) fail("EncodingError", "the sound ended before the video");
      }
      const n = Math.min(sampleRate, until - done, segment[0].length - used);
      const data = new Float32Array(n * segment.length);
      segment.forEach((channel, c) => data.set(channel.subarray(used, used + n), c * n));
      const sample = new mb.AudioSample({ data, format: "f32-planar", numberOfChannels: segment.length,
                                          sampleRate, timestamp: done / sampleRate });
      await source.add(sample);
      sample.close();
      done += n;
      used += n;
    }
  };
  return { upTo, rest: () => upTo(Infinity) };
}

/* m: {settings (RenderSettings.to_dict()), images: [Blob|null] and clips: [Blob|null] per scene,
 * table: Float64Array (frames x 12, timeline.py's frame_table), frames, audio: {sampleRate,
 * samples} | null (the sound itself comes a segment at a time: soundFeeder), tags: {name: text},
 * outputType}. */
async function render(m) {
  const s = m.settings;
  if (!(await mb.canEncodeVideo(s.videoCodec, { width: s.width, height: s.height, bitrate: s.videoBitrate })))
    fail("NotSupportedError", `this browser cannot encode ${s.videoCodec} video at ${s.width}x${s.height}`);
  if (m.audio && !(await mb.canEncodeAudio(s.audioCodec, { numberOfChannels: 2, sampleRate: m.audio.sampleRate })))
    fail("NotSupportedError", `this browser cannot encode ${s.audioCodec} audio`);
  const use = usage(m.table, m.frames, m.images.length);
  const media = sources(m, use);
  const temp = await openTemp();
  const output = new mb.Output({ format: new mb.WebMOutputFormat(),
                                 target: new mb.StreamTarget(temp.writable, { chunked: true, chunkSize: 1 << 20 }) });
  try {
    output.setMetadataTags(metadataTags(m.tags));
    const canvas = new OffscreenCanvas(s.width, s.height);
    const context = canvas.getContext("2d", { alpha: false });
    context.imageSmoothingQuality = "high";
    const video = new mb.CanvasSource(canvas, { codec: s.videoCodec, bitrate: s.videoBitrate,
                                                keyFrameInterval: 2, latencyMode: "quality" });
    output.addVideoTrack(video, { frameRate: s.fps });
    let sound = null;
    if (m.audio) {
      sound = new mb.AudioSampleSource({ codec: s.audioCodec, bitrate: s.audioBitrate });
      output.addAudioTrack(sound);
    }
    const feed = soundFeeder(sound, m.audio);
    await output.start();
    for (let frame = 0; frame < m.frames; frame++) {
      if (cancelled) throw CANCELLED;
      await drawFrame(context, media, m.table, frame, s);
      await media.release(frame + 1);
      await video.add(frame / s.fps, 1 / s.fps);
      await feed.upTo((frame + 1) / s.fps + 0.5);
      if (frame % PROGRESS_EVERY === 0) self.postMessage({ type: "progress", done: frame });
    }
    if (cancelled) throw CANCELLED;
    await feed.rest();
    video.close();
    if (sound) sound.close();
    await output.finalize();
    await media.closeAll();
    const { blob, sha256 } = await temp.finish(m.outputType);
    self.postMessage({ type: "done", blob, sha256, inWorker: typeof document === "undefined" });
  } catch (e) {
    await media.closeAll();
    try { await output.cancel(); } catch { /* not started */ }
    await temp.discard();
    throw e;
  }
}

async function drawFrame(context, media, t, frame, s) {
  context.globalAlpha = 1;
  context.fillStyle = "#000";
  context.fillRect(0, 0, s.width, s.height);
  for (let k = frame * PER_FRAME; k < (frame + 1) * PER_FRAME; k += FIELDS) {
    if (t[k] < 0) continue;
    const made = await media.get(t[k]);
    context.globalAlpha = t[k + 1];
    if (made.clip) context.drawImage(await made.clip.next(), 0, 0, s.width, s.height);
    else drawImage(context, made.bitmap, t, k, s.width, s.height);
  }
}
