"""Reading untrusted zip archives in the page (browser), without trusting anything they declare
and without copying stored media.

`ZipReader.open` reads two small slices, the end record and the central directory, and checks
them (app/backup/zip/format.py, then the caller's `ArchiveRules`) before anything else is read. The
reader knows no backup policy: the caller passes its rules and caps (app/backup/policy.py's
`ArchiveRules`). A STOREd entry is
then a `Blob.slice` of the archive itself, after its local header agrees with the directory:
its real size is the slice's length, and no byte of it is copied (for a file chosen in a file
picker, it stays on disk until it is hashed or stored). DEFLATEd entries (the manifest, or
media repacked by another tool) are inflated by JSZip, loaded on first use from
static/vendor/jszip/, each from a small archive of just that entry; a counter aborts the moment
the real inflated bytes pass a cap or a suspicious ratio.

Many entries at once (an import): `stage` reads the STOREd ones a region of the archive at a
time (STAGE_BATCH_BYTES, one read for many files), checks each local header against the
directory in Python, and has static/js/bridge/zipread.mjs hash each entry and copy the bytes
the caller will store, in one call per region, which runs in a staging worker: two regions
are staged at once (REGIONS_IN_FLIGHT) while the next is read, and the main thread only reads
and checks headers. Close the generator (`contextlib.aclosing`) when you stop early. An entry
over LARGE_ENTRY_BYTES streams through a SHA-256 in slices instead; a DEFLATEd one is inflated
as above, then hashed. Every byte is read once.

    reader = await ZipReader.open(archive_blob, ArchiveRules(Limits()))
    manifest = await reader.read_bytes("scenevault.json", limit=32 << 20)
    blob = await reader.read_blob(path, "image/png", expected=size)   # BackupError if not
    async for staged in reader.stage([StageRequest(path, "image/png", size, copy=True)]):
        ...                                       # [StagedEntry(name, sha256, head, blob, meta)]
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, replace
from typing import Protocol

import js
from pyodide.ffi import JsException, to_js
from pyscript.js_modules import sv_zipread

from app.core.errors import BackupCancelled, BackupError
from app.backup.zip.format import (CENTRAL, DEFLATED, LOCAL, STORED, TAIL_BYTES, ZipEntry,
                           check_no_overlap, corrupt, directory, find_end_record,
                           local_data_offset, looks_like_zip, parse_central_directory)
from app.core.cancel import CancelToken
from app.backup.zip.write import REPORT_EVERY, JsCallbacks

JSZIP_SRC = "static/vendor/jszip/jszip.min.js"

_JS = sv_zipread  # static/js/bridge/zipread.mjs, loaded by pyscript.toml

STAGE_BATCH_BYTES = 32 << 20  # bytes of STOREd entries staged from one read of the archive
STAGE_BATCH_FILES = 512       # and at most this many entries per read
REGIONS_IN_FLIGHT = 2         # regions staged at once (zipread.mjs has two staging workers)
LARGE_ENTRY_BYTES = 64 << 20  # an entry this big is read and hashed in slices ...
STREAM_SLICE_BYTES = 8 << 20  # ... of this many bytes
MAX_EXTRA_BYTES = 0xFFFF      # a local header's extra field is at most this long


def _consume_outcome(future: asyncio.Future) -> None:
    """Retrieve a dropped staging's outcome, so that its failure is not reported as unhandled."""
    if not future.cancelled():
        future.exception()


@dataclass(frozen=True)
class StageRequest:
    """One entry to stage: its name, the media type its Blob gets, the size the manifest
    promises, whether the caller stores it (`copy`: a Blob with its own bytes, not a slice of
    the archive) and whether it wants the bytes its metadata is read from (`meta`)."""

    name: str
    mime_type: str
    expected: int | None
    copy: bool = True
    meta: bool = False


@dataclass(frozen=True)
class StagedEntry:
    """An entry read once: its SHA-256 (hex), its first bytes (`head`, for sniffing), a Blob of
    it (its own copy when asked for, else a slice of the archive) and, when asked for, the
    bytes its metadata is read from (a PNG without its pixel data; other files whole), or
    None when the entry was too large to hold whole (read `blob` then)."""

    name: str
    sha256: str
    head: bytes
    blob: object
    meta: bytes | None = None


class ReadLimits(Protocol):
    """The caps the reader enforces while it inflates (app/backup/policy.py's `Limits`)."""

    max_entry_bytes: int
    max_total_bytes: int
    max_ratio: int
    ratio_floor_bytes: int
    max_path_chars: int


class ArchiveRules(Protocol):
    """What the caller decides about an archive (app/backup/policy.py's `ArchiveRules`): the
    reader applies these rules, it does not know them."""

    limits: ReadLimits

    def check_archive_size(self, size: int) -> None: ...
    def check_entry_count(self, count: int) -> None: ...
    def check_entries(self, entries: list[ZipEntry]) -> dict[str, ZipEntry]: ...
    def entry_too_large(self, name: str, size: int) -> BackupError: ...


@dataclass
class _Budget:
    """Real bytes read so far, against the total cap and the archive-wide ratio."""

    limits: ReadLimits
    archive_size: int
    inflated: int = 0

    @property
    def ratio_cap(self) -> int:
        return max(self.limits.ratio_floor_bytes, self.limits.max_ratio * self.archive_size)

    @property
    def left(self) -> int:
        return min(self.limits.max_total_bytes, self.ratio_cap) - self.inflated


class ZipReader:
    """An untrusted archive whose structure passed the entry rules; entries read on demand."""

    def __init__(self, blob, files: dict[str, ZipEntry], ends: dict[str, int],
                 rules: ArchiveRules):
        self.blob = blob
        self.files = files
        self.ends = ends
        self.rules = rules
        self.limits = rules.limits
        self.budget = _Budget(rules.limits, int(blob.size))

    @classmethod
    async def open(cls, blob, rules: ArchiveRules) -> ZipReader:
        size = int(blob.size)
        rules.check_archive_size(size)
        if not looks_like_zip(await read_range(blob, 0, 4)):
            raise BackupError("This file is not a zip archive, so it is not a SceneVault backup. "
                              "Choose a file ending in .scenevault.zip.", "not_a_zip")
        end = find_end_record(await read_range(blob, max(0, size - TAIL_BYTES), size), size)
        rules.check_entry_count(end.count)
        if end.cd_size > end.count * (CENTRAL.size + 4 * rules.limits.max_path_chars + 1024):
            raise corrupt(f"its table of contents is {end.cd_size:,} bytes for {end.count} files")
        entries = parse_central_directory(
            await read_range(blob, end.cd_offset, end.cd_offset + end.cd_size), end)
        files = rules.check_entries(entries)
        return cls(blob, files, check_no_overlap(entries, end.cd_offset), rules)

    def close(self) -> None:
        """Nothing is held between reads any more (each DEFLATEd entry gets its own small
        JSZip); kept so that callers need not know."""

    async def read_bytes(self, name: str, limit: int) -> bytes:
        """A small entry (the manifest) as Python bytes, refused past `limit` real bytes."""
        blob = await self.read_blob(name, "application/octet-stream", limit=limit)
        return (await blob.arrayBuffer()).to_bytes()

    async def read_blob(self, name: str, mime_type: str, expected: int | None = None,
                        limit: int | None = None, token: CancelToken | None = None):
        """One entry as a Blob labelled `mime_type`. `expected` is the size the manifest
        promises (more real bytes stop at once). Raises BackupError with the rule's code."""
        entry = self.files[name]
        cap = min(self.limits.max_entry_bytes, limit or self.limits.max_entry_bytes)
        start, end = await self._data_range(entry)
        if entry.method == STORED:
            blob, size = self._stored(entry, start, end, mime_type, expected, cap)
        else:
            blob, size = await self._inflated(entry, mime_type, expected, cap, token)
        self.budget.inflated += size
        if expected is not None and size != expected:
            raise size_mismatch(name, size, expected)
        return blob

    async def stage(self, requests: list[StageRequest], head_bytes: int, meta_chunk_cap: int,
                    token: CancelToken | None = None):
        """Read, check, hash and (when asked) copy these entries, in archive order; yields one
        list of StagedEntry per read. The checks are `read_blob`'s, with the same errors;
        `meta_chunk_cap` caps the chunks walked to cut a PNG's pixels out of its `meta`."""
        plan = self._stage_plan(requests)
        reads: dict[int, object] = {}  # plan index -> the pending read of that region
        staging: deque[asyncio.Future] = deque()  # regions being staged, in archive order

        def read_ahead(index: int) -> None:
            if index < len(plan) and isinstance(plan[index], list) and index not in reads:
                reads[index] = _JS.readRange(self.blob, *self._region_span(plan[index]))

        try:
            for index, work in enumerate(plan):
                read_ahead(index)
                read_ahead(index + 1)  # the next region is read while this one is staged
                if isinstance(work, list):
                    staging.append(asyncio.ensure_future(self._stage_region(
                        work, reads.pop(index), head_bytes, meta_chunk_cap, token)))
                    if len(staging) >= REGIONS_IN_FLIGHT:
                        yield await staging.popleft()
                    continue
                while staging:
                    yield await staging.popleft()
                yield [await self._stage_one(work, head_bytes, meta_chunk_cap, token)]
            while staging:
                yield await staging.popleft()
        finally:
            for left in staging:  # the caller stopped early, or one failed: drop the rest
                left.cancel()
                left.add_done_callback(_consume_outcome)

    def _stage_plan(self, requests: list[StageRequest]) -> list:
        """In archive order: a list of (request, entry) per region of STOREd entries read at
        once, and a lone StageRequest for each entry staged on its own."""
        plan: list = []
        batch: list[tuple[StageRequest, ZipEntry]] = []
        held = 0
        for request in sorted(requests, key=lambda r: self.files[r.name].offset):
            entry = self.files[request.name]
            if entry.method != STORED or entry.compressed_size >= LARGE_ENTRY_BYTES:
                plan.append(request)
                continue
            if batch and (held + entry.compressed_size > STAGE_BATCH_BYTES
                          or len(batch) >= STAGE_BATCH_FILES):
                plan.append(batch)
                batch, held = [], 0
            batch.append((request, entry))
            held += entry.compressed_size
        if batch:
            plan.append(batch)
        return plan

    def _region_span(self, batch: list[tuple[StageRequest, ZipEntry]]) -> tuple[int, int]:
        """[start, end) of the archive holding these consecutive entries' headers and data
        (each entry's end bounded by where the next begins, and by the most its local header
        and data can span)."""
        return batch[0][1].offset, max(
            min(self.ends[entry.name], entry.offset + LOCAL.size + len(entry.name.encode())
                + MAX_EXTRA_BYTES + entry.compressed_size) for _request, entry in batch)

    async def _stage_region(self, batch: list[tuple[StageRequest, ZipEntry]], reading,
                            head_bytes: int, meta_chunk_cap: int,
                            token: CancelToken | None) -> list[StagedEntry]:
        """STOREd entries that lie one after another: ONE read of the archive for all of them
        (`reading`: the pending read of `_region_span`), their local headers checked here,
        then one call into JS that hashes and copies each."""
        _check_cancelled(token)
        low = batch[0][1].offset
        try:
            region = await reading
        except JsException as exc:
            raise corrupt(f"it cannot be read ({exc.name}: {exc.message})") from None
        jobs, ranges = [], []
        for request, entry in batch:
            header_at = entry.offset - low
            header = region.subarray(header_at, header_at + LOCAL.size
                                     + len(entry.name.encode())).to_bytes()
            start = entry.offset + local_data_offset(header, entry)
            end = self._checked_end(entry, start)
            cap = self.limits.max_entry_bytes
            self.budget.inflated += self._checked_stored(entry, start, end, request.expected, cap)
            jobs.append([start - low, end - low, request.mime_type, request.copy, request.meta])
            ranges.append((start, end))
        try:
            results = await _JS.stageStored(region, to_js(jobs), head_bytes, meta_chunk_cap)
        except JsException as exc:
            if exc.name == "StagingUnavailableError":  # the app's worker, not the archive
                raise BackupError(f"The import could not start its file checker ({exc.message}). "
                                  "Nothing was imported. Reload the page and import again; if "
                                  "it persists, run `make setup`.", "reader_unavailable") from None
            raise corrupt(f"its files cannot be read ({exc.name}: {exc.message})") from None
        staged = []
        for (request, entry), (start, end), result in zip(batch, ranges, results):
            blob = result.blob if request.copy else self.blob.slice(start, end, request.mime_type)
            meta = result.meta.to_bytes() if request.meta else None
            staged.append(StagedEntry(entry.name, str(result.sha256), result.head.to_bytes(),
                                      blob, meta))
        return staged

    async def _stage_one(self, request: StageRequest, head_bytes: int, meta_chunk_cap: int,
                         token: CancelToken | None) -> StagedEntry:
        """A DEFLATEd entry (inflated, so its Blob already holds its own bytes) or a STOREd one
        too large to read at once (read in slices, hashed as it streams)."""
        _check_cancelled(token)
        entry = self.files[request.name]
        if entry.method != STORED:
            blob = await self.read_blob(request.name, request.mime_type, request.expected,
                                        token=token)
            result = await _JS.stageBlob(blob, head_bytes, request.meta, meta_chunk_cap)
            meta = result.meta.to_bytes() if request.meta else None
            return StagedEntry(entry.name, str(result.sha256), result.head.to_bytes(), blob, meta)
        start, end = await self._data_range(entry)
        self.budget.inflated += self._checked_stored(entry, start, end, request.expected,
                                                     self.limits.max_entry_bytes)
        try:
            result = await _JS.stageLarge(self.blob, start, end, request.mime_type, request.copy,
                                          head_bytes, STREAM_SLICE_BYTES)
        except JsException as exc:
            raise corrupt(f"{entry.name!r} cannot be read ({exc.name}: {exc.message})") from None
        blob = result.blob if request.copy else self.blob.slice(start, end, request.mime_type)
        return StagedEntry(entry.name, str(result.sha256), result.head.to_bytes(), blob)

    async def _data_range(self, entry: ZipEntry) -> tuple[int, int]:
        header = await read_range(self.blob, entry.offset,
                                  entry.offset + LOCAL.size + len(entry.name.encode()))
        start = entry.offset + local_data_offset(header, entry)
        return start, self._checked_end(entry, start)

    def _checked_end(self, entry: ZipEntry, start: int) -> int:
        end = start + entry.compressed_size
        if end > self.ends[entry.name]:
            raise corrupt(f"the data of {entry.name!r} runs into the next entry")
        return end

    def _stored(self, entry: ZipEntry, start: int, end: int, mime_type: str,
                expected: int | None, cap: int):
        return self.blob.slice(start, end, mime_type), self._checked_stored(entry, start, end,
                                                                            expected, cap)

    def _checked_stored(self, entry: ZipEntry, start: int, end: int, expected: int | None,
                        cap: int) -> int:
        """The real size of a STOREd entry, after the checks every read makes (size against
        the directory, the manifest's promise, the entry cap and the total budget)."""
        size = end - start  # the real length: these bytes are in the archive as they are
        if entry.size != size:
            raise corrupt(f"{entry.name!r} is stored, yet declares {entry.size:,} bytes for "
                          f"{size:,}")
        if expected is not None and size > expected:
            raise size_mismatch(entry.name, size, expected)
        if size > cap:
            raise self.rules.entry_too_large(entry.name, size)
        if size > self.budget.left:
            raise self._limit_error(entry.name, "total", size)
        if expected is not None and size != expected:
            raise size_mismatch(entry.name, size, expected)
        return size

    async def _inflated(self, entry: ZipEntry, mime_type: str, expected: int | None, cap: int,
                        token: CancelToken | None):
        caps = to_js({"expected": -1 if expected is None else expected, "entry": cap,
                      "total": self.budget.left, "floor": self.limits.ratio_floor_bytes,
                      "ratio": self.limits.max_ratio,
                      "compressed": max(entry.compressed_size, 1)},
                     dict_converter=js.Object.fromEntries)
        zip_of_entry = await self._jszip(entry)
        with JsCallbacks(None, token) as callbacks:
            try:
                result = await _JS.readEntry(zip_of_entry, entry.name, mime_type, caps,
                                             callbacks.is_cancelled, REPORT_EVERY)
            except JsException as exc:
                raise self._refusal(entry.name, exc, expected) from None
        return result.blob, int(result.size)

    async def _jszip(self, entry: ZipEntry):
        """JSZip over a small archive of this one DEFLATEd entry (its bytes sliced, not copied
        in Python): only what is read is handed to JSZip, whatever the archive holds (100,000
        DEFLATEd sidecars, which are never read, stay out of it)."""
        _start, end = await self._data_range(entry)
        index = directory([replace(entry, offset=0)], end - entry.offset)
        array = js.Uint8Array.new(len(index))
        array.assign(index)
        return await _load(js.Blob.new([self.blob.slice(entry.offset, end), array]))

    def _refusal(self, name: str, exc: JsException, expected: int | None) -> BackupError:
        if exc.name == "AbortError":
            return BackupCancelled()
        if exc.name != "ZipLimitError":
            return corrupt(f"{name!r} cannot be read ({exc.message})")
        code, _, count = str(exc.message).partition(":")
        return self._limit_error(name, code, int(count), expected)

    def _limit_error(self, name: str, code: str, count: int,
                     expected: int | None = None) -> BackupError:
        if code == "oversize":
            return size_mismatch(name, count, expected, at_least=True)
        if code == "entry":
            return self.rules.entry_too_large(name, count)
        if code == "total" and self.budget.ratio_cap >= self.limits.max_total_bytes:
            return BackupError(f"The archive's files come to more than "
                               f"{self.limits.max_total_bytes:,} bytes in all; a backup may hold "
                               "at most that much.", "total_too_large")
        return BackupError(f"{name!r} inflates to over {count:,} bytes from far fewer: a "
                           f"compression ratio above {self.limits.max_ratio}:1 is the mark of a "
                           "zip bomb, so the archive is refused.", "suspicious_ratio")


def _check_cancelled(token: CancelToken | None) -> None:
    if token is not None and token.cancelled:
        raise BackupCancelled()


def size_mismatch(name: str, size: int, expected: int | None, at_least: bool = False):
    more = "at least " if at_least else ""
    return BackupError(f"{name!r} holds {more}{size:,} bytes, but the manifest says {expected:,}. "
                       "The file was altered or damaged; nothing was imported.", "size_mismatch")


async def read_range(blob, start: int, end: int) -> bytes:
    """Bytes [start, end) of a Blob (small reads only: headers, the central directory)."""
    return (await _JS.readRange(blob, start, end)).to_bytes() if end > start else b""


async def load_jszip():
    """The JSZip library (window.JSZip), loaded once from the vendored copy on first use."""
    try:
        return await _JS.loadJSZip(JSZIP_SRC)
    except JsException as exc:
        raise BackupError(f"The zip reader could not be loaded ({exc.message}). Reload the page; "
                          "if it persists, run `make setup`.", "reader_unavailable") from None


async def _load(blob):
    library = await load_jszip()
    try:
        return await _JS.loadZip(library, blob)
    except JsException as exc:
        raise corrupt(f"JSZip could not read it ({exc.message})") from None
