"""The local provider's pictures (server-only): a landscape composed from the prompt and seed.

Owns the composition: a sky gradient with the sun or moon and its glow (or stars, or storm
clouds), far mountains or a city skyline, hills, the ground (or water with glints), trees, a
road, and figures in the foreground. The prompt's words pick the palette and the cast
(`palette.read_prompt`); `Rand`, keyed by the recipe's SHA-256, places everything. Painting is
span-based (`canvas.Canvas`) and encoding deterministic (`pngwrite.RunEncoder`), so the same
key and words give the same PNG bytes on any machine, and a 1024x576 image takes a few tens of
milliseconds.

    png = render_png("a knight at sunset", "", 1024, 576, key=hashlib.sha256(b"...").digest())
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.providers.canvas import Canvas, Colour, Rand, Shade, fade, mix, rgb, solid
from proxy.providers.palette import NIGHT_SHADOW, Look, read_prompt
from proxy.providers.pngwrite import RunEncoder, png_bytes

WHITE, BLACK = rgb(255, 255, 255), rgb(0, 0, 0)
SKIN = (rgb(240, 200, 170), rgb(205, 150, 110), rgb(150, 100, 70), rgb(95, 65, 45))
CLOTHES = (rgb(70, 70, 80), rgb(150, 40, 40), rgb(40, 70, 140), rgb(60, 110, 60), rgb(200, 170, 60))


@dataclass(frozen=True)
class Stage:
    """What every layer needs: the canvas, the words' look, the seeded numbers, the horizon."""

    canvas: Canvas
    look: Look
    rand: Rand
    horizon: int
    sky: Shade

    @property
    def width(self) -> int:
        return self.canvas.width

    @property
    def height(self) -> int:
        return self.canvas.height

    def ground(self, y: int) -> Colour:
        land = self.look.land
        return mix(land.ground_far, land.ground_near, y - self.horizon, max(1, self.height - self.horizon))


def render_png(prompt: str, negative_prompt: str, width: int, height: int, key: bytes) -> bytes:
    """The picture for these words, laid out by `key`, as PNG bytes (no text chunks)."""
    canvas = compose(width, height, read_prompt(prompt, negative_prompt), Rand(key))
    encoder = RunEncoder(width)
    for raw, runs in canvas.rows():
        encoder.add_row(raw, runs)
    return png_bytes(width, height, encoder.finish())


def compose(width: int, height: int, look: Look, rand: Rand) -> Canvas:
    horizon = height * rand.between(56, 68) // 100
    gradient = fade(look.sky.top, look.sky.horizon, 0, horizon)
    sky: Shade = lambda y: gradient(min(y, horizon))  # noqa: E731
    stage = Stage(Canvas(width, height, sky), look, rand, horizon, sky)
    if look.sky.stars:
        _stars(stage)
    light_x = _light(stage) if look.sky.light is not None else width // 2
    if look.clouds or rand.chance(45):
        _clouds(stage)
    _skyline(stage) if look.terrain == "city" else _mountains(stage)
    if look.terrain not in ("city", "water"):
        _hills(stage)
    _ground(stage, light_x)
    if look.road:
        _road(stage)
    if look.trees or look.terrain == "forest" or (look.terrain in ("meadow", "snow") and rand.chance(55)):
        _trees(stage)
    _figures(stage)
    return stage.canvas


# --- sky ----------------------------------------------------------------------------------------
def _stars(st: Stage) -> None:
    for _ in range(st.width * st.height // 6000):
        x, y = st.rand.below(st.width), st.rand.below(max(1, st.horizon * 9 // 10))
        size = 1 + st.rand.below(2)
        st.canvas.rect(x, y, x + size, y + size, solid(mix(WHITE, st.look.sky.top, st.rand.below(50))))


def _light(st: Stage) -> int:
    """The sun or moon with its glow; returns where it stands (water reflects it there)."""
    light = st.look.sky.light
    r = max(3, st.height * st.rand.between(5, 9) // 100)
    cx = st.width * st.rand.between(12, 88) // 100
    cy = max(r, st.horizon * st.rand.between(25, 70) // 100)
    for scale, amount in ((5, 12), (4, 22), (3, 38)):
        st.canvas.disc(cx, cy, r * scale // 2, lambda y, a=amount: mix(st.sky(y), light, a))
    st.canvas.disc(cx, cy, r, solid(light))
    if st.look.time == "night" and st.rand.chance(60):  # a crescent: the sky bites the moon
        st.canvas.disc(cx + r // 3, cy - r // 5, r - r // 8, st.sky)
    return cx


def _clouds(st: Stage) -> None:
    storm = st.look.time == "storm"
    base = {"sunset": mix(WHITE, st.look.sky.horizon, 45), "night": mix(st.look.sky.top, WHITE, 25),
            "storm": rgb(95, 100, 115)}.get(st.look.time, mix(WHITE, st.look.sky.horizon, 15))
    for _ in range(st.rand.between(5, 8) if storm else st.rand.between(2, 5)):
        cx = st.rand.below(st.width)
        cy = st.horizon * st.rand.between(8, 45) // 100
        w = st.width * st.rand.between(7, 16) // 100
        h = max(2, w // st.rand.between(4, 6))
        shade = fade(base, mix(base, BLACK, 18), cy - 2 * h, cy + h)
        st.canvas.ellipse(cx, cy, w, h, shade)
        for _bump in range(st.rand.between(2, 4)):
            bx = cx + st.rand.between(-w * 2 // 3, w * 2 // 3)
            st.canvas.ellipse(bx, cy - h // 2, w // st.rand.between(2, 3), h, shade)


# --- land ---------------------------------------------------------------------------------------
def _mountains(st: Stage) -> None:
    land, haze = st.look.land, st.look.sky.horizon
    soft = st.look.terrain in ("desert", "water")
    for layer, (low, high, colour) in enumerate(((18, 48, land.far), (8, 24, mix(land.far, land.near, 50)))):
        for _ in range(st.rand.between(4, 8) - layer):
            h = max(2, st.horizon * st.rand.between(low, high) // 100)
            px = st.rand.between(-st.width // 10, st.width * 11 // 10)
            py = st.horizon - h
            shade = fade(mix(colour, haze, 10), mix(colour, haze, 45), py, st.horizon)
            left, right = h * st.rand.between(12, 26) // 10, h * st.rand.between(12, 26) // 10
            if soft:
                st.canvas.ellipse(px, st.horizon, (left + right) // 2, h, shade, top_only=True)
                continue
            st.canvas.peak(px, py, st.horizon, left, right, shade)
            if st.look.terrain == "snow" or (layer == 0 and st.look.terrain != "alien" and st.rand.chance(50)):
                st.canvas.peak(px, py, py + h // 4, left // 4, right // 4, solid(mix(WHITE, haze, 15)))


def _skyline(st: Stage) -> None:
    night = st.look.time in ("night", "storm")
    lit = rgb(250, 215, 120) if night else mix(rgb(200, 215, 235), st.look.sky.horizon, 30)
    x = -st.rand.below(max(1, st.width // 30))
    while x < st.width:
        bw = max(4, st.width * st.rand.between(3, 8) // 100)
        top = st.horizon - st.horizon * st.rand.between(12, 55) // 100
        colour = mix(st.look.land.far, BLACK, st.rand.between(0, 35))
        st.canvas.rect(x, top, x + bw - 1, st.horizon, solid(colour))
        _windows(st, x, top, bw, lit)
        x += bw + st.rand.below(max(1, st.width // 80))


def _windows(st: Stage, x: int, top: int, bw: int, lit: Colour) -> None:
    size = max(1, st.height // 120)
    for y in range(top + 2 * size, st.horizon - 2 * size, 3 * size):
        for wx in range(x + size, x + bw - 2 * size, 3 * size):
            if st.rand.chance(55):
                st.canvas.rect(wx, y, wx + size, y + size, solid(lit))


def _hills(st: Stage) -> None:
    land = st.look.land
    for _ in range(st.rand.between(3, 6)):
        rx = st.width * st.rand.between(15, 35) // 100
        ry = max(2, st.height * st.rand.between(4, 10) // 100)
        cy = st.horizon + st.rand.below(max(1, st.height // 40))
        shade = fade(land.near, mix(land.near, land.ground_far, 60), cy - ry, cy)
        st.canvas.ellipse(st.rand.below(st.width), cy, rx, ry, shade, top_only=True)


def _ground(st: Stage, light_x: int) -> None:
    st.canvas.rect(0, st.horizon, st.width, st.height, st.ground)
    if st.look.terrain == "water":
        _glints(st, light_x)
        return
    for _ in range(st.rand.between(6, 12)):  # patches of lighter and darker ground
        y = st.rand.between(st.horizon + 2, st.height)
        depth = y - st.horizon
        tone = st.rand.pick((st.look.land.near, WHITE, BLACK))
        st.canvas.ellipse(st.rand.below(st.width), y, st.width * (2 + depth * 12 // st.height) // 40,
                          max(1, depth // 12), lambda yy, t=tone: mix(st.ground(yy), t, 14))


def _glints(st: Stage, cx: int) -> None:
    light = st.look.sky.light or WHITE
    for _ in range(st.height // 6):
        y = st.rand.between(st.horizon + 1, st.height - 1)
        x = st.rand.below(st.width)
        depth = max(1, st.height - st.horizon)
        length = st.width * st.rand.between(1, 6) // 100 * (y - st.horizon) // depth + 2
        st.canvas.span(y, x, x + length, mix(st.ground(y), light, 30))
    for y in range(st.horizon + 1, st.height, 3):  # the light's reflection, broken by waves
        half = st.width // 60 + (y - st.horizon) * st.rand.between(2, 6) // 40
        st.canvas.span(y, cx - half, cx + half, mix(st.ground(y), light, 45))


def _road(st: Stage) -> None:
    dirt = mix(st.look.land.ground_near, rgb(190, 170, 130), 60)
    colour = rgb(62, 62, 68) if st.look.terrain == "city" else dirt
    cx = st.width * st.rand.between(35, 65) // 100
    bottom = st.width * st.rand.between(14, 24) // 100
    st.canvas.trapezoid(cx, st.horizon, st.height, max(1, st.width // 200), bottom, solid(colour))
    if st.look.terrain == "city":
        for y in range(st.horizon + 4, st.height, max(4, st.height // 20)):
            w = 1 + (y - st.horizon) * st.width // 4000
            st.canvas.rect(cx - w, y, cx + w + 1, y + max(1, (y - st.horizon) // 10), solid(rgb(230, 210, 90)))


def _trees(st: Stage) -> None:
    count = st.rand.between(22, 40) if st.look.terrain == "forest" else st.rand.between(4, 10)
    depth = max(1, st.height - st.horizon)
    bases = sorted(st.horizon + depth * st.rand.between(2, 92) // 100 for _ in range(count))
    for base in bases:
        size = st.height * (5 + 20 * (base - st.horizon) // depth) // 100
        x = st.rand.below(st.width)
        dark = mix(st.look.land.near, rgb(15, 45, 25), 30 + 40 * (base - st.horizon) // depth)
        trunk = max(1, size // 14)
        st.canvas.rect(x - trunk, base - size // 5, x + trunk + 1, base, solid(rgb(80, 55, 35)))
        if st.look.terrain == "meadow":
            st.canvas.disc(x, base - size * 3 // 5, size * 2 // 5, solid(dark))
            continue
        for tier in range(3):
            top = base - size + tier * size // 4
            st.canvas.peak(x, top, top + size // 2, size // 4 + tier * size // 16,
                           size // 4 + tier * size // 16, solid(dark))


# --- figures ------------------------------------------------------------------------------------
def _figures(st: Stage) -> None:
    n = st.look.figures
    for i in range(n):
        x = st.width * (i + 1) // (n + 1) + st.rand.between(-st.width // (4 * n + 4), st.width // (4 * n + 4))
        base = st.height * st.rand.between(84, 96) // 100
        tall = st.height * st.rand.between(26, 40) // 100 * (12 - min(n, 6)) // 11
        _figure(st, x, base, max(12, tall))


def _figure(st: Stage, x: int, base: int, tall: int) -> None:
    """A standing figure: shadow, legs, cape or arms, torso in the accent colour, head, hat."""
    night = 45 if st.look.time in ("night", "storm") else 0
    tone = lambda c: mix(c, NIGHT_SHADOW, night)  # noqa: E731
    clothes = tone(mix(st.look.accent, st.rand.pick(CLOTHES), st.rand.between(0, 35)))
    dark = tone(mix(clothes, BLACK, 45))
    head_r = max(2, tall // 9)
    neck, hip = base - tall + 2 * head_r, base - tall * 45 // 100
    st.canvas.ellipse(x, base, tall // 4, max(1, tall // 30), lambda y: mix(st.ground(y), BLACK, 30))
    if st.rand.chance(35):  # a cape, behind everything else
        st.canvas.trapezoid(x, neck, hip + tall // 6, tall // 9, tall // 5, solid(dark))
    leg = max(1, tall // 18)
    for side in (-1, 1):
        st.canvas.rect(x + side * leg * 2 - leg, hip, x + side * leg * 2 + leg, base, solid(dark))
        arm_x = x + side * (tall // 8 + leg)
        st.canvas.rect(arm_x - leg, neck + leg, arm_x + leg, hip + tall // 12, solid(clothes))
    st.canvas.trapezoid(x, neck, hip, tall // 8, tall // 11, solid(clothes))
    st.canvas.disc(x, base - tall + head_r, head_r, solid(tone(st.rand.pick(SKIN))))
    _hat(st, x, base - tall, head_r, dark)


def _hat(st: Stage, x: int, top: int, head_r: int, colour: Colour) -> None:
    style, r, shade = st.rand.below(4), head_r, solid(colour)
    if style == 0:  # a pointed hat
        st.canvas.peak(x, top - r * 2, top + r // 2, r + r // 3, r + r // 3, shade)
    elif style == 1:  # a brimmed hat
        st.canvas.rect(x - r * 3 // 2, top + r // 3, x + r * 3 // 2 + 1, top + r // 2 + 1, shade)
        st.canvas.rect(x - r * 2 // 3, top - r // 2, x + r * 2 // 3 + 1, top + r // 3, shade)
    elif style == 2:  # hair
        hair = solid(mix(colour, rgb(60, 40, 20), 60))
        st.canvas.ellipse(x, top + r // 2, r + 1, r * 2 // 3, hair, top_only=True)
