"""ZIP structures (pure): the headers SceneVault writes around media it never copies, and a
reader of an untrusted archive's end record and central directory that reports what each entry
*claims*, so that app/backup/policy.py can refuse it before anything is inflated.

Writing: `ZipPlan` hands out each entry's local header and, at the end, the central directory
and end record. Sizes and CRC-32 are known before an entry is written, so no data descriptor
is needed and the media itself can follow its header as a Blob, uncopied (app/backup/zip/write.py).
There is no zip64: more than 65,535 entries or an archive of 4 GiB or more is refused with
`BackupError(code="archive_too_large")` before any byte is read.

    plan = ZipPlan(exported_at_ms)
    header = plan.add("scenevault.json", crc, len(deflated), len(raw), DEFLATED)
    trailer = plan.finish()          # archive = header + deflated + ... + trailer

Reading: `find_end_record(tail, archive_size)`, `parse_central_directory(data, end)`, then
`local_data_offset(header, entry)` to find an entry's data. They raise `BackupError`
(`corrupt_zip`, `unsupported_zip`, `unsafe_path`); nothing here trusts a declared size for
more than refusing early. `directory(entries, offset)` re-indexes entries copied elsewhere.
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
LOCAL = struct.Struct("<4sHHHHHIIIHH")          # 30 bytes
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")   # 46 bytes
END = struct.Struct("<4sHHHHIIH")                # 22 bytes
MAX_ENTRIES = 0xFFFF
MAX_OFFSET = 0xFFFFFFFF
MAX_COMMENT = 0xFFFF
TAIL_BYTES = END.size + MAX_COMMENT              # where the end record must be
VERSION_NEEDED = 20                              # 2.0: deflate, folders
MADE_BY = (3 << 8) | 20                          # Unix, so the permissions below apply
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


@dataclass(frozen=True)
class EndRecord:
    """The end of central directory record: how many entries, and where their records are."""

    count: int
    cd_size: int
    cd_offset: int
    comment_length: int


def dos_stamp(ms: int) -> tuple[int, int]:
    """(time, date) in MS-DOS form for a UTC timestamp in milliseconds (2-second precision)."""
    t = time.gmtime(ms // 1000)
    year = min(max(t.tm_year, 1980), 2107)
    return ((t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2),
            ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday)


def too_large(count: int, size: int) -> BackupError:
    return BackupError(f"This backup would hold {count} files and {size / 2**30:.2f} GiB; "
                       f"a SceneVault archive holds at most {MAX_ENTRIES} files and less than "
                       "4 GiB. Export fewer projects at a time.", "archive_too_large")


def check_fits(count: int, size: int) -> None:
    """Refuse, before any work, an archive of `count` entries and about `size` bytes."""
    if count > MAX_ENTRIES or size > MAX_OFFSET:
        raise too_large(count, size)


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
        encoded = name.encode("utf-8")
        header = LOCAL.pack(LOCAL_SIG, VERSION_NEEDED, entry.flags, method, self.time,
                            self.date, crc, compressed_size, size, len(encoded), 0) + encoded
        self.offset += len(header) + compressed_size
        self.entries.append(entry)
        check_fits(len(self.entries), self.offset)
        return header

    def finish(self) -> bytes:
        """The central directory and the end record that close the archive."""
        check_fits(len(self.entries), self.offset + len(self.entries) * CENTRAL.size)
        return directory(self.entries, self.offset, self.time, self.date)


def directory(entries: list[ZipEntry], cd_offset: int, dos_time: int = 0,
              dos_date: int = 0x21) -> bytes:
    """Central directory records for `entries` (at their offsets), then the end record."""
    records = b"".join(_central(entry, dos_time, dos_date) for entry in entries)
    return records + END.pack(END_SIG, 0, 0, len(entries), len(entries), len(records),
                              cd_offset, 0)


def _central(entry: ZipEntry, dos_time: int, dos_date: int) -> bytes:
    encoded = entry.name.encode("utf-8")
    return CENTRAL.pack(CENTRAL_SIG, MADE_BY, VERSION_NEEDED, entry.flags, entry.method,
                        dos_time, dos_date, entry.crc32, entry.compressed_size, entry.size,
                        len(encoded), 0, 0, 0, 0, REGULAR_FILE, entry.offset) + encoded


# --- reading ------------------------------------------------------------------------------------
def looks_like_zip(head: bytes) -> bool:
    """Whether the first bytes are a zip's (a local header, or the end record of an empty zip)."""
    return head[:4] in (LOCAL_SIG, END_SIG)


def find_end_record(tail: bytes, archive_size: int) -> EndRecord:
    """Find and check the end record in the archive's last bytes (`tail`, up to TAIL_BYTES)."""
    pos = tail.rfind(END_SIG)
    while pos >= 0:
        if pos + END.size <= len(tail):
            fields = END.unpack_from(tail, pos)
            if pos + END.size + fields[7] == len(tail):
                return _checked_end(fields, archive_size - len(tail) + pos)
        pos = tail.rfind(END_SIG, 0, pos)
    raise corrupt("its end record (the zip's table of contents) is missing, so the file was "
                  "probably cut short while downloading or copying")


def _checked_end(fields: tuple, end_offset: int) -> EndRecord:
    _sig, disk, cd_disk, disk_count, count, cd_size, cd_offset, comment = fields
    if disk or cd_disk or disk_count != count:
        raise BackupError("This zip is split across several files (a multi-part archive); "
                          "SceneVault reads single-file backups only.", "unsupported_zip")
    if count == MAX_ENTRIES or cd_size == MAX_OFFSET or cd_offset == MAX_OFFSET:
        raise BackupError("This zip uses zip64 (over 65,535 files or 4 GiB); SceneVault "
                          "backups are smaller. Split the backup into several archives.",
                          "unsupported_zip")
    if cd_offset + cd_size != end_offset:
        raise corrupt(f"its table of contents claims {cd_size} bytes at offset {cd_offset}, "
                      f"but the end record sits at {end_offset}")
    return EndRecord(count, cd_size, cd_offset, comment)


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
    if MAX_OFFSET in (csize, size, offset):
        raise BackupError("This zip uses zip64 (a file of 4 GiB or more); SceneVault backups "
                          "are smaller.", "unsupported_zip")
    raw = data[start:start + name_len]
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BackupError(f"The archive holds a file whose name is not valid UTF-8 "
                          f"({raw[:60]!r}); SceneVault backups use plain names.",
                          "unsafe_path") from None
    return ZipEntry(name, method, flags, crc, csize, size, offset), end


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
