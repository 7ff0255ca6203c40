/* The page's half of rendering, for app/render/encoder.py (its only caller; loaded as `sv_render` by
 * pyscript.toml). Everything heavy happens elsewhere: decoding, compositing and encoding in a
 * dedicated module Worker (static/js/render/worker.mjs, one per render), mixing the sound in an
 * OfflineAudioContext (which renders off the main thread; Workers have none). This module starts
 * the worker, probes the clips there, hands it the blobs and the frame table, and answers its
 * requests for sound with the next segment of the mix (static/js/render/mixer.mjs: a few seconds
 * at a time, transferred, not copied, one segment mixed ahead), and keeps the job's progress
 * where Python polls it.
 *
 * The worker streams the WebM into a temporary OPFS file as it encodes, and when it is finished
 * reads it back into the result Blob (hashing it as it reads) and removes the file; the page
 * never holds the video, nor the whole sound.
 *
 *   const job = start(spec);          // job.done / job.total: frames encoded so far
 *   job.cancel();                     // job.result rejects with AbortError within a second
 *   const blob = await job.result;    // video/webm
 */

import { rememberDigest } from "./media.mjs";
import { mixer } from "../render/mixer.mjs";

const WORKER_URL = new URL("../render/worker.mjs", import.meta.url);
const CANCEL_GRACE_MS = 2000;          // a worker that does not stop by then is terminated

const failure = (name, message) => new DOMException(message, name);
const reason = (e) => String((e && e.message) || e);

/** Starts a render; returns the job (see the module docstring). `spec`: settings
 * (RenderSettings.to_dict()), sampleRate, images and clips ([Blob|null] per scene), table
 * (Float64Array, timeline.py's frame_table), frames, audioSeconds, narration ([Blob, start s,
 * scene number]), clipSounds ([scene index, start s, end s, [[ms, gain], ...]]), tags, outputType.
 * The worker hashes the video as it reads it back; media.mjs is told that digest. */
export function start(spec) {
  const worker = new Worker(WORKER_URL, { type: "module", name: "scenevault-render" });
  const job = { done: 0, total: spec.frames, cancelled: false, inWorker: false, stage: "preparing" };
  let onMessage = () => {};
  let stop = null;
  worker.onmessage = ({ data }) => onMessage(data);
  worker.onerror = (event) => { event.preventDefault(); onMessage({ type: "error", name: "EncodingError",
    message: `the render worker failed to start (${event.message || "unknown error"})` }); };
  let soundWanted = () => {};
  const reply = (wanted) => new Promise((ok, no) => {
    stop = no;
    onMessage = (data) => {
      if (data.type === "progress") { job.done = data.done; return; }
      if (data.type === "sound-wanted") { soundWanted().catch(no); return; }
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
      const sound = mixer(spec, probed);
      if (sound) await sound.check();
      checkpoint();
      job.stage = "encoding";
      if (sound) {
        let ahead = sound.next();
        ahead.catch(() => {});  // its failure is reported when the worker asks for it
        soundWanted = async () => {
          const channels = await ahead;
          ahead = sound.next();
          ahead.catch(() => {});
          worker.postMessage({ type: "sound", channels }, channels ? channels.map((c) => c.buffer) : []);
        };
      }
      const done = reply("done");
      worker.postMessage({
        type: "render", settings: spec.settings, images: spec.images, clips: spec.clips,
        table: spec.table, frames: spec.frames, tags: spec.tags, outputType: spec.outputType,
        audio: sound && { sampleRate: sound.sampleRate, samples: sound.samples },
      }, [spec.table.buffer]);
      const { blob, sha256, inWorker } = await done;
      rememberDigest(blob, sha256);  // the vault's write needs not read the video again to hash it
      job.inWorker = inWorker;
      lastRender = { inWorker, frames: spec.frames, size: blob.size, sha256 };
      job.done = spec.frames;
      return blob;
    } finally {
      worker.terminate();
    }
  })();
  return job;
}

/** Where the last finished render ran ({inWorker, frames, size, sha256}), for tests and
 * diagnostics. */
export const lastRenderInfo = () => lastRender;
let lastRender = null;
