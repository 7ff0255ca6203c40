"""A corpus of hostile backup archives, built in CPython byte by byte, one per import rule and a
few combinations. Each `Case` says which error code and message fragment the import must
give; `limits` (keyword arguments of app.backup.policy.Limits) shrinks a cap so the archive
can stay small. `valid_backup()` is the control: the same builder, nothing wrong.

    for case in corpus():
        case.name, len(case.archive), case.code, case.fragment
"""

from __future__ import annotations

import copy
import json
import struct
import zlib
from dataclasses import dataclass, field

import pagekit
from app.backup.manifest import build_manifest, encode_manifest, plan_layout
from app.core.model import Asset, Project

PROJECT_ID = "prj_hostile0000000000000000000001"
MANIFEST = "scenevault.json"
PNG = pagekit.png(16, 16, (10, 200, 30))
WAV = pagekit.wav_bytes(3000)
HTML = b"<!DOCTYPE html><html><script>fetch('/api/generate')</script></html>"
SVG = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"


@dataclass
class Raw:
    """One zip entry as written, with any field free to lie."""

    name: str | bytes
    content: bytes
    method: int = 0
    flags: int = 0x800
    declared_size: int | None = None
    crc: int | None = None
    offset: int | None = None  # where the central record says the local header is


@dataclass
class Case:
    name: str
    archive: bytes
    code: str
    fragment: str
    limits: dict = field(default_factory=dict)


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def raw_zip(entries: list[Raw]) -> bytes:
    """A zip written field by field (so tests can make it lie)."""
    body, central = b"", b""
    for entry in entries:
        name = entry.name.encode() if isinstance(entry.name, str) else entry.name
        payload = deflate(entry.content) if entry.method == 8 else entry.content
        crc = zlib.crc32(entry.content) if entry.crc is None else entry.crc
        size = len(entry.content) if entry.declared_size is None else entry.declared_size
        offset = len(body) if entry.offset is None else entry.offset
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, entry.flags, entry.method, 0,
                            0x5A21, crc, len(payload), size, len(name), 0) + name + payload
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, entry.flags,
                               entry.method, 0, 0x5A21, crc, len(payload), size, len(name), 0, 0,
                               0, 0, 0o100644 << 16, offset) + name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                      len(central), len(body), 0)
    return body + central + end


def base_manifest() -> dict:
    project = Project(id=PROJECT_ID, title="Hostile base", created_at=1_700_000_000_000,
                      updated_at=1_700_000_000_000)
    assets = [
        Asset(id="ast_hostile0000000000000000000001", project_id=PROJECT_ID, kind="scene",
              slot="scene:1", version=1, current=True, sha256=pagekit.sha256(PNG),
              mime_type="image/png", size=len(PNG), source="generated",
              created_at=1_700_000_000_001, width=16, height=16, recipe={"prompt": "green"}),
        Asset(id="ast_hostile0000000000000000000002", project_id=PROJECT_ID, kind="audio",
              slot="scene:1:narration", version=1, current=True, sha256=pagekit.sha256(WAV),
              mime_type="audio/wav", size=len(WAV), source="generated",
              created_at=1_700_000_000_002),
    ]
    layout = plan_layout([project], assets, {a.sha256 for a in assets})
    return build_manifest([project], assets, layout.paths, 1_700_000_000_123)


def png_path(manifest: dict) -> str:
    return manifest["assets"][0]["path"]


def wav_path(manifest: dict) -> str:
    return manifest["assets"][1]["path"]


def backup(manifest: dict | None = None, files: dict[str, bytes] | None = None,
           extra: tuple[Raw, ...] = (), manifest_bytes: bytes | None = None) -> bytes:
    """The base backup, with any part replaced."""
    manifest = base_manifest() if manifest is None else manifest
    data = encode_manifest(manifest) if manifest_bytes is None else manifest_bytes
    if files is None:
        files = {png_path(manifest): PNG, wav_path(manifest): WAV}
    return raw_zip([Raw(MANIFEST, data, method=8), *(Raw(p, d) for p, d in files.items()), *extra])


def valid_backup() -> bytes:
    return backup()


def big_backup(count: int, size: int) -> bytes:
    """A valid backup whose project also holds `count` incompressible WAVs of `size` bytes."""
    manifest = base_manifest()
    files = {png_path(manifest): PNG, wav_path(manifest): WAV}
    for n in range(count):
        data = pagekit.wav_bytes(size)
        path = f"projects/hostile-base/audio/scene-{n + 2:02d}-narration-v1.wav"
        manifest["assets"].append({**manifest["assets"][1], "id": f"ast_big{n}", "path": path,
                                   "slot": f"scene:{n + 2}:narration", "size": size,
                                   "sha256": pagekit.sha256(data)})
        files[path] = data
    return backup(manifest, files)


def edited(change) -> dict:
    """The base manifest after `change(manifest)`."""
    manifest = copy.deepcopy(base_manifest())
    change(manifest)
    return manifest


def with_png(manifest: dict, data: bytes, size_too: bool = True, sha_too: bool = True) -> bytes:
    """The base backup whose PNG entry holds `data` (the manifest follows unless told not to)."""
    item = manifest["assets"][0]
    if size_too:
        item["size"] = len(data)
    if sha_too:
        item["sha256"] = pagekit.sha256(data)
    return backup(manifest, {png_path(manifest): data, wav_path(manifest): WAV})


def renamed_png(path: str) -> bytes:
    manifest = edited(lambda m: m["assets"][0].update(path=path))
    return backup(manifest, {path: PNG, wav_path(manifest): WAV})


def corpus() -> list[Case]:
    base = base_manifest()
    good = valid_backup()
    zeros = bytes(60 << 20)
    cases = [
        Case("not_a_zip", PNG, "not_a_zip", "not a zip archive"),
        Case("empty_file", b"", "not_a_zip", "not a zip archive"),
        Case("text_file", b"format: scenevault-backup\n", "not_a_zip", "not a zip archive"),
        Case("truncated", good[: len(good) // 2], "corrupt_zip", "cut short"),
        Case("corrupt_directory", _damaged_directory(good), "corrupt_zip", "damaged"),
        Case("corrupt_deflate", raw_zip([Raw(MANIFEST, b"\xff" * 200, method=8, declared_size=500),
                                         Raw(png_path(base), PNG), Raw(wav_path(base), WAV)]),
             "corrupt_zip", "cannot be read"),
        Case("no_manifest", raw_zip([Raw(png_path(base), PNG)]), "no_manifest", "no scenevault.json"),
        Case("unknown_format", backup(edited(lambda m: m.update(format="other-app"))),
             "unknown_format", "'other-app'"),
        Case("unsupported_version", backup(edited(lambda m: m.update(version=2))),
             "unsupported_version", "newer SceneVault"),
        Case("manifest_not_json", backup(manifest_bytes=b"{'format': 'scenevault-backup'"),
             "invalid_manifest", "not JSON"),
        Case("wrong_type", backup(edited(lambda m: m["assets"][0].update(size="12"))),
             "invalid_manifest", "'size' must be a whole number"),
        Case("missing_field", backup(edited(lambda m: m["assets"][1].pop("sha256"))),
             "invalid_manifest", "has no 'sha256'"),
        Case("duplicate_ids", backup(edited(lambda m: m["assets"][1].update(id=m["assets"][0]["id"]))),
             "invalid_manifest", "appears twice"),
        Case("slot_shape", backup(edited(lambda m: m["assets"][0].update(slot="character:hero"))),
             "invalid_manifest", "cannot hold a scene"),
        Case("two_currents", backup(edited(lambda m: m["assets"].append(
            {**m["assets"][0], "id": "ast_extra", "version": 2}))), "invalid_manifest",
             "2 current versions"),
        Case("absolute_path", renamed_png("/etc/cron.d/evil.png"), "unsafe_path", "absolute"),
        Case("dot_dot_path", renamed_png("projects/../../../evil.png"), "unsafe_path", "'..'"),
        Case("backslash_path", renamed_png("projects\\evil\\x.png"), "unsafe_path", "backslashes"),
        Case("drive_letter", renamed_png("C:/Windows/evil.png"), "unsafe_path", "drive letter"),
        Case("non_utf8_name", backup(extra=(Raw(b"projects/\xff\xfe.png", PNG, flags=0),)),
             "unsafe_path", "not valid UTF-8"),
        Case("unreferenced_entry", backup(extra=(Raw("projects/hostile-base/index.html", HTML),)),
             "unreferenced_entry", "'projects/hostile-base/index.html'"),
        Case("missing_file", backup(files={png_path(base): PNG}), "missing_file", wav_path(base)),
        Case("hash_mismatch", with_png(edited(lambda m: None), pagekit.png(16, 16, (1, 2, 3)),
                                       sha_too=False), "hash_mismatch", "SHA-256"),
        Case("size_mismatch_fewer", with_png(edited(lambda m: m["assets"][0].update(size=len(PNG) + 7)),
                                             PNG, size_too=False), "size_mismatch", "manifest says"),
        Case("size_mismatch_more", with_png(edited(lambda m: m["assets"][0].update(size=len(PNG) - 7)),
                                            PNG, size_too=False), "size_mismatch",
             f"holds {len(PNG)} bytes, but the manifest says {len(PNG) - 7}"),
        Case("size_mismatch_deflated", _deflated_png(size=100), "size_mismatch",
             "at least 16,384 bytes, but the manifest says 100"),
        Case("svg_type", backup(edited(lambda m: m["assets"][0].update(mimeType="image/svg+xml"))),
             "media_type", "not allowed"),
        Case("html_as_png", with_png(edited(lambda m: None), HTML), "magic_mismatch", "HTML page"),
        Case("svg_as_png", with_png(edited(lambda m: None), SVG), "magic_mismatch", "SVG"),
        Case("wav_as_png", with_png(edited(lambda m: None), WAV, sha_too=True), "magic_mismatch",
             "audio/wav"),
        Case("too_many_entries", good, "too_many_entries", "at most 2", {"max_entries": 2}),
        Case("entry_too_large", good, "entry_too_large", "one file may be at most 1,000",
             {"max_entry_bytes": 1000}),
        Case("total_too_large", good, "total_too_large", "at most 3,000", {"max_total_bytes": 3000}),
        Case("zip_bomb", _bomb(zeros), "suspicious_ratio", "zip bomb"),
        Case("lying_declared_size", _bomb(zeros, declared_size=100), "suspicious_ratio", "zip bomb"),
        Case("manifest_too_large", good, "manifest_too_large", "over 500 bytes",
             {"max_manifest_bytes": 500}),
        Case("manifest_bomb", backup(manifest_bytes=b" " * (40 << 20)), "suspicious_ratio",
             "scenevault.json"),
        Case("json_too_deep", backup(manifest_bytes=encode_manifest(base).replace(
            b'"prompt": "green"', b'"prompt": ' + b"[" * 5000 + b"]" * 5000)),
             "json_too_deep", "deeper than 32"),
        Case("duplicate_entry", backup(extra=(Raw(png_path(base), HTML),)), "duplicate_entry", "twice"),
        Case("encrypted_entry", backup(extra=(Raw("projects/x.png", PNG, flags=0x801),)),
             "unsupported_zip", "encrypted"),
        Case("bzip2_entry", backup(extra=(Raw("projects/x.png", PNG, method=12),)),
             "unsupported_zip", "method 12"),
        Case("zip64_marker_without_locator", _zip64(good), "corrupt_zip", "no zip64 locator"),
        Case("zip64_locator_pointing_outside", zip64_end(good, locator_offset=1 << 40),
             "corrupt_zip", "zip64 locator points to offset"),
        Case("zip64_count_disagreeing", zip64_end(good, count=7), "corrupt_zip",
             "but its zip64 end record gives"),
        Case("overlapping_entries", _overlapping(base), "corrupt_zip", "overlaps"),
        Case("unsafe_path_and_bad_hash", backup(edited(lambda m: m["assets"][0].update(
            path="../x.png", sha256="0" * 64)), {"../x.png": PNG, wav_path(base): WAV}),
             "unsafe_path", "'..'"),
        Case("unreferenced_bomb", backup(extra=(Raw("bomb.bin", zeros, method=8),)),
             "unreferenced_entry", "'bomb.bin'"),
        Case("newer_version_and_bad_schema", backup(edited(lambda m: m.update(version=7, assets=5)),
                                                    files={png_path(base): PNG, wav_path(base): WAV}),
             "unsupported_version", "version 7"),
    ]
    return cases


def _bomb(zeros: bytes, declared_size: int | None = None) -> bytes:
    """A PNG-looking entry of 60 MB that DEFLATEs to ~60 KB; the manifest tells the truth."""
    data = PNG + zeros
    manifest = edited(lambda m: m["assets"][0].update(size=len(data), sha256=pagekit.sha256(data)))
    return raw_zip([Raw(MANIFEST, encode_manifest(manifest), method=8),
                    Raw(png_path(manifest), data, method=8, declared_size=declared_size),
                    Raw(wav_path(manifest), WAV)])


def _deflated_png(size: int) -> bytes:
    """The PNG DEFLATEd (as a repacking tool would), grown to 64 KiB; the manifest claims `size`."""
    data = PNG + bytes(64 << 10)
    manifest = edited(lambda m: m["assets"][0].update(size=size, sha256=pagekit.sha256(data)))
    return raw_zip([Raw(MANIFEST, encode_manifest(manifest), method=8),
                    Raw(png_path(manifest), data, method=8), Raw(wav_path(manifest), WAV)])


def _damaged_directory(archive: bytes) -> bytes:
    cd_offset = struct.unpack_from("<I", archive, len(archive) - 6)[0]
    damaged = bytearray(archive)
    damaged[cd_offset:cd_offset + 4] = b"XXXX"
    return bytes(damaged)


def _zip64(archive: bytes) -> bytes:
    patched = bytearray(archive)
    struct.pack_into("<I", patched, len(patched) - 6, 0xFFFFFFFF)
    return bytes(patched)


def zip64_end(archive: bytes, locator_offset: int | None = None, count: int = 0xFFFF) -> bytes:
    """`archive` with a zip64 end record and locator before its end record (the end record's
    count set to `count`, its sizes to 0xFFFFFFFF), the locator pointing at `locator_offset`
    (by default, where the record is)."""
    end = len(archive) - 22
    entries, cd_size, cd_offset = struct.unpack_from("<HII", archive, end + 10)
    record = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries,
                         cd_size, cd_offset)
    where = cd_offset + cd_size if locator_offset is None else locator_offset
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, where, 1)
    return (archive[:end] + record + locator
            + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, 0xFFFFFFFF,
                          0xFFFFFFFF, 0))


def _overlapping(base: dict) -> bytes:
    """Two central records that point at the same local data (a non-recursive zip bomb)."""
    return raw_zip([Raw(MANIFEST, encode_manifest(base), method=8), Raw(png_path(base), PNG),
                    Raw(wav_path(base), WAV, offset=0)])


def manifest_json(archive: bytes) -> dict:
    """The manifest of an archive made here (for tests that inspect what they import)."""
    import io
    import zipfile
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return json.loads(opened.read(MANIFEST))
