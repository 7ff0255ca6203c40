"""app/core/metadata/xmp.py and the XMP label in pngmeta.embed_recipe: packets round-trip any
prompt, exiftool reads the label SceneVault writes, and DTDs, entities and element floods are
refused fast."""

import json
import re
import shutil
import subprocess
import time

import pytest
from hypothesis import given, settings, strategies as st

from app.core.errors import MetadataError
from app.core.metadata.xmp import (MAX_DEPTH, MAX_ELEMENTS, MAX_PACKET_BYTES, MAX_RECIPE_DEPTH,
                                   TRAINED_ALGORITHMIC_MEDIA, build_packet, creator_tool_for,
                                   read_packet)
from app.core.pngmeta import (PARAMETERS_KEY, RECIPE_KEY, XMP_KEY, embed_recipe, iter_chunks,
                              read_recipe, read_text, tiny_png)

MAX_SECONDS = 2.0
RECIPE = {"kind": "image", "prompt": 'a <red> fox & "friends"\r\n\'狐\' 🦊 </rdf:li>]]>',
          "negative_prompt": "blurry", "seed": 1234, "width": 64, "height": 32, "steps": 30,
          "model": "sketch", "provider": "local", "version": 1}
RDF = "xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'"


def exiftool() -> str:
    path = shutil.which("exiftool")
    if path is None:
        pytest.fail("exiftool is not installed: `make test` installs it "
                    "(apt-get install libimage-exiftool-perl)")
    return path


# --- building and reading -----------------------------------------------------------------------
def test_a_packet_round_trips_every_property():
    found = read_packet(build_packet(RECIPE, "SceneVault (local/sketch)").encode())
    assert found.description == RECIPE["prompt"]
    assert found.creator_tool == "SceneVault (local/sketch)"
    assert found.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert found.recipe == RECIPE


def test_the_creator_tool_names_provider_and_model():
    assert creator_tool_for(RECIPE) == "SceneVault (local/sketch)"
    assert creator_tool_for({"provider": "fal"}) == "SceneVault (fal)"
    assert creator_tool_for({}) == "SceneVault"


def test_characters_xml_cannot_hold_become_a_replacement_in_the_description_only():
    recipe = {"prompt": "a\x01b\ud800c\x7f"}
    found = read_packet(build_packet(recipe, "t\x02").encode("utf-8", "surrogatepass"))
    assert found.description == "a\ufffdb\ufffdc\x7f"
    assert found.creator_tool == "t\ufffd"
    assert found.recipe == recipe


def test_a_recipe_without_a_prompt_has_no_description():
    found = read_packet(build_packet({"kind": "image", "seed": 1}, "SceneVault").encode())
    assert (found.description, found.recipe) == (None, {"kind": "image", "seed": 1})


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1),
       st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40))
def test_any_prompt_round_trips_exactly_in_the_recipe_and_when_xml_can_hold_it_in_the_description(
        prompt, tool):
    found = read_packet(build_packet({"prompt": prompt}, tool).encode())
    assert found.recipe == {"prompt": prompt}
    if not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", prompt):
        assert found.description == prompt
    assert found.creator_tool == tool.translate({0xFFFE: 0xFFFD, 0xFFFF: 0xFFFD})


def test_attribute_form_properties_and_utf16_packets_read():
    packet = (f"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF {RDF}><rdf:Description "
              "xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmp:CreatorTool='Photoshop &amp; co' "
              "xmlns:Iptc4xmpExt='http://iptc.org/std/Iptc4xmpExt/2008-02-29/'>"
              "<Iptc4xmpExt:DigitalSourceType rdf:resource='http://cv.iptc.org/x'/>"
              "<dc:description xmlns:dc='http://purl.org/dc/elements/1.1/'><rdf:Alt>"
              "<rdf:li xml:lang='de'>Fuchs</rdf:li><rdf:li xml:lang='x-default'>fox</rdf:li>"
              "</rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta>")
    with_bom_and_nul_padding = b"\xef\xbb\xbf" + packet.encode() + b"\0\0"
    for data in (packet.encode(), packet.encode("utf-16"), with_bom_and_nul_padding):
        found = read_packet(data)
        assert (found.creator_tool, found.digital_source_type, found.description) == (
            "Photoshop & co", "http://cv.iptc.org/x", "fox")


@pytest.mark.parametrize("packet, message", [
    (b"<a>", "not well-formed XML"),
    (b"\xff\xfe\x00\xd8", "is not UTF-16"),
    (b"\xc3\x28", "is not UTF-8"),
    (f"<r {RDF}><rdf:Description xmlns:sv='https://scenevault.app/ns/1.0/' sv:recipe='[1]'/></r>"
     .encode(), "sv:recipe is a JSON list, not an object"),
    (f"<r {RDF}><rdf:Description xmlns:sv='https://scenevault.app/ns/1.0/' sv:recipe='{{x'/></r>"
     .encode(), "sv:recipe is not valid JSON"),
    (f"<r {RDF}><rdf:Description xmlns:sv='https://scenevault.app/ns/1.0/' sv:recipe='"
     f"{'[' * (MAX_RECIPE_DEPTH + 1)}'/></r>".encode(), f"nests deeper than {MAX_RECIPE_DEPTH}"),
    (b"<a>&foo;</a>", "undefined entity"),
])
def test_a_bad_packet_is_refused_naming_what_is_wrong(packet, message):
    with pytest.raises(MetadataError, match=re.escape(message)):
        read_packet(packet)


# --- the label in every PNG SceneVault writes ---------------------------------------------------
def test_embed_recipe_adds_one_uncompressed_xmp_itxt_next_to_parameters_and_recipe():
    png = embed_recipe(embed_recipe(tiny_png(), {**RECIPE, "seed": 1}), RECIPE)
    texts = read_text(png)
    assert set(texts) == {PARAMETERS_KEY, RECIPE_KEY, XMP_KEY}
    assert read_recipe(png) == RECIPE
    found = read_packet(texts[XMP_KEY].encode())
    assert (found.recipe, found.description) == (RECIPE, RECIPE["prompt"])
    xmp_chunks = [bytes(c.data) for c in iter_chunks(png)
                  if bytes(c.data).startswith(b"XML:com.adobe.xmp\0")]
    # uncompressed (flag 0, method 0), no language, no translated keyword
    assert len(xmp_chunks) == 1 and xmp_chunks[0][18:22] == b"\0\0\0\0"


def test_exiftool_reads_the_label_and_the_parameters_of_a_png_scenevault_wrote(tmp_path):
    path = tmp_path / "fox.png"
    path.write_bytes(embed_recipe(tiny_png(), RECIPE))
    result = subprocess.run([exiftool(), "-j", "-G1", "-struct", str(path)], capture_output=True,
                            check=True, timeout=60)
    (tags,) = json.loads(result.stdout)
    assert tags["XMP-iptcExt:DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert tags["XMP-dc:Description"] == RECIPE["prompt"]
    assert tags["XMP-xmp:CreatorTool"] == "SceneVault (local/sketch)"
    assert tags["PNG:Parameters"].startswith(RECIPE["prompt"] + "\nNegative prompt: blurry\nSteps: 30")
    assert json.loads(tags["XMP-sv:Recipe"]) == RECIPE


def test_exiftool_finds_nothing_wrong_with_the_png(tmp_path):
    path = tmp_path / "fox.png"
    path.write_bytes(embed_recipe(tiny_png(), RECIPE))
    result = subprocess.run([exiftool(), "-validate", "-warning", "-error", "-a", "-s3", str(path)],
                            capture_output=True, check=True, timeout=60, text=True)
    assert result.stdout.strip() == "OK"


# --- hostile packets (~64 KB and more): refused fast, with a message ---------------------------
def laughs() -> bytes:
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    return (f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]>'
            f"<lolz>{'&lol9;' * 6000}</lolz>").encode()


HOSTILE = {
    "billion laughs": (laughs(), "has a <!DOCTYPE declaration at character 21"),
    "an external entity": (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM '
                           b'"file:///etc/passwd">]><x>&xxe;</x>' + b" " * 65_000,
                           "<!DOCTYPE declaration"),
    "an entity without a DOCTYPE": (b'<!ENTITY x SYSTEM "file:///etc/passwd"><x/>',
                                    "<!ENTITY declaration"),
    "a lower-case doctype after 64 KB of comments": (b"<!-- -->" * 8000 + b"<!doctype x><x/>",
                                                     "<!DOCTYPE declaration at character 64000"),
    "100,000 nested elements": (b"<a>" * 100_000 + b"</a>" * 100_000,
                                f"deeper than {MAX_DEPTH} levels"),
    "too many elements": (b"<r>" + b"<a/>" * (MAX_ELEMENTS + 16_000) + b"</r>",
                          f"more than {MAX_ELEMENTS:,} elements"),
    "a packet over the cap": (b"<r>" + b" " * MAX_PACKET_BYTES + b"</r>",
                              f"has {MAX_PACKET_BYTES + 7:,} bytes"),
    "64 KB of unclosed markup": (b"<" * 65_536, "not well-formed"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_packet_is_refused_fast(name):
    packet, message = HOSTILE[name]
    started = time.perf_counter()
    with pytest.raises(MetadataError, match=re.escape(message)):
        read_packet(packet)
    assert time.perf_counter() - started < MAX_SECONDS


def test_64_kb_of_harmless_markup_declarations_is_linear():
    packet = f"<r {RDF}>".encode() + b"<![CDATA[<!]]>" * 4_600 + b"</r>"
    started = time.perf_counter()
    assert read_packet(packet).description is None
    assert time.perf_counter() - started < MAX_SECONDS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300)
       | st.text(alphabet="<>!/=&;'\"x:aDOCTYPE ", max_size=300).map(str.encode))
def test_arbitrary_packets_raise_only_metadata_error(packet):
    try:
        read_packet(packet)
    except MetadataError:
        pass
