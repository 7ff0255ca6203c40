"""app/render/motion.py: the seed picks the move and its direction, moves ease in and out within
the frame's overscan, and only a local clip recipe becomes a plan."""

import pytest

from app.core.errors import RecipeError
from app.core.recipe import is_local_clip
from app.render.motion import MOTIONS, MotionPlan

FRAME = "cd" * 32


def recipe(seed: int, seconds: int = 4, **changes) -> dict:
    return {"kind": "clip", "prompt": "slow move", "provider": "local", "model": "motion",
            "seed": seed, "seconds": seconds, "width": 640, "height": 360,
            "input_sha256": FRAME, "version": 1, **changes}


def test_the_seed_picks_each_move_in_both_directions():
    seen = {(MotionPlan.from_recipe(recipe(seed)).motion, MotionPlan.from_recipe(recipe(seed)).reversed)
            for seed in range(6)}
    assert seen == {(m, r) for m in MOTIONS for r in (False, True)}


def test_a_plan_has_the_recipe_size_length_and_frame():
    plan = MotionPlan.from_recipe(recipe(0, seconds=3))
    assert (plan.width, plan.height, plan.frame_count, plan.input_sha256) == (640, 360, 90, FRAME)
    settings = plan.settings
    assert (settings.width, settings.height, settings.fps, settings.pan) == (640, 360, 30, False)


@pytest.mark.parametrize("seed", range(6))
def test_moves_start_and_end_at_rest_and_never_show_an_edge(seed):
    plan = MotionPlan.from_recipe(recipe(seed))
    frames = [plan.layers(i) for i in range(plan.frame_count)]
    for image, alpha, scale, shift_x, shift_y in frames:
        assert (image, alpha) == (0, 1.0)
        # the picture covers the frame: its overscan on each side exceeds the shift
        assert (scale - 1) / 2 >= abs(shift_x) - 1e-9 and (scale - 1) / 2 >= abs(shift_y) - 1e-9
    first_step = [abs(a - b) for a, b in zip(frames[0], frames[1])]
    middle_step = [abs(a - b) for a, b in zip(frames[60], frames[61])]
    assert max(first_step) < max(middle_step)  # eased: slow at the start, faster in the middle
    assert frames[0] != frames[-1]


def test_reversing_swaps_the_first_and_last_frame():
    forward, backward = MotionPlan.from_recipe(recipe(0)), MotionPlan.from_recipe(recipe(3))
    assert (forward.motion, backward.motion) == ("push-in", "push-in")
    assert forward.layers(0) == backward.layers(backward.frame_count - 1)
    assert backward.describe() == "pull-out, 4 s, 640×360"


def test_frames_outside_the_clip_are_refused():
    plan = MotionPlan.from_recipe(recipe(1, seconds=1))
    with pytest.raises(IndexError):
        plan.layers(30)


@pytest.mark.parametrize("change", [{"provider": "fal"}, {"model": "kling"}, {"kind": "image"}])
def test_only_a_local_clip_recipe_is_a_plan(change):
    body = recipe(1, **change)
    assert not is_local_clip(body)
    with pytest.raises(RecipeError):
        MotionPlan.from_recipe(body)


def test_a_damaged_recipe_names_its_field():
    with pytest.raises(RecipeError) as caught:
        MotionPlan.from_recipe(recipe(1, input_sha256="nope"))
    assert caught.value.field == "input_sha256"
