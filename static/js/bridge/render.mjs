/* Rendering the final video in the page, for app/render/encoder.py (its only caller; loaded as
 * `sv_render` by pyscript.toml): draws each frame of the timeline Python walks on an
 * OffscreenCanvas, mixes the narration in an OfflineAudioContext, and encodes VP9 + Opus into a
 * WebM with Mediabunny (static/vendor/mediabunny/, imported on the first render only).
 */

const fail = (name, message) => { throw new DOMException(message, name); };
let library = null;
const load = (modulePath) => library ||
  (library = import(new URL(modulePath, document.baseURI).href));


async function mix(cues, totalSeconds, sampleRate) {
  const context = new OfflineAudioContext(2, Math.max(1, Math.ceil(totalSeconds * sampleRate)), sampleRate);
  const buffers = await Promise.all(cues.map(async ([blob], i) => {
    try { return await context.decodeAudioData(await blob.arrayBuffer()); }
    catch (e) { fail("EncodingError", `narration ${i + 1} cannot be decoded: ${(e && e.message) || e}`); }
  }));
  buffers.forEach((buffer, i) => {
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    source.start(cues[i][1]);
  });
  return context.startRendering();
}

function draw(context, bitmaps, layers, width, height) {
  context.globalAlpha = 1;
  context.fillStyle = "#000";
  context.fillRect(0, 0, width, height);
  for (let i = 0; i < layers.length; i += 5) {
    const bitmap = bitmaps[i / 5];
    const cover = Math.max(width / bitmap.width, height / bitmap.height) * layers[i + 2];
    const w = bitmap.width * cover, h = bitmap.height * cover;
    context.globalAlpha = layers[i + 1];
    context.drawImage(bitmap, (width - w) / 2 + layers[i + 3] * width,
                      (height - h) / 2 + layers[i + 4] * height, w, h);
  }
}

// Scenes come in order, so only the images on screen are decoded: a bitmap is made when its
// scene first shows and closed once a frame no longer needs anything before it.
function bitmapCache(images) {
  const made = new Map();
  return {
    get: async (index) => {
      if (!made.has(index)) {
        made.set(index, createImageBitmap(images[index]).catch((e) => fail(
          "EncodingError", `the image of scene ${index + 1} cannot be decoded: ${(e && e.message) || e}`)));
      }
      return made.get(index);
    },
    release: async (before) => {
      for (const [index, promise] of made) {
        if (index < before) { made.delete(index); (await promise).close(); }
      }
    },
    close: async () => { await Promise.allSettled([...made.values()].map((p) => p.then((b) => b.close()))); made.clear(); },
  };
}

// The tags Python wrote (app/render/tags.py: name -> text) as Mediabunny takes them: the names it
// knows by field, every other one as a raw SimpleTag under its own name (target 50, MOVIE).
const NAMED_TAGS = { TITLE: "title", DESCRIPTION: "description", COMMENT: "comment" };
function metadataTags(tags) {
  const named = { raw: {} };
  for (const [name, text] of Object.entries(tags || {})) {
    if (NAMED_TAGS[name]) named[NAMED_TAGS[name]] = text; else named.raw[name] = text;
  }
  return named;
}

/** A render session: `frame(index, layers)` draws and encodes one frame (layers: 5 numbers per
 * scene shown: scene index, alpha, scale, shift x, shift y), `finish()` resolves to the WebM Blob
 * of type `outputType`, `cancel()` drops everything. `s` is app/render/timeline.py's RenderSettings
 * plus sampleRate; `cues` are [narration Blob, start seconds]; `modulePath` is Mediabunny's
 * vendored module, imported on the first render; `tags` (name -> text) are the Matroska tags,
 * written once with the file's header. Rejects with NotSupportedError (no encoder for
 * the codec or size) or EncodingError (an image or narration that cannot be decoded). */
export async function open(s, images, cues, totalSeconds, modulePath, outputType, tags) {
  const mb = await load(modulePath);
  if (!(await mb.canEncodeVideo(s.videoCodec, { width: s.width, height: s.height, bitrate: s.videoBitrate })))
    fail("NotSupportedError", `this browser cannot encode ${s.videoCodec} video at ${s.width}x${s.height}`);
  if (cues.length && !(await mb.canEncodeAudio(s.audioCodec, { numberOfChannels: 2, sampleRate: s.sampleRate })))
    fail("NotSupportedError", `this browser cannot encode ${s.audioCodec} audio`);
  const bitmaps = bitmapCache(images);
  await bitmaps.get(0);
  let audio = null;
  try { if (cues.length) audio = await mix(cues, totalSeconds, s.sampleRate); }
  catch (e) { await bitmaps.close(); throw e; }
  const canvas = new OffscreenCanvas(s.width, s.height);
  const context = canvas.getContext("2d", { alpha: false });
  context.imageSmoothingQuality = "high";
  const output = new mb.Output({ format: new mb.WebMOutputFormat(), target: new mb.BufferTarget() });
  output.setMetadataTags(metadataTags(tags));
  const video = new mb.CanvasSource(canvas, { codec: s.videoCodec, bitrate: s.videoBitrate,
                                              keyFrameInterval: 2, latencyMode: "quality" });
  output.addVideoTrack(video, { frameRate: s.fps });
  let sound = null;
  if (audio) {
    sound = new mb.AudioBufferSource({ codec: s.audioCodec, bitrate: s.audioBitrate });
    output.addAudioTrack(sound);
  }
  try {
    await output.start();
    if (sound) { await sound.add(audio); sound.close(); }
  } catch (e) { await bitmaps.close(); await output.cancel(); throw e; }
  return {
    frame: async (index, layers) => {
      const shown = [];
      for (let i = 0; i < layers.length; i += 5) shown.push(await bitmaps.get(layers[i]));
      await bitmaps.release(layers[0]);
      draw(context, shown, layers, s.width, s.height);
      await video.add(index / s.fps, 1 / s.fps);
    },
    finish: async () => {
      video.close();
      await output.finalize();
      await bitmaps.close();
      return new Blob([output.target.buffer], { type: outputType });
    },
    cancel: async () => { await bitmaps.close(); await output.cancel(); },
  };
}
