"""app/core/metadata/containers.py: the EXIF and XMP blocks of JPEG segments and WebP chunks are
found; truncated, inconsistent and over-long containers are refused by offset, fast."""

import re
import struct
import time

import pytest

from app.core.errors import MetadataError
from app.core.metadata.containers import (MAX_JPEG_SEGMENTS, MAX_WEBP_CHUNKS, Blocks, blocks_of,
                                          iter_jpeg_segments, iter_webp_chunks, jpeg_blocks,
                                          webp_blocks)
from exif_fixtures import (VP8L_1X1, exif_segment, extended_webp, riff_chunk, segment, tiny_jpeg,
                           webp, xmp_segment)

MAX_SECONDS = 2.0
TIFF = b"MM\0*\0\0\0\x08\0\0\0\0\0\0"
PACKET = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"


def test_jpeg_app1_exif_and_xmp_are_found_and_the_first_of_each_counts():
    data = tiny_jpeg(segment(0xE0, b"JFIF\0\1\1"), exif_segment(TIFF), xmp_segment(PACKET),
                     exif_segment(b"II*\0later"), xmp_segment(b"<later/>"))
    assert jpeg_blocks(data) == Blocks(TIFF, PACKET)
    assert blocks_of(data, "image/jpeg") == Blocks(TIFF, PACKET)


def test_the_jpeg_walk_stops_at_sos_and_skips_fill_bytes_and_standalone_markers():
    fill_then_exif = b"\xff\xff\xff" + exif_segment(TIFF)[1:]
    data = b"\xff\xd8" + fill_then_exif + b"\xff\xd0" + segment(0xDA, b"\0") + b"\xff\xe1garbage"
    markers = [s.marker for s in iter_jpeg_segments(data)]
    assert markers == [0xE1, 0xDA]
    assert jpeg_blocks(data).exif == TIFF


def test_a_jpeg_without_metadata_has_no_blocks():
    assert jpeg_blocks(tiny_jpeg()) == Blocks(None, None)
    assert jpeg_blocks(b"\xff\xd8\xff\xd9") == Blocks(None, None)


def test_webp_exif_and_xmp_chunks_are_found_after_the_image():
    assert webp_blocks(extended_webp(TIFF, PACKET)) == Blocks(TIFF, PACKET)
    assert webp_blocks(extended_webp(b"Exif\0\0" + TIFF)) == Blocks(TIFF, None)
    assert webp_blocks(webp(VP8L_1X1)) == Blocks(None, None)


def test_odd_sized_webp_chunks_are_padded_and_trailing_bytes_are_ignored():
    data = webp(riff_chunk(b"ICCP", b"odd"), riff_chunk(b"XMP ", b"<x/>")) + b"trailing junk"
    chunks = list(iter_webp_chunks(data))
    assert [(c.fourcc, c.payload) for c in chunks] == [(b"ICCP", b"odd"), (b"XMP ", b"<x/>")]
    assert chunks[1].start == 12 + 8 + 4


def test_blocks_of_refuses_other_types():
    with pytest.raises(MetadataError, match="not 'image/gif'"):
        blocks_of(b"GIF89a", "image/gif")


def webp_raw(body: bytes, size: int | None = None) -> bytes:
    return b"RIFF" + struct.pack("<I", len(body) + 4 if size is None else size) + b"WEBP" + body


BROKEN = {
    # JPEG
    "no SOI": (b"\x89PNG", "image/jpeg", "not a JPEG"),
    "truncated after SOI": (b"\xff\xd8", "image/jpeg", "truncated at byte 2 (no SOS marker)"),
    "a byte where a marker must be": (b"\xff\xd8\x00", "image/jpeg", "byte 0x00 at byte 2"),
    "only fill bytes": (b"\xff\xd8\xff\xff\xff", "image/jpeg", "a marker with no type"),
    "an escaped FF 00 outside the image": (b"\xff\xd8\xff\x00", "image/jpeg", "escaped FF 00"),
    "a segment cut before its length": (b"\xff\xd8\xff\xe1\x00", "image/jpeg",
                                        "FF E1 at byte 2 is truncated before its length"),
    "a segment length under 2": (b"\xff\xd8\xff\xe1\x00\x01", "image/jpeg", "has length 1"),
    "a segment longer than the file": (b"\xff\xd8\xff\xe1\xff\xffExif", "image/jpeg",
                                       "has length 65535, past the end of the file (10 bytes)"),
    # WebP
    "no RIFF header": (b"RIFX\0\0\0\0WEBP", "image/webp", "not a WebP"),
    "not WEBP": (b"RIFF\4\0\0\0WAVE", "image/webp", "not a WebP"),
    "a RIFF size past the end": (webp_raw(b"", 1000), "image/webp",
                                 "RIFF size 1000 runs past the end of the file (12 bytes)"),
    "an odd RIFF size": (webp_raw(b"x", 5), "image/webp", "RIFF size 5 is invalid"),
    "a chunk header cut short": (webp_raw(b"EXIF\0\0"), "image/webp",
                                 "chunk header at byte 12 is truncated"),
    "a chunk past the RIFF data": (webp_raw(b"EXIF\xff\0\0\0MM"), "image/webp",
                                   "chunk b'EXIF' at byte 12 has size 255, past the end of "
                                   "the RIFF data (byte 22)"),
    "a short VP8X": (webp(riff_chunk(b"VP8X", b"\0\0")), "image/webp",
                     "VP8X chunk at byte 12 has 2 bytes"),
    "a VP8X after the image": (webp(VP8L_1X1, riff_chunk(b"VP8X", b"\0" * 10)), "image/webp",
                               "VP8X chunk is at byte 34; it must come first"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_container_is_refused_naming_what_is_wrong(name):
    data, mime, message = BROKEN[name]
    with pytest.raises(MetadataError, match=re.escape(message)):
        blocks_of(data, mime)


# --- hostile containers: ~64 KB or more, refused fast -------------------------------------------
def timed_refusal(data: bytes, mime: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(MetadataError, match=re.escape(message)):
        blocks_of(data, mime)
    assert time.perf_counter() - started < MAX_SECONDS


def test_a_webp_of_100000_tiny_chunks_is_refused_at_the_cap():
    timed_refusal(webp(riff_chunk(b"JUNK", b"") * 100_000), "image/webp",
                  f"more than {MAX_WEBP_CHUNKS:,} chunks")


def test_a_jpeg_of_empty_segments_is_refused_at_the_cap():
    timed_refusal(b"\xff\xd8" + segment(0xE2, b"") * 16_000, "image/jpeg",
                  f"more than {MAX_JPEG_SEGMENTS:,} segments")


def test_a_jpeg_of_64_kb_of_restart_markers_is_refused_at_the_cap():
    timed_refusal(b"\xff\xd8" + b"\xff\xd0" * 32_000, "image/jpeg",
                  f"more than {MAX_JPEG_SEGMENTS:,} segments")


def test_64_kb_of_fill_bytes_is_linear():
    timed_refusal(b"\xff\xd8" + b"\xff" * 65_536, "image/jpeg", "a marker with no type")


def test_a_truncated_64_kb_exif_segment_is_refused():
    whole = exif_segment(TIFF + b"\0" * 65_000)
    timed_refusal(b"\xff\xd8" + whole[:-1], "image/jpeg", "past the end of the file")


def test_the_chunk_cap_still_reads_a_long_animation():
    frames = riff_chunk(b"ANMF", b"\0" * 16) * (MAX_WEBP_CHUNKS - 2)
    data = webp(riff_chunk(b"VP8X", b"\x08" + b"\0" * 9), frames, riff_chunk(b"EXIF", TIFF))
    assert webp_blocks(data).exif == TIFF
