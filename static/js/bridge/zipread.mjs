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
