"""app/render/tags.py: the Matroska tags of a render and of a motion clip come from the stored
recipe (whose JSON they carry exactly), carry the IPTC AI label, the app and the day, and hold
only capped, normalised, UTF-8-encodable text."""

import json

import pytest

from app.core.errors import RecipeError
from app.core.version import __version__
from app.render.tags import (COMPOSITE, MAX_DESCRIPTION_CHARS, MAX_RECIPE_CHARS, MAX_TITLE_CHARS,
                             RECIPE_TAG, SOURCE_TYPE_TAG, TRAINED, matroska_tags, tag_text,
                             title_of)
from app.render.timeline import NarrationInput, RenderSettings, SceneInput, plan_render

FRAME = "cd" * 32
DAY_MS = 1_764_979_200_000  # 2025-12-06 00:00:00 UTC


def clip_recipe(**changes) -> dict:
    return {"kind": "clip", "prompt": "a slow push-in on the lighthouse", "provider": "local",
            "model": "motion", "seed": 3, "seconds": 4, "width": 640, "height": 360,
            "input_sha256": FRAME, "version": 1, **changes}


def render_recipe(title: str | None = "Moon Heist") -> dict:
    narrated = SceneInput("s1", "ast_1", "ab" * 32, NarrationInput("ast_2", "ef" * 32, 2540))
    plan = plan_render([narrated, SceneInput("s2", "ast_3", FRAME)],
                       RenderSettings.for_aspect("16:9", 360))
    return plan.to_recipe() | ({"title": title} if title is not None else {})


def test_a_motion_clip_carries_its_prompt_its_recipe_and_the_trained_ai_label():
    recipe = clip_recipe()
    tags = matroska_tags(recipe, title_of(recipe), DAY_MS)
    assert tags["TITLE"] == "Motion clip: pull-out, 4 s, 640×360"  # seed 3: a reversed push-in
    assert tags["DESCRIPTION"] == "a slow push-in on the lighthouse"
    assert json.loads(tags[RECIPE_TAG]) == recipe
    assert tags[SOURCE_TYPE_TAG] == TRAINED == (
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia")
    assert tags["ENCODER"] == f"SceneVault {__version__}"
    assert tags["DATE"] == "2025-12-06"
    assert RECIPE_TAG in tags["COMMENT"] and "AI" in tags["COMMENT"]


def test_a_render_carries_the_project_title_a_description_and_the_composite_label():
    recipe = render_recipe()
    tags = matroska_tags(recipe, title_of(recipe), DAY_MS - 1)
    assert tags["TITLE"] == "Moon Heist"
    assert tags["DESCRIPTION"] == "Moon Heist: 2 scenes, 6.5 s, 640×360 at 30 fps"
    assert json.loads(tags[RECIPE_TAG]) == recipe
    assert tags[SOURCE_TYPE_TAG] == COMPOSITE == (
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia")
    assert tags["DATE"] == "2025-12-05"


def test_a_render_of_an_untitled_project_or_an_old_recipe_has_a_default_title():
    recipe = render_recipe(title=None)
    tags = matroska_tags(recipe, title_of(recipe))
    assert tags["TITLE"] == "SceneVault render"
    assert tags["DESCRIPTION"].startswith("A SceneVault video: 2 scenes")
    assert "DATE" not in tags  # no date known: none written, never "now"


def test_the_same_recipe_and_day_give_the_same_tags_in_the_same_order():
    first = matroska_tags(clip_recipe(), "t", DAY_MS)
    again = matroska_tags(json.loads(json.dumps(clip_recipe())), "t", DAY_MS + 3_600_000)
    assert list(first.items()) == list(again.items())
    assert list(first) == ["TITLE", "DESCRIPTION", "COMMENT", SOURCE_TYPE_TAG, "ENCODER",
                           RECIPE_TAG, "DATE"]


def test_the_recipe_json_is_canonical_ascii_and_round_trips_any_prompt():
    recipe = clip_recipe(prompt="Café 🌙 «quoted» \"and\" back\\slash\nnew line")
    text = matroska_tags(recipe, "t")[RECIPE_TAG]
    assert text.isascii() and ": " not in text and text.index('"height"') < text.index('"kind"')
    assert json.loads(text) == recipe


def test_text_is_normalised_capped_and_encodable():
    hostile = "Moon\x00 Heist\u202e\ud800\x07\r\n2 " + "x" * 500
    tags = matroska_tags(clip_recipe(prompt="a fox\x00\r\n" + "y" * 9000), hostile)
    for text in tags.values():
        text.encode("utf-8")  # no lone surrogate
        assert "\x00" not in text and "\x07" not in text and "\u202e" not in text
    assert tags["TITLE"].startswith("Moon Heist 2 xx") and len(tags["TITLE"]) == MAX_TITLE_CHARS
    assert tags["TITLE"].endswith("…")
    assert tags["DESCRIPTION"].startswith("a fox\nyy")
    assert len(tags["DESCRIPTION"]) == MAX_DESCRIPTION_CHARS
    # the recipe itself is never altered: its JSON escapes what the text tags drop
    assert json.loads(tags[RECIPE_TAG])["prompt"].startswith("a fox\x00\r\n")


def test_a_blank_title_falls_back_and_a_blank_prompt_leaves_no_description():
    tags = matroska_tags(clip_recipe(prompt=" \u200b "), "  \x00 ")
    assert tags["TITLE"] == "SceneVault motion clip"
    assert "DESCRIPTION" not in tags


def test_a_recipe_too_long_for_a_tag_is_left_out_never_cut():
    tags = matroska_tags(clip_recipe(prompt="z" * MAX_RECIPE_CHARS), "t")
    assert RECIPE_TAG not in tags and tags[SOURCE_TYPE_TAG] == TRAINED


def test_a_recipe_that_is_not_json_is_refused():
    with pytest.raises(RecipeError):
        matroska_tags(clip_recipe(seed=float("nan")), "t")


@pytest.mark.parametrize("text, expected", [("ab\tc\r\nd", "ab\tc\nd"),
                                            ("\U0001f600 ok\ud83d", "😀 ok")])
def test_tag_text_keeps_what_utf8_can_hold(text, expected):
    assert tag_text(text, 50) == expected
