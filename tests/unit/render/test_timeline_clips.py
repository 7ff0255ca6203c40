"""app/render/timeline.py under CPython, for scenes with clips: scene length (the longer of the
narration and the clip), clip layers (fitted, not panned, held on the last frame), the frame
table the render worker reads, the clip's own sound (ducked under narration), what the panel
says per scene, and render recipes of version 2 (clip SHA-256s) beside version 1."""

import copy

import pytest

from app.core.errors import RecipeError
from app.render.timeline import (CLIP_LEVEL, DUCK_RAMP_MS, DUCKED_LEVEL, FRAME_LAYERS, LAYER_FIELDS,
                                 ClipInput, ClipSound, NarrationInput, RenderPlan, RenderSettings,
                                 SceneInput, describe_scene, plan_render, scene_duration_ms)

SHA = {name: name * 64 for name in "abcdef0123"}


def settings(**choices):
    return RenderSettings.for_aspect("16:9", 360, **choices)


def scene(n, image=True, narration_ms=None, clip_ms=None):
    return SceneInput(f"s{n}", f"ast_i{n}" if image else None, SHA["abc"[n]] if image else None,
                      None if narration_ms is None else NarrationInput(f"ast_n{n}", SHA["def"[n]], narration_ms),
                      None if clip_ms is None else ClipInput(f"ast_c{n}", SHA["012"[n]], clip_ms))


@pytest.mark.parametrize(("narration", "clip", "expected"), [
    (None, None, 4000), (3200, None, 3200), (None, 2000, 2000), (1500, 2600, 2600),
    (2600, 1500, 2600), (None, 100, 500), (None, 10_000_000, 600_000),
])
def test_a_scene_lasts_the_longer_of_its_narration_and_its_clip(narration, clip, expected):
    voice = narration and NarrationInput("n", SHA["d"], narration)
    movie = clip and ClipInput("c", SHA["0"], clip)
    assert scene_duration_ms(voice, movie, 4000) == expected


def test_a_clip_scene_shows_the_clip_fitted_and_held_on_its_last_frame():
    plan = plan_render([scene(0), scene(1, narration_ms=3000, clip_ms=2000), scene(2)],
                       settings(transition="cut"))
    assert [s.duration_ms for s in plan.scenes] == [4000, 3000, 4000]
    first_of_clip = plan.layers(120)  # 4.0 s: the clip scene's first frame
    assert first_of_clip == (plan.layers(120)[0],) and first_of_clip[0].scene == 1
    assert first_of_clip[0].clip_ms == 0 and first_of_clip[0].scale == 1.0
    assert first_of_clip[0].shift_x == 0.0  # no pan on a clip: nothing is cropped
    assert plan.layers(150)[0].clip_ms == 1000  # 5.0 s: one second into the clip
    assert plan.layers(209)[0].clip_ms == 1999  # 6.97 s: past the clip's end, held on its end
    assert plan.layers(60)[0].clip_ms == -1 and plan.layers(60)[0].scale > 1  # the frame pans


def test_a_crossfade_into_a_clip_starts_it_at_its_first_frame():
    plan = plan_render([scene(0), scene(1, clip_ms=2000)], settings(transition_ms=600))
    mid = plan.layers(115)  # 3.83 s: inside the 600 ms crossfade centred on 4.0 s
    assert [layer.scene for layer in mid] == [0, 1]
    assert mid[1].clip_ms == 0 and 0 < mid[1].alpha < 1


def test_the_frame_table_has_two_layers_of_six_numbers_per_frame():
    plan = plan_render([scene(0), scene(1, clip_ms=2000)], settings())
    table = plan.frame_table(0, plan.frame_count)
    assert len(table) == plan.frame_count * FRAME_LAYERS * LAYER_FIELDS
    for frame in (0, 60, 115, plan.frame_count - 1):
        row = table[frame * 12:(frame + 1) * 12]
        layers = plan.layers(frame)
        for n, layer in enumerate(layers):
            assert row[n * 6:(n + 1) * 6] == [layer.scene, layer.alpha, layer.scale, layer.shift_x,
                                              layer.shift_y, layer.clip_ms]
        if len(layers) == 1:
            assert row[6] == -1  # the unused layer
    assert plan.frame_table(10, 12) == table[10 * 12:12 * 12]


def test_a_scene_with_a_clip_and_no_frame_image_is_planned():
    plan = plan_render([scene(0, image=False, clip_ms=1500)], settings())
    assert plan.scenes[0].image_sha256 is None and plan.total_ms == 1500
    assert plan.input_hashes() == {SHA["0"]}
    assert plan.has_audio  # the clip may bring its own sound


def test_a_scene_with_neither_a_frame_nor_a_clip_is_refused():
    with pytest.raises(RecipeError) as caught:
        plan_render([scene(0), scene(1, image=False)], settings())
    assert caught.value.field == "scenes[1].image.sha256"


def test_the_clips_own_sound_is_ducked_while_the_narration_plays():
    plan = plan_render([scene(0, narration_ms=1000, clip_ms=3000), scene(1, clip_ms=2000),
                        scene(2, narration_ms=2500, clip_ms=2000)], settings())
    first, second, third = plan.clip_sounds()
    assert first == ClipSound(0, SHA["0"], 0, 3000, ((0, DUCKED_LEVEL), (1000, DUCKED_LEVEL),
                                                     (1000 + DUCK_RAMP_MS, CLIP_LEVEL)))
    assert second == ClipSound(1, SHA["1"], 3000, 5000, ((0, CLIP_LEVEL),))
    # narration longer than the clip: ducked for the whole clip, never back up
    assert third.envelope == ((0, DUCKED_LEVEL), (2000, DUCKED_LEVEL)) and third.end_ms == 7000
    assert plan.audio_cues() == ((SHA["d"], 0), (SHA["f"], 5000))


def test_audio_lasts_exactly_as_long_as_the_frames():
    plan = plan_render([scene(0, narration_ms=1234)], settings())
    assert plan.frame_count == 38 and plan.audio_ms == pytest.approx(38 * 1000 / 30)


def test_missing_inputs_are_named_by_scene_and_kind():
    plan = plan_render([scene(0, narration_ms=1000), scene(1, image=False, clip_ms=1000)], settings())
    assert plan.scene_inputs_missing({SHA["a"], SHA["d"], SHA["1"]}) == []
    assert plan.scene_inputs_missing({SHA["a"]}) == ["scene 1's narration", "scene 2's clip"]


def test_the_panel_summary_says_what_each_scene_uses_and_for_how_long():
    plan = plan_render([scene(0), scene(1, narration_ms=3100, clip_ms=2000),
                        scene(2, image=False, clip_ms=2500)], settings(default_scene_ms=1500))
    assert [describe_scene(s, n) for n, s in enumerate(plan.scenes, 1)] == [
        "Scene 1: frame image, silence: 1.5 s",
        "Scene 2: clip (2.0 s, held to 3.1 s), narration (3.1 s) over the clip's own sound: 3.1 s",
        "Scene 3: clip (2.5 s), silence (or the clip's own sound): 2.5 s"]


def test_a_recipe_records_each_clip_and_reads_back_the_same_plan():
    plan = plan_render([scene(0), scene(1, image=False, narration_ms=900, clip_ms=2000)], settings())
    recipe = plan.to_recipe()
    assert recipe["version"] == 2
    assert recipe["scenes"][1]["clip"] == {"assetId": "ast_c1", "sha256": SHA["1"], "durationMs": 2000}
    assert recipe["scenes"][1]["image"] is None and recipe["scenes"][0]["clip"] is None
    assert RenderPlan.from_recipe(copy.deepcopy(recipe)) == plan


def test_a_version_1_recipe_is_still_read():
    plan = plan_render([scene(0, narration_ms=1200), scene(1)], settings())
    old = plan.to_recipe()
    old["version"] = 1
    for item in old["scenes"]:
        del item["clip"]
    assert RenderPlan.from_recipe(old) == plan


def test_a_version_1_recipe_cannot_smuggle_a_clip_or_drop_its_image():
    plan = plan_render([scene(0)], settings())
    old = plan.to_recipe() | {"version": 1}
    old["scenes"][0]["clip"] = {"assetId": "c", "sha256": SHA["0"], "durationMs": 900}
    assert RenderPlan.from_recipe(old).scenes[0].clip is None  # version 1 knows no clips
    old["scenes"][0]["image"] = None
    with pytest.raises(RecipeError) as caught:
        RenderPlan.from_recipe(old)
    assert caught.value.field == "scenes[0].image"


def test_a_recipe_clip_with_a_bad_length_is_refused():
    plan = plan_render([scene(0, clip_ms=1000)], settings())
    recipe = plan.to_recipe()
    recipe["scenes"][0]["clip"]["durationMs"] = 0
    with pytest.raises(RecipeError) as caught:
        RenderPlan.from_recipe(recipe)
    assert caught.value.field == "scenes[0].clip.durationMs"


@pytest.mark.parametrize("transition", ["crossfade", "cut"])
def test_the_frame_table_matches_layers_for_every_frame(transition):
    plan = plan_render([scene(0, narration_ms=1700), scene(1, clip_ms=900), scene(2),
                        scene(0, narration_ms=600, clip_ms=1200), scene(1)],
                       settings(transition=transition, default_scene_ms=800))
    table = plan.frame_table(0, plan.frame_count)
    for frame in range(plan.frame_count):
        expected = [n for layer in plan.layers(frame) for n in (
            layer.scene, layer.alpha, layer.scale, layer.shift_x, layer.shift_y, layer.clip_ms)]
        row = table[frame * 12:(frame + 1) * 12]
        assert row[:len(expected)] == expected, frame
        assert all(n == -1 for n in row[len(expected)::6]), frame  # unused layers
    for start in (0, 7, 50):  # any slice starts where the whole table does
        assert plan.frame_table(start, start + 9) == table[start * 12:(start + 9) * 12]
