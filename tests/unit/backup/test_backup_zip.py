"""app/backup/zip/format.py and app/backup/policy.py under CPython: the archives SceneVault writes are
zips that Python's zipfile reads, the untrusted-archive reader refuses what it must, and the
import rules (paths, entries, references, magic bytes) name what is wrong."""

import io
import struct
import zipfile
import zlib
from dataclasses import replace

import pytest

from app.backup.zip import format as zipformat
from app.backup.policy import (ArchiveRules, Limits, check_archive_size, check_entries,
                               check_entry_count, check_magic,
                               check_references, path_problem)
from app.core.errors import BackupError
from app.backup.zip.format import (DEFLATED, STORED, ZipEntry, ZipPlan, dos_stamp, find_end_record,
                                   parse_central_directory)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)
STAMP = 1_738_326_896_000  # 2025-01-31T12:34:56Z


def compose(files: dict[str, bytes], manifest: bytes = b'{"format": "x"}') -> bytes:
    """An archive laid out by ZipPlan exactly as app/backup/zip/write.py composes it."""
    plan = ZipPlan(STAMP)
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = packer.compress(manifest) + packer.flush()
    parts = [plan.add("scenevault.json", zlib.crc32(manifest), len(deflated), len(manifest),
                      DEFLATED), deflated]
    for name, data in files.items():
        parts += [plan.add(name, zlib.crc32(data), len(data), len(data)), data]
    return b"".join(parts) + plan.finish()


def entries_of(archive: bytes) -> list[ZipEntry]:
    tail = archive[-zipformat.TAIL_BYTES:]
    end = find_end_record(tail, len(archive))
    return parse_central_directory(archive[end.cd_offset:end.cd_offset + end.cd_size], end)


def error_of(call, *args) -> BackupError:
    with pytest.raises(BackupError) as caught:
        call(*args)
    return caught.value


# --- writing ------------------------------------------------------------------------------------
def test_a_composed_archive_is_a_valid_zip_with_stored_media_and_a_deflated_manifest():
    archive = compose({"projects/a/scenes/scene-01-v1.png": PNG, "projects/a/audio/x-v1.wav": b"RIFF" * 100},
                      manifest=b'{"format": "scenevault-backup"}' * 50)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.testzip() is None  # every CRC-32 checks out
        infos = {info.filename: info for info in opened.infolist()}
        assert infos["scenevault.json"].compress_type == zipfile.ZIP_DEFLATED
        assert infos["projects/a/scenes/scene-01-v1.png"].compress_type == zipfile.ZIP_STORED
        assert opened.read("projects/a/scenes/scene-01-v1.png") == PNG
        assert infos["scenevault.json"].date_time == (2025, 1, 31, 12, 34, 56)
        assert infos["scenevault.json"].flag_bits & 0x800  # names are UTF-8


def test_dos_stamp_keeps_two_second_precision_and_clamps_to_1980():
    assert dos_stamp(STAMP + 1000) == dos_stamp(STAMP)  # 57 s rounds down to 56 s
    assert dos_stamp(0)[1] >> 9 == 0  # 1970 becomes 1980, the format's epoch


# --- reading ------------------------------------------------------------------------------------
def test_the_central_directory_of_a_python_made_zip_reads_back_with_comment_and_methods():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        out.writestr("a.png", PNG, compress_type=zipfile.ZIP_STORED)
        out.writestr("b/c.json", b"{}" * 100, compress_type=zipfile.ZIP_DEFLATED)
        out.comment = b"PK\x05\x06 a comment that looks like an end record"
    entries = entries_of(buffer.getvalue())
    assert [(e.name, e.method, e.size) for e in entries] == [("a.png", STORED, len(PNG)),
                                                             ("b/c.json", DEFLATED, 200)]
    assert entries[0].crc32 == zlib.crc32(PNG)


def test_a_truncated_zip_has_no_end_record():
    archive = compose({"a.png": PNG})
    error = error_of(find_end_record, archive[:-30][-zipformat.TAIL_BYTES:], len(archive) - 30)
    assert error.code == "corrupt_zip" and "cut short" in str(error)


def test_an_end_record_pointing_outside_the_directory_is_corrupt():
    archive = bytearray(compose({"a.png": PNG}))
    struct.pack_into("<I", archive, len(archive) - 6, 5)  # the central directory's offset
    assert error_of(find_end_record, bytes(archive), len(archive)).code == "corrupt_zip"


def test_a_count_of_65535_without_zip64_is_taken_literally_and_multi_disk_archives_are_refused():
    archive = bytearray(compose({"a.png": PNG}))
    end = len(archive) - 22
    lying = bytearray(archive)
    struct.pack_into("<HH", lying, end + 8, 0xFFFF, 0xFFFF)
    assert "claims 65,535 files" in str(error_of(find_end_record, bytes(lying), len(lying)))
    split = bytearray(archive)
    struct.pack_into("<H", split, end + 4, 1)
    assert error_of(find_end_record, bytes(split), len(split)).code == "unsupported_zip"


def test_entries_whose_data_overlap_are_a_zip_bomb_trick():
    archive = compose({"a.png": PNG, "b.png": PNG})
    entries = entries_of(archive)
    overlapping = [entries[0], entries[1], ZipEntry("c.png", 0, 0, 0, 40, 40, entries[1].offset)]
    with pytest.raises(BackupError, match="overlaps"):
        zipformat.check_no_overlap(overlapping, len(archive))


def test_a_damaged_central_record_is_reported_with_its_number():
    archive = bytearray(compose({"a.png": PNG}))
    end = find_end_record(bytes(archive[-zipformat.TAIL_BYTES:]), len(archive))
    archive[end.cd_offset + 50] ^= 0xFF  # inside the first record's name: still parses
    archive[end.cd_offset] = 0  # the signature
    with pytest.raises(BackupError, match="record 1 of 2"):
        parse_central_directory(bytes(archive[end.cd_offset:end.cd_offset + end.cd_size]), end)


def test_an_end_record_claiming_more_records_than_its_directory_holds_is_refused_at_once():
    archive = compose({"a.png": PNG})
    end = find_end_record(archive[-zipformat.TAIL_BYTES:], len(archive))
    directory = archive[end.cd_offset:end.cd_offset + end.cd_size]
    error = error_of(parse_central_directory, directory, replace(end, count=1_000))
    assert error.code == "corrupt_zip" and "claims 1,000 files" in str(error)


# --- the import policy --------------------------------------------------------------------------
@pytest.mark.parametrize("path, problem", [
    ("/etc/passwd", "absolute"), ("projects/../../x.png", "'..'"), ("a\\b.png", "backslashes"),
    ("C:/Windows/x.png", "drive letter"), ("c:x.png", "drive letter"), ("a//b.png", "empty"),
    ("./a.png", "'.'"), ("a\x00.png", "control"), ("", "empty"), ("a/" + "x" * 300, "long"),
])
def test_unsafe_paths_are_named(path, problem):
    assert problem in path_problem(path)


@pytest.mark.parametrize("path", ["scenevault.json", "projects/moon-heist/scenes/scene-03-v1.png",
                                  "projects/été/a b.png", "projects/"])
def test_ordinary_paths_are_safe(path):
    assert path_problem(path) is None


def test_entry_rules_count_duplicates_encryption_methods_and_declared_size():
    ok = ZipEntry("a.png", STORED, 0, 0, 10, 10, 0)
    assert check_entries([ok]) == {"a.png": ok}
    assert error_of(check_entries, [ok] * 3, Limits(max_entries=2)).code == "too_many_entries"
    assert error_of(check_entries, [ok, ok]).code == "duplicate_entry"
    encrypted = ZipEntry("a.png", STORED, 1, 0, 10, 10, 0)
    assert "encrypted" in str(error_of(check_entries, [encrypted]))
    bzip2 = ZipEntry("a.png", 12, 0, 0, 10, 10, 0)
    assert "method 12" in str(error_of(check_entries, [bzip2]))
    huge = ZipEntry("a.png", STORED, 0, 0, 10, 17 << 30, 0)
    assert error_of(check_entries, [huge]).code == "entry_too_large"
    assert error_of(check_entries, [ZipEntry("../a.png", STORED, 0, 0, 1, 1, 0)]).code == "unsafe_path"


def test_the_archive_size_cap_is_64_gib_and_the_entry_cap_fits_a_vault_of_100000_files():
    check_archive_size(5 << 30)  # past 4 GiB: zip64
    check_archive_size(64 << 30)
    error = error_of(check_archive_size, (64 << 30) + 1)
    assert error.code == "archive_too_large" and "at most 64.00 GiB" in str(error)
    assert Limits().max_entries >= 200_001  # 100,000 files, their sidecars and the manifest
    refused = error_of(check_entry_count, 250_001)
    assert refused.code == "too_many_entries" and "at most 250,000" in str(refused)


def test_every_file_must_be_listed_and_every_listed_file_present_unless_recipe_only():
    files = {name: ZipEntry(name, STORED, 0, 0, 1, 1, 0)
             for name in ["scenevault.json", "projects/", "projects/a/", "projects/a/x.png"]}
    paths = {"ast_1": "projects/a/x.png", "ast_2": None}
    assert check_references(files, paths, recipe_only=False) == {"projects/a/x.png"}
    extra = {**files, "evil.html": files["projects/a/x.png"]}
    assert error_of(check_references, extra, paths, False).code == "unreferenced_entry"
    stray_dir = {**files, "other/": files["projects/"]}
    assert error_of(check_references, stray_dir, paths, False).code == "unreferenced_entry"
    missing = {**paths, "ast_3": "projects/a/y.png"}
    assert error_of(check_references, files, missing, False).code == "missing_file"
    assert check_references(files, missing, recipe_only=True) == {"projects/a/x.png"}


def test_a_listed_file_may_have_its_json_sidecar_and_nothing_else_may_pose_as_one():
    entry = ZipEntry("x", STORED, 0, 0, 1, 1, 0)
    files = {name: entry for name in ["scenevault.json", "projects/", "projects/a/",
                                      "projects/a/x.png", "projects/a/x.png.json"]}
    paths = {"ast_1": "projects/a/x.png"}
    assert check_references(files, paths, recipe_only=False) == {"projects/a/x.png"}
    for stray in ("projects/a/y.png.json", "projects/a/x.json", "projects/a/x.png.json.json",
                  "scenevault.json.json"):
        refused = error_of(check_references, {**files, stray: entry}, paths, False)
        assert refused.code == "unreferenced_entry" and stray in str(refused)


WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "
WEBM = b"\x1a\x45\xdf\xa3" + bytes(12)
MP4 = b"\x00\x00\x00\x18ftypisom" + bytes(8)


@pytest.mark.parametrize("mime_type, head", [
    ("image/png", PNG), ("image/jpeg", b"\xff\xd8\xff\xe0" + bytes(8)), ("image/gif", b"GIF89a" + bytes(6)),
    ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "), ("audio/wav", WAV), ("audio/x-wav", WAV),
    ("audio/mpeg", b"ID3\x04" + bytes(8)), ("audio/ogg", b"OggS" + bytes(8)), ("video/webm", WEBM),
    ("audio/webm", WEBM), ("video/mp4", MP4), ("audio/mp4", MP4),
])
def test_media_whose_magic_bytes_match_its_type_passes(mime_type, head):
    check_magic("x", mime_type, head)


@pytest.mark.parametrize("mime_type, head, shown", [
    ("image/png", b"<svg xmlns='x'><script>alert(1)</script></svg>", "SVG"),
    ("image/png", b"<!DOCTYPE html><html>", "HTML page"),
    ("audio/wav", b"<script>fetch('/')</script>", "script"),
    ("image/png", b"\xff\xd8\xff\xe0" + bytes(8), "image/jpeg"),
    ("video/mp4", WEBM, "video/webm"),
    ("image/png", b"MZ\x90\x00" + bytes(12), "no known format"),
])
def test_media_whose_magic_bytes_disagree_is_refused(mime_type, head, shown):
    error = error_of(check_magic, "projects/a/x", mime_type, head)
    assert error.code == "magic_mismatch" and shown in str(error) and "projects/a/x" in str(error)


def test_local_headers_are_checked_against_the_directory_and_entries_can_be_reindexed():
    archive = compose({"a.png": PNG, "b/c.png": PNG * 2})
    entries = entries_of(archive)
    b = entries[2]
    start = b.offset + zipformat.local_data_offset(archive[b.offset:b.offset + 60], b)
    assert archive[start:start + b.compressed_size] == PNG * 2
    renamed = zipformat.ZipEntry("b/x.png", b.method, b.flags, b.crc32, b.compressed_size, b.size, b.offset)
    with pytest.raises(BackupError, match="disagrees"):
        zipformat.local_data_offset(archive[b.offset:b.offset + 60], renamed)
    with pytest.raises(BackupError, match="missing"):
        zipformat.local_data_offset(b"PK\x01\x02" + bytes(40), b)
    copied = archive[b.offset:start + b.compressed_size]  # one entry moved to offset 0
    moved = zipformat.directory([zipformat.ZipEntry(b.name, b.method, b.flags, b.crc32,
                                                    b.compressed_size, b.size, 0)], len(copied))
    with zipfile.ZipFile(io.BytesIO(copied + moved)) as opened:
        assert opened.read("b/c.png") == PNG * 2


def test_archive_rules_hand_the_reader_the_policy_with_their_own_limits():
    """The zip reader imports no policy: it applies the ArchiveRules its caller passes."""
    rules = ArchiveRules(Limits(max_archive_bytes=100, max_entries=2, max_entry_bytes=10))
    rules.check_archive_size(100)
    assert error_of(rules.check_archive_size, 101).code == "archive_too_large"
    rules.check_entry_count(2)
    assert error_of(rules.check_entry_count, 3).code == "too_many_entries"
    assert rules.entry_too_large("a.png", 11).code == "entry_too_large"
    assert "10 bytes" in str(rules.entry_too_large("a.png", 11))
