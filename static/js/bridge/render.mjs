/* The page's half of rendering, for app/render/encoder.py (its only caller; loaded as `sv_render` by
 * pyscript.toml). Everything heavy happens elsewhere: decoding, compositing and encoding in a
 * dedicated module Worker (static/js/render/worker.mjs, one per render), mixing the sound in an
 * OfflineAudioContext (which renders off the main thread; Workers have none). This module starts
 * the worker, probes the clips there, mixes narration and the clips' own sound, hands the worker
 * the blobs, the frame table and the channel data (transferred, not copied), and keeps the job's
 * progress where Python polls it.
 *
 * The worker streams the WebM into a temporary OPFS file as it encodes, and when it is finished
 * reads it back into the result Blob and removes the file; the page never holds the video.
 *
 *   const job = start(spec);          // job.done / job.total: frames encoded so far
 *   job.cancel();                     // job.result rejects with AbortError within a second
 *   const blob = await job.result;    // video/webm
 */

const WORKER_URL = new URL("../render/worker.mjs", import.meta.url);
const CANCEL_GRACE_MS = 2000;          // a worker that does not stop by then is terminated

const failure = (name, message) => new DOMException(message, name);
const reason = (e) => String((e && e.message) || e);

/** Starts a render; returns the job (see the module docstring). `spec`: settings
 * (RenderSettings.to_dict()), sampleRate, images and clips ([Blob|null] per scene), table
 * (Float64Array, timeline.py's frame_table), frames, audioSeconds, narration ([Blob, start s,
 * scene number]), clipSounds ([scene index, start s, end s, [[ms, gain], ...]]), tags, outputType. */
export function start(spec) {
  const worker = new Worker(WORKER_URL, { type: "module", name: "scenevault-render" });
  const job = { done: 0, total: spec.frames, cancelled: false, inWorker: false, stage: "preparing" };
  let onMessage = () => {};
  let stop = null;
  worker.onmessage = ({ data }) => onMessage(data);
  worker.onerror = (event) => { event.preventDefault(); onMessage({ type: "error", name: "EncodingError",
    message: `the render worker failed to start (${event.message || "unknown error"})` }); };
  const reply = (wanted) => new Promise((ok, no) => {
    stop = no;
    onMessage = (data) => {
      if (data.type === "progress") { job.done = data.done; return; }
      if (data.type === wanted) ok(data);
      else if (data.type === "cancelled") no(failure("AbortError", "Render cancelled"));
      else if (data.type === "error") no(failure(data.name, data.message));
    };
  });
  const checkpoint = () => { if (job.cancelled) throw failure("AbortError", "Render cancelled"); };
  job.cancel = () => {
    if (job.cancelled) return;
    job.cancelled = true;
    worker.postMessage({ type: "cancel" });
    setTimeout(() => stop && stop(failure("AbortError", "Render cancelled")), CANCEL_GRACE_MS);
  };
  job.result = (async () => {
    try {
      let probed = [];
      if (spec.clips.some(Boolean)) {
        const asked = reply("probed");
        worker.postMessage({ type: "probe", clips: spec.clips });
        probed = (await asked).clips;
      }
      checkpoint();
      job.stage = "mixing";
      const audio = await mix(spec, probed);
      checkpoint();
      job.stage = "encoding";
      const channels = audio ? Array.from({ length: audio.numberOfChannels }, (_, c) => audio.getChannelData(c).slice()) : null;
      const done = reply("done");
      worker.postMessage({
        type: "render", settings: spec.settings, images: spec.images, clips: spec.clips,
        table: spec.table, frames: spec.frames, tags: spec.tags, outputType: spec.outputType,
        audio: channels && { channels, sampleRate: audio.sampleRate },
      }, [spec.table.buffer, ...(channels || []).map((c) => c.buffer)]);
      const { blob, inWorker } = await done;
      job.inWorker = inWorker;
      lastRender = { inWorker, frames: spec.frames, size: blob.size };
      job.done = spec.frames;
      return blob;
    } finally {
      worker.terminate();
    }
  })();
  return job;
}

/** Where the last finished render ran ({inWorker, frames, size}), for tests and diagnostics. */
export const lastRenderInfo = () => lastRender;
let lastRender = null;

// Narration at its scene's start; each clip's own sound (when it has any) from its scene's start,
// its gain following the plan's envelope (ducked under narration). Null when there is no sound.
async function mix(spec, probed) {
  const sounds = spec.clipSounds.filter(([scene]) => probed[scene] && probed[scene].hasAudio);
  if (!spec.narration.length && !sounds.length) return null;
  const rate = spec.sampleRate;
  const context = new OfflineAudioContext(2, Math.max(1, Math.round(spec.audioSeconds * rate)), rate);
  const decode = async (blob, what) => {
    try { return await context.decodeAudioData(await blob.arrayBuffer()); }
    catch (e) { throw failure("EncodingError", `${what} cannot be decoded (${reason(e)})`); }
  };
  const voices = await Promise.all(spec.narration.map(([blob, , scene]) => decode(blob, `scene ${scene}'s narration`)));
  voices.forEach((buffer, i) => {
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    source.start(spec.narration[i][1]);
  });
  for (const [scene, startS, endS, envelope] of sounds) {
    const buffer = await decode(spec.clips[scene], `the sound of scene ${scene + 1}'s clip`);
    const source = context.createBufferSource();
    const gain = context.createGain();
    source.buffer = buffer;
    gain.gain.setValueAtTime(envelope[0][1], startS);
    for (const [ms, level] of envelope.slice(1)) gain.gain.linearRampToValueAtTime(level, startS + ms / 1000);
    source.connect(gain).connect(context.destination);
    source.start(startS, 0, Math.max(0, endS - startS));
  }
  return context.startRendering();
}
