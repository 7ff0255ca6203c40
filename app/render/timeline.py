"""The final video's timeline (pure): which scene shows when, and whether it shows its clip or
its frame image; how scenes cross-fade and pan; where each narration starts and how loud each
clip's own sound plays under it; the size, rate and codecs of the video; the per-frame layer
table the render worker draws (`frame_table`); and the render recipe that lets a lost video be
rendered again from its inputs' SHA-256s.

A scene lasts as long as the longer of its narration and its clip, or `default_scene_ms` when
it has neither. A scene with a clip shows the clip, fitted into the frame with letterboxing (no
pan, no crop), from its first frame, held on its last frame when the scene is longer. Its own
sound plays at CLIP_LEVEL, ducked to DUCKED_LEVEL while the scene's narration plays.
Crossfades are centred on the boundaries between scenes, so the video lasts exactly the sum of
the scene durations and each narration starts when its scene does.

    settings = RenderSettings.for_aspect("16:9", 360)             # 640x360, 30 fps, crossfade
    plan = plan_render([SceneInput("s1", "ast_1", "ab" * 32, NarrationInput("ast_2", "cd" * 32, 3200)),
                        SceneInput("s2", "ast_3", "ef" * 32)], settings)
    plan.total_ms                       # 7200: 3200 of narration + the 4000 ms default
    plan.layers(plan.frame_count - 1)   # (Layer(scene=1, alpha=1.0, scale=..., ...),)
    RenderPlan.from_recipe(plan.to_recipe()) == plan                # True
    clip = SceneInput("s3", None, None, clip=ClipInput("ast_4", "01" * 32, 2000))
    describe_scene(plan_render([clip], settings).scenes[0], 3)  # 'Scene 3: clip (2.0 s), silence: 2.0 s'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from functools import cached_property

from app.core.errors import RecipeError

RECIPE_KIND = "render"
RECIPE_VERSION = 2  # 2: scenes may show a clip (`clip`), and then `image` may be null
READ_VERSIONS = (1, 2)
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
CLIP_LEVEL = 0.5      # a clip's own sound under no narration (gain)
DUCKED_LEVEL = 0.15   # ... while its scene's narration plays
DUCK_RAMP_MS = 200    # how long the clip's sound takes to come back up after the narration
LAYER_FIELDS = 6      # per layer in `frame_table`: scene, alpha, scale, shift x, shift y, clip ms
FRAME_LAYERS = 2      # at most two layers per frame (mid-crossfade); an unused one has scene -1


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
class ClipInput:
    """A scene's clip: its asset, its bytes' SHA-256 and its length (as the vault measured it)."""

    asset_id: str
    sha256: str
    duration_ms: int


@dataclass(frozen=True)
class SceneInput:
    """One scene going into the video: its current frame image (None when a clip stands in
    for it), optional narration and optional clip."""

    scene_id: str
    image_asset_id: str | None
    image_sha256: str | None
    narration: NarrationInput | None = None
    clip: ClipInput | None = None


def scene_duration_ms(narration: NarrationInput | None, clip: ClipInput | None,
                      default_scene_ms: int) -> int:
    """How long a scene is on screen: the longer of its narration and its clip, else the
    default; always within MIN_SCENE_MS..MAX_SCENE_MS."""
    spoken = [int(item.duration_ms) for item in (narration, clip) if item is not None]
    return min(MAX_SCENE_MS, max(MIN_SCENE_MS, max(spoken) if spoken else default_scene_ms))


@dataclass(frozen=True)
class RenderScene:
    """A scene placed on the timeline."""

    scene_id: str
    image_asset_id: str
    image_sha256: str
    start_ms: int
    duration_ms: int
    narration: NarrationInput | None = None
    clip: ClipInput | None = None

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms


@dataclass(frozen=True)
class ClipSound:
    """A clip's own sound in the mix: scene `scene` (0-based), from `start_ms` to `end_ms` of
    the video, with its gain over time as (ms from `start_ms`, gain) points joined linearly."""

    scene: int
    sha256: str
    start_ms: int
    end_ms: int
    envelope: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class Layer:
    """One image drawn in a frame: which scene, how opaque, and its pan (scale >= 1; shifts
    are fractions of the frame, within the margin the scale leaves)."""

    scene: int
    alpha: float
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    clip_ms: float = -1.0  # a clip layer: the time into the scene's clip; -1: the frame image


def plan_render(scenes: list[SceneInput], settings: RenderSettings) -> RenderPlan:
    """Lay the scenes end to end, each as long as the longer of its narration and its clip
    (or the default)."""
    if not scenes:
        raise RecipeError("A video needs at least one scene with a frame image or a clip", "scenes")
    placed, start = [], 0
    for scene in scenes:
        duration = scene_duration_ms(scene.narration, scene.clip, settings.default_scene_ms)
        placed.append(RenderScene(scene.scene_id, scene.image_asset_id, scene.image_sha256,
                                  start, duration, scene.narration, scene.clip))
        start += duration
    return RenderPlan(settings, tuple(placed))


def describe_scene(scene: RenderScene, number: int) -> str:
    """What a scene will use, for people, before rendering: "Scene 2: clip (2.0 s, held to
    3.1 s), narration (3.1 s): 3.1 s" or "Scene 1: frame image, silence: 4.0 s"."""
    seconds = scene.duration_ms / 1000
    if scene.clip is not None:
        clip_s = scene.clip.duration_ms / 1000
        held = f", held to {seconds:.1f} s" if scene.clip.duration_ms < scene.duration_ms else ""
        visual = f"clip ({clip_s:.1f} s{held})"
    else:
        visual = "frame image"
    sound = (f"narration ({scene.narration.duration_ms / 1000:.1f} s)" if scene.narration
             else "silence")
    if scene.clip is not None:
        sound += " over the clip's own sound" if scene.narration else " (or the clip's own sound)"
    return f"Scene {number}: {visual}, {sound}: {seconds:.1f} s"


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
            if scene.image_sha256 is not None or scene.clip is None:
                _check_sha(scene.image_sha256, f"{field}.image.sha256")
            if scene.clip is not None:
                _check_sha(scene.clip.sha256, f"{field}.clip.sha256")
                _check_int(scene.clip.duration_ms, f"{field}.clip.durationMs", 1, MAX_SCENE_MS)
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
        """Whether the video may have sound: narration, or a clip (whose own sound, if it has
        any, the render finds out)."""
        return any(scene.narration or scene.clip for scene in self.scenes)

    @property
    def has_clips(self) -> bool:
        return any(scene.clip for scene in self.scenes)

    @property
    def audio_ms(self) -> float:
        """The length of the sound track: exactly as long as the frames, so both end together."""
        return self.frame_count * 1000 / self.settings.fps

    def frame_time_ms(self, frame: int) -> float:
        return frame * 1000 / self.settings.fps

    def audio_cues(self) -> tuple[tuple[str, int], ...]:
        """(narration SHA-256, start in ms) for every narrated scene, in order."""
        return tuple((s.narration.sha256, s.start_ms) for s in self.scenes if s.narration)

    def clip_sounds(self) -> tuple[ClipSound, ...]:
        """Every clip's own sound: from its scene's start for the clip's length (never past the
        scene), at CLIP_LEVEL, ducked to DUCKED_LEVEL while the scene's narration plays."""
        sounds = []
        for index, scene in enumerate(self.scenes):
            if scene.clip is None:
                continue
            length = min(scene.clip.duration_ms, scene.duration_ms)
            if scene.narration is None:
                envelope = ((0, CLIP_LEVEL),)
            else:
                spoken = min(scene.narration.duration_ms, length)
                envelope = ((0, DUCKED_LEVEL), (spoken, DUCKED_LEVEL))
                if spoken < length:
                    envelope += ((min(length, spoken + DUCK_RAMP_MS), CLIP_LEVEL),)
            sounds.append(ClipSound(index, scene.clip.sha256, scene.start_ms,
                                    scene.start_ms + length, envelope))
        return tuple(sounds)

    def input_hashes(self) -> frozenset[str]:
        """Every SHA-256 the render reads."""
        return (frozenset(s.image_sha256 for s in self.scenes if s.image_sha256)
                | {s.clip.sha256 for s in self.scenes if s.clip}
                | {sha for sha, _ in self.audio_cues()})

    def scene_inputs_missing(self, present) -> list[str]:
        """For people: each scene whose media is not among `present` (SHA-256s), e.g.
        "scene 2's clip"; empty when everything is here."""
        lost = []
        for number, scene in enumerate(self.scenes, 1):
            for what, sha in (("frame image", scene.image_sha256),
                              ("clip", scene.clip and scene.clip.sha256),
                              ("narration", scene.narration and scene.narration.sha256)):
                if sha and sha not in present:
                    lost.append(f"scene {number}'s {what}")
        return lost

    def transition_ms(self, boundary: int) -> int:
        """Length of the crossfade between scene `boundary - 1` and scene `boundary` (0: a cut)."""
        if self.settings.transition == "cut" or not 0 < boundary < len(self.scenes):
            return 0
        before, after = self.scenes[boundary - 1], self.scenes[boundary]
        return min(self.settings.transition_ms, before.duration_ms, after.duration_ms)

    @cached_property
    def _transitions(self) -> tuple[int, ...]:
        """transition_ms(b) for b in 0..len(scenes), computed once."""
        return tuple(self.transition_ms(b) for b in range(len(self.scenes) + 1))

    def scene_at(self, time_ms: float) -> int:
        for index, scene in enumerate(self.scenes):
            if time_ms < scene.end_ms:
                return index
        return len(self.scenes) - 1

    def layers(self, frame: int) -> tuple[Layer, ...]:
        """What frame `frame` shows, bottom layer first: one scene, or two mid-crossfade."""
        time_ms = self.frame_time_ms(frame)
        return tuple(Layer(*numbers) for numbers in self._numbers(self.scene_at(time_ms), time_ms))

    def frame_table(self, start: int, stop: int) -> list[float]:
        """Frames `start`..`stop - 1` as the render worker reads them: FRAME_LAYERS layers of
        LAYER_FIELDS numbers per frame (scene, alpha, scale, shift x, shift y, clip ms), an
        unused layer being scene -1. The same numbers as `layers`, found in one pass."""
        table: list[float] = []
        empty = (-1, 0.0, 1.0, 0.0, 0.0, -1.0)
        index, last = (self.scene_at(self.frame_time_ms(start)) if start < stop else 0), len(self.scenes) - 1
        for frame in range(start, stop):
            time_ms = self.frame_time_ms(frame)
            while index < last and time_ms >= self.scenes[index].end_ms:
                index += 1
            shown = self._numbers(index, time_ms)
            for numbers in shown:
                table += numbers
            if len(shown) < FRAME_LAYERS:
                table += empty * (FRAME_LAYERS - len(shown))
        return table

    def _numbers(self, index: int, time_ms: float) -> list[tuple]:
        """The layers at `time_ms` (scene `index` on screen) as tuples of Layer's fields."""
        scene = self.scenes[index]
        into_next = self._transitions[index + 1] / 2
        from_previous = self._transitions[index] / 2
        if into_next and time_ms >= scene.end_ms - into_next:
            bottom, top = index, index + 1
            progress = (time_ms - scene.end_ms + into_next) / (2 * into_next)
        elif from_previous and time_ms < scene.start_ms + from_previous:
            bottom, top = index - 1, index
            progress = (time_ms - scene.start_ms + from_previous) / (2 * from_previous)
        else:
            return [self._layer_numbers(index, 1.0, time_ms)]
        shown = [self._layer_numbers(bottom, 1.0, time_ms)]
        if progress > 0:
            shown.append(self._layer_numbers(top, round(min(1.0, progress), 4), time_ms))
        return shown

    def _layer_numbers(self, index: int, alpha: float, time_ms: float) -> tuple:
        """(scene, alpha, scale, shift x, shift y, clip ms) of one layer."""
        scene = self.scenes[index]
        if scene.clip is not None:  # fitted, not panned; held on its last frame
            into = min(max(0.0, time_ms - scene.start_ms), scene.clip.duration_ms - 1)
            return (index, alpha, 1.0, 0.0, 0.0, round(into, 3))
        if not self.settings.pan:
            return (index, alpha, 1.0, 0.0, 0.0, -1.0)
        begin = scene.start_ms - self._transitions[index] / 2
        end = scene.end_ms + self._transitions[index + 1] / 2
        progress = min(1.0, max(0.0, (time_ms - begin) / (end - begin)))
        growth = progress if index % 2 == 0 else 1 - progress  # zoom in, then out, alternately
        scale = 1 + PAN_ZOOM * growth
        direction = 1 if index % 4 < 2 else -1
        shift_x = direction * (progress - 0.5) * (scale - 1)
        return (index, alpha, round(scale, 5), round(shift_x, 5), 0.0, -1.0)

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
        version = recipe.get("version")
        if type(version) is not int or version not in READ_VERSIONS:
            raise RecipeError(f"render recipe version {version!r} is not supported (this app "
                              f"reads versions {', '.join(map(str, READ_VERSIONS))})", "version")
        if recipe.get("format") != OUTPUT_TYPE:
            raise RecipeError(f"format {recipe.get('format')!r} is not {OUTPUT_TYPE}", "format")
        items = recipe.get("scenes")
        if not isinstance(items, list):
            raise RecipeError("scenes must be a list", "scenes")
        plan = cls(RenderSettings.from_dict(recipe.get("settings")),
                   tuple(_scene_from(item, n, version) for n, item in enumerate(items)))
        if recipe.get("totalMs") != plan.total_ms:
            raise RecipeError(f"totalMs is {recipe.get('totalMs')!r} but the scenes add up to "
                              f"{plan.total_ms}", "totalMs")
        return plan


def is_render_recipe(recipe) -> bool:
    return isinstance(recipe, dict) and recipe.get("kind") == RECIPE_KIND


def _scene_dict(scene: RenderScene) -> dict:
    narration, clip = scene.narration, scene.clip
    return {"sceneId": scene.scene_id,
            "image": None if scene.image_sha256 is None else {
                "assetId": scene.image_asset_id, "sha256": scene.image_sha256},
            "clip": None if clip is None else {
                "assetId": clip.asset_id, "sha256": clip.sha256, "durationMs": clip.duration_ms},
            "narration": None if narration is None else {
                "assetId": narration.asset_id, "sha256": narration.sha256,
                "durationMs": narration.duration_ms},
            "startMs": scene.start_ms, "durationMs": scene.duration_ms}


def _scene_from(item, number: int, version: int = RECIPE_VERSION) -> RenderScene:
    """A scene of a recipe: version 1 has no `clip` and always an `image`; version 2 may have
    a `clip`, and then `image` may be null."""
    field = f"scenes[{number}]"
    item = _object(item, field)
    clip = item.get("clip") if version >= 2 else None
    if clip is not None:
        clip = _media(clip, f"{field}.clip", ClipInput)
    image = item.get("image")
    if image is None and clip is not None:
        image_id = image_sha = None
    else:
        image = _object(image, f"{field}.image")
        image_id, image_sha = _text(image, "assetId", f"{field}.image"), _text(image, "sha256", f"{field}.image")
    narration = item.get("narration")
    if narration is not None:
        narration = _media(narration, f"{field}.narration", NarrationInput)
    return RenderScene(_text(item, "sceneId", field), image_id, image_sha, item.get("startMs"),
                       item.get("durationMs"), narration, clip)


def _media(data, field: str, kind):
    data = _object(data, field)
    return kind(_text(data, "assetId", field), _text(data, "sha256", field), data.get("durationMs"))


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
