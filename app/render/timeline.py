"""The final video's timeline (pure): which scene shows when, how scenes cross-fade and pan,
where each narration starts, the size, rate and codecs of the video, and the render recipe
that lets a lost video be rendered again from its inputs' SHA-256s.

A scene lasts as long as its narration, or `default_scene_ms` when it has none. Crossfades are
centred on the boundaries between scenes, so the video lasts exactly the sum of the scene
durations and each narration starts when its scene does.

    settings = RenderSettings.for_aspect("16:9", 360)             # 640x360, 30 fps, crossfade
    plan = plan_render([SceneInput("s1", "ast_1", "ab" * 32, NarrationInput("ast_2", "cd" * 32, 3200)),
                        SceneInput("s2", "ast_3", "ef" * 32)], settings)
    plan.total_ms                       # 7200: 3200 of narration + the 4000 ms default
    plan.layers(plan.frame_count - 1)   # (Layer(scene=1, alpha=1.0, scale=..., ...),)
    RenderPlan.from_recipe(plan.to_recipe()) == plan                # True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

from app.core.errors import RecipeError

RECIPE_KIND = "render"
RECIPE_VERSION = 1
OUTPUT_TYPE = "video/webm"
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "21:9": (21, 9)}
PRESETS = (360, 720, 1080)  # the short side of the frame, in pixels
FRAME_RATES = (24, 25, 30)
TRANSITIONS = ("crossfade", "cut")
VIDEO_CODECS = ("vp9", "vp8")
AUDIO_CODECS = ("opus",)
AUDIO_SAMPLE_RATE = 48_000
AUDIO_BITRATE = 96_000
BITS_PER_PIXEL = 0.1  # per frame: about 0.7 Mbit/s at 640x360x30, 2.8 Mbit/s at 1280x720x30
PAN_ZOOM = 0.08  # how much a panning scene grows over its time on screen
MIN_SCENE_MS, MAX_SCENE_MS = 500, 600_000
MAX_TRANSITION_MS = 2_000
MAX_SCENES = 500
MAX_SIDE = 1920
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RenderSettings:
    """How the video is made. Invalid values raise RecipeError naming the field."""

    width: int
    height: int
    fps: int = 30
    transition: str = "crossfade"
    transition_ms: int = 600
    pan: bool = True
    default_scene_ms: int = 4000
    video_codec: str = "vp9"
    audio_codec: str = "opus"
    video_bitrate: int = 0  # 0: chosen from the frame size and rate
    audio_bitrate: int = AUDIO_BITRATE

    def __post_init__(self):
        for name, low, high in (("width", 16, MAX_SIDE), ("height", 16, MAX_SIDE),
                                ("transition_ms", 0, MAX_TRANSITION_MS),
                                ("default_scene_ms", MIN_SCENE_MS, MAX_SCENE_MS),
                                ("video_bitrate", 0, 50_000_000), ("audio_bitrate", 16_000, 512_000)):
            _check_int(getattr(self, name), f"settings.{name}", low, high)
        if self.width % 2 or self.height % 2:
            raise RecipeError(f"settings: the frame must have even sides, not {self.width}x{self.height}",
                              "settings.width")
        for name, allowed in (("fps", FRAME_RATES), ("transition", TRANSITIONS),
                              ("video_codec", VIDEO_CODECS), ("audio_codec", AUDIO_CODECS)):
            if getattr(self, name) not in allowed:
                raise RecipeError(f"settings.{name}: {getattr(self, name)!r} is not one of "
                                  f"{', '.join(map(str, allowed))}", f"settings.{name}")
        if type(self.pan) is not bool:
            raise RecipeError("settings.pan must be true or false", "settings.pan")
        if not self.video_bitrate:
            bits = self.width * self.height * self.fps * BITS_PER_PIXEL
            object.__setattr__(self, "video_bitrate", int(round(bits, -3)))

    @classmethod
    def for_aspect(cls, aspect_ratio: str, short_side: int = 360, **choices) -> RenderSettings:
        """Settings whose frame follows the project's aspect ratio at a preset size."""
        width, height = frame_size(aspect_ratio, short_side)
        return cls(width=width, height=height, **choices)

    def to_dict(self) -> dict:
        return {_camel(f.name): getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data) -> RenderSettings:
        if not isinstance(data, dict):
            raise RecipeError("settings must be an object", "settings")
        names = {_camel(f.name): f.name for f in fields(cls)}
        unknown = set(data) - set(names)
        if unknown:
            raise RecipeError(f"settings: unknown field(s) {', '.join(sorted(unknown))}", "settings")
        missing = {"width", "height"} - set(data)
        if missing:
            raise RecipeError(f"settings: {', '.join(sorted(missing))} missing", "settings")
        return cls(**{names[key]: value for key, value in data.items()})


def frame_size(aspect_ratio: str, short_side: int) -> tuple[int, int]:
    """(width, height) of a preset: its short side is `short_side`, the long side even."""
    if aspect_ratio not in ASPECTS:
        raise RecipeError(f"aspect ratio {aspect_ratio!r} is not one of {', '.join(ASPECTS)}",
                          "aspect_ratio")
    if short_side not in PRESETS:
        raise RecipeError(f"size: {short_side} is not one of {', '.join(map(str, PRESETS))}", "size")
    across, down = ASPECTS[aspect_ratio]
    long_side = round(short_side * max(across, down) / min(across, down) / 2) * 2
    return (long_side, short_side) if across >= down else (short_side, long_side)


@dataclass(frozen=True)
class NarrationInput:
    """A scene's narration: its asset, its bytes' SHA-256 and its decoded length."""

    asset_id: str
    sha256: str
    duration_ms: int


@dataclass(frozen=True)
class SceneInput:
    """One scene going into the video: its current frame image and optional narration."""

    scene_id: str
    image_asset_id: str
    image_sha256: str
    narration: NarrationInput | None = None


@dataclass(frozen=True)
class RenderScene:
    """A scene placed on the timeline."""

    scene_id: str
    image_asset_id: str
    image_sha256: str
    start_ms: int
    duration_ms: int
    narration: NarrationInput | None = None

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms


@dataclass(frozen=True)
class Layer:
    """One image drawn in a frame: which scene, how opaque, and its pan (scale >= 1; shifts
    are fractions of the frame, within the margin the scale leaves)."""

    scene: int
    alpha: float
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0


def plan_render(scenes: list[SceneInput], settings: RenderSettings) -> RenderPlan:
    """Lay the scenes end to end, each as long as its narration (or the default)."""
    if not scenes:
        raise RecipeError("A video needs at least one scene with a frame image", "scenes")
    placed, start = [], 0
    for scene in scenes:
        spoken = scene.narration.duration_ms if scene.narration else settings.default_scene_ms
        duration = min(MAX_SCENE_MS, max(MIN_SCENE_MS, int(spoken)))
        placed.append(RenderScene(scene.scene_id, scene.image_asset_id, scene.image_sha256,
                                  start, duration, scene.narration))
        start += duration
    return RenderPlan(settings, tuple(placed))


@dataclass(frozen=True)
class RenderPlan:
    """The timeline: settings plus scenes in order. Frames are numbered from 0."""

    settings: RenderSettings
    scenes: tuple[RenderScene, ...]

    def __post_init__(self):
        if not self.scenes or len(self.scenes) > MAX_SCENES:
            raise RecipeError(f"scenes: a video has 1 to {MAX_SCENES} scenes, not {len(self.scenes)}",
                              "scenes")
        expected = 0
        for number, scene in enumerate(self.scenes):
            field = f"scenes[{number}]"
            _check_int(scene.duration_ms, f"{field}.durationMs", MIN_SCENE_MS, MAX_SCENE_MS)
            if scene.start_ms != expected:
                raise RecipeError(f"{field}.startMs is {scene.start_ms}; scenes follow each other, "
                                  f"so it must be {expected}", f"{field}.startMs")
            _check_sha(scene.image_sha256, f"{field}.image.sha256")
            if scene.narration is not None:
                _check_sha(scene.narration.sha256, f"{field}.narration.sha256")
                _check_int(scene.narration.duration_ms, f"{field}.narration.durationMs", 1, MAX_SCENE_MS)
            expected = scene.end_ms

    @property
    def total_ms(self) -> int:
        return self.scenes[-1].end_ms

    @property
    def frame_count(self) -> int:
        return max(1, math.ceil(self.total_ms * self.settings.fps / 1000))

    @property
    def has_audio(self) -> bool:
        return any(scene.narration for scene in self.scenes)

    def frame_time_ms(self, frame: int) -> float:
        return frame * 1000 / self.settings.fps

    def audio_cues(self) -> tuple[tuple[str, int], ...]:
        """(narration SHA-256, start in ms) for every narrated scene, in order."""
        return tuple((s.narration.sha256, s.start_ms) for s in self.scenes if s.narration)

    def input_hashes(self) -> frozenset[str]:
        """Every SHA-256 the render reads."""
        return frozenset(s.image_sha256 for s in self.scenes) | {sha for sha, _ in self.audio_cues()}

    def transition_ms(self, boundary: int) -> int:
        """Length of the crossfade between scene `boundary - 1` and scene `boundary` (0: a cut)."""
        if self.settings.transition == "cut" or not 0 < boundary < len(self.scenes):
            return 0
        before, after = self.scenes[boundary - 1], self.scenes[boundary]
        return min(self.settings.transition_ms, before.duration_ms, after.duration_ms)

    def scene_at(self, time_ms: float) -> int:
        for index, scene in enumerate(self.scenes):
            if time_ms < scene.end_ms:
                return index
        return len(self.scenes) - 1

    def layers(self, frame: int) -> tuple[Layer, ...]:
        """What frame `frame` shows, bottom layer first: one scene, or two mid-crossfade."""
        time_ms = self.frame_time_ms(frame)
        index = self.scene_at(time_ms)
        scene = self.scenes[index]
        into_next = self.transition_ms(index + 1) / 2
        from_previous = self.transition_ms(index) / 2
        if into_next and time_ms >= scene.end_ms - into_next:
            pair, progress = (index, index + 1), (time_ms - scene.end_ms + into_next) / (2 * into_next)
        elif from_previous and time_ms < scene.start_ms + from_previous:
            pair = (index - 1, index)
            progress = (time_ms - scene.start_ms + from_previous) / (2 * from_previous)
        else:
            return (self._layer(index, 1.0, time_ms),)
        bottom, top = pair
        layers = [self._layer(bottom, 1.0, time_ms)]
        if progress > 0:
            layers.append(self._layer(top, round(min(1.0, progress), 4), time_ms))
        return tuple(layers)

    def _layer(self, index: int, alpha: float, time_ms: float) -> Layer:
        if not self.settings.pan:
            return Layer(index, alpha)
        scene = self.scenes[index]
        begin = scene.start_ms - self.transition_ms(index) / 2
        end = scene.end_ms + self.transition_ms(index + 1) / 2
        progress = min(1.0, max(0.0, (time_ms - begin) / (end - begin)))
        growth = progress if index % 2 == 0 else 1 - progress  # zoom in, then out, alternately
        scale = 1 + PAN_ZOOM * growth
        direction = 1 if index % 4 < 2 else -1
        shift_x = direction * (progress - 0.5) * (scale - 1)
        return Layer(index, alpha, round(scale, 5), round(shift_x, 5), 0.0)

    # --- the recipe ---------------------------------------------------------------------------
    def to_recipe(self) -> dict:
        """What the video was made from, as stored in the final asset's `recipe`."""
        return {"kind": RECIPE_KIND, "version": RECIPE_VERSION, "format": OUTPUT_TYPE,
                "settings": self.settings.to_dict(), "totalMs": self.total_ms,
                "scenes": [_scene_dict(s) for s in self.scenes]}

    @classmethod
    def from_recipe(cls, recipe) -> RenderPlan:
        """The plan a render recipe describes; a malformed recipe raises RecipeError."""
        if not is_render_recipe(recipe):
            raise RecipeError("This recipe does not describe a rendered video", "kind")
        if recipe.get("version") != RECIPE_VERSION:
            raise RecipeError(f"render recipe version {recipe.get('version')!r} is not supported "
                              f"(this app reads version {RECIPE_VERSION})", "version")
        if recipe.get("format") != OUTPUT_TYPE:
            raise RecipeError(f"format {recipe.get('format')!r} is not {OUTPUT_TYPE}", "format")
        items = recipe.get("scenes")
        if not isinstance(items, list):
            raise RecipeError("scenes must be a list", "scenes")
        plan = cls(RenderSettings.from_dict(recipe.get("settings")),
                   tuple(_scene_from(item, n) for n, item in enumerate(items)))
        if recipe.get("totalMs") != plan.total_ms:
            raise RecipeError(f"totalMs is {recipe.get('totalMs')!r} but the scenes add up to "
                              f"{plan.total_ms}", "totalMs")
        return plan


def is_render_recipe(recipe) -> bool:
    return isinstance(recipe, dict) and recipe.get("kind") == RECIPE_KIND


def _scene_dict(scene: RenderScene) -> dict:
    narration = scene.narration
    return {"sceneId": scene.scene_id,
            "image": {"assetId": scene.image_asset_id, "sha256": scene.image_sha256},
            "narration": None if narration is None else {
                "assetId": narration.asset_id, "sha256": narration.sha256,
                "durationMs": narration.duration_ms},
            "startMs": scene.start_ms, "durationMs": scene.duration_ms}


def _scene_from(item, number: int) -> RenderScene:
    field = f"scenes[{number}]"
    item = _object(item, field)
    image = _object(item.get("image"), f"{field}.image")
    narration = item.get("narration")
    if narration is not None:
        narration = _object(narration, f"{field}.narration")
        narration = NarrationInput(_text(narration, "assetId", f"{field}.narration"),
                                   _text(narration, "sha256", f"{field}.narration"),
                                   narration.get("durationMs"))
    return RenderScene(_text(item, "sceneId", field), _text(image, "assetId", f"{field}.image"),
                       _text(image, "sha256", f"{field}.image"), item.get("startMs"),
                       item.get("durationMs"), narration)


def _object(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise RecipeError(f"{field} must be an object", field)
    return value


def _text(data: dict, key: str, field: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise RecipeError(f"{field}.{key} must be a non-empty string", f"{field}.{key}")
    return value


def _check_int(value, field: str, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise RecipeError(f"{field} must be a whole number from {low} to {high}, not {value!r}", field)


def _check_sha(value, field: str) -> None:
    if not isinstance(value, str) or not SHA256.fullmatch(value):
        raise RecipeError(f"{field} must be 64 lowercase hex digits", field)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
