"""Streaming a zip archive straight into a file the user chose (browser): the same entries and
bytes as app/backup/zip/write.py's `ZipWriter`, written through a FileSystemWritableFileStream
(from `showSaveFilePicker`) as they come, so memory stays flat whatever the archive's size.

Headers and the stored Blobs queue up in JS (static/js/bridge/zipwrite.mjs, `FileSink`) and are
written as one `new Blob([...])` once FLUSH_BYTES or FLUSH_PARTS are queued: a stored Blob goes
to disk by reference (the browser copies it, the page never holds it), and 100,000 small
entries cost a few hundred writes, not 300,000. CRC-32 is known before each local header (the
caller computes it first, as for a download), so the bytes are those of a downloaded archive.
Nothing claims to be complete until `finish()` closes the stream: the browser writes to a
temporary file and puts it in place only then. `abort()` (a cancel, or a failed write)
discards that temporary file, so the chosen file keeps what it held before (empty if new).

    stream = await ZipStream.open(handle, now_ms())        # handle: a FileSystemFileHandle
    stream.add_bytes("scenevault.json", manifest_bytes)
    stream.add_blob(path, blob, await crc32(blob)); await stream.drain()
    written = await stream.finish()                        # bytes in the file
"""

from __future__ import annotations

from pyodide.ffi import JsException
from pyscript.js_modules import sv_zipwrite

from app.core.errors import BackupError
from app.backup.zip.write import ZipWriter, _bytes_to_js

FLUSH_BYTES = 16 << 20  # queued bytes (headers and Blobs) that trigger a write
FLUSH_PARTS = 4096      # queued parts that trigger a write

_JS = sv_zipwrite  # static/js/bridge/zipwrite.mjs, loaded by pyscript.toml


class ZipStream(ZipWriter):
    """A ZipWriter whose parts go to a file as they come instead of into one Blob."""

    def __init__(self, stamp_ms: int, sink):
        super().__init__(stamp_ms)
        self.sink = sink
        self.queued_parts = 0
        self.queued_bytes = 0

    @classmethod
    async def open(cls, handle, stamp_ms: int) -> ZipStream:
        """A stream into the file behind `handle` (its writable opened now)."""
        try:
            return cls(stamp_ms, await _JS.openSink(handle))
        except JsException as exc:
            raise write_failed(exc) from None

    def _push(self, part) -> None:
        self.queued_bytes = int(self.sink.push(part))
        self.queued_parts += 1

    async def drain(self) -> None:
        """Write what is queued once it passes FLUSH_BYTES or FLUSH_PARTS."""
        if self.queued_bytes >= FLUSH_BYTES or self.queued_parts >= FLUSH_PARTS:
            await self._flush()

    async def _flush(self) -> None:
        self.queued_parts = self.queued_bytes = 0
        try:
            await self.sink.flush()
        except JsException as exc:
            raise write_failed(exc) from None

    async def finish(self) -> int:
        """Write the central directory and close the file; returns the bytes written."""
        self.sink.push(_bytes_to_js(self.plan.finish()))
        try:
            return int(await self.sink.close())
        except JsException as exc:
            raise write_failed(exc) from None

    async def abort(self) -> str:
        """Discard what was written (the file keeps what it held before). Returns "" when the
        browser confirmed, else the error it gave (the stream had failed already)."""
        return str(await self.sink.abort())

    @property
    def written(self) -> int:
        return int(self.sink.written)


def write_failed(exc: JsException) -> BackupError:
    return BackupError(f"The backup file could not be written ({exc.name}: {exc.message}); "
                       "what was written was discarded. Free some disk space or choose another "
                       "place, then export again.", "write_failed")
