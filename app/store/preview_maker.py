"""The background preview maker (browser): the waveforms, poster frames and thumbnails that a
write no longer waits for. A put commits its blob and record and returns; the vault then hands
the media here (`want`), and the maker makes its preview later, in bounded batches.

- **Batches.** At most `BATCH` previews are made at once; each batch's results land in ONE
  readwrite transaction, and the maker yields to the page (a trip through the browser's task
  queue) before each batch, so clicks and paints go first.
- **Landing.** A preview is stored only while its blob still is (checked in the same
  transaction, so a delete racing the maker never leaves an orphan) and never over an existing
  entry. Subscribers (`subscribe`) hear `(sha256, blob)` after the commit, `blob` None when
  the preview could not be made: the UI swaps its placeholder in place.
- **Failure.** Media the browser cannot make a preview of gets a failure mark in the
  `previews` store, under the same sha256: `{sha256, failed: True, reason, size: 0,
  failedAt}` and no `blob`. Deleting the blob deletes the mark with it (app/store/writes.py).
  Before each batch the maker skips media that already has a preview or a mark (one read), so
  marked media is never tried again (`attempts` counts the tries, per sha256); the same bytes
  stored again after a delete freed them get a fresh try.
- **Reload.** `resume_pending()` (at boot) walks the `blobs` and `previews` keys side by side,
  `SCAN_BATCH` keys per step, and queues the media that has neither a preview nor a mark; the
  next step runs only once the queue is empty, so the work at any moment stays bounded.

`hold()` stops the maker before its next batch and `release()` lets it go on; `idle()` waits
until nothing is queued, scanning or in flight (tests and benchmarks; not while held).

    maker = vault.preview_maker
    unsubscribe = maker.subscribe(lambda sha256, blob: ...)
    maker.want(asset.sha256, "audio/wav", blob)     # the vault does this after a put
    await maker.idle()
"""

from __future__ import annotations

import asyncio
from typing import Callable

import js

from app.core.errors import SceneVaultError
from app.core.model import now_ms
from app.store import idb
from app.store import media

BATCH = 2  # previews made concurrently
SCAN_BATCH = 500  # blob keys read per step of the reload scan

Listener = Callable[[str, object], None]


class PreviewMaker:
    """Makes missing previews in the background for one vault (`vault._transaction`)."""

    def __init__(self, vault):
        self._vault = vault
        self._queue: dict[str, tuple[str, object | None]] = {}  # sha256 -> (mime type, Blob)
        self._making: set[str] = set()
        self.attempts: dict[str, int] = {}
        self._listeners: list[Listener] = []
        self._worker: asyncio.Future | None = None
        self._released: asyncio.Future | None = None
        self._scan_after: str | None = None  # the last key scanned ("" from the start)
        self._idle_waiters: list[asyncio.Future] = []

    # --- what callers use ---------------------------------------------------------------------
    def want(self, sha256: str, mime_type: str, blob=None) -> None:
        """Make the preview of this media once nothing earlier is waiting, unless it has one
        or a failure mark by then (`blob`, if given, saves reading it back)."""
        if sha256 not in self._queue and sha256 not in self._making:
            self._queue[sha256] = (mime_type, blob)
            self._wake()

    def resume_pending(self) -> None:
        """Find, step by step, media stored without a preview or a failure mark (module
        docstring) and make their previews."""
        self._scan_after = ""
        self._wake()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(sha256, blob_or_None)` after each preview (or failure mark) lands;
        returns the function that unsubscribes it (safe to call twice)."""
        self._listeners.append(listener)
        return lambda: listener in self._listeners and self._listeners.remove(listener)

    def hold(self) -> None:
        """Start no new batch until `release()`."""
        if self._released is None:
            self._released = asyncio.get_event_loop().create_future()

    def release(self) -> None:
        if self._released is not None:
            self._released.set_result(None)
            self._released = None

    def is_pending(self, sha256: str) -> bool:
        """Whether this media's preview is queued or being made (the UI says "pending")."""
        return sha256 in self._queue or sha256 in self._making

    @property
    def pending(self) -> int:
        """How many previews are queued (not counting a batch in flight)."""
        return len(self._queue)

    async def idle(self) -> None:
        """Wait until nothing is queued, scanning or being made."""
        if self._worker is not None and not self._worker.done():
            waiter = asyncio.get_event_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

    # --- the worker ---------------------------------------------------------------------------
    def _wake(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while True:
                await asyncio.sleep(0)  # yield to the page before each batch
                while self._released is not None:
                    await self._released
                if not self._queue and self._scan_after is not None:
                    await self._scan_step()
                    continue
                if not self._queue:
                    return
                await self._batch()
        finally:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                waiter.done() or waiter.set_result(None)

    async def _batch(self) -> None:
        chosen = list(self._queue)[:BATCH]
        jobs = [(sha, *self._queue.pop(sha)) for sha in chosen]
        self._making.update(chosen)
        try:
            fresh = await self._without_entry(chosen)
            made = await asyncio.gather(*(self._make(*job) for job in jobs if job[0] in fresh))
            landed = await self._store(made)
        except SceneVaultError:  # closed or full: they stay pending until the next boot
            return
        finally:
            self._making.difference_update(chosen)
        for sha256, preview in landed:
            for listener in list(self._listeners):
                try:
                    listener(sha256, preview)
                except Exception as exc:  # one listener's bug must not stop the maker
                    js.console.error(f"A preview listener failed: {exc!r}")

    async def _without_entry(self, shas: list[str]) -> set[str]:
        """Those of `shas` with neither a preview nor a failure mark stored."""
        tx = self._vault._transaction(["previews"])
        fresh: set[str] = set()
        for sha256 in shas:
            tx.then(tx.store("previews").count(sha256),
                    lambda n, sha256=sha256: n or fresh.add(sha256))
        await tx.done()
        return fresh

    async def _make(self, sha256: str, mime_type: str, blob) -> tuple[str, object | None, str]:
        self.attempts[sha256] = self.attempts.get(sha256, 0) + 1
        try:
            if blob is None:
                blob = (await self._vault.blobs_by_sha256([sha256])).get(sha256)
                if blob is None:
                    return sha256, None, ""  # deleted meanwhile: nothing to make or mark
            return sha256, await media.make_preview(blob, mime_type), ""
        except SceneVaultError as exc:
            return sha256, None, str(exc) or type(exc).__name__

    async def _store(self, made) -> list[tuple[str, object | None]]:
        """Land previews and failure marks in one transaction; returns what landed."""
        tx = self._vault._transaction(["blobs", "previews"], "readwrite")
        blobs, previews = tx.store("blobs"), tx.store("previews")
        landed: list[tuple[str, object | None]] = []

        def land(sha256, record, preview):
            def if_free(count):
                if not count:
                    previews.put(record)
                    landed.append((sha256, preview))
            return lambda stored: stored and tx.then(previews.count(sha256), if_free)

        for sha256, preview, reason in made:
            if preview is None and not reason:
                continue
            record = idb.to_js_record(preview_record(sha256, preview) if preview is not None
                                      else failure_mark(sha256, reason))
            tx.then(blobs.count(sha256), land(sha256, record, preview))
        await tx.done()
        return landed

    async def _scan_step(self) -> None:
        """Queue up to SCAN_BATCH keys' worth of media with neither preview nor mark."""
        after = self._scan_after
        tx = self._vault._transaction(["blobs", "previews"])
        blobs, previews = tx.store("blobs"), tx.store("previews")
        keys = js.IDBKeyRange.lowerBound(after, True) if after else None
        found: dict = {}

        def with_blob_keys(result):
            shas = [str(k) for k in result]
            found["shas"] = shas
            if shas:
                span = js.IDBKeyRange.bound(shas[0], shas[-1])
                tx.then(previews.getAllKeys(span), lambda done: with_preview_keys(shas, done))

        def with_preview_keys(shas, result):
            have = {str(k) for k in result}
            for sha256 in shas:
                if sha256 not in have:
                    tx.then(blobs.get(sha256), lambda entry, sha256=sha256: entry and found.setdefault(
                        "pending", []).append((sha256, str(entry.mimeType), entry.blob)))

        tx.then(blobs.getAllKeys(keys, SCAN_BATCH), with_blob_keys)
        try:
            await tx.done()
        except SceneVaultError:
            self._scan_after = None
            return
        shas = found.get("shas") or []
        self._scan_after = shas[-1] if len(shas) == SCAN_BATCH else None
        for sha256, mime_type, blob in found.get("pending", []):
            self.want(sha256, mime_type, blob)


def preview_record(sha256: str, preview) -> dict:
    """A stored preview: the small image under its media's sha256."""
    return {"sha256": sha256, "blob": preview, "size": int(preview.size),
            "mimeType": str(preview.type)}


def failure_mark(sha256: str, reason: str) -> dict:
    """The `previews` entry of media whose preview cannot be made: why, and when."""
    return {"sha256": sha256, "failed": True, "reason": reason[:500], "size": 0,
            "failedAt": now_ms()}
