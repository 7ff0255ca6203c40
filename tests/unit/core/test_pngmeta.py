"""app/core/pngmeta.py: text chunks round-trip, A1111's infotext reads back, broken PNGs are refused,
and every reader stays linear under its caps."""

import json
import re
import struct
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from app.core.errors import PngError
from app.core.pngmeta import (MAX_CHUNKS, MAX_INFLATED_TEXT, MAX_PARAMETERS_CHARS, MAX_RECIPE_CHARS,
                         MAX_SETTINGS, MAX_TEXT_CHUNKS, PARAMETERS_KEY, RECIPE_KEY, XMP_KEY,
                         embed_recipe, format_parameters, iter_chunks, parse_parameters,
                         read_recipe, read_settings, read_text, tiny_png, with_text)
from app.core.sniff import recipe_from_png

RECIPE = {"kind": "image", "prompt": "a red fox, in the snow", "negative_prompt": "blurry",
          "seed": 1234, "width": 1024, "height": 576, "steps": 30, "model": "scenevault-sketch-1",
          "provider": "local", "version": 1}
# What the Stable Diffusion web UI itself writes (v1.6): multi-line prompt, weights, a LoRA, and
# a quoted value that holds a colon.
A1111_INFOTEXT = (
    "masterpiece, best quality, 1girl, <lora:detail:0.8>, (red dress:1.2)\n"
    "standing in a field\n"
    "Negative prompt: lowres, bad anatomy, (worst quality:1.4)\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567890, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.4, "
    'Lora hashes: "detail: 1a2b3c4d5e6f", Version: v1.6.0'
)


def raw_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def insert_after_ihdr(png: bytes, *chunks: bytes) -> bytes:
    return png[:33] + b"".join(chunks) + png[33:]


def image_data(png: bytes) -> bytes:
    return zlib.decompress(b"".join(bytes(c.data) for c in iter_chunks(png) if c.type == b"IDAT"))


def test_text_round_trips_in_tEXt_for_latin1_and_iTXt_otherwise():
    png = with_text(tiny_png(), {"Comment": "café au lait", "Title": "雪の中の狐 🦊"})
    assert read_text(png) == {"Comment": "café au lait", "Title": "雪の中の狐 🦊"}
    kinds = {bytes(c.data).split(b"\0")[0]: c.type for c in iter_chunks(png)
             if c.type in (b"tEXt", b"iTXt")}
    assert kinds == {b"Comment": b"tEXt", b"Title": b"iTXt"}


def test_writing_a_keyword_again_replaces_the_old_chunk():
    png = with_text(with_text(tiny_png(), {"Comment": "old", "Author": "me"}), {"Comment": "new"})
    assert read_text(png) == {"Comment": "new", "Author": "me"}
    assert sum(1 for c in iter_chunks(png) if c.type == b"tEXt") == 2


def test_text_goes_right_after_IHDR_and_the_pixels_are_untouched():
    original = tiny_png(16, 4, (200, 10, 10))
    png = embed_recipe(original, RECIPE)
    types = [c.type for c in iter_chunks(png)]
    assert types[0] == b"IHDR" and types[1:3] == [b"tEXt", b"iTXt"] and types[-1] == b"IEND"
    assert image_data(png) == image_data(original)


def test_embed_recipe_writes_a1111_parameters_and_the_full_recipe_json():
    png = embed_recipe(tiny_png(), RECIPE)
    assert read_recipe(png) == RECIPE
    text = read_text(png)[PARAMETERS_KEY]
    assert text == ("a red fox, in the snow\nNegative prompt: blurry\nSteps: 30, Seed: 1234, "
                    "Size: 1024x576, Model: scenevault-sketch-1, Provider: local, Recipe version: 1")


def test_embedding_twice_keeps_one_copy_of_each_chunk():
    png = embed_recipe(embed_recipe(tiny_png(), RECIPE), {**RECIPE, "seed": 9})
    assert read_recipe(png)["seed"] == 9
    itxt_keys = [bytes(c.data).partition(b"\0")[0] for c in iter_chunks(png) if c.type == b"iTXt"]
    assert itxt_keys == [RECIPE_KEY.encode(), XMP_KEY.encode()]


def test_a_non_latin1_prompt_puts_parameters_in_iTXt_and_still_reads_back():
    png = embed_recipe(tiny_png(), {**RECIPE, "prompt": "狐 in the snow"})
    assert parse_parameters(read_text(png)[PARAMETERS_KEY]).prompt == "狐 in the snow"
    assert read_recipe(png)["prompt"] == "狐 in the snow"


def test_our_parameters_parse_back_to_the_recipe_fields():
    fields = parse_parameters(format_parameters(RECIPE)).to_recipe_fields()
    assert fields == {key: RECIPE[key] for key in
                      ("prompt", "negative_prompt", "steps", "seed", "width", "height", "model")}


def test_a1111s_own_infotext_is_read_the_way_a1111_reads_it():
    parsed = parse_parameters(A1111_INFOTEXT)
    assert parsed.prompt == ("masterpiece, best quality, 1girl, <lora:detail:0.8>, (red dress:1.2)"
                             "\nstanding in a field")
    assert parsed.negative_prompt == "lowres, bad anatomy, (worst quality:1.4)"
    assert parsed.settings["Sampler"] == "DPM++ 2M Karras"
    assert parsed.settings["Lora hashes"] == "detail: 1a2b3c4d5e6f"
    assert parsed.settings["Version"] == "v1.6.0"
    assert parsed.to_recipe_fields() == {
        "prompt": parsed.prompt, "negative_prompt": parsed.negative_prompt, "steps": 28,
        "seed": 1234567890, "width": 512, "height": 768, "model": "v1-5-pruned-emaonly",
        "cfg_scale": 7.0, "sampler": "DPM++ 2M Karras"}


def test_an_a1111_png_with_its_parameters_chunk_reads_back():
    png = insert_after_ihdr(tiny_png(), raw_chunk(b"tEXt", b"parameters\0" + A1111_INFOTEXT.encode("latin-1")))
    assert parse_parameters(read_text(png)["parameters"]).settings["Seed"] == "1234567890"
    assert read_recipe(png) is None


@pytest.mark.parametrize("text, prompt, negative, settings", [
    ("just a prompt", "just a prompt", "", {}),
    ("a cat\nSteps: 20, Seed: 5, Size: 64x64", "a cat", "", {"Steps": "20", "Seed": "5", "Size": "64x64"}),
    ("a cat\nNegative prompt: dogs\nmore dogs\nSteps: 1, Seed: 2, Size: 8x8", "a cat", "dogs\nmore dogs",
     {"Steps": "1", "Seed": "2", "Size": "8x8"}),
    ("a cat\nSteps: only two: fields", "a cat\nSteps: only two: fields", "", {}),
])
def test_infotext_shapes_a1111_writes(text, prompt, negative, settings):
    parsed = parse_parameters(text)
    assert (parsed.prompt, parsed.negative_prompt, parsed.settings) == (prompt, negative, settings)


def test_values_with_commas_or_colons_are_quoted_and_unquoted():
    text = format_parameters({**RECIPE, "model": "sd, xl: base"})
    assert 'Model: "sd, xl: base"' in text
    assert parse_parameters(text).settings["Model"] == "sd, xl: base"


def test_ztxt_and_compressed_itxt_are_read():
    ztxt = raw_chunk(b"zTXt", b"Comment\0\0" + zlib.compress("déjà vu".encode("latin-1")))
    itxt = raw_chunk(b"iTXt", b"Title\0\1\0en\0Titel\0" + zlib.compress("狐".encode()))
    assert read_text(insert_after_ihdr(tiny_png(), ztxt, itxt)) == {"Comment": "déjà vu", "Title": "狐"}


def test_a_compressed_text_bomb_is_refused():
    bomb = raw_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"a" * (4 << 20)))
    with pytest.raises(PngError, match="inflates past"):
        read_text(insert_after_ihdr(tiny_png(), bomb))


def flip_byte(png: bytes, index: int) -> bytes:
    return png[:index] + bytes([png[index] ^ 0xFF]) + png[index + 1:]


@pytest.mark.parametrize("make, fragment", [
    (lambda p: b"", "signature"),
    (lambda p: b"\xff\xd8\xff\xe0 JFIF jpeg bytes", "signature"),
    (lambda p: b"<html>not an image</html>", "signature"),
    (lambda p: p[:8] + raw_chunk(b"tEXt", b"a\0b") + p[8:], "IHDR"),
    (lambda p: flip_byte(p, 45), "CRC"),  # a byte inside IDAT's data
    (lambda p: flip_byte(p, 30), "CRC"),  # a byte inside IHDR's CRC
    (lambda p: p[:-12], "no IEND"),
    (lambda p: p[:50], "past the end"),
    (lambda p: p[:8] + struct.pack(">I", 2**31) + p[12:], "past the end"),
    (lambda p: p[:37] + b"1DAT" + p[41:], "invalid type"),
], ids=["empty", "jpeg", "html", "first-not-ihdr", "idat-crc", "ihdr-crc", "no-iend", "truncated",
        "huge-length", "bad-type"])
def test_broken_or_foreign_input_raises_png_error(make, fragment):
    with pytest.raises(PngError, match=fragment):
        read_text(make(tiny_png()))


@pytest.mark.parametrize("keyword", ["", "k" * 80, " padded", "nul\0inside", "狐"])
def test_invalid_keywords_are_refused(keyword):
    with pytest.raises(PngError, match="keyword"):
        with_text(tiny_png(), {keyword: "x"})


def test_a_recipe_chunk_that_is_not_a_json_object_is_refused():
    itxt = raw_chunk(b"iTXt", RECIPE_KEY.encode() + b"\0\0\0\0\0" + json.dumps([1]).encode())
    with pytest.raises(PngError, match="JSON object"):
        read_recipe(insert_after_ihdr(tiny_png(), itxt))
    broken = raw_chunk(b"iTXt", RECIPE_KEY.encode() + b"\0\0\0\0\0{not json")
    with pytest.raises(PngError, match="not JSON"):
        read_recipe(insert_after_ihdr(tiny_png(), broken))


# --- linear parsers, capped counts (issue 13, item 4; tests/unit/test_hostile_corpus.py) --------
# A1111's own pattern (modules/infotext_utils.py): the oracle for read_settings on short lines,
# where its cubic backtracking costs nothing.
A1111_SETTING = re.compile(r'\s*([\w ]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


@settings(max_examples=500)
@given(st.text(alphabet='ab _:,"\\\t\x1f\u00a0é²٣-.', max_size=40))
def test_settings_are_the_pairs_a1111s_own_pattern_finds(line):
    assert read_settings(line) == A1111_SETTING.findall(line)


def test_a_settings_line_may_hold_max_settings_pairs_and_no_more():
    line = ", ".join(f"Key{n}: {n}" for n in range(MAX_SETTINGS))
    assert len(parse_parameters(f"a cat\n{line}").settings) == MAX_SETTINGS
    with pytest.raises(PngError, match=f"more than {MAX_SETTINGS}"):
        parse_parameters(f"a cat\n{line}, One more: 1")


def test_parameters_text_over_the_cap_is_refused_and_an_import_keeps_no_recipe():
    text = "a cat\nSteps: 1, Seed: 2, Size: 8x8" + " " * MAX_PARAMETERS_CHARS
    with pytest.raises(PngError, match="characters"):
        parse_parameters(text)
    png = insert_after_ihdr(tiny_png(), raw_chunk(b"tEXt", b"parameters\0" + text.encode()))
    assert recipe_from_png(png) is None


@pytest.mark.parametrize("steps, seed, fields", [
    ("20", " 7 ", {"steps": 20, "seed": 7}),
    ("²", "٣", {"seed": 3}),            # a superscript is a digit, not a decimal; int() refuses it
    ("9" * 5000, "1" * 21, {}),        # int() refuses 4,300 digits and more; seeds have 20 at most
])
def test_steps_and_seed_are_short_decimal_numbers(steps, seed, fields):
    parsed = parse_parameters(f"a cat\nSteps: {steps}, Seed: {seed}, Size: 8x8")
    numbers = {k: v for k, v in parsed.to_recipe_fields().items() if k in ("steps", "seed")}
    assert numbers == fields


def test_all_compressed_text_in_one_png_shares_the_inflation_cap():
    half = zlib.compress(bytes(MAX_INFLATED_TEXT // 2 + 1))
    one = insert_after_ihdr(tiny_png(), raw_chunk(b"zTXt", b"A\0\0" + half))
    assert len(read_text(one)["A"]) == MAX_INFLATED_TEXT // 2 + 1
    with pytest.raises(PngError, match="all text chunks together"):
        read_text(insert_after_ihdr(one, raw_chunk(b"zTXt", b"B\0\0" + half)))


def test_a_truncated_compressed_text_is_refused():
    cut = zlib.compress(b"a red fox in the snow" * 50)[:-6]
    with pytest.raises(PngError, match="truncated"):
        read_text(insert_after_ihdr(tiny_png(), raw_chunk(b"zTXt", b"Comment\0\0" + cut)))


def test_text_and_chunk_counts_are_capped():
    texts = [raw_chunk(b"tEXt", b"k%d\0v" % n) for n in range(MAX_TEXT_CHUNKS + 1)]
    assert len(read_text(insert_after_ihdr(tiny_png(), *texts[:-1]))) == MAX_TEXT_CHUNKS
    with pytest.raises(PngError, match=f"more than {MAX_TEXT_CHUNKS} text chunks"):
        read_text(insert_after_ihdr(tiny_png(), *texts))
    filler = [raw_chunk(b"prVt", b"")] * (MAX_CHUNKS - 3)  # with IHDR, IDAT and IEND: the cap
    assert [c.type for c in iter_chunks(insert_after_ihdr(tiny_png(), *filler))][-1] == b"IEND"
    with pytest.raises(PngError, match="chunks before IEND"):
        read_text(insert_after_ihdr(tiny_png(), *filler, raw_chunk(b"prVt", b"")))


@pytest.mark.parametrize("recipe, fragment", [
    (b"[" * 40 + b"]" * 40, "nests deeper"),
    (b'{"prompt": "' + b"x" * MAX_RECIPE_CHARS + b'"}', "characters"),
])
def test_a_recipe_chunk_too_deep_or_too_long_is_refused_before_json_reads_it(recipe, fragment):
    itxt = raw_chunk(b"iTXt", RECIPE_KEY.encode() + b"\0\0\0\0\0" + recipe)
    with pytest.raises(PngError, match=fragment):
        read_recipe(insert_after_ihdr(tiny_png(), itxt))


def test_brackets_inside_recipe_strings_do_not_count_as_nesting():
    recipe = {**RECIPE, "prompt": "[[[[[[[[[[ (red dress:1.2) ]]]]]]]]]] {{{{{{{{{{ \\\" [[["}
    assert read_recipe(embed_recipe(tiny_png(), recipe)) == recipe
