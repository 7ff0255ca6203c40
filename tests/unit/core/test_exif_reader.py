"""app/core/metadata/exif.py: A1111's JPEG and WebP files, SceneVault's and plain descriptions
read back exactly in both byte orders; files exiftool wrote read back as exiftool wrote them;
looping, huge and out-of-range IFDs refused fast; arbitrary bytes raise only MetadataError."""

import re
import shutil
import struct
import subprocess
import time

import pytest
from hypothesis import given, settings, strategies as st

from app.core.errors import MetadataError
from app.core.metadata.exif import MAX_IFD_ENTRIES, MAX_IFDS, read_exif, read_jpeg_or_webp
from app.core.metadata.source import read_source_metadata
from app.core.metadata.xmp import build_packet
from exif_fixtures import (ASCII, IMAGE_DESCRIPTION, SOFTWARE, UNDEFINED, USER_COMMENT,
                           a1111_tiff, exif_segment, extended_webp, tiff, tiny_jpeg, user_comment,
                           xmp_segment)

MAX_SECONDS = 2.0  # a wide "not catastrophic" bound; each of these takes milliseconds
# What the Stable Diffusion web UI writes into a JPEG's UserComment (v1.6, piexif).
INFOTEXT = ("masterpiece, 1girl, <lora:detail:0.8>, (red dress:1.2), 狐\n"
            "Negative prompt: lowres, (worst quality:1.4)\n"
            "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234567890, Size: 512x768, "
            "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.6.0")
A1111_RECIPE = {"kind": "image", "provider": "a1111",
                "prompt": "masterpiece, 1girl, <lora:detail:0.8>, (red dress:1.2), 狐",
                "negative_prompt": "lowres, (worst quality:1.4)", "steps": 28, "seed": 1234567890,
                "width": 512, "height": 768, "model": "v1-5-pruned-emaonly",
                "sampler": "DPM++ 2M Karras", "cfg_scale": 6.5}
SV_RECIPE = {"kind": "image", "prompt": 'a <red> fox & "friends"', "negative_prompt": "blurry",
             "seed": 7, "steps": 20, "width": 64, "height": 32, "model": "sketch",
             "provider": "local", "version": 1}


# --- what the tools write -----------------------------------------------------------------------
@pytest.mark.parametrize("order", [">", "<"], ids=["big-endian", "little-endian"])
def test_an_a1111_jpeg_reads_back_its_recipe(order):
    found = read_jpeg_or_webp(tiny_jpeg(exif_segment(a1111_tiff(INFOTEXT, order))), "image/jpeg")
    assert (found.tool, found.recipe) == ("a1111", A1111_RECIPE)
    assert found.raw == {"exif:UserComment": INFOTEXT}


@pytest.mark.parametrize("order", [">", "<"], ids=["big-endian", "little-endian"])
def test_an_a1111_webp_reads_back_its_recipe_through_the_one_entry_point(order):
    data = extended_webp(exif=a1111_tiff(INFOTEXT, order))
    found = read_source_metadata(data, "image/webp")
    assert (found.tool, found.recipe) == ("a1111", A1111_RECIPE)


def test_a_webp_exif_chunk_with_the_exif_prefix_reads_too():
    data = extended_webp(exif=b"Exif\0\0" + a1111_tiff(INFOTEXT))
    assert read_jpeg_or_webp(data, "image/webp").recipe == A1111_RECIPE


def test_a_webp_with_exif_and_xmp_keeps_both_raw_and_a1111_wins():
    packet = build_packet(SV_RECIPE, "SceneVault (local/sketch)")
    data = extended_webp(a1111_tiff(INFOTEXT, "<"), packet.encode())
    found = read_jpeg_or_webp(data, "image/webp")
    assert found.tool == "a1111"
    assert found.raw == {"exif:UserComment": INFOTEXT, "xmp": packet}


def test_scenevault_s_recipe_in_xmp_reads_back_typed_fields():
    packet = build_packet(SV_RECIPE, "SceneVault (local/sketch)").encode()
    for data, mime in ((tiny_jpeg(xmp_segment(packet)), "image/jpeg"),
                       (extended_webp(xmp=packet), "image/webp")):
        found = read_jpeg_or_webp(data, mime)
        assert found.tool == "scenevault"
        assert found.recipe == {**{k: SV_RECIPE[k] for k in SV_RECIPE if k != "version"},
                                "provider": "scenevault"}


def test_a_plain_description_gives_tool_exif_and_the_raw_texts():
    block = tiff({IMAGE_DESCRIPTION: (ASCII, b"a fox at dusk\0"), SOFTWARE: (ASCII, b"GIMP 2.10\0")},
                 {USER_COMMENT: (UNDEFINED, user_comment("shot on a tripod", "ascii"))}, "<")
    found = read_jpeg_or_webp(tiny_jpeg(exif_segment(block)), "image/jpeg")
    assert (found.tool, found.recipe) == ("exif", {"kind": "image", "prompt": "a fox at dusk",
                                                   "provider": "exif"})
    assert found.raw == {"exif:ImageDescription": "a fox at dusk", "exif:Software": "GIMP 2.10",
                         "exif:UserComment": "shot on a tripod"}


def test_a_file_with_no_description_gives_none():
    assert read_jpeg_or_webp(tiny_jpeg(), "image/jpeg") is None
    block = tiff({SOFTWARE: (ASCII, b"Camera 1.0\0")})
    assert read_jpeg_or_webp(tiny_jpeg(exif_segment(block)), "image/jpeg") is None
    assert read_jpeg_or_webp(extended_webp(), "image/webp") is None


@pytest.mark.parametrize("value, text", [
    (b"UNICODE\0" + "\ufeff狐 fox".encode("utf-16-le"), "狐 fox"),       # BOM, against MM
    (b"UNICODE\0" + "fox 狐".encode("utf-16-le"), "fox 狐"),             # LE bytes in an MM file
    (b"\0" * 8 + "café".encode(), "café"),                               # undefined: UTF-8
    (b"\0" * 8 + "café".encode("latin-1"), "café"),                      # undefined: Latin-1
    (b"ASCII\0\0\0fox\0\0\0", "fox"),                                    # NUL padding goes
    (b"a fox, no prefix", "a fox, no prefix"),                           # no charset at all
])
def test_user_comment_charsets(value, text):
    assert read_exif(tiff({}, {USER_COMMENT: (UNDEFINED, value)})).user_comment == text


def test_a_jis_or_empty_user_comment_is_not_read():
    jis = tiff({}, {USER_COMMENT: (UNDEFINED, b"JIS\0\0\0\0\0\x1b$B")})
    assert read_exif(jis).user_comment is None
    assert read_exif(tiff({}, {USER_COMMENT: (UNDEFINED, b"\0" * 8 + b"   ")})).user_comment is None


# --- an independent writer: exiftool ------------------------------------------------------------
def exiftool() -> str:
    path = shutil.which("exiftool")
    if path is None:
        pytest.fail("exiftool is not installed: `make test` installs it "
                    "(apt-get install libimage-exiftool-perl)")
    return path


@pytest.mark.parametrize("name, data, mime", [
    ("fox.jpg", tiny_jpeg(), "image/jpeg"), ("fox.webp", extended_webp(), "image/webp")])
def test_what_exiftool_writes_reads_back_exactly(tmp_path, name, data, mime):
    path = tmp_path / name
    path.write_bytes(data)
    comment, description = INFOTEXT, 'a <red> fox & "friends" 狐'
    subprocess.run([exiftool(), "-q", "-overwrite_original", f"-UserComment={comment}",
                    f"-XMP-dc:Description={description}", "-ImageDescription=a plain one",
                    str(path)], check=True, timeout=60)
    found = read_jpeg_or_webp(path.read_bytes(), mime)
    assert (found.tool, found.recipe) == ("a1111", A1111_RECIPE)
    assert found.raw["exif:UserComment"] == comment
    assert found.raw["exif:ImageDescription"] == "a plain one"
    escaped = "a &lt;red&gt; fox &amp; &quot;friends&quot; 狐"
    assert f"<rdf:li xml:lang='x-default'>{escaped}</rdf:li>" in found.raw["xmp"]


def test_a_description_exiftool_writes_into_xmp_alone_is_the_prompt(tmp_path):
    path = tmp_path / "fox.jpg"
    path.write_bytes(tiny_jpeg())
    subprocess.run([exiftool(), "-q", "-overwrite_original", "-XMP-dc:Description=狐 & <co>",
                    "-XMP-xmp:CreatorTool=Krita", str(path)], check=True, timeout=60)
    found = read_jpeg_or_webp(path.read_bytes(), "image/jpeg")
    assert (found.tool, found.recipe["prompt"]) == ("xmp", "狐 & <co>")


# --- hostile TIFF: every one refused with a useful message, fast --------------------------------
def ifd(order: str, entries: list[bytes], next_offset: int) -> bytes:
    return (struct.pack(order + "H", len(entries)) + b"".join(entries)
            + struct.pack(order + "I", next_offset))


def pad(block: bytes, size: int = 64 * 1024) -> bytes:
    return block + b"\0" * (size - len(block))


def exif_pointer(order: str, offset: int) -> bytes:
    return struct.pack(order + "HHII", 0x8769, 4, 1, offset)


HOSTILE_TIFF = {
    "an IFD whose next link points at itself": (
        pad(b"MM\0*\0\0\0\x08" + ifd(">", [], 8)), "IFD1 at byte 8 was already read"),
    "two IFDs pointing at each other": (
        pad(b"II*\0\x08\0\0\0" + ifd("<", [], 14) + ifd("<", [], 8)),
        "IFD2 at byte 8 was already read"),
    "an Exif IFD pointer back to IFD0": (
        pad(b"MM\0*\0\0\0\x08" + ifd(">", [exif_pointer(">", 8)], 0)),
        "ExifIFD at byte 8 was already read"),
    "a chain of more IFDs than the cap": (
        pad(b"MM\0*\0\0\0\x08" + b"".join(ifd(">", [], 8 + 6 * (i + 1)) for i in range(4000))),
        f"links more than {MAX_IFDS} IFDs"),
    "a huge entry count": (pad(b"MM\0*\0\0\0\x08\xff\xff"), "has 65,535 entries"),
    "entries past the end": (b"MM\0*\0\0\0\x08\x01\x00" + b"\0" * 100, "run past the end"),
    "an IFD offset past the end": (pad(b"MM\0*\xff\xff\xff\xf0"), "offset 4294967280 is outside"),
    "a text offset past the end": (
        pad(b"MM\0*\0\0\0\x08" + ifd(">", [struct.pack(">HHII", 0x010E, 2, 100, 0xFFFFFF00)], 0)),
        "ImageDescription value (100 bytes at byte 4294967040) runs past"),
    "a text count of 4 billion": (
        pad(b"MM\0*\0\0\0\x08" + ifd(">", [struct.pack(">HHII", 0x010E, 2, 0xFFFFFFFF, 26)], 0)),
        "ImageDescription has 4,294,967,295 bytes"),
    "an Exif IFD pointer of the wrong type": (
        pad(b"MM\0*\0\0\0\x08" + ifd(">", [struct.pack(">HHII", 0x8769, 2, 9, 8)], 0)),
        "must be one LONG"),
    "an odd-length UNICODE comment": (
        tiff({}, {USER_COMMENT: (UNDEFINED, b"UNICODE\0abc")}), "odd length (3 bytes)"),
    "not TIFF at all": (pad(b"XX\0*"), "does not start with a TIFF header"),
    "a truncated header": (b"MM\0*\0\0", "truncated inside its TIFF header"),
}


@pytest.mark.parametrize("name", HOSTILE_TIFF)
def test_hostile_tiff_is_refused_fast(name):
    block, message = HOSTILE_TIFF[name]
    started = time.perf_counter()
    with pytest.raises(MetadataError, match=re.escape(message)):
        read_jpeg_or_webp(extended_webp(exif=block), "image/webp")
    assert time.perf_counter() - started < MAX_SECONDS


def test_the_caps_are_what_a_real_file_never_reaches():
    entries = [struct.pack(">HHI", 0x9000 + i, 7, 4) + b"0230" for i in range(MAX_IFD_ENTRIES)]
    block = b"MM\0*\0\0\0\x08" + ifd(">", entries, 0)
    assert read_exif(block).image_description is None


def test_an_a1111_comment_over_the_infotext_cap_is_refused():
    comment = "x" * 70_000 + "\nSteps: 1, Seed: 2, Size: 8x8"
    block = tiff({}, {USER_COMMENT: (UNDEFINED, user_comment(comment))})
    with pytest.raises(MetadataError, match="UserComment: the parameters text has 70,029 characters"):
        read_jpeg_or_webp(extended_webp(exif=block), "image/webp")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512), st.sampled_from(["image/jpeg", "image/webp"]))
def test_arbitrary_bytes_raise_only_metadata_error(data, mime):
    try:
        found = read_jpeg_or_webp(data, mime)
    except MetadataError as refused:
        assert str(refused)  # a message for the user, never an empty one
    else:
        assert found is None or found.tool in ("a1111", "scenevault", "xmp", "exif")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256), st.integers(0, 300))
def test_arbitrary_tiff_inside_a_real_container_raises_only_metadata_error(noise, cut):
    block = (a1111_tiff(INFOTEXT)[:cut] + noise)
    for data, mime in ((tiny_jpeg(exif_segment(block)), "image/jpeg"),
                       (extended_webp(exif=block), "image/webp")):
        try:
            read_jpeg_or_webp(data, mime)
        except MetadataError:
            pass
