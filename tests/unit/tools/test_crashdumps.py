"""tests/browser/crashdumps.py reads what killed a Chromium process from its minidump."""

import struct

import crashdumps


def minidump(signal_number: int, si_code: int, address: int, extra: bytes = b"") -> bytes:
    header = b"MDMP" + struct.pack("<IIIIIQ", 0xA793, 2, 32, 0, 0, 0)
    directory = struct.pack("<III", 3, 0, 0) + struct.pack("<III", 6, 168, 56)
    exception = struct.pack("<IIIIQQ", 4242, 0, signal_number, si_code, 0, address)
    return header + directory + exception + b"\0" * 128 + extra


def test_the_process_signal_and_address_are_named(tmp_path):
    dump = tmp_path / "a.dmp"
    dump.write_bytes(minidump(11, 2, 0x2A8A5D64A000, b"ptype\0\0\0\x08renderer\0"))
    assert crashdumps.describe(dump) == \
        "renderer: SIGSEGV (code 2) at 0x2a8a5d64a000, thread 4242 (a.dmp)"


def test_odd_files_are_described_not_raised(tmp_path):
    for name, data in (("b.dmp", b"not a dump at all"), ("c.dmp", minidump(5, 128, 0)[:60]),
                       ("d.dmp", b"MDMP" + struct.pack("<IIIIIQ", 0, 9999, 10**6, 0, 0, 0))):
        (tmp_path / name).write_bytes(data)
    assert crashdumps.describe(tmp_path / "b.dmp").endswith("not a minidump (b.dmp)")
    assert "no exception stream" in crashdumps.describe(tmp_path / "c.dmp")
    assert "no exception stream" in crashdumps.describe(tmp_path / "d.dmp")
