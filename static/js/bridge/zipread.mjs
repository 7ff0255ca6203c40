/* Reading untrusted zip archives in the page, for app/backup/zip/read.py (its only caller; loaded as
 * `sv_zipread` by pyscript.toml): small byte ranges of a Blob, the vendored JSZip (a classic
 * script, loaded on first use), and inflating one entry while counting its real bytes against
 * the caps Python sets, stopping the moment one is passed; and staging an import's STOREd
 * entries (hashed, copied) in two workers.
 */

const limit = (code, size) => new DOMException(`${code}:${size}`, "ZipLimitError");
let jszip = null;

/** window.JSZip, loading the script `src` once (a failed load may be retried). */
export const loadJSZip = (src) => jszip || (jszip = new Promise((resolve, reject) => {
  if (window.JSZip) return resolve(window.JSZip);
  const script = Object.assign(document.createElement("script"), { src, async: true });
  script.onload = () => window.JSZip ? resolve(window.JSZip)
    : reject(new DOMException(`${src} did not define JSZip`, "NotFoundError"));
  script.onerror = () => { jszip = null;
    reject(new DOMException(`${src} could not be loaded`, "NetworkError")); };
  document.head.append(script);
}));

/** Bytes [start, end) of a Blob, as a Uint8Array. */
export const readRange = async (blob, start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer());

/** JSZip's view of `blob` (its central directory read, nothing inflated yet). */
export const loadZip = (JSZip, blob) => JSZip.loadAsync(blob);

/** Inflate entry `name` of `zip` into a Blob of `type`, resolving to {blob, size}. It rejects
 * with a ZipLimitError "code:size" the moment the real bytes pass a cap in `caps` ({expected
 * (-1: unknown), entry, total, floor, ratio, compressed}: "oversize", "entry", "total",
 * "ratio"; "absent" when there is no such entry), and with an AbortError when `isCancelled()`,
 * checked every `reportEvery` bytes. */
export const readEntry = (zip, name, type, caps, isCancelled, reportEvery) => new Promise((resolve, reject) => {
  const file = zip.file(name);
  if (!file) return reject(limit("absent", 0));
  const chunks = [];
  let size = 0, unchecked = 0, stopped = false, helper = null;
  const stop = (error) => { if (!stopped) { stopped = true; helper.pause(); reject(error); } };
  const check = () => caps.expected >= 0 && size > caps.expected ? "oversize"
    : size > caps.entry ? "entry" : size > caps.total ? "total"
    : size > caps.floor && size > caps.ratio * caps.compressed ? "ratio" : null;
  helper = file.internalStream("uint8array");
  helper.on("data", (chunk) => {
    if (stopped) return;
    size += chunk.length;
    unchecked += chunk.length;
    const code = check();
    if (code) return stop(limit(code, size));
    chunks.push(chunk);
    if (unchecked >= reportEvery) {
      unchecked = 0;
      if (isCancelled()) stop(new DOMException("cancelled", "AbortError"));
    }
  }).on("error", (e) => stop(e)).on("end", () => {
    if (stopped) return;
    stopped = true;
    resolve({ blob: new Blob(chunks, { type }), size });
  }).resume();
});

// --- staging STOREd entries: read once, hash, copy -------------------------------------------
// A region is staged in a worker (static/js/backup/stage_worker.mjs), its buffer transferred:
// the hashing and the copies into Blobs leave the main thread, and while one worker stages a
// region the other stages the next (app/backup/zip/read.py keeps two in flight).
const STAGING_WORKERS = 2;
const STAGE_WORKER_URL = new URL("../backup/stage_worker.mjs", import.meta.url);
const staging = new Map();  // job id -> {resolve, reject, worker}
let stagers = null;
let lastJob = 0;
let streamingSha256 = null;  // hash-wasm's createSHA256, imported on first use by stageLarge

function stagersStarted() {
  if (stagers) return stagers;
  const started = Array.from({ length: STAGING_WORKERS }, (_, index) => {
    const worker = new Worker(STAGE_WORKER_URL, { type: "module", name: `scenevault-stage-${index}` });
    worker.pending = 0;
    worker.onmessage = ({ data }) => {
      const job = staging.get(data.id);
      staging.delete(data.id);
      worker.pending -= 1;
      if (data.error) job.reject(new DOMException(data.error.message, data.error.name));
      else job.resolve(data.staged);
    };
    worker.onerror = (event) => {  // it could not load: every job it holds fails, and so does
      event.preventDefault();      // the pool, which the next call starts afresh
      const why = new DOMException(`${STAGE_WORKER_URL.pathname} did not run (${
        event.message || "it could not be loaded"})`, "StagingUnavailableError");
      for (const [id, job] of staging) {
        if (started.includes(job.worker)) { staging.delete(id); job.reject(why); }
      }
      started.forEach((each) => each.terminate());
      if (stagers === started) stagers = null;
    };
    return worker;
  });
  return (stagers = started);
}

/** Stage the STOREd entries held in `region` (bytes of the archive, read at once; its buffer is
 * transferred to a worker, so the caller must not use it afterwards): `jobs` is [[start, end,
 * type, copy, meta], ...], offsets into `region`. Resolves, in order, to [{sha256, head, blob,
 * meta}] as static/js/backup/stage.mjs `stageRegion` gives them: the SHA-256 (hex), the first
 * `headBytes`, a Blob of `type` holding its own copy of the bytes when `copy` (a slice of a
 * file the user picked would be stored as a reference to it on disk), the metadata bytes when
 * `meta`. A failure rejects with the worker's DOMException; a worker that cannot run (its
 * script did not load) with a StagingUnavailableError. */
export function stageStored(region, jobs, headBytes, maxChunks) {
  const whole = region.byteOffset === 0 && region.byteLength === region.buffer.byteLength;
  const own = whole ? region : region.slice();
  const worker = stagersStarted().reduce((a, b) => (b.pending < a.pending ? b : a));
  const id = ++lastJob;
  return new Promise((resolve, reject) => {
    worker.postMessage({ id, region: own, jobs, headBytes, maxChunks }, [own.buffer]);
    staging.set(id, { resolve, reject, worker });
    worker.pending += 1;
  });
}

/** Stage one STOREd entry too large to read at once: bytes [start, end) of `archive` are read
 * `sliceBytes` at a time, hashed as they arrive (hash-wasm's streaming SHA-256, loaded on first
 * use; crypto.subtle only digests a whole buffer) and, when `copy`, gathered into a Blob of
 * `type` that holds its own bytes. Resolves to {sha256, head, blob}. */
export async function stageLarge(archive, start, end, type, copy, headBytes, sliceBytes) {
  if (!streamingSha256) {
    streamingSha256 = import("../../vendor/hash-wasm/index.esm.min.js")
      .then((module) => module.createSHA256);
  }
  const hash = await (await streamingSha256)();
  hash.init();
  const parts = [];
  let head = null;
  let next = archive.slice(start, Math.min(end, start + sliceBytes)).arrayBuffer();
  for (let at = start; at < end; at += sliceBytes) {
    const bytes = new Uint8Array(await next);
    const after = at + sliceBytes;
    if (after < end) next = archive.slice(after, Math.min(end, after + sliceBytes)).arrayBuffer();
    if (head === null) head = bytes.slice(0, headBytes);
    hash.update(bytes);
    if (copy) parts.push(new Blob([bytes]));
  }
  return { sha256: hash.digest("hex"), head: head || new Uint8Array(0),
           blob: copy ? new Blob(parts, { type }) : null };
}

/** Stage a Blob that already holds its own bytes (an entry JSZip inflated), in the page: its
 * SHA-256, head and metadata bytes as `stageStored` gives them, and the Blob itself. */
export async function stageBlob(blob, headBytes, meta, maxChunks) {
  const { stageRegion } = await import("../backup/stage.mjs");  // not at boot: imports only
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const [staged] = await stageRegion(bytes, [[0, bytes.length, blob.type, false, meta]],
                                     headBytes, maxChunks);
  staged.blob = blob;
  return staged;
}
