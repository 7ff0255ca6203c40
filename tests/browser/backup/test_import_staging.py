"""An import reads each file of the archive once (app/backup/zip/read.py `stage`): STOREd files
a region at a time, hashed and copied in one call into static/js/bridge/zipread.mjs, files
larger than LARGE_ENTRY_BYTES streamed through a SHA-256 in slices. In a real Chromium on real
IndexedDB: every path lands whole and exact; a damaged file found in a later read leaves the
database as it was; an image's own recipe is read even when it is written after the pixels;
and an image that decodes to nothing is still imported, its preview marked as impossible by the
background maker instead of being made on the import's path."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

import pytest

import pagekit
from backupkit import db_digest, py, upload
from conftest import install_pagekit, wait_for_app_state
from hostile_zips import PNG, WAV, backup, base_manifest, png_path, wav_path

STORED_JS = """async (sha) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("scenevault");
                                              r.onsuccess = () => ok(r.result); r.onerror = no; });
  const tx = db.transaction(["blobs", "previews"]);
  const get = (req) => new Promise((ok, no) => { req.onsuccess = () => ok(req.result); req.onerror = no; });
  const [blob, preview] = await Promise.all([get(tx.objectStore("blobs").get(sha)),
                                             get(tx.objectStore("previews").get(sha))]);
  db.close();
  return { blob: blob ? blob.blob.size : null,
           preview: preview ? { failed: !!preview.failed, reason: preview.reason || null } : null };
}"""

# Small reads so that a few files make several; each read of the archive is counted.
SMALL_READS = """
from app.backup.zip import read as zipread
zipread.STAGE_BATCH_FILES = {files}
zipread.LARGE_ENTRY_BYTES, zipread.STREAM_SLICE_BYTES = {large}, {slice}
if not hasattr(zipread.ZipReader, "original_stage_region"):
    zipread.ZipReader.original_stage_region = zipread.ZipReader._stage_region
    zipread.ZipReader.original_stage_one = zipread.ZipReader._stage_one
    async def counted_region(self, batch, *args):
        zipread.reads.append(["region", len(batch)])
        return await zipread.ZipReader.original_stage_region(self, batch, *args)
    async def counted_one(self, request, *args):
        zipread.reads.append(["one", 1])
        return await zipread.ZipReader.original_stage_one(self, request, *args)
    zipread.ZipReader._stage_region = counted_region
    zipread.ZipReader._stage_one = counted_one
zipread.reads = []
"0"
"""
RESET = """
from app.backup.zip import read as zipread
zipread.STAGE_BATCH_FILES = 512
zipread.LARGE_ENTRY_BYTES, zipread.STREAM_SLICE_BYTES = 64 << 20, 8 << 20
"0"
"""


def wav_backup(count: int, size: int) -> tuple[bytes, list[bytes]]:
    """The base backup plus `count` distinct WAVs of about `size` bytes: (archive, the WAVs)."""
    manifest = base_manifest()
    files = {png_path(manifest): PNG, wav_path(manifest): WAV}
    wavs = []
    for n in range(count):
        data = pagekit.wav_bytes(size + n)
        path = f"projects/hostile-base/audio/scene-{n + 2:02d}-narration-v1.wav"
        manifest["assets"].append({**manifest["assets"][1], "id": f"ast_stage{n}", "path": path,
                                   "slot": f"scene:{n + 2}:narration", "size": len(data),
                                   "sha256": pagekit.sha256(data)})
        files[path] = data
        wavs.append(data)
    return backup(manifest, files), wavs


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_text_after_pixels(text: str) -> bytes:
    """PNG with its IDAT split in three and an A1111 `parameters` tEXt between IDAT and IEND
    (the PNG specification allows text chunks anywhere after IHDR)."""
    png = pagekit.png(24, 16, (30, 60, 200), noise=True)
    ihdr_end = 8 + 25
    idat = b"".join(chunk(b"IDAT", part) for part in _thirds(_idat_data(png)))
    return (png[:ihdr_end] + idat + chunk(b"tEXt", b"parameters\0" + text.encode("latin-1"))
            + chunk(b"IEND", b""))


def _idat_data(png: bytes) -> bytes:
    at, data = 8, b""
    while at < len(png):
        (length,) = struct.unpack_from(">I", png, at)
        if png[at + 4:at + 8] == b"IDAT":
            data += png[at + 8:at + 8 + length]
        at += 12 + length
    return data


def _thirds(data: bytes) -> list[bytes]:
    step = len(data) // 3 + 1
    return [data[i:i + step] for i in range(0, len(data), step)]


@pytest.mark.parametrize("files, large", [(2, 64 << 20), (512, 35_000)],
                         ids=["regions-of-two-files", "streamed-in-slices"])
def test_an_import_read_in_many_parts_lands_whole_and_exact(vault_page, files, large):
    """Two files per read of the archive; or each 40 KB WAV over LARGE_ENTRY_BYTES, read in
    16 KB slices and hashed as it streams (hash-wasm)."""
    archive, wavs = wav_backup(7, 40_000)
    upload(vault_page, archive)
    try:
        py(vault_page, SMALL_READS.format(files=files, large=large, slice=16_384))
        result = py(vault_page, """
            report = await backups.import_archive(vault, uploaded())
            assets = await vault.list_assets(report.project_ids[0])
            blobs = await vault.read_blobs([a.sha256 for a in assets])
            stored = {a.slot: await media.sha256_hex(blobs[a.sha256]) for a in assets}
            await vault.preview_maker.idle()
            out = {"added": report.assets_added, "reads": zipread.reads,
                   "slots": {a.slot: [a.sha256, a.size, a.mime_type] for a in assets},
                   "stored": stored, "previews": len(await vault.read_previews(assets))}
            await vault.delete_project(report.project_ids[0])
            json.dumps(out)
        """)
    finally:
        py(vault_page, RESET)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("scenevault.json"))
    listed = {a["slot"]: [a["sha256"], a["size"], a["mimeType"]] for a in manifest["assets"]}
    assert result["added"] == len(listed) == 9
    assert result["slots"] == listed
    assert result["stored"] == {slot: sha for slot, (sha, _size, _type) in listed.items()}
    assert result["previews"] == 9  # made afterwards, in the background
    if files == 2:
        assert result["reads"] == [["region", 2]] * 4 + [["region", 1]]
    else:  # the 3 KB WAV and the PNG fit in one read; each 40 KB WAV streams on its own
        assert sorted(result["reads"]) == [["one", 1]] * 7 + [["region", 2]]


def test_a_damaged_file_found_in_a_later_read_leaves_the_vault_as_it_was(vault_page):
    archive, wavs = wav_backup(7, 30_000)
    at = archive.index(wavs[-1]) + len(wavs[-1]) // 2
    upload(vault_page, archive[:at] + bytes([archive[at] ^ 0xFF]) + archive[at + 1:])
    before = db_digest(vault_page)
    try:
        py(vault_page, SMALL_READS.format(files=2, large=64 << 20, slice=8 << 20))
        found = py(vault_page, """
            out = await refusal(backups.import_archive(vault, uploaded()))
            out["reads"] = len(zipread.reads)
            json.dumps(out)
        """)
    finally:
        py(vault_page, RESET)
    assert found["code"] == "hash_mismatch", found
    assert "scene-08-narration-v1.wav" in found["message"]
    assert found["reads"] == 5  # the damage was in the last read, after four clean ones
    assert db_digest(vault_page) == before


def test_an_image_listed_without_a_recipe_gets_the_one_written_after_its_pixels(vault_page):
    png = png_with_text_after_pixels("a lighthouse at dusk\nSteps: 30, Seed: 424242, CFG scale: 6")
    manifest = base_manifest()
    item = manifest["assets"][0]
    item.pop("recipe", None)
    item.update(size=len(png), sha256=pagekit.sha256(png), width=24, height=16)
    upload(vault_page, backup(manifest, {png_path(manifest): png, wav_path(manifest): WAV}))
    found = py(vault_page, """
        report = await backups.import_archive(vault, uploaded())
        assets = {a.slot: a for a in await vault.list_assets(report.project_ids[0])}
        image = assets["scene:1"]
        await vault.delete_project(report.project_ids[0])
        json.dumps({"recipe": image.recipe, "tool": (image.source_metadata or {}).get("tool")})
    """)
    assert found["tool"] == "a1111"
    assert found["recipe"]["prompt"] == "a lighthouse at dusk"
    assert found["recipe"]["seed"] == 424242
    assert [found["recipe"]["width"], found["recipe"]["height"]] == [24, 16]


def test_the_metadata_bytes_of_a_png_are_all_of_it_but_its_pixels(vault_page):
    """pngWithoutPixels keeps every chunk but IDAT, whole with its CRC; a PNG whose chunks do
    not add up, or that has more chunks than the cap, comes back whole for the Python reader
    to judge."""
    png = png_with_text_after_pixels("x" * 50)
    truncated = png[:-20]
    many = png[:33] + chunk(b"tEXt", b"a\0b") * 40 + png[33:]
    result = vault_page.evaluate("""async (cases) => {
        const { pngWithoutPixels } = await import("/static/js/backup/stage.mjs");
        return cases.map(([bytes, cap]) => Array.from(pngWithoutPixels(new Uint8Array(bytes), cap)));
    }""", [[list(png), 100], [list(truncated), 100], [list(many), 30]])
    kept, whole_truncated, whole_many = (bytes(r) for r in result)
    no_pixels = png[:33] + chunk(b"tEXt", b"parameters\0" + b"x" * 50) + chunk(b"IEND", b"")
    assert kept == no_pixels
    assert whole_truncated == truncated
    assert whole_many == many


def test_an_image_that_cannot_be_decoded_is_imported_and_its_preview_marked_impossible(vault_page):
    """The import checks bytes (magic, size, SHA-256), not pixels: a PNG whose pixel data is
    garbage lands, and the background maker records that no preview can be made of it."""
    broken = PNG[:33] + chunk(b"IDAT", b"\x00garbage, not zlib") + chunk(b"IEND", b"")
    manifest = base_manifest()
    manifest["assets"][0].update(size=len(broken), sha256=pagekit.sha256(broken))
    upload(vault_page, backup(manifest, {png_path(manifest): broken, wav_path(manifest): WAV}))
    found = py(vault_page, """
        report = await backups.import_archive(vault, uploaded())
        await vault.preview_maker.idle()
        json.dumps({"added": report.assets_added, "project": report.project_ids[0]})
    """)
    stored = vault_page.evaluate(STORED_JS, pagekit.sha256(broken))
    py(vault_page, f"await vault.delete_project({found['project']!r})\njson.dumps(0)")
    assert found["added"] == 2
    assert stored["blob"] == len(broken)
    assert stored["preview"]["failed"] is True
    assert "image" in stored["preview"]["reason"]


STAGE_IN_WORKERS_JS = """async () => {
    const { stageStored } = await import("/static/js/bridge/zipread.mjs");
    const hex = (buffer) => Array.from(new Uint8Array(buffer),
                                       (b) => b.toString(16).padStart(2, "0")).join("");
    // A large region first and a small one after it: the small one is staged sooner, by the
    // other worker, and each call must still answer for its own region, in its own order.
    const regions = [8 << 20, 4096].map((size, r) => {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i += 1) bytes[i] = (i * 31 + r * 7 + (i >> 11)) & 255;
        return bytes;
    });
    const cut = (size) => [[0, size >> 1, "image/png", true, false],
                           [size >> 1, size, "audio/wav", false, true]];
    const expected = await Promise.all(regions.map(async (bytes) => [
        hex(await crypto.subtle.digest("SHA-256", bytes.subarray(0, bytes.length >> 1))),
        hex(await crypto.subtle.digest("SHA-256", bytes.subarray(bytes.length >> 1))),
        Array.from(bytes.subarray(0, 16)), Array.from(bytes.subarray(bytes.length >> 1)).join()]));
    const sizes = regions.map((bytes) => bytes.length);
    const calls = regions.map((bytes) => stageStored(bytes, cut(bytes.length), 16, 64));
    const detached = regions.map((bytes) => bytes.byteLength);  // transferred, not copied
    const staged = await Promise.all(calls);
    const got = await Promise.all(staged.map(async ([first, second], r) => [
        first.sha256, second.sha256, Array.from(first.head),
        Array.from(second.meta).join(),
        first.blob.type, first.blob.size === sizes[r] >> 1,
        hex(await crypto.subtle.digest("SHA-256", await first.blob.arrayBuffer())) === first.sha256,
        second.blob]));
    return { expected, got, detached };
}"""


def test_regions_staged_in_the_workers_each_answer_for_their_own_bytes(vault_page):
    """stageStored hands each region to a staging worker (its buffer transferred, so the page
    keeps no second copy); two calls in flight at once, the later one finishing first, each
    resolve to their own entries' digests, heads, metadata bytes and Blob copies."""
    result = vault_page.evaluate(STAGE_IN_WORKERS_JS)
    assert result["detached"] == [0, 0]
    for expected, got in zip(result["expected"], result["got"]):
        first_sha, second_sha, head, second_bytes = expected
        assert got[:4] == [first_sha, second_sha, head, second_bytes]
        assert got[4:] == ["image/png", True, True, None]  # a copy of its own; none when not asked
    assert result["expected"][0][0] != result["expected"][1][0]


def test_a_staging_worker_that_cannot_load_fails_the_import_clearly_and_the_next_one_works(app_page):
    """The worker's script does not load (404): the import stops with `reader_unavailable`, says
    what to do, and writes nothing; once the script is back, the next import starts a new pool
    and lands."""
    refused = []
    app_page.context.route("**/stage_worker.mjs", lambda route: (
        refused.append(route.request.url), route.fulfill(status=404, body="gone")))
    page = app_page.open()
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    archive, _wavs = wav_backup(2, 20_000)
    upload(page, archive)
    before = db_digest(page)
    found = py(page, "json.dumps(await refusal(backups.import_archive(vault, uploaded())))")
    assert refused, "the worker's script was never asked for"
    assert found["code"] == "reader_unavailable", found
    assert "stage_worker.mjs" in found["message"] and "Reload the page" in found["message"]
    assert db_digest(page) == before
    app_page.context.unroute("**/stage_worker.mjs")
    added = py(page, "json.dumps((await backups.import_archive(vault, uploaded())).assets_added)")
    assert added == 4
