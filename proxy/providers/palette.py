"""What a prompt's words mean to the local image provider (server-only): time of day, terrain,
colours and how many figures. Pure and deterministic: the same words give the same `Look`.

Words also listed in the negative prompt do not count. Words the tables do not know still
matter: their SHA-256 tints the whole palette, so two unrelated prompts look different.

    >>> look = read_prompt("two knights at sunset in the desert", "")
    >>> (look.time, look.terrain, look.figures)
    ('sunset', 'desert', 2)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from proxy.providers.canvas import Colour, mix, rgb

TIME_WORDS = {
    "night": "night", "midnight": "night", "moon": "night", "moonlit": "night", "stars": "night",
    "starry": "night", "dark": "night", "sunset": "sunset", "dusk": "sunset", "evening": "sunset",
    "golden": "sunset", "twilight": "sunset", "dawn": "dawn", "sunrise": "dawn", "morning": "dawn",
    "storm": "storm", "stormy": "storm", "rain": "storm", "rainy": "storm", "fog": "storm",
    "foggy": "storm", "grey": "storm", "gray": "storm", "thunder": "storm",
}
TERRAIN_WORDS = {
    "desert": "desert", "sand": "desert", "dune": "desert", "dunes": "desert", "canyon": "desert",
    "snow": "snow", "snowy": "snow", "winter": "snow", "ice": "snow", "frozen": "snow",
    "glacier": "snow", "arctic": "snow", "forest": "forest", "woods": "forest", "jungle": "forest",
    "trees": "forest", "tree": "forest", "pine": "forest", "ocean": "water", "sea": "water",
    "beach": "water", "lake": "water", "river": "water", "harbor": "water", "coast": "water",
    "city": "city", "street": "city", "urban": "city", "town": "city", "cyberpunk": "city",
    "skyline": "city", "building": "city", "buildings": "city", "mars": "alien", "alien": "alien",
    "planet": "alien", "space": "alien", "volcano": "alien", "lava": "alien",
}
ACCENT_WORDS = {
    "red": (200, 40, 45), "crimson": (170, 20, 50), "orange": (235, 120, 30),
    "yellow": (240, 200, 40), "gold": (215, 170, 50), "green": (50, 160, 70),
    "blue": (40, 90, 200), "teal": (30, 150, 150), "cyan": (40, 190, 210),
    "purple": (120, 60, 170), "violet": (140, 80, 200), "pink": (230, 110, 170),
    "white": (235, 235, 235), "black": (25, 25, 30), "silver": (170, 175, 185),
    "brown": (120, 80, 45),
}
FIGURE_WORDS = frozenset((
    "man men woman women person people girl boy child children kid kids knight hero heroine "
    "character warrior wizard witch detective robot astronaut soldier king queen princess "
    "prince farmer traveler traveller explorer hiker figure portrait dancer runner monk samurai "
    "ninja pirate cowboy student teacher doctor chef singer musician family crowd couple "
    "friends group team army villager merchant").split())
NUMBER_WORDS = {"two": 2, "couple": 2, "pair": 2, "duo": 2, "three": 3, "trio": 3, "four": 4,
                "five": 5, "six": 6, "family": 4, "friends": 3, "group": 4, "team": 4,
                "people": 3, "children": 3, "kids": 3, "crowd": 6, "army": 7, "men": 3, "women": 3}
ROAD_WORDS = frozenset("road path street trail highway bridge".split())
TREE_WORDS = frozenset("forest woods jungle trees tree pine pines orchard park".split())
CLOUD_WORDS = frozenset("cloud clouds cloudy sky overcast storm stormy rain rainy".split())


@dataclass(frozen=True)
class Sky:
    top: Colour
    horizon: Colour
    light: Colour | None  # the sun or the moon; None under a storm
    stars: bool


@dataclass(frozen=True)
class Land:
    far: Colour  # distant mountains or skyline
    near: Colour  # hills
    ground_far: Colour
    ground_near: Colour


SKIES = {
    "day": Sky(rgb(70, 130, 210), rgb(185, 215, 240), rgb(255, 244, 200), False),
    "sunset": Sky(rgb(60, 40, 110), rgb(250, 145, 75), rgb(255, 205, 95), False),
    "dawn": Sky(rgb(110, 145, 210), rgb(250, 195, 175), rgb(255, 232, 205), False),
    "night": Sky(rgb(8, 12, 40), rgb(40, 52, 105), rgb(236, 236, 222), True),
    "storm": Sky(rgb(55, 60, 75), rgb(135, 140, 155), None, False),
}
LANDS = {
    "meadow": Land(rgb(115, 140, 175), rgb(70, 120, 80), rgb(110, 165, 80), rgb(55, 110, 45)),
    "desert": Land(rgb(205, 150, 100), rgb(215, 165, 105), rgb(235, 195, 135), rgb(205, 150, 90)),
    "snow": Land(rgb(190, 205, 230), rgb(215, 225, 240), rgb(238, 242, 250), rgb(200, 210, 228)),
    "forest": Land(rgb(95, 125, 140), rgb(40, 95, 60), rgb(60, 120, 55), rgb(28, 70, 32)),
    "water": Land(rgb(110, 135, 165), rgb(90, 125, 110), rgb(70, 125, 175), rgb(20, 55, 105)),
    "city": Land(rgb(70, 72, 95), rgb(50, 52, 70), rgb(95, 95, 105), rgb(45, 45, 55)),
    "alien": Land(rgb(150, 65, 70), rgb(120, 45, 60), rgb(175, 85, 60), rgb(105, 40, 40)),
}
NIGHT_SHADOW = rgb(10, 12, 32)


@dataclass(frozen=True)
class Look:
    """Everything the words decide; the seed decides where things go."""

    time: str
    terrain: str
    sky: Sky
    land: Land
    accent: Colour
    figures: int
    road: bool
    clouds: bool
    trees: bool


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def read_prompt(prompt: str, negative_prompt: str) -> Look:
    unwanted = set(words_of(negative_prompt))
    words = [w for w in words_of(prompt) if w not in unwanted]
    time = _first(words, TIME_WORDS, "day")
    terrain = _first(words, TERRAIN_WORDS, "meadow")
    tint = _tint(words)
    sky, land = _tinted_sky(SKIES[time], tint), _tinted_land(LANDS[terrain], tint, time)
    accents = [ACCENT_WORDS[w] for w in words if w in ACCENT_WORDS]
    accent = rgb(*accents[0]) if accents else tint
    if accents:
        sky = Sky(mix(sky.top, accent, 25), sky.horizon, sky.light, sky.stars)
    present = set(words)
    return Look(time, terrain, sky, land, accent, _figure_count(words), bool(ROAD_WORDS & present),
                bool(CLOUD_WORDS & present) or time == "storm", bool(TREE_WORDS & present))


def _first(words: list[str], table: dict[str, str], default: str) -> str:
    return next((table[w] for w in words if w in table), default)


def _tint(words: list[str]) -> Colour:
    """A colour from all the words: unknown prompts still get their own palette."""
    digest = hashlib.sha256(" ".join(words).encode()).digest()
    return rgb(60 + digest[0] % 170, 60 + digest[1] % 170, 60 + digest[2] % 170)


def _tinted_sky(sky: Sky, tint: Colour) -> Sky:
    return Sky(mix(sky.top, tint, 18), mix(sky.horizon, tint, 12), sky.light, sky.stars)


def _tinted_land(land: Land, tint: Colour, time: str) -> Land:
    colours = [mix(c, tint, 15) for c in (land.far, land.near, land.ground_far, land.ground_near)]
    if time in ("night", "storm"):
        colours = [mix(c, NIGHT_SHADOW, 60 if time == "night" else 35) for c in colours]
    return Land(*colours)


def _figure_count(words: list[str]) -> int:
    singular = {w[:-1] if w.endswith("s") and w[:-1] in FIGURE_WORDS else w for w in words}
    if not singular & FIGURE_WORDS:
        return 0
    counts = [NUMBER_WORDS[w] for w in words if w in NUMBER_WORDS]
    return min(7, max(counts) if counts else 1)
