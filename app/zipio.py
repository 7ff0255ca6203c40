"""Writing zip archives in the page (browser): archives composed from stored Blobs without
copying the media, CRC-32 computed in JS, the download, and the cancel token shared with
app/zipread.py (which reads untrusted archives).

Each stored entry is `local header + the vault's own Blob`; the final `new Blob([...parts,
central directory])` refers to the stored Blobs instead of copying them, so exporting 1 GB
does not hold 1 GB more in memory. CRC-32 is computed in JS (slice-by-8) as the Blob streams
in chunks of about 64 KiB, yielding to the event loop between chunks and checking for
cancellation every MiB. JSZip's own writer reads every input into memory and buffers its
output, about 3x the project in memory (measured in bench/export.py), so it is not used here.

    writer = ZipWriter(now_ms())
    writer.add_bytes("scenevault.json", manifest_bytes)            # DEFLATEd
    writer.add_blob(path, blob, await crc32(blob, on_bytes, token))  # STOREd, not copied
    archive = writer.finish()                                      # a JS Blob
    url = save(archive, "moon-heist-20250131.scenevault.zip")     # revoked after a delay
"""

from __future__ import annotations

import zlib
from typing import Callable

import js
from pyodide.ffi import JsException, create_proxy

from app.errors import BackupCancelled, BackupError
from app.zipformat import DEFLATED, ZipPlan

REPORT_EVERY = 1 << 20  # bytes between progress and cancel callbacks

_JS = js.Function.new("reportEvery", r"""
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
return {
  crc32: async (blob, onBytes, isCancelled) => {
    const reader = blob.stream().getReader();  // ~0.5 GB/s, in chunks of about 64 KiB
    let crc = -1, unreported = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      crc = update(crc, value);
      unreported += value.length;
      if (unreported >= reportEvery) {
        if (isCancelled()) { reader.cancel(); throw cancelled(); }
        onBytes(unreported);
        unreported = 0;
      }
    }
    onBytes(unreported);
    return (crc ^ -1) >>> 0;
  },
  crc32Bytes: (bytes) => (update(-1, bytes) ^ -1) >>> 0,
  compose: (parts, type) => new Blob(parts, { type }),
  save: (blob, filename, revokeAfterMs) => {
    const url = URL.createObjectURL(blob);
    const a = Object.assign(document.createElement("a"), { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), revokeAfterMs);
    return url;
  },
};
""")(REPORT_EVERY)


class CancelToken:
    """Shared between the UI's Cancel button and a running export or import."""

    def __init__(self):
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


Progress = Callable[[int], None]


def _bytes_to_js(data: bytes):
    array = js.Uint8Array.new(len(data))
    array.assign(data)
    return array


class JsCallbacks:
    """JS-callable proxies for a progress function and a cancel token, destroyed on exit."""

    def __init__(self, on_bytes: Progress | None, token: CancelToken | None):
        self.on_bytes = create_proxy(on_bytes or (lambda n: None))
        self.is_cancelled = create_proxy(lambda: bool(token and token.cancelled))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.on_bytes.destroy()
        self.is_cancelled.destroy()


async def crc32(blob, on_bytes: Progress | None = None, token: CancelToken | None = None) -> int:
    """CRC-32 of a Blob as it streams; `on_bytes(n)` every MiB. Raises BackupCancelled."""
    with JsCallbacks(on_bytes, token) as callbacks:
        try:
            return int(await _JS.crc32(blob, callbacks.on_bytes, callbacks.is_cancelled))
        except JsException as exc:
            if exc.name == "AbortError":
                raise BackupCancelled() from None
            raise BackupError(f"A stored file could not be read ({exc.name}: {exc.message}); "
                              "nothing was exported.", "read_failed") from None


class ZipWriter:
    """Collects header bytes and Blobs; `finish()` composes them into one archive Blob."""

    def __init__(self, stamp_ms: int):
        self.plan = ZipPlan(stamp_ms)
        self.parts = js.Array.new()

    def add_bytes(self, name: str, data: bytes, deflate: bool = True) -> None:
        """Add a small in-memory file (the manifest), DEFLATEd unless `deflate` is False."""
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = packer.compress(data) + packer.flush() if deflate else data
        method = DEFLATED if deflate else 0
        self.parts.push(_bytes_to_js(self.plan.add(name, zlib.crc32(data), len(body), len(data),
                                                   method)))
        self.parts.push(_bytes_to_js(body))

    def add_blob(self, name: str, blob, crc: int) -> None:
        """Add a Blob STOREd as it is: only its header is new memory."""
        size = int(blob.size)
        self.parts.push(_bytes_to_js(self.plan.add(name, crc, size, size)))
        self.parts.push(blob)

    def finish(self):
        self.parts.push(_bytes_to_js(self.plan.finish()))
        return _JS.compose(self.parts, "application/zip")


def save(blob, filename: str, revoke_after_ms: int = 60_000) -> str:
    """Download `blob` as `filename` through a temporary <a download>. The object URL is
    revoked after `revoke_after_ms` (the browser has resolved it by then); returns it."""
    return str(_JS.save(blob, filename, revoke_after_ms))
