"""zip64 in app/backup/zip/format.py under CPython, with Python's zipfile as the independent
reader and writer: archives under the limits are the plain zips they always were, archives past
them carry zip64 only where needed and zipfile reads them, zipfile's zip64 archives read back
through our parser, and inconsistent zip64 records are refused naming what is wrong."""

import io
import struct
import zipfile
import zlib

import pytest

from app.backup.zip import format as zipformat
from app.backup.zip.format import (MAX_OFFSET, STORED, ZIP64_END, ZIP64_LOCATOR, ZipEntry,
                                   ZipPlan, directory, find_end_record, parse_central_directory)
from app.core.errors import BackupError

STAMP = 1_738_326_896_000
GiB = 1 << 30


def entries_of(archive: bytes, size: int | None = None) -> list[ZipEntry]:
    size = len(archive) if size is None else size
    end = find_end_record(archive[-zipformat.TAIL_BYTES:], size)
    start = end.cd_offset - (size - len(archive))
    return parse_central_directory(archive[start:start + end.cd_size], end)


def small_archive(count: int) -> bytes:
    plan = ZipPlan(STAMP)
    parts = []
    for n in range(count):
        data = b"%d" % n
        parts += [plan.add(f"f/{n:06}.txt", zlib.crc32(data), len(data), len(data)), data]
    return b"".join(parts) + plan.finish()


def test_an_archive_under_the_limits_has_no_zip64_and_matches_the_plain_layout():
    archive = small_archive(3)
    assert zipformat.ZIP64_END_SIG not in archive and zipformat.ZIP64_LOCATOR_SIG not in archive
    # The plain layout, written out by hand: 30-byte headers, 46-byte records, a 22-byte end.
    names = [f"f/{n:06}.txt".encode() for n in range(3)]
    assert len(archive) == sum(30 + len(n) + 1 + 46 + len(n) for n in names) + 22
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.testzip() is None
        assert {i.extract_version for i in opened.infolist()} == {20}
    assert not find_end_record(archive[-zipformat.TAIL_BYTES:], len(archive)).zip64


def test_65535_entries_or_more_add_the_zip64_end_record_that_zipfile_and_we_read():
    archive = small_archive(70_000)
    assert archive.count(zipformat.ZIP64_END_SIG) == 1
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert len(opened.infolist()) == 70_000
        assert opened.read("f/069999.txt") == b"69999"
        assert opened.testzip() is None
    end = find_end_record(archive[-zipformat.TAIL_BYTES:], len(archive))
    assert end.zip64 and end.count == 70_000
    assert [e.name for e in entries_of(archive)][-1] == "f/069999.txt"


def test_exactly_65535_entries_use_zip64_so_the_count_is_never_ambiguous():
    archive = small_archive(65_535)
    assert find_end_record(archive[-zipformat.TAIL_BYTES:], len(archive)).zip64
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert len(opened.infolist()) == 65_535


def test_entries_past_4_gib_get_zip64_extra_fields_that_zipfile_reads(tmp_path):
    """A 5 GiB entry (a hole in a sparse file) then a small one at an offset past 4 GiB."""
    plan = ZipPlan(STAMP)
    path = tmp_path / "sparse.zip"
    big = 5 * GiB
    with open(path, "wb") as out:
        out.write(plan.add("big.bin", 0, big, big))
        out.seek(big, io.SEEK_CUR)
        after = b"after the hole"
        out.write(plan.add("after.txt", zlib.crc32(after), len(after), len(after)))
        out.write(after)
        out.write(plan.finish())
    with zipfile.ZipFile(path) as opened:
        infos = {i.filename: i for i in opened.infolist()}
        assert infos["big.bin"].file_size == big and infos["big.bin"].compress_size == big
        assert infos["after.txt"].header_offset > MAX_OFFSET
        assert opened.read("after.txt") == after
    size = path.stat().st_size
    with open(path, "rb") as opened:
        opened.seek(size - zipformat.TAIL_BYTES)
        tail = opened.read()
    end = find_end_record(tail, size)
    assert end.zip64 and end.cd_offset > MAX_OFFSET  # the directory is past 4 GiB too
    with open(path, "rb") as opened:
        opened.seek(end.cd_offset)
        entries = parse_central_directory(opened.read(end.cd_size), end)
    assert [(e.name, e.size, e.offset > MAX_OFFSET) for e in entries] == [
        ("big.bin", big, False), ("after.txt", len(after), True)]
    with open(path, "rb") as opened:
        header = opened.read(200)
    assert struct.unpack_from("<II", header, 18) == (MAX_OFFSET, MAX_OFFSET)
    assert zipformat.local_data_offset(header, entries[0]) == 30 + len("big.bin") + 20


def test_zip64_archives_written_by_zipfile_read_back_through_our_parser():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as out:
        with out.open("forced.bin", "w", force_zip64=True) as entry:  # zip64 local extra
            entry.write(b"x" * 1000)
        out.writestr("plain.txt", b"plain", compress_type=zipfile.ZIP_DEFLATED)
        for n in range(66_000):  # the zip64 end record
            out.writestr(zipfile.ZipInfo(f"e/{n}"), b"")
    archive = buffer.getvalue()
    entries = entries_of(archive)
    assert len(entries) == 66_002
    forced = entries[0]
    assert (forced.name, forced.size, forced.crc32) == ("forced.bin", 1000, zlib.crc32(b"x" * 1000))
    header = archive[:200]
    start = zipformat.local_data_offset(header, forced)
    assert archive[start:start + 1000] == b"x" * 1000


def test_directory_writes_central_zip64_fields_only_for_what_overflows():
    entries = [ZipEntry("a", STORED, 0x800, 0, 10, 10, 0),
               ZipEntry("b", STORED, 0x800, 0, 10, 10, 5 * GiB)]
    records = directory(entries, 6 * GiB)
    first, second = records[:46 + 1], records[46 + 1:46 + 1 + 46 + 1 + 12]
    assert struct.unpack_from("<H", first, 30)[0] == 0  # no extra
    assert struct.unpack_from("<HH", second, 47) == (1, 8)  # one 8-byte value: the offset
    assert struct.unpack_from("<Q", second, 51)[0] == 5 * GiB


# --- refusals -----------------------------------------------------------------------------------
def zip64_archive(count: int = 3) -> bytearray:
    """A small archive with a zip64 end record and locator (as if it had 65,535+ entries)."""
    plan = ZipPlan(STAMP)
    parts = [plan.add(f"{n}.txt", zlib.crc32(b"x"), 1, 1) + b"x" for n in range(count)]
    body = b"".join(parts)
    records = directory(plan.entries, len(body))
    plain = records[:-22]
    end_at = len(plain)
    record = ZIP64_END.pack(zipformat.ZIP64_END_SIG, 44, 45, 45, 0, 0, count, count, end_at,
                            len(body))
    locator = ZIP64_LOCATOR.pack(zipformat.ZIP64_LOCATOR_SIG, 0, len(body) + end_at, 1)
    end = zipformat.END.pack(zipformat.END_SIG, 0, 0, 0xFFFF, 0xFFFF, MAX_OFFSET, MAX_OFFSET, 0)
    return bytearray(body + plain + record + locator + end)


def refusal(archive: bytes) -> BackupError:
    with pytest.raises(BackupError) as caught:
        entries_of(bytes(archive))
    return caught.value


def test_a_hand_made_zip64_end_reads_and_zipfile_agrees():
    archive = zip64_archive()
    assert [e.name for e in entries_of(bytes(archive))] == ["0.txt", "1.txt", "2.txt"]
    with zipfile.ZipFile(io.BytesIO(bytes(archive))) as opened:
        assert opened.testzip() is None


LOCATOR_AT = -22 - 20
RECORD_AT = LOCATOR_AT - 56


@pytest.mark.parametrize("offset, fmt, value, fragment, code", [
    (LOCATOR_AT + 8, "<Q", 1 << 40, "zip64 locator points to offset", "corrupt_zip"),
    (LOCATOR_AT + 8, "<Q", 0, "zip64 locator points to offset", "corrupt_zip"),
    (LOCATOR_AT + 16, "<I", 2, "split across several files", "unsupported_zip"),
    (RECORD_AT, "<4s", b"PK\x01\x02", "no zip64 end record", "corrupt_zip"),
    (RECORD_AT + 4, "<Q", 60, "zip64 end record is 60 bytes", "unsupported_zip"),
    (RECORD_AT + 24, "<Q", 2, "split across several files", "unsupported_zip"),
    (RECORD_AT + 24, "<QQ", (2, 2), "stray bytes", "corrupt_zip"),
    (RECORD_AT + 24, "<QQ", (1 << 63, 1 << 63), "table of contents can hold", "corrupt_zip"),
    (RECORD_AT + 40, "<Q", 1 << 40, "but the zip64 end record sits at", "corrupt_zip"),
    (RECORD_AT + 48, "<Q", 1 << 35, "but the zip64 end record sits at", "corrupt_zip"),
    (-22 + 8, "<HH", (7, 7), "end record gives a file count of 7", "corrupt_zip"),
    (-22 + 12, "<I", 5, "table of contents size of 5", "corrupt_zip"),
])
def test_inconsistent_zip64_end_records_are_refused_naming_the_problem(offset, fmt, value,
                                                                      fragment, code):
    archive = zip64_archive()
    values = value if isinstance(value, tuple) else (value,)
    struct.pack_into(fmt, archive, len(archive) + offset, *values)
    error = refusal(archive)
    assert error.code == code and fragment in str(error), str(error)


def test_saturated_end_fields_without_a_locator_are_corrupt():
    archive = bytearray(small_archive(2))
    struct.pack_into("<I", archive, len(archive) - 6, MAX_OFFSET)
    assert "no zip64 locator" in str(refusal(archive))


def central_with_extra(extra: bytes, size=MAX_OFFSET, offset=0) -> bytes:
    """One central record for 'a' claiming `size`/`offset`, with `extra`, and its end."""
    record = zipformat.CENTRAL.pack(zipformat.CENTRAL_SIG, 0, 45, 0, 0, 0, 0, 0, size, size, 1,
                                    len(extra), 0, 0, 0, 0, offset) + b"a" + extra
    return b"PK\x03\x04" + bytes(40) + record + zipformat.END.pack(
        zipformat.END_SIG, 0, 0, 1, 1, len(record), 44, 0)


@pytest.mark.parametrize("extra, fragment", [
    (b"\x01\x00\x10", "is truncated"),                               # 3 bytes: half a header
    (struct.pack("<HH", 1, 16) + bytes(8), "only 8 follow"),         # claims 16, holds 8
    (struct.pack("<HHQ", 1, 8, 5), "fewer than the 16"),             # both sizes are needed
    (struct.pack("<HH", 0x5455, 5) + bytes(5), "it has none"),       # only a timestamp field
    (b"", "it has none"),
])
def test_damaged_zip64_extra_fields_are_refused(extra, fragment):
    error = refusal(central_with_extra(extra))
    assert error.code == "corrupt_zip" and fragment in str(error), str(error)


def test_a_64_bit_size_past_the_file_overlaps_the_directory():
    extra = struct.pack("<HHQQ", 1, 16, 1 << 40, 1 << 40)
    error = refusal(central_with_extra(extra))
    assert error.code == "corrupt_zip" and "overlaps" in str(error)


def test_a_zip64_extra_field_after_other_fields_is_found():
    extra = struct.pack("<HH", 0x5455, 5) + bytes(5) + struct.pack("<HHQQ", 1, 16, 3, 3)
    archive = central_with_extra(extra)
    assert [(e.size, e.compressed_size) for e in entries_of(archive)] == [(3, 3)]
