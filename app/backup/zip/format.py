"""ZIP structures (pure): the headers SceneVault writes around media it never copies, and a
reader of an untrusted archive's end record and central directory that reports what each entry
*claims*, so that app/backup/policy.py can refuse it before anything is inflated.

Writing: `ZipPlan` hands out each entry's local header and, at the end, the central directory
and end record. Sizes and CRC-32 are known before an entry is written, so no data descriptor
is needed and the media itself can follow its header as a Blob, uncopied (app/backup/zip/write.py).
zip64 is written only where it is needed (APPNOTE 4.5.3): an entry of 4 GiB or more gets a
zip64 extra field (local and central, both sizes), an entry starting at 4 GiB or more gets
one in the central directory (its offset), and 65,535 entries or more, or a directory at or
past 4 GiB, add the zip64 end record and its locator before the end record. Anything smaller
is byte for byte the plain zip it always was.

    plan = ZipPlan(exported_at_ms)
    header = plan.add("scenevault.json", crc, len(deflated), len(raw), DEFLATED)
    trailer = plan.finish()          # archive = header + deflated + ... + trailer

Reading: `find_end_record(tail, archive_size)` (zip64 end record and locator included),
`parse_central_directory(data, end)` (zip64 extra fields included), then
`local_data_offset(header, entry)` to find an entry's data. They raise `BackupError`
(`corrupt_zip`, `unsupported_zip`, `unsafe_path`) naming what is wrong; nothing here trusts a
declared size or count for more than refusing early, and every loop is bounded by the bytes
it reads. `directory(entries, offset)` re-indexes entries copied elsewhere.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from app.core.errors import BackupError

STORED, DEFLATED = 0, 8
UTF8_FLAG = 0x0800
ENCRYPTED_FLAG = 0x0001
LOCAL_SIG, CENTRAL_SIG, END_SIG = b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"
ZIP64_END_SIG, ZIP64_LOCATOR_SIG = b"PK\x06\x06", b"PK\x06\x07"
LOCAL = struct.Struct("<4sHHHHHIIIHH")          # 30 bytes
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")   # 46 bytes
END = struct.Struct("<4sHHHHIIH")                # 22 bytes
ZIP64_END = struct.Struct("<4sQHHIIQQQQ")        # 56 bytes: version 1, no extensible data
ZIP64_LOCATOR = struct.Struct("<4sIQI")          # 20 bytes
EXTRA_HEADER = struct.Struct("<HH")              # an extra field's id and length
ZIP64_EXTRA_ID = 0x0001
ZIP64_RECORD_SIZE = ZIP64_END.size - 12          # its size field leaves out sig and itself
MAX_ENTRIES = 0xFFFF                             # the 16-bit count field's largest value ...
MAX_OFFSET = 0xFFFFFFFF                          # ... and the 32-bit fields': past them, zip64
MAX_COMMENT = 0xFFFF
TAIL_BYTES = ZIP64_END.size + ZIP64_LOCATOR.size + END.size + MAX_COMMENT  # where they must be
VERSION_NEEDED = 20                              # 2.0: deflate, folders
ZIP64_VERSION = 45                               # 4.5: zip64
MADE_BY = (3 << 8) | 20                          # Unix, so the permissions below apply
ZIP64_MADE_BY = (3 << 8) | ZIP64_VERSION
REGULAR_FILE = 0o100644 << 16


@dataclass(frozen=True)
class ZipEntry:
    """What a central directory record claims about one entry (sizes are NOT trusted)."""

    name: str
    method: int
    flags: int
    crc32: int
    compressed_size: int
    size: int
    offset: int

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & ENCRYPTED_FLAG)

    @property
    def zip64_sizes(self) -> bool:
        """Whether its sizes need a zip64 extra field (local and central)."""
        return self.size >= MAX_OFFSET or self.compressed_size >= MAX_OFFSET

    @property
    def zip64_offset(self) -> bool:
        """Whether its offset needs a zip64 extra field (central only)."""
        return self.offset >= MAX_OFFSET


@dataclass(frozen=True)
class EndRecord:
    """The end of central directory record (with the zip64 end record's 64-bit values when
    there is one): how many entries, and where their records are."""

    count: int
    cd_size: int
    cd_offset: int
    comment_length: int
    zip64: bool = False


def dos_stamp(ms: int) -> tuple[int, int]:
    """(time, date) in MS-DOS form for a UTC timestamp in milliseconds (2-second precision)."""
    t = time.gmtime(ms // 1000)
    year = min(max(t.tm_year, 1980), 2107)
    return ((t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2),
            ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday)


def needs_zip64_end(count: int, cd_size: int, cd_offset: int) -> bool:
    """Whether the end record's fields overflow, so the zip64 end record and locator follow
    the central directory (65,535 entries or more, or a directory at or past 4 GiB)."""
    return count >= MAX_ENTRIES or cd_size >= MAX_OFFSET or cd_offset >= MAX_OFFSET


class ZipPlan:
    """Lays entries out one after another and remembers them for the central directory."""

    def __init__(self, stamp_ms: int):
        self.time, self.date = dos_stamp(stamp_ms)
        self.entries: list[ZipEntry] = []
        self.offset = 0

    def add(self, name: str, crc: int, compressed_size: int, size: int,
            method: int = STORED) -> bytes:
        """The local header for the next entry; its data (compressed_size bytes) follows."""
        entry = ZipEntry(name, method, UTF8_FLAG, crc, compressed_size, size, self.offset)
        header = local_header(entry, self.time, self.date)
        self.offset += len(header) + compressed_size
        self.entries.append(entry)
        return header

    def finish(self) -> bytes:
        """The central directory and the end record(s) that close the archive."""
        return directory(self.entries, self.offset, self.time, self.date)


def local_header(entry: ZipEntry, dos_time: int, dos_date: int) -> bytes:
    """An entry's local header; an entry of 4 GiB or more carries both sizes in a zip64 extra
    field (APPNOTE 4.5.3: the local one holds both) and 0xFFFFFFFF in the 32-bit fields."""
    encoded = entry.name.encode("utf-8")
    version, csize, size, extra = VERSION_NEEDED, entry.compressed_size, entry.size, b""
    if entry.zip64_sizes:
        version, csize, size = ZIP64_VERSION, MAX_OFFSET, MAX_OFFSET
        extra = _zip64_extra([entry.size, entry.compressed_size])
    return LOCAL.pack(LOCAL_SIG, version, entry.flags, entry.method, dos_time, dos_date,
                      entry.crc32, csize, size, len(encoded), len(extra)) + encoded + extra


def directory(entries: list[ZipEntry], cd_offset: int, dos_time: int = 0,
              dos_date: int = 0x21) -> bytes:
    """Central directory records for `entries` (at their offsets), then the end record,
    preceded by the zip64 end record and its locator when the counts or offsets need them."""
    records = b"".join(_central(entry, dos_time, dos_date) for entry in entries)
    count, size = len(entries), len(records)
    zip64 = b""
    if needs_zip64_end(count, size, cd_offset):
        zip64 = (ZIP64_END.pack(ZIP64_END_SIG, ZIP64_RECORD_SIZE, ZIP64_MADE_BY, ZIP64_VERSION,
                                0, 0, count, count, size, cd_offset)
                 + ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIG, 0, cd_offset + size, 1))
    short = min(count, MAX_ENTRIES)
    return records + zip64 + END.pack(END_SIG, 0, 0, short, short, min(size, MAX_OFFSET),
                                      min(cd_offset, MAX_OFFSET), 0)


def _zip64_extra(values: list[int]) -> bytes:
    return EXTRA_HEADER.pack(ZIP64_EXTRA_ID, 8 * len(values)) + struct.pack(
        f"<{len(values)}Q", *values)


def _central(entry: ZipEntry, dos_time: int, dos_date: int) -> bytes:
    encoded = entry.name.encode("utf-8")
    made, version, csize, size, offset = (MADE_BY, VERSION_NEEDED, entry.compressed_size,
                                          entry.size, entry.offset)
    values = []
    if entry.zip64_sizes:  # in APPNOTE's order: size, compressed size, offset
        values += [entry.size, entry.compressed_size]
        size = csize = MAX_OFFSET
    if entry.zip64_offset:
        values.append(entry.offset)
        offset = MAX_OFFSET
    extra = _zip64_extra(values) if values else b""
    if values:
        made, version = ZIP64_MADE_BY, ZIP64_VERSION
    return CENTRAL.pack(CENTRAL_SIG, made, version, entry.flags, entry.method,
                        dos_time, dos_date, entry.crc32, csize, size,
                        len(encoded), len(extra), 0, 0, 0, REGULAR_FILE, offset) + encoded + extra


# --- reading ------------------------------------------------------------------------------------
def looks_like_zip(head: bytes) -> bool:
    """Whether the first bytes are a zip's (a local header, or the end record of an empty zip)."""
    return head[:4] in (LOCAL_SIG, END_SIG)


def find_end_record(tail: bytes, archive_size: int) -> EndRecord:
    """Find and check the end record in the archive's last bytes (`tail`, up to TAIL_BYTES),
    and the zip64 end record its locator points to when there is one."""
    pos = tail.rfind(END_SIG)
    while pos >= 0:
        if pos + END.size <= len(tail):
            fields = END.unpack_from(tail, pos)
            if pos + END.size + fields[7] == len(tail):
                return _checked_end(fields, tail, pos, archive_size - len(tail))
        pos = tail.rfind(END_SIG, 0, pos)
    raise corrupt("its end record (the zip's table of contents) is missing, so the file was "
                  "probably cut short while downloading or copying")


def _checked_end(fields: tuple, tail: bytes, pos: int, tail_offset: int) -> EndRecord:
    _sig, disk, cd_disk, disk_count, count, cd_size, cd_offset, comment = fields
    if disk or cd_disk or disk_count != count:
        raise multi_part()
    at = pos - ZIP64_LOCATOR.size
    if at >= 0 and tail[at:at + 4] == ZIP64_LOCATOR_SIG:
        end = _zip64_end(fields, tail, at, tail_offset)
        end_offset = tail_offset + at - ZIP64_END.size
    else:
        if cd_size == MAX_OFFSET or cd_offset == MAX_OFFSET:
            raise corrupt("its end record says the table of contents is past 4 GiB (zip64), "
                          "but no zip64 locator precedes it")
        end = EndRecord(count, cd_size, cd_offset, comment)
        end_offset = tail_offset + pos
    if end.cd_offset + end.cd_size != end_offset:
        which = "zip64 end record" if end.zip64 else "end record"
        raise corrupt(f"its table of contents claims {end.cd_size:,} bytes at offset "
                      f"{end.cd_offset:,}, but the {which} sits at {end_offset:,}")
    if end.count * CENTRAL.size > end.cd_size:
        raise corrupt(f"its end record claims {end.count:,} files, more than its "
                      f"{end.cd_size:,}-byte table of contents can hold")
    return end


def _zip64_end(fields: tuple, tail: bytes, at: int, tail_offset: int) -> EndRecord:
    """The zip64 end record that the locator at `at` (in `tail`) points to, checked: where the
    locator says, one disk, and its 64-bit values agreeing with the 32-bit ones."""
    _sig, disk, record_offset, disks = ZIP64_LOCATOR.unpack_from(tail, at)
    if disk or disks > 1:
        raise multi_part()
    expected = tail_offset + at - ZIP64_END.size
    if record_offset != expected or expected < tail_offset:
        raise corrupt(f"its zip64 locator points to offset {record_offset:,}, but the zip64 end "
                      f"record must sit right before it, at {expected:,}")
    start = at - ZIP64_END.size
    (sig, record_size, _made, _needed, disk, cd_disk, disk_count, count, cd_size,
     cd_offset) = ZIP64_END.unpack_from(tail, start)
    if sig != ZIP64_END_SIG:
        raise corrupt(f"its zip64 locator points to offset {record_offset:,}, where there is "
                      "no zip64 end record")
    if record_size != ZIP64_RECORD_SIZE:
        raise BackupError(f"This zip's zip64 end record is {record_size:,} bytes long, not "
                          f"{ZIP64_RECORD_SIZE} (extensible data or version 2); SceneVault reads "
                          "plain zip64 only. Repack it with a common zip tool.", "unsupported_zip")
    if disk or cd_disk or disk_count != count:
        raise multi_part()
    _sig, _disk, _cd_disk, _disk_count, count32, cd_size32, cd_offset32, comment = fields
    for what, short, full, top in (("file count", count32, count, MAX_ENTRIES),
                                   ("table of contents size", cd_size32, cd_size, MAX_OFFSET),
                                   ("table of contents offset", cd_offset32, cd_offset,
                                    MAX_OFFSET)):
        if short != top and short != full:
            raise corrupt(f"its end record gives a {what} of {short:,}, but its zip64 end record "
                          f"gives {full:,}")
    return EndRecord(count, cd_size, cd_offset, comment, zip64=True)


def multi_part() -> BackupError:
    return BackupError("This zip is split across several files (a multi-part archive); "
                       "SceneVault reads single-file backups only.", "unsupported_zip")


def parse_central_directory(data: bytes, end: EndRecord) -> list[ZipEntry]:
    """The entries the central directory (`data`, exactly end.cd_size bytes) claims: at most
    as many as its bytes can hold (a record is at least CENTRAL.size bytes), which refuses a
    lying count before the first record is read."""
    if end.count * CENTRAL.size > len(data):
        raise corrupt(f"its end record claims {end.count:,} files, more than its "
                      f"{len(data):,}-byte table of contents can hold")
    entries, pos = [], 0
    for index in range(end.count):
        if data[pos:pos + 4] != CENTRAL_SIG or pos + CENTRAL.size > len(data):
            raise corrupt(f"record {index + 1} of {end.count} in its table of contents is damaged")
        entry, pos = _central_entry(data, pos)
        entries.append(entry)
    if pos != len(data):
        raise corrupt(f"its table of contents has {len(data) - pos} stray bytes")
    check_no_overlap(entries, end.cd_offset)
    return entries


def _central_entry(data: bytes, pos: int) -> tuple[ZipEntry, int]:
    (_sig, _made, _needed, flags, method, _time, _date, crc, csize, size, name_len, extra_len,
     comment_len, _disk, _internal, _external, offset) = CENTRAL.unpack_from(data, pos)
    start = pos + CENTRAL.size
    end = start + name_len + extra_len + comment_len
    if end > len(data):
        raise corrupt("a record in its table of contents runs past its end")
    raw = data[start:start + name_len]
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BackupError(f"The archive holds a file whose name is not valid UTF-8 "
                          f"({raw[:60]!r}); SceneVault backups use plain names.",
                          "unsafe_path") from None
    if MAX_OFFSET in (csize, size, offset):
        extra = data[start + name_len:start + name_len + extra_len]
        size, csize, offset = _zip64_values(name, extra, size, csize, offset)
    return ZipEntry(name, method, flags, crc, csize, size, offset), end


def _zip64_values(name: str, extra: bytes, size: int, csize: int,
                  offset: int) -> tuple[int, int, int]:
    """(size, compressed size, offset), each 0xFFFFFFFF one read from the zip64 extra field in
    APPNOTE's order. The extra fields are walked once; each must fit in the record."""
    wanted = [value == MAX_OFFSET for value in (size, csize, offset)]
    pos = 0
    while pos < len(extra):
        if pos + EXTRA_HEADER.size > len(extra):
            raise corrupt(f"the extra field of {name!r} is truncated")
        field_id, length = EXTRA_HEADER.unpack_from(extra, pos)
        body = extra[pos + EXTRA_HEADER.size:pos + EXTRA_HEADER.size + length]
        if len(body) != length:
            raise corrupt(f"the extra field of {name!r} claims {length} bytes but only "
                          f"{len(body)} follow (truncated)")
        if field_id == ZIP64_EXTRA_ID:
            if 8 * sum(wanted) > length:
                raise corrupt(f"the zip64 extra field of {name!r} holds {length} bytes, fewer "
                              f"than the {8 * sum(wanted)} its record needs")
            found = iter(struct.unpack_from(f"<{sum(wanted)}Q", body))
            return tuple(next(found) if want else value  # type: ignore[return-value]
                         for want, value in zip(wanted, (size, csize, offset)))
        pos += EXTRA_HEADER.size + length
    raise corrupt(f"the record of {name!r} says its size or offset is in a zip64 extra field, "
                  "but it has none")


def check_no_overlap(entries: list[ZipEntry], cd_offset: int) -> dict[str, int]:
    """Each entry's header and data must end before the next one starts (no shared data, the
    trick behind non-recursive zip bombs), and all before the central directory. Returns
    where each entry must end (name -> offset)."""
    ordered = sorted(entries, key=lambda e: e.offset)
    bounds = [e.offset for e in ordered[1:]] + [cd_offset]
    for entry, limit in zip(ordered, bounds):
        if entry.offset + LOCAL.size + len(entry.name.encode()) + entry.compressed_size > limit:
            raise corrupt(f"the data of {entry.name!r} overlaps the next entry (a zip-bomb trick)")
    return {entry.name: limit for entry, limit in zip(ordered, bounds)}


def local_data_offset(header: bytes, entry: ZipEntry) -> int:
    """Where the entry's data starts, relative to its local header (the header's first
    LOCAL.size + len(name) bytes), checked against what the central directory says."""
    name = entry.name.encode("utf-8")
    if len(header) < LOCAL.size + len(name) or header[:4] != LOCAL_SIG:
        raise corrupt(f"the local header of {entry.name!r} is missing")
    fields = LOCAL.unpack_from(header)
    method, name_len, extra_len = fields[3], fields[9], fields[10]
    if method != entry.method or header[LOCAL.size:LOCAL.size + name_len] != name:
        raise corrupt(f"the local header of {entry.name!r} disagrees with its table of contents")
    return LOCAL.size + name_len + extra_len


def corrupt(detail: str) -> BackupError:
    return BackupError(f"This zip is truncated or corrupt: {detail}. Export the backup again, or "
                       "copy it again from where you kept it.", "corrupt_zip")
