/* Staging STOREd zip entries for an import: hash each one, keep its first bytes, the bytes its
 * metadata is read from, and (when asked) a copy of it in a Blob of its own. Pure (no DOM), so
 * both the page (static/js/bridge/zipread.mjs) and the staging workers
 * (static/js/backup/stage_worker.mjs) run it.
 *
 *   const [{ sha256, head, blob, meta }] = await stageRegion(bytes, [[0, bytes.length,
 *                                                             "image/png", true, true]], 16, 4096);
 */

const PNG_HEADER_BYTES = 8;

/** Lower-case hex of an ArrayBuffer. */
export const hex = (buffer) => Array.from(new Uint8Array(buffer),
                                          (b) => b.toString(16).padStart(2, "0")).join("");

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

/** Stage the entries held in `region` (bytes of the archive): `jobs` is [[start, end, type,
 * copy, meta], ...], offsets into `region`. Resolves, in order, to [{sha256, head, blob, meta}]:
 * the SHA-256 (hex) of each entry's bytes, its first `headBytes`, and when `copy` a Blob of
 * `type` holding its own copy of the bytes (a slice of a file the user picked would be stored
 * as a reference to it on disk), else null; when `meta`, the bytes its metadata is read from (a
 * PNG without its pixels, else the whole file), else null. The digests run concurrently. */
export async function stageRegion(region, jobs, headBytes, maxChunks) {
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
