/* Reading untrusted zip archives in the page, for app/backup/zip/read.py (its only caller; loaded as
 * `sv_zipread` by pyscript.toml): small byte ranges of a Blob, the vendored JSZip (a classic
 * script, loaded on first use), and inflating one entry while counting its real bytes against
 * the caps Python sets, stopping the moment one is passed.
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
const hex = (buffer) => Array.from(new Uint8Array(buffer),
                                   (b) => b.toString(16).padStart(2, "0")).join("");
const PNG_HEADER_BYTES = 8;
let streamingSha256 = null;

/** The bytes of a PNG that its metadata lives in: the signature and every chunk but the pixel
 * data (IDAT), each kept whole with its CRC, up to IEND. Linear, at most `maxChunks` chunks
 * walked: past that, or when the chunks do not add up, the whole file comes back, and the
 * Python reader (app/core/pngmeta.py) says what is wrong with it. */
export function pngWithoutPixels(bytes, maxChunks) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kept = [bytes.subarray(0, PNG_HEADER_BYTES)];
  let at = PNG_HEADER_BYTES, size = PNG_HEADER_BYTES;
  for (let count = 0; count < maxChunks; count++) {
    if (at + 12 > bytes.length) return bytes.slice();
    const end = at + 12 + view.getUint32(at);
    if (end > bytes.length) return bytes.slice();
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (type !== "IDAT") { kept.push(bytes.subarray(at, end)); size += end - at; }
    if (type === "IEND") {
      const out = new Uint8Array(size);
      let to = 0;
      for (const part of kept) { out.set(part, to); to += part.length; }
      return out;
    }
    at = end;
  }
  return bytes.slice();
}

/** Stage the STOREd entries held in `region` (bytes of the archive, read at once): `jobs` is
 * [[start, end, type, copy, meta], ...], offsets into `region`. Resolves, in order, to
 * [{sha256, head, blob, meta}]: the SHA-256 (hex) of each entry's bytes, its first
 * `headBytes`, and when `copy` a Blob of `type` holding its own copy of the bytes (a slice of a
 * file the user picked would be stored as a reference to it on disk), else null; when `meta`,
 * the bytes its metadata is read from (a PNG without its pixels, else the whole file). The
 * digests run concurrently in crypto.subtle, off the main thread. */
export async function stageStored(region, jobs, headBytes, maxChunks) {
  return Promise.all(jobs.map(async ([start, end, type, copy, meta]) => {
    const bytes = region.subarray(start, end);
    const digest = crypto.subtle.digest("SHA-256", bytes);
    const staged = {
      head: bytes.slice(0, headBytes),
      blob: copy ? new Blob([bytes], { type }) : null,
      meta: !meta ? null : type === "image/png" ? pngWithoutPixels(bytes, maxChunks) : bytes.slice(),
    };
    staged.sha256 = hex(await digest);
    return staged;
  }));
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

/** Stage a Blob that already holds its own bytes (an entry JSZip inflated): its SHA-256, head
 * and metadata bytes as `stageStored` gives them, and the Blob itself. */
export async function stageBlob(blob, headBytes, meta, maxChunks) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const [staged] = await stageStored(bytes, [[0, bytes.length, blob.type, false, meta]],
                                     headBytes, maxChunks);
  staged.blob = blob;
  return staged;
}
