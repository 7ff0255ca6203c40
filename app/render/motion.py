"""The local motion clip (pure): how a scene's still frame becomes a short moving clip in the
page, with no provider and no key. The seed picks the camera move and its direction, so one
recipe always describes the same clip:

- "push-in": the camera moves in (or, reversed, pulls out) by 15%;
- "pan": the frame, 12% larger than the picture, slides across by 10% of its width;
- "drift": a slow diagonal drift while the frame grows by 6% (a parallax-like float).

Moves ease in and out (smoothstep), so the clip starts and ends at rest. app/render/encoder.py
hands each frame's layer (scene, alpha, scale, shift x, shift y) to the final video's render
Worker (static/js/render/worker.mjs), which draws and encodes VP9 WebM off the main thread.

    plan = MotionPlan.from_recipe({"kind": "clip", "provider": "local", "model": "motion",
                                   "seed": 3, "seconds": 4, "width": 640, "height": 360, ...})
    plan.motion, plan.reversed, plan.frame_count      # ('push-in', True, 120)
    plan.layers(0)                                    # (0, 1.0, 1.15, 0.0, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import RecipeError
from app.core.recipe import LOCAL_CLIP_MODEL as MOTION_MODEL
from app.core.recipe import LOCAL_CLIP_PROVIDER as LOCAL_PROVIDER
from app.core.recipe import Recipe, is_local_clip
from app.render.timeline import OUTPUT_TYPE, RenderSettings

MOTIONS = ("push-in", "pan", "drift")
FPS = 30
# (scale, shift x, shift y) at the start and at the end of each move, before reversing.
MOVES = {
    "push-in": ((1.0, 0.0, 0.0), (1.15, 0.0, 0.0)),
    "pan": ((1.12, -0.05, 0.0), (1.12, 0.05, 0.0)),
    "drift": ((1.08, -0.03, 0.02), (1.14, 0.03, -0.02)),
}

__all__ = ["LOCAL_PROVIDER", "MOTION_MODEL", "MOTIONS", "OUTPUT_TYPE", "MotionPlan", "is_local_clip"]


@dataclass(frozen=True)
class MotionPlan:
    """The frames of one motion clip: its size, length, move and direction."""

    width: int
    height: int
    seconds: int
    motion: str
    reversed: bool
    input_sha256: str

    @classmethod
    def from_recipe(cls, recipe: dict | Recipe) -> MotionPlan:
        """The plan a local clip recipe describes; RecipeError when it is not one."""
        checked = recipe if isinstance(recipe, Recipe) else Recipe.from_dict(recipe)
        if not is_local_clip(checked.to_dict()):
            raise RecipeError("this recipe is not a local motion clip (kind clip, provider local, "
                              "model motion)", "provider")
        seed = checked.seed or 0
        return cls(width=checked.width, height=checked.height, seconds=checked.seconds,
                   motion=MOTIONS[seed % len(MOTIONS)], reversed=bool((seed // len(MOTIONS)) % 2),
                   input_sha256=checked.input_sha256)

    @property
    def frame_count(self) -> int:
        return self.seconds * FPS

    @property
    def settings(self) -> RenderSettings:
        """The encoder settings: the clip's size at 30 fps, VP9, no transition, no pan of its own."""
        return RenderSettings(width=self.width, height=self.height, fps=FPS, transition="cut",
                              transition_ms=0, pan=False)

    def layers(self, frame: int) -> tuple[float, ...]:
        """The one layer of frame `frame`: (image 0, alpha 1, scale, shift x, shift y)."""
        if not 0 <= frame < self.frame_count:
            raise IndexError(f"frame {frame} is outside 0..{self.frame_count - 1}")
        start, end = MOVES[self.motion]
        if self.reversed:
            start, end = end, start
        t = frame / max(1, self.frame_count - 1)
        eased = t * t * (3 - 2 * t)
        scale, shift_x, shift_y = (a + (b - a) * eased for a, b in zip(start, end))
        return (0, 1.0, round(scale, 6), round(shift_x, 6), round(shift_y, 6))

    def describe(self) -> str:
        """For people: "push-in, 5 s, 640×360" (or "pull-out" when a push-in is reversed)."""
        name = "pull-out" if self.motion == "push-in" and self.reversed else self.motion
        return f"{name}, {self.seconds} s, {self.width}×{self.height}"
