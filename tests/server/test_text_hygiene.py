"""POST /api/generate through the real server.py keeps prompts in app/core/textrules.py's normal form:
NUL, other controls and lone surrogates (sent as JSON escapes) are a 400 naming the field and the
character; invisible and bidi characters are dropped before the provider sees the prompt, and
the recipe the server reports, and embeds in the PNG, holds the normal form."""

import pytest
from proxies import error_of, post_generate, recipe_of

from app.core.pngmeta import read_recipe

IMAGE = {"kind": "image", "prompt": "a lighthouse", "seed": 42, "width": 128, "height": 128}


@pytest.mark.parametrize("field, text, shown", [
    ("prompt", "a fox\u0000", "U+0000 (a control character) at character 6"),
    ("prompt", "\ud800 fox", "U+D800 (a lone surrogate) at character 1"),
    ("prompt", "fox \udc00", "U+DC00 (a lone surrogate) at character 5"),
    ("prompt", "\u001b[31mred", "U+001B (a control character) at character 1"),
    ("negative_prompt", "blur\u0000", "U+0000 (a control character) at character 5"),
])
def test_a_character_no_text_may_hold_is_a_400_naming_field_and_character(server, field, text,
                                                                          shown):
    # json.dumps sends "\u0000" and "\ud800" as escapes: valid JSON, decoded to those characters.
    message = error_of(*post_generate(server, {**IMAGE, field: text}), 400, f"invalid_{field}")
    assert message == f"{field} contains {shown}"


def test_a_prompt_of_invisible_characters_only_is_an_empty_prompt(server):
    message = error_of(*post_generate(server, {**IMAGE, "prompt": "\u200b\u202e\ufeff"}), 400,
                       "invalid_prompt")
    assert message == "prompt must not be empty"


def test_invisible_and_bidi_characters_are_dropped_before_generating(server):
    dirty = {**IMAGE, "prompt": "\u202ea light\u200bhouse\r\n", "negative_prompt": "\ufeffblur\x9b"}
    status, headers, body = post_generate(server, dirty)
    assert status == 200
    recipe = recipe_of(headers)
    assert (recipe["prompt"], recipe["negative_prompt"]) == ("a lighthouse", "blur")
    assert read_recipe(body) == recipe
    clean = post_generate(server, {**IMAGE, "negative_prompt": "blur"})
    assert clean[0] == 200 and clean[2] == body  # the provider saw the same prompt
