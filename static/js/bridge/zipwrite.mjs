/* Writing zip archives in the page, for app/backup/zip/write.py (its only caller; loaded as `sv_zipwrite`
 * by pyscript.toml): CRC-32 (slice-by-8) of a Blob as it streams, composing the archive Blob
 * from header bytes and the stored Blobs (no copy), and the FileSink that streams the same parts
 * into a file the user chose (for app/backup/zip/stream.py).
 */

const TABLE = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let k = 1; k < 8; k++) TABLE[k * 256 + n] = TABLE[TABLE[(k - 1) * 256 + n] & 0xff] ^
                                                   (TABLE[(k - 1) * 256 + n] >>> 8);
}
function update(crc, bytes) {  // slice-by-8 over aligned little-endian 32-bit words
  const T = TABLE, n = bytes.length;
  let i = 0;
  for (const lead = Math.min(n, (4 - (bytes.byteOffset & 3)) & 3); i < lead; i++) {
    crc = T[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  }
  const words = new Int32Array(bytes.buffer, bytes.byteOffset + i, (n - i) >>> 2);
  const pairs = words.length & ~1;
  for (let j = 0; j < pairs; j += 2) {
    const lo = words[j] ^ crc, hi = words[j + 1];
    crc = T[1792 + (lo & 0xff)] ^ T[1536 + ((lo >>> 8) & 0xff)] ^ T[1280 + ((lo >>> 16) & 0xff)] ^
          T[1024 + (lo >>> 24)] ^ T[768 + (hi & 0xff)] ^ T[512 + ((hi >>> 8) & 0xff)] ^
          T[256 + ((hi >>> 16) & 0xff)] ^ T[hi >>> 24];
  }
  for (i += pairs * 4; i < n; i++) crc = T[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return crc;
}
const cancelled = () => new DOMException("cancelled", "AbortError");

/** Reads of `blob` with the stream's default reader. Not a BYOB reader into one reused buffer:
 * in Chromium the first BYOB read of a Blob that IndexedDB holds sometimes never resolves (the
 * export bench hung on one in every 8 to 19 back-to-back 300 MB exports, idle, with fresh reads
 * of the same Blob working), while 30 exports in a row with the default reader all finished.
 * Its chunks are garbage once hashed; the streaming export's memory stays flat
 * (export_stream_peak_mem_vs_archive, bench/export.py). */
function chunks(blob) {
  const reader = blob.stream().getReader();
  return { read: () => reader.read(), cancel: () => reader.cancel() };
}

/** CRC-32 of `blob`, read as a stream (in the chunks the browser hands over). Every
 * `reportEvery` bytes it checks `isCancelled()` (then rejects with an AbortError) and calls
 * `onBytes(n)`; the last `onBytes` reports the rest. */
export async function crc32(blob, onBytes, isCancelled, reportEvery) {
  const { read, cancel } = chunks(blob);
  let crc = -1, unreported = 0;
  for (;;) {
    const { done, value } = await read();
    if (done) break;
    crc = update(crc, value);
    unreported += value.length;
    if (unreported >= reportEvery) {
      if (isCancelled()) { cancel(); throw cancelled(); }
      onBytes(unreported);
      unreported = 0;
    }
  }
  onBytes(unreported);
  return (crc ^ -1) >>> 0;
}

/** CRC-32 of each of `blobs` (small ones: one call instead of one per file), read `parallel`
 * at a time; `onBytes` and `isCancelled` as for crc32, counted over them all. */
export async function crc32All(blobs, onBytes, isCancelled, reportEvery, parallel) {
  const crcs = new Array(blobs.length);
  let next = 0, unreported = 0, stop = null;
  const count = (n) => {
    unreported += n;
    if (unreported >= reportEvery) { onBytes(unreported); unreported = 0; }
  };
  const worker = async () => {
    while (next < blobs.length && !stop) {
      const i = next++;
      if (isCancelled()) { stop = cancelled(); break; }
      crcs[i] = await crc32(blobs[i], count, () => false, Infinity);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, blobs.length) }, worker));
  if (stop) throw stop;
  onBytes(unreported);
  return crcs;
}

/** CRC-32 of a Uint8Array. */
export const crc32Bytes = (bytes) => (update(-1, bytes) ^ -1) >>> 0;

/** One Blob of `parts` (Uint8Arrays and Blobs, referenced rather than copied). */
export const compose = (parts, type) => new Blob(parts, { type });

/** Parts (Uint8Arrays and Blobs) queued for a FileSystemWritableFileStream and written as one
 * Blob per `flush()`: a stored Blob is handed to the browser by reference, never read here.
 * Nothing is in place until `close()`; `abort()` discards what was written. */
export class FileSink {
  constructor(writable) {
    this.writable = writable;
    this.parts = [];
    this.queued = 0;
    this.written = 0;
  }

  /** Queue `part`; returns the bytes queued so far. */
  push(part) {
    this.parts.push(part);
    this.queued += part instanceof Blob ? part.size : part.byteLength;
    return this.queued;
  }

  async flush() {
    if (!this.parts.length) return this.written;
    const blob = new Blob(this.parts);
    this.parts = [];
    this.queued = 0;
    await this.writable.write(blob);
    this.written += blob.size;
    return this.written;
  }

  async close() {
    await this.flush();
    await this.writable.close();
    return this.written;
  }

  /** Discard the file's new content; "" when done, else the error's name (a stream that had
   * failed already cannot be aborted again). */
  async abort() {
    this.parts = [];
    try {
      await this.writable.abort();
      return "";
    } catch (error) {
      return error.name || String(error);
    }
  }
}

/** A FileSink writing to the file behind a FileSystemFileHandle. */
export const openSink = async (handle) => new FileSink(await handle.createWritable());
