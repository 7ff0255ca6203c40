"""Writing zip archives in the page (browser): archives composed from stored Blobs without
copying the media, and CRC-32 computed in JS. (The download is app/ui/parts/download.py; the cancel
token, app/core/cancel.py.)

Each stored entry is `local header + the vault's own Blob`; the final `new Blob([...parts,
central directory])` refers to the stored Blobs instead of copying them, so exporting 1 GB
does not hold 1 GB more in memory. CRC-32 is computed in JS (slice-by-8, in
static/js/bridge/zipwrite.mjs) as the Blob streams, chunk by chunk (the default reader: a
BYOB read of a stored Blob can hang in Chromium), small Blobs 256 per call, yielding to the
event loop between chunks and checking for cancellation every MiB. JSZip's own writer reads every input into memory and buffers its
output, about 3x the project in memory (measured in bench/export.py), so it is not used here.

    writer = ZipWriter(now_ms())
    writer.add_bytes("scenevault.json", manifest_bytes)            # DEFLATEd
    writer.add_blob(path, blob, await crc32(blob, on_bytes, token))  # STOREd, not copied
    async for blob, crc in crc32_batches(blobs, on_bytes, token): ...  # many small Blobs
    archive = writer.finish()                                      # a JS Blob
"""

from __future__ import annotations

import zlib
from typing import Callable

import js
from pyodide.ffi import JsException, create_proxy, to_js
from pyscript.js_modules import sv_zipwrite

from app.core.cancel import CancelToken
from app.core.errors import BackupCancelled, BackupError
from app.backup.zip.format import DEFLATED, ZipPlan

REPORT_EVERY = 1 << 20  # bytes between progress and cancel callbacks

_JS = sv_zipwrite  # static/js/bridge/zipwrite.mjs, loaded by pyscript.toml


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
            return int(await _JS.crc32(blob, callbacks.on_bytes, callbacks.is_cancelled,
                                        REPORT_EVERY))
        except JsException as exc:
            raise _read_error(exc) from None


def _read_error(exc: JsException) -> BackupError:
    if exc.name == "AbortError":
        return BackupCancelled()
    return BackupError(f"A stored file could not be read ({exc.name}: {exc.message}); "
                       "nothing was exported.", "read_failed")


SMALL_BLOB = 1 << 20   # Blobs under this size get their CRC-32 in batches ...
BATCH_BLOBS = 256      # ... of this many, in one call, PARALLEL_READS read at a time
PARALLEL_READS = 8


async def crc32_batches(blobs: list, on_bytes: Progress | None = None,
                        token: CancelToken | None = None):
    """Yield (blob, CRC-32) for `blobs` in order: large ones one call each (crc32), runs of
    small ones BATCH_BLOBS per call, read PARALLEL_READS at a time (a vault of 100,000 small
    files would otherwise pay a round trip into JS per file). Raises as crc32."""
    at = 0
    while at < len(blobs):
        run = at
        while run < len(blobs) and run - at < BATCH_BLOBS and int(blobs[run].size) < SMALL_BLOB:
            run += 1
        if run == at:
            yield blobs[at], await crc32(blobs[at], on_bytes, token)
            at += 1
            continue
        batch = blobs[at:run]
        with JsCallbacks(on_bytes, token) as callbacks:
            try:
                crcs = await _JS.crc32All(to_js(batch), callbacks.on_bytes,
                                          callbacks.is_cancelled, REPORT_EVERY, PARALLEL_READS)
            except JsException as exc:
                raise _read_error(exc) from None
        for blob, crc in zip(batch, crcs):
            yield blob, int(crc)
        at = run


class ZipWriter:
    """Collects header bytes and Blobs; `finish()` composes them into one archive Blob."""

    def __init__(self, stamp_ms: int):
        self.plan = ZipPlan(stamp_ms)
        self.parts = js.Array.new()

    def _push(self, part) -> None:
        self.parts.push(part)

    def add_bytes(self, name: str, data: bytes, deflate: bool = True) -> None:
        """Add a small in-memory file (the manifest), DEFLATEd unless `deflate` is False."""
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = packer.compress(data) + packer.flush() if deflate else data
        method = DEFLATED if deflate else 0
        self._push(_bytes_to_js(self.plan.add(name, zlib.crc32(data), len(body), len(data),
                                              method)))
        self._push(_bytes_to_js(body))

    def add_blob(self, name: str, blob, crc: int) -> None:
        """Add a Blob STOREd as it is: only its header is new memory."""
        size = int(blob.size)
        self._push(_bytes_to_js(self.plan.add(name, crc, size, size)))
        self._push(blob)

    async def drain(self) -> None:
        """Nothing to do here: the parts wait for `finish()` (see ZipStream)."""

    def finish(self):
        self._push(_bytes_to_js(self.plan.finish()))
        return _JS.compose(self.parts, "application/zip")
