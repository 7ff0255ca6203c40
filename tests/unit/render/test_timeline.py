"""app/render/timeline.py under CPython: scene timing, crossfades, pans, frame sizes and the render recipe."""

import copy

import pytest

from app.core.errors import RecipeError
from app.render.timeline import (PAN_ZOOM, Layer, NarrationInput, RenderPlan, RenderSettings, SceneInput,
                          frame_size, is_render_recipe, plan_render)

SHA = {name: name * 64 for name in "abcdef"}


def scenes(*narration_ms):
    """One scene per entry: an int gives it a narration of that length, None none."""
    made = []
    for n, length in enumerate(narration_ms):
        narration = None if length is None else NarrationInput(f"ast_n{n}", SHA["abcdef"[n + 3]], length)
        made.append(SceneInput(f"s{n}", f"ast_i{n}", SHA["abcdef"[n]], narration))
    return made


def settings(**choices):
    return RenderSettings.for_aspect("16:9", 360, **choices)


@pytest.mark.parametrize(("aspect", "short", "size"), [
    ("16:9", 360, (640, 360)), ("16:9", 720, (1280, 720)), ("16:9", 1080, (1920, 1080)),
    ("9:16", 360, (360, 640)), ("9:16", 720, (720, 1280)), ("1:1", 720, (720, 720)),
    ("4:3", 360, (480, 360)), ("21:9", 360, (840, 360)), ("21:9", 720, (1680, 720)),
])
def test_frame_size_follows_the_aspect_ratio(aspect, short, size):
    assert frame_size(aspect, short) == size


@pytest.mark.parametrize(("aspect", "short", "field"), [("5:4", 360, "aspect_ratio"), ("16:9", 480, "size")])
def test_unknown_aspects_and_presets_are_refused(aspect, short, field):
    with pytest.raises(RecipeError) as caught:
        frame_size(aspect, short)
    assert caught.value.field == field


def test_scenes_last_as_long_as_their_narration_or_the_default():
    plan = plan_render(scenes(3200, None, 2500), settings(default_scene_ms=4000))
    assert [(s.start_ms, s.duration_ms) for s in plan.scenes] == [(0, 3200), (3200, 4000), (7200, 2500)]
    assert plan.total_ms == 9700
    assert plan.frame_count == 291  # 9.7 s at 30 fps
    assert plan.audio_cues() == ((SHA["d"], 0), (SHA["f"], 7200))
    assert plan.has_audio
    assert plan.input_hashes() == {SHA["a"], SHA["b"], SHA["c"], SHA["d"], SHA["f"]}


def test_a_silent_project_has_no_audio():
    plan = plan_render(scenes(None, None), settings())
    assert not plan.has_audio and plan.audio_cues() == ()


def test_a_very_short_narration_still_gets_a_minimum_scene():
    assert plan_render(scenes(40), settings()).total_ms == 500


def test_an_empty_project_cannot_be_rendered():
    with pytest.raises(RecipeError, match="at least one scene"):
        plan_render([], settings())


def test_a_crossfade_is_centred_on_the_boundary():
    plan = plan_render(scenes(2000, 2000), settings(transition_ms=600, pan=False))
    frame = lambda ms: round(ms * 30 / 1000)  # noqa: E731
    assert plan.layers(frame(1000)) == (Layer(0, 1.0),)
    assert plan.layers(frame(1700)) == (Layer(0, 1.0),)           # fade starts at 1700
    assert plan.layers(frame(2000)) == (Layer(0, 1.0), Layer(1, 0.5))
    mid = plan.layers(frame(1900))
    assert [layer.scene for layer in mid] == [0, 1] and 0.3 < mid[1].alpha < 0.4
    assert plan.layers(frame(2300)) == (Layer(1, 1.0),)           # and ends at 2300
    assert plan.layers(plan.frame_count - 1) == (Layer(1, 1.0),)


def test_the_crossfade_alpha_rises_steadily_through_the_fade():
    plan = plan_render(scenes(2000, 2000), settings(transition_ms=1000, pan=False))
    alphas = [plan.layers(f)[-1].alpha for f in range(45, 75)]  # 1500..2500 ms
    top_scenes = [plan.layers(f)[-1].scene for f in range(45, 75)]
    assert all(scene == 1 for scene in top_scenes[1:])
    assert alphas[1:] == sorted(alphas[1:]) and alphas[-1] > 0.9


def test_a_cut_shows_one_scene_at_a_time():
    plan = plan_render(scenes(1000, 1000, 1000), settings(transition="cut", pan=False))
    shown = [plan.layers(f) for f in range(plan.frame_count)]
    assert all(len(layers) == 1 for layers in shown)
    assert [layers[0].scene for layers in shown] == [0] * 30 + [1] * 30 + [2] * 30


def test_a_crossfade_is_never_longer_than_the_scenes_it_joins():
    plan = plan_render(scenes(600, 4000), settings(transition_ms=2000))
    assert plan.transition_ms(1) == 600
    assert plan.transition_ms(0) == 0 and plan.transition_ms(2) == 0


def test_panning_grows_and_drifts_within_the_margin():
    plan = plan_render(scenes(3000, 3000), settings(pan=True))
    first = [plan.layers(f)[0] for f in range(0, 40)]
    assert first[0].scale < first[-1].scale <= 1 + PAN_ZOOM
    assert all(abs(layer.shift_x) <= (layer.scale - 1) / 2 + 1e-9 for layer in first)
    assert first[0].shift_x != first[-1].shift_x
    second = plan.layers(plan.frame_count - 1)[0]
    assert second.scene == 1 and second.scale < 1 + PAN_ZOOM / 2  # the next scene zooms out


def test_without_pan_every_layer_is_still():
    plan = plan_render(scenes(3000), settings(pan=False))
    assert {plan.layers(f)[0] for f in range(plan.frame_count)} == {Layer(0, 1.0)}


def test_the_recipe_round_trips_and_says_what_went_in():
    plan = plan_render(scenes(3200, None, 2500), settings())
    recipe = plan.to_recipe()
    assert is_render_recipe(recipe) and recipe["format"] == "video/webm"
    assert recipe["settings"]["width"] == 640 and recipe["settings"]["videoBitrate"] > 0
    assert [s["image"]["sha256"] for s in recipe["scenes"]] == [SHA["a"], SHA["b"], SHA["c"]]
    assert recipe["scenes"][1]["narration"] is None
    assert recipe["scenes"][2]["narration"] == {"assetId": "ast_n2", "sha256": SHA["f"], "durationMs": 2500}
    assert RenderPlan.from_recipe(recipe) == plan
    assert RenderPlan.from_recipe(copy.deepcopy(recipe)).to_recipe() == recipe


def break_recipe(change):
    recipe = plan_render(scenes(3200, None), settings()).to_recipe()
    change(recipe)
    return recipe


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: r.update(kind="image"), "kind"),
    (lambda r: r.update(version=3), "version"),
    (lambda r: r.update(version=True), "version"),
    (lambda r: r["scenes"][0].update(clip={"assetId": "a", "sha256": "x"}), "scenes[0].clip.sha256"),
    (lambda r: r.update(format="video/mp4"), "format"),
    (lambda r: r.update(scenes="all"), "scenes"),
    (lambda r: r.update(scenes=[]), "scenes"),
    (lambda r: r.update(totalMs=1), "totalMs"),
    (lambda r: r["settings"].update(width=641), "settings.width"),
    (lambda r: r["settings"].update(fps=60), "settings.fps"),
    (lambda r: r["settings"].update(pan="yes"), "settings.pan"),
    (lambda r: r["settings"].update(videoCodec="h264"), "settings.video_codec"),
    (lambda r: r["settings"].update(colour="red"), "settings"),
    (lambda r: r["settings"].pop("height"), "settings"),
    (lambda r: r.update(settings=[1]), "settings"),
    (lambda r: r["scenes"][1].update(startMs=0), "scenes[1].startMs"),
    (lambda r: r["scenes"][0].update(durationMs="3200"), "scenes[0].durationMs"),
    (lambda r: r["scenes"][0]["image"].update(sha256="ABC"), "scenes[0].image.sha256"),
    (lambda r: r["scenes"][0].update(image=None), "scenes[0].image"),
    (lambda r: r["scenes"][0]["narration"].update(durationMs=-5), "scenes[0].narration.durationMs"),
    (lambda r: r["scenes"][0].update(sceneId=""), "scenes[0].sceneId"),
])
def test_a_malformed_recipe_names_its_bad_field(change, field):
    with pytest.raises(RecipeError) as caught:
        RenderPlan.from_recipe(break_recipe(change))
    assert caught.value.field == field


def test_generation_recipes_are_not_render_recipes():
    assert not is_render_recipe({"kind": "image", "prompt": "x"})
    assert not is_render_recipe(None)
