"""Chromium's own crash reports, read after every browser test, so a renderer that dies is
reported with what killed it instead of a bare "Target crashed".

Debian's Chromium runs crashpad even under Playwright: every crashed process leaves a minidump in
`~/.config/chromium/Crash Reports/pending/`. `new_dumps(before)` lists the ones written since;
`describe(path)` reads the process type and the exception (signal, code, address) from the
minidump's own streams (the documented MINIDUMP_HEADER, stream directory and
MINIDUMP_EXCEPTION_STREAM; no symbols are needed for that).

    before = existing_dumps()
    ...                                     # the test runs
    for dump in new_dumps(before):
        print(describe(dump))               # "renderer: SIGSEGV (code 2) at 0x2a8a5d64a000 ..."
"""

from __future__ import annotations

import os
import re
import signal
import struct
from pathlib import Path

EXCEPTION_STREAM = 6
SIGNALS = {int(s): s.name for s in signal.Signals}
_PTYPE = re.compile(rb"ptype[\x00-\x1f]{0,8}([a-z_-]{3,32})")


def crash_dir() -> Path:
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "chromium" / "Crash Reports" / "pending"


def existing_dumps() -> set[Path]:
    folder = crash_dir()
    return set(folder.glob("*.dmp")) if folder.is_dir() else set()


def new_dumps(before: set[Path]) -> list[Path]:
    return sorted(existing_dumps() - before, key=lambda path: path.stat().st_mtime)


def describe(path: Path) -> str:
    """'renderer: SIGSEGV (code 2) at 0x2a8a5d64a000, thread 14816' from a minidump."""
    data = path.read_bytes()
    process = _PTYPE.search(data)
    what = process[1].decode() if process else "a Chromium process"
    return f"{what}: {_exception(data)} ({path.name})"


def _exception(data: bytes) -> str:
    if data[:4] != b"MDMP" or len(data) < 32:
        return "not a minidump"
    count, directory = struct.unpack_from("<II", data, 8)
    for index in range(min(count, 4096)):
        at = directory + 12 * index
        if at + 12 > len(data):
            break
        kind, size, offset = struct.unpack_from("<III", data, at)
        if kind == EXCEPTION_STREAM and offset + 40 <= len(data):
            thread, _align, code, flags, _record, address = struct.unpack_from("<IIIIQQ", data, offset)
            name = SIGNALS.get(code, f"signal {code}")
            return f"{name} (code {flags}) at {address:#x}, thread {thread}"
    return "no exception stream"
