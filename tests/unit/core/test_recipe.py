"""app/core/recipe.py: every validation rule, its defaults, and the Recipe/Catalog round trips."""

import ast
import json
import sys
from pathlib import Path

import pytest

import app.core.recipe as recipe_module
from app.core.errors import RecipeError
from app.core.recipe import (RECIPE_VERSION, Catalog, ProviderSpec, Recipe, validate_request,
                        with_chosen_seed)

CATALOG = Catalog("local", (
    ProviderSpec("local", ("image", "audio"), True, {"image": ("sketch",), "audio": ("voice",)},
                 ("narrator", "deep")),
    ProviderSpec("remote", ("image",), False, {"image": ("big", "small")}),
    ProviderSpec("off", ("image",), False, {"image": ("m",)}, configured=False),
))
IMAGE = {"kind": "image", "prompt": "a red fox in the snow"}
AUDIO = {"kind": "audio", "prompt": "Once upon a time."}


def test_a_minimal_image_request_gets_every_default():
    recipe = validate_request(IMAGE, CATALOG)
    assert recipe == Recipe(kind="image", prompt="a red fox in the snow", provider="local",
                            model="sketch", seed=None, negative_prompt="", width=1024, height=576,
                            steps=30, voice=None, version=RECIPE_VERSION)


def test_a_minimal_audio_request_gets_a_voice_and_no_image_fields():
    recipe = validate_request(AUDIO, CATALOG)
    assert (recipe.voice, recipe.model, recipe.width, recipe.steps, recipe.negative_prompt) == \
        ("narrator", "voice", None, None, None)


def test_given_fields_are_kept_and_text_is_stripped():
    body = {**IMAGE, "prompt": "  fox \n", "negative_prompt": " blur ", "width": 512, "height": 768,
            "seed": 42, "steps": 12, "provider": "remote", "model": "small"}
    recipe = validate_request(body, CATALOG)
    assert (recipe.prompt, recipe.negative_prompt, recipe.width, recipe.height, recipe.seed,
            recipe.steps, recipe.provider, recipe.model) == ("fox", "blur", 512, 768, 42, 12,
                                                              "remote", "small")


@pytest.mark.parametrize("change", [
    {"width": 64, "height": 2048}, {"width": 2048, "height": 64}, {"seed": 0}, {"seed": 2**32 - 1},
    {"steps": 1}, {"steps": 150}, {"prompt": "x" * 4000}, {"prompt": "  " + "y" * 4000 + "  "},
    {"negative_prompt": "n" * 4000}, {"prompt": "line one\nline two\ttabbed"},
    {"prompt": "ein Fuchs im Schnee, 雪の中の狐 🦊"}, {"version": 1}, {"seed": None},
])
def test_values_on_the_boundaries_are_accepted(change):
    assert validate_request({**IMAGE, **change}, CATALOG).kind == "image"


BAD_REQUESTS = [
    # (what is wrong, body, field named, error code)
    ("kind missing", {"prompt": "x"}, "kind", "invalid_kind"),
    ("kind unknown", {**IMAGE, "kind": "video"}, "kind", "invalid_kind"),
    ("kind not text", {**IMAGE, "kind": 1}, "kind", "invalid_kind"),
    ("prompt missing", {"kind": "image"}, "prompt", "invalid_prompt"),
    ("prompt empty", {**IMAGE, "prompt": ""}, "prompt", "invalid_prompt"),
    ("prompt blank", {**IMAGE, "prompt": " \n\t "}, "prompt", "invalid_prompt"),
    ("prompt too long", {**IMAGE, "prompt": "x" * 4001}, "prompt", "invalid_prompt"),
    ("prompt not text", {**IMAGE, "prompt": 12}, "prompt", "invalid_prompt"),
    ("prompt with NUL", {**IMAGE, "prompt": "a\x00b"}, "prompt", "invalid_prompt"),
    ("prompt with ESC", {**IMAGE, "prompt": "a\x1bb"}, "prompt", "invalid_prompt"),
    ("prompt lone surrogate", {**IMAGE, "prompt": "a\ud800b"}, "prompt", "invalid_prompt"),
    ("prompt DEL", {**IMAGE, "prompt": "a\x7fb"}, "prompt", "invalid_prompt"),
    ("prompt only invisible", {**IMAGE, "prompt": "\u200b\u202e\ufeff"}, "prompt",
     "invalid_prompt"),
    ("negative with NUL", {**IMAGE, "negative_prompt": "\x00"}, "negative_prompt",
     "invalid_negative_prompt"),
    ("negative lone surrogate", {**IMAGE, "negative_prompt": "\udfff"}, "negative_prompt",
     "invalid_negative_prompt"),
    ("negative too long", {**IMAGE, "negative_prompt": "n" * 4001}, "negative_prompt",
     "invalid_negative_prompt"),
    ("negative not text", {**IMAGE, "negative_prompt": ["blur"]}, "negative_prompt",
     "invalid_negative_prompt"),
    ("width too small", {**IMAGE, "width": 56}, "width", "invalid_width"),
    ("width too large", {**IMAGE, "width": 2056}, "width", "invalid_width"),
    ("width not a multiple of 8", {**IMAGE, "width": 100}, "width", "invalid_width"),
    ("width as text", {**IMAGE, "width": "512"}, "width", "invalid_width"),
    ("width as float", {**IMAGE, "width": 512.0}, "width", "invalid_width"),
    ("width as boolean", {**IMAGE, "width": True}, "width", "invalid_width"),
    ("height too small", {**IMAGE, "height": 0}, "height", "invalid_height"),
    ("height too large", {**IMAGE, "height": 4096}, "height", "invalid_height"),
    ("height not a multiple of 8", {**IMAGE, "height": 577}, "height", "invalid_height"),
    ("seed negative", {**IMAGE, "seed": -1}, "seed", "invalid_seed"),
    ("seed too large", {**IMAGE, "seed": 2**32}, "seed", "invalid_seed"),
    ("seed true", {**IMAGE, "seed": True}, "seed", "invalid_seed"),
    ("seed false", {**IMAGE, "seed": False}, "seed", "invalid_seed"),
    ("seed float", {**IMAGE, "seed": 1.5}, "seed", "invalid_seed"),
    ("seed text", {**IMAGE, "seed": "7"}, "seed", "invalid_seed"),
    ("steps zero", {**IMAGE, "steps": 0}, "steps", "invalid_steps"),
    ("steps too many", {**IMAGE, "steps": 151}, "steps", "invalid_steps"),
    ("steps boolean", {**IMAGE, "steps": True}, "steps", "invalid_steps"),
    ("provider unknown", {**IMAGE, "provider": "nope"}, "provider", "invalid_provider"),
    ("provider not configured", {**IMAGE, "provider": "off"}, "provider", "invalid_provider"),
    ("provider empty", {**IMAGE, "provider": ""}, "provider", "invalid_provider"),
    ("provider not text", {**IMAGE, "provider": 3}, "provider", "invalid_provider"),
    ("model unknown", {**IMAGE, "model": "nope"}, "model", "invalid_model"),
    ("model of another provider", {**IMAGE, "model": "big"}, "model", "invalid_model"),
    ("model of another kind", {**AUDIO, "model": "sketch"}, "model", "invalid_model"),
    ("kind the provider lacks", {**AUDIO, "provider": "remote"}, "kind", "invalid_kind"),
    ("voice unknown", {**AUDIO, "voice": "robot"}, "voice", "invalid_voice"),
    ("voice on an image", {**IMAGE, "voice": "narrator"}, "voice", "invalid_voice"),
    ("width on audio", {**AUDIO, "width": 512}, "width", "invalid_width"),
    ("steps on audio", {**AUDIO, "steps": 20}, "steps", "invalid_steps"),
    ("negative prompt on audio", {**AUDIO, "negative_prompt": "x"}, "negative_prompt",
     "invalid_negative_prompt"),
    ("unknown field", {**IMAGE, "sampler": "Euler a"}, "recipe", "unknown_field"),
    ("unsupported version", {**IMAGE, "version": 2}, "version", "invalid_version"),
    ("version as text", {**IMAGE, "version": "1"}, "version", "invalid_version"),
    ("version as boolean", {**IMAGE, "version": True}, "version", "invalid_version"),
]


@pytest.mark.parametrize("body, field, code", [case[1:] for case in BAD_REQUESTS],
                         ids=[case[0] for case in BAD_REQUESTS])
def test_every_rule_refuses_with_an_error_naming_the_field(body, field, code):
    with pytest.raises(RecipeError) as caught:
        validate_request(body, CATALOG)
    error = caught.value
    assert (error.field, error.code) == (field, code)
    named = "sampler" if code == "unknown_field" else field
    assert named in str(error)


@pytest.mark.parametrize("prompt, shown", [
    ("a fox\x00", "prompt contains U+0000 (a control character) at character 6"),
    ("a \ud800 fox", "prompt contains U+D800 (a lone surrogate) at character 3"),
])
def test_a_character_that_cannot_be_stored_is_named_with_its_place(prompt, shown):
    with pytest.raises(RecipeError) as caught:
        validate_request({**IMAGE, "prompt": prompt}, CATALOG)
    assert str(caught.value) == shown


def test_prompts_are_kept_in_the_normal_form_of_app_textrules():
    body = {**IMAGE, "prompt": "\u202ea fox\u200b\r\nin the sno\u0301w\x85", "negative_prompt":
            "\ufeffblur\u2066\x9b"}
    recipe = validate_request(body, CATALOG)
    assert (recipe.prompt, recipe.negative_prompt) == ("a fox\nin the snów", "blur")
    stored = {**with_chosen_seed(recipe).to_dict(), "prompt": "fox\u200d\u200b"}
    assert Recipe.from_dict(stored).prompt == "fox"


def test_the_prompt_limit_counts_the_normal_form():
    assert validate_request({**IMAGE, "prompt": "x" * 4000 + "\u200b" * 10}, CATALOG).prompt == \
        "x" * 4000
    with pytest.raises(RecipeError, match="prompt is 4001 characters; the limit is 4000"):
        validate_request({**IMAGE, "prompt": "e\u0301" * 4001}, CATALOG)


@pytest.mark.parametrize("body", [[1, 2], "text", None, 3])
def test_a_body_that_is_not_an_object_is_refused(body):
    with pytest.raises(RecipeError, match="JSON object"):
        validate_request(body, CATALOG)


def test_a_huge_bad_value_is_cut_short_in_the_message():
    with pytest.raises(RecipeError) as caught:
        validate_request({**IMAGE, "seed": "9" * 10_000}, CATALOG)
    assert len(str(caught.value)) < 200


def test_a_missing_seed_is_chosen_in_range_and_a_given_one_kept():
    recipe = validate_request(IMAGE, CATALOG)
    chosen = {with_chosen_seed(recipe).seed for _ in range(20)}
    assert all(0 <= seed <= 2**32 - 1 for seed in chosen) and len(chosen) > 1
    given = validate_request({**IMAGE, "seed": 7}, CATALOG)
    assert with_chosen_seed(given).seed == 7


def test_a_recipe_round_trips_through_its_dict():
    recipe = with_chosen_seed(validate_request({**IMAGE, "negative_prompt": "blur"}, CATALOG))
    assert Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe
    audio = with_chosen_seed(validate_request(AUDIO, CATALOG))
    assert "width" not in audio.to_dict() and Recipe.from_dict(audio.to_dict()) == audio


def test_an_effective_recipe_can_be_sent_back_as_a_request():
    recipe = with_chosen_seed(validate_request(IMAGE, CATALOG))
    assert validate_request(recipe.to_dict(), CATALOG) == recipe


def test_to_json_is_canonical_ascii():
    recipe = validate_request({**IMAGE, "prompt": "Füchse 🦊", "seed": 1}, CATALOG)
    text = recipe.to_json()
    assert text.isascii() and "\\u00fc" in text and '"kind":"image","model":"sketch"' in text
    assert list(json.loads(text)) == sorted(json.loads(text))
    assert json.loads(text)["prompt"] == "Füchse 🦊"


@pytest.mark.parametrize("missing", ["seed", "provider", "model", "kind", "prompt"])
def test_a_stored_recipe_needs_its_effective_fields(missing):
    stored = with_chosen_seed(validate_request(IMAGE, CATALOG)).to_dict()
    del stored[missing]
    with pytest.raises(RecipeError) as caught:
        Recipe.from_dict(stored)
    assert caught.value.field == missing


def test_a_stored_recipe_with_an_unknown_field_or_version_is_refused():
    stored = with_chosen_seed(validate_request(IMAGE, CATALOG)).to_dict()
    with pytest.raises(RecipeError, match="version"):
        Recipe.from_dict({**stored, "version": 99})
    with pytest.raises(RecipeError, match="cfg"):
        Recipe.from_dict({**stored, "cfg": 7})


def test_the_catalog_round_trips_and_shows_the_contract_fields():
    shown = CATALOG.to_dict()
    assert shown["default"] == "local"
    local = shown["providers"][0]
    assert {"name", "kinds", "deterministic", "models", "configured"} <= set(local)
    assert local["models"] == ["sketch", "voice"] and local["deterministic"] is True
    assert Catalog.from_dict(json.loads(json.dumps(shown))) == CATALOG


def test_the_module_imports_only_the_stdlib_and_app():
    tree = ast.parse(Path(recipe_module.__file__).read_text())
    names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    assert names - {"app", "__future__"} <= set(sys.stdlib_module_names)


# --- clips: made from a frame -------------------------------------------------------------------
CLIP_CATALOG = Catalog("local", (
    ProviderSpec("local", ("image", "clip"), True, {"image": ("sketch",), "clip": ("motion",)}),
    ProviderSpec("fal", ("clip",), False, {"clip": ("kling", "minimax")}),
))
FRAME_SHA = "ab" * 32
CLIP = {"kind": "clip", "prompt": "slow push-in", "width": 640, "height": 360,
        "input_sha256": FRAME_SHA}


def test_a_clip_request_gets_five_seconds_and_keeps_its_frame_and_size():
    recipe = validate_request(CLIP, CLIP_CATALOG)
    assert (recipe.kind, recipe.provider, recipe.model, recipe.seconds, recipe.width,
            recipe.height, recipe.input_sha256) == ("clip", "local", "motion", 5, 640, 360, FRAME_SHA)
    assert recipe.steps is None and recipe.negative_prompt is None and recipe.voice is None
    stored = with_chosen_seed(recipe)
    assert Recipe.from_dict(json.loads(stored.to_json())) == stored


@pytest.mark.parametrize("change, field", [
    ({"input_sha256": None}, "input_sha256"),
    ({"input_sha256": "AB" * 32}, "input_sha256"),
    ({"input_sha256": "ab" * 31}, "input_sha256"),
    ({"seconds": 0}, "seconds"),
    ({"seconds": 11}, "seconds"),
    ({"seconds": 2.5}, "seconds"),
    ({"width": None}, "width"),
    ({"voice": "narrator"}, "voice"),
    ({"steps": 20}, "steps"),
    ({"negative_prompt": "blur"}, "negative_prompt"),
    ({"provider": "fal", "model": "sora"}, "model"),
])
def test_each_clip_rule_names_its_field(change, field):
    body = {key: value for key, value in {**CLIP, **change}.items() if value is not None}
    with pytest.raises(RecipeError) as caught:
        validate_request(body, CLIP_CATALOG)
    assert caught.value.field == field


@pytest.mark.parametrize("body", [
    {**IMAGE, "seconds": 3}, {**IMAGE, "input_sha256": FRAME_SHA}, {**AUDIO, "seconds": 3},
    {**AUDIO, "width": 512},
])
def test_clip_fields_on_images_and_audio_are_refused_not_dropped(body):
    with pytest.raises(RecipeError, match="does not apply"):
        validate_request(body, CATALOG)


def test_a_provider_that_makes_no_clips_is_refused_for_a_clip():
    with pytest.raises(RecipeError, match="not made by provider 'remote'"):
        validate_request({**CLIP, "provider": "remote"}, Catalog("remote", CATALOG.providers))
