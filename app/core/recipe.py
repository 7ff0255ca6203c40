"""Generation recipes (pure): the one place the rules for a generation request live.

Owns `Recipe` (the typed, versioned record of what made a piece of media), the provider
`Catalog` a request is checked against (what `GET /api/providers` returns), and
`validate_request`, which turns an untrusted JSON body into a `Recipe` or raises `RecipeError`
naming the field. server.py and the page's client both use it, so the rules exist once: a
prompt is kept in app/core/textrules.py's normal form (NUL, other controls and lone surrogates are
refused; invisible and bidi characters dropped). Stdlib only: it imports under CPython 3.11+
and in Pyodide.

    >>> catalog = Catalog("local", (ProviderSpec("local", ("image",), True,
    ...                                          {"image": ("sketch",)}),))
    >>> recipe = validate_request({"kind": "image", "prompt": " a red fox "}, catalog)
    >>> (recipe.prompt, recipe.width, recipe.height, recipe.model, recipe.seed)
    ('a red fox', 1024, 576, 'sketch', None)
    >>> with_chosen_seed(recipe).seed is not None
    True
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from app.core import textrules
from app.core.errors import RecipeError

__all__ = [
    "RECIPE_VERSION", "KINDS", "Recipe", "ProviderSpec", "Catalog", "validate_request",
    "with_chosen_seed", "is_local_clip",
]

RECIPE_VERSION = 1
KINDS = ("image", "audio", "clip")
PROMPT_MAX_CHARS = 4000
SIZE_MIN, SIZE_MAX, SIZE_STEP = 64, 2048, 8
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1024, 576
SEED_MAX = 2**32 - 1
STEPS_MIN, STEPS_MAX, DEFAULT_STEPS = 1, 150, 30
SECONDS_MIN, SECONDS_MAX, DEFAULT_SECONDS = 1, 10, 5
IMAGE_ONLY = ("negative_prompt", "steps")
AUDIO_ONLY = ("voice",)
CLIP_ONLY = ("seconds", "input_sha256")
SIZED_KINDS = ("image", "clip")  # width and height apply to these only
# Which optional fields each kind may carry (the rest of IMAGE_ONLY, AUDIO_ONLY, CLIP_ONLY and
# width/height are refused by name, never dropped).
FIELDS_BY_KIND = {"image": {*IMAGE_ONLY, "width", "height"}, "audio": set(AUDIO_ONLY),
                  "clip": {*CLIP_ONLY, "width", "height"}}
REQUEST_FIELDS = frozenset({"kind", "prompt", "provider", "model", "seed", "version", "width",
                            "height", *IMAGE_ONLY, *AUDIO_ONLY, *CLIP_ONLY})
_HEX = frozenset("0123456789abcdef")
# The clip the page makes itself from a frame (app/render/motion.py), with no server and no key.
LOCAL_CLIP_PROVIDER, LOCAL_CLIP_MODEL = "local", "motion"
PROMPT_RULE = textrules.TextRule(single_line=False, max_chars=PROMPT_MAX_CHARS)


@dataclass(frozen=True)
class Recipe:
    """What made a piece of media. Fields that do not apply to the kind are None: a clip (made
    from a frame) has `seconds`, its size and the frame's `input_sha256`; audio has `voice`."""

    kind: str
    prompt: str
    provider: str
    model: str
    seed: int | None = None
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    voice: str | None = None
    seconds: int | None = None
    input_sha256: str | None = None
    version: int = RECIPE_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The recipe as a JSON-ready dict, leaving out fields that do not apply (None)."""
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """A stored recipe back (from the vault, a backup or a PNG): structure and ranges are
        checked, the provider catalog is not. The seed must be there: it is an effective recipe."""
        recipe = _structural(_require_dict(data), require_seed=True)
        _check_kind_fields(recipe)
        return recipe

    def to_json(self) -> str:
        """Canonical ASCII JSON (sorted keys, no spaces): the same recipe gives the same text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class ProviderSpec:
    """One provider as the catalog shows it: kinds, models per kind, voices, and state."""

    name: str
    kinds: tuple[str, ...]
    deterministic: bool
    models: dict[str, tuple[str, ...]]
    voices: tuple[str, ...] = ()
    configured: bool = True

    def to_dict(self) -> dict[str, Any]:
        flat = [m for kind in self.kinds for m in self.models.get(kind, ())]
        return {"name": self.name, "kinds": list(self.kinds), "deterministic": self.deterministic,
                "models": list(dict.fromkeys(flat)), "configured": self.configured,
                "models_by_kind": {k: list(v) for k, v in self.models.items()},
                "voices": list(self.voices)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProviderSpec:
        return cls(name=data["name"], kinds=tuple(data["kinds"]),
                   deterministic=bool(data["deterministic"]),
                   models={k: tuple(v) for k, v in data.get("models_by_kind", {}).items()},
                   voices=tuple(data.get("voices", ())), configured=bool(data["configured"]))


@dataclass(frozen=True)
class Catalog:
    """The providers a request may name, and the one used when it names none."""

    default: str
    providers: tuple[ProviderSpec, ...] = field(default=())

    def get(self, name: str) -> ProviderSpec | None:
        return next((spec for spec in self.providers if spec.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"default": self.default, "providers": [p.to_dict() for p in self.providers]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Catalog:
        return cls(data["default"], tuple(ProviderSpec.from_dict(p) for p in data["providers"]))


def validate_request(body: dict[str, Any], catalog: Catalog) -> Recipe:
    """Check an untrusted request body and fill in defaults; the seed stays None when absent."""
    recipe = _structural(_require_dict(body), require_seed=False, defaults=True)
    _check_kind_fields(recipe)
    return _with_provider_defaults(recipe, _check_provider(recipe, catalog))


def is_local_clip(recipe: dict | None) -> bool:
    """Whether a stored recipe is a clip the page makes itself (no server, no key)."""
    return (isinstance(recipe, dict) and recipe.get("kind") == "clip"
            and recipe.get("provider") == LOCAL_CLIP_PROVIDER
            and recipe.get("model") == LOCAL_CLIP_MODEL)


def with_chosen_seed(recipe: Recipe) -> Recipe:
    """The recipe with a fresh random seed (from `secrets`) when it has none."""
    return recipe if recipe.seed is not None else replace(recipe, seed=secrets.randbelow(SEED_MAX + 1))


# --- field checks -------------------------------------------------------------------------------
def _require_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RecipeError(f"a recipe must be a JSON object, not {type(data).__name__}")
    unknown = sorted(str(name) for name in set(data) - REQUEST_FIELDS)
    if unknown:
        raise RecipeError(f"unknown field {_shown(unknown[0])}; a recipe has only "
                          f"{', '.join(sorted(REQUEST_FIELDS))}", "recipe", "unknown_field")
    return data


def _structural(body: dict[str, Any], require_seed: bool, defaults: bool = False) -> Recipe:
    kind = _choice(body, "kind", KINDS)
    image_defaults = kind == "image" and defaults
    clip_defaults = kind == "clip" and defaults
    negative_prompt = _text(body, "negative_prompt")
    return Recipe(
        kind=kind,
        prompt=_text(body, "prompt", required=True),
        provider=_name(body, "provider", required=not defaults),
        model=_name(body, "model", required=not defaults),
        seed=_whole(body.get("seed"), "seed", 0, SEED_MAX, required=require_seed),
        negative_prompt="" if negative_prompt is None and kind == "image" else negative_prompt,
        width=_size(body, "width", DEFAULT_WIDTH if image_defaults else None),
        height=_size(body, "height", DEFAULT_HEIGHT if image_defaults else None),
        steps=_whole(body.get("steps", DEFAULT_STEPS if image_defaults else None), "steps",
                     STEPS_MIN, STEPS_MAX),
        voice=_name(body, "voice"),
        seconds=_whole(body.get("seconds", DEFAULT_SECONDS if clip_defaults else None), "seconds",
                       SECONDS_MIN, SECONDS_MAX),
        input_sha256=_sha256(body, "input_sha256"),
        version=_version(body),
    )


def _check_kind_fields(recipe: Recipe) -> None:
    """Fields of another kind (a voice on an image, seconds on audio) are mistakes, not silently
    dropped; an image or a clip needs its size, and a clip the frame it is made from."""
    allowed = FIELDS_BY_KIND[recipe.kind]
    for name in sorted({*IMAGE_ONLY, *AUDIO_ONLY, *CLIP_ONLY, "width", "height"} - allowed):
        if getattr(recipe, name) is not None:
            raise RecipeError(f"{name} does not apply to kind {recipe.kind!r}", name)
    required = ("width", "height") if recipe.kind == "image" else (
        ("width", "height", "seconds", "input_sha256") if recipe.kind == "clip" else ())
    for name in required:
        if getattr(recipe, name) is None:
            raise RecipeError(f"a{'n' if recipe.kind == 'image' else ''} {recipe.kind} recipe "
                              f"needs {name}", name)


def _check_provider(recipe: Recipe, catalog: Catalog) -> ProviderSpec:
    name = recipe.provider or catalog.default
    spec = catalog.get(name)
    if spec is None:
        known = ", ".join(p.name for p in catalog.providers)
        raise RecipeError(f"provider {_shown(name)} is not known; use one of {known}", "provider")
    if not spec.configured:
        raise RecipeError(f"provider {name!r} is not configured on this server", "provider")
    if recipe.kind not in spec.kinds:
        raise RecipeError(f"kind {recipe.kind!r} is not made by provider {name!r}; it makes "
                          f"{', '.join(spec.kinds)}", "kind")
    return spec


def _with_provider_defaults(recipe: Recipe, spec: ProviderSpec) -> Recipe:
    models = spec.models.get(recipe.kind, ())
    model = recipe.model or (models[0] if models else "")
    if model not in models:
        raise RecipeError(f"model {_shown(model)} is not offered by {spec.name} for "
                          f"{recipe.kind}; use one of {', '.join(models)}", "model")
    voice = recipe.voice
    if recipe.kind == "audio" and spec.voices:
        voice = voice or spec.voices[0]
        if voice not in spec.voices:
            raise RecipeError(f"voice {_shown(voice)} is not offered by {spec.name}; use one of "
                              f"{', '.join(spec.voices)}", "voice")
    return replace(recipe, provider=spec.name, model=model, voice=voice)


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or value not in allowed:
        raise RecipeError(f"{name} must be one of {', '.join(allowed)}, not {_shown(value)}", name)
    return value


def _text(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    """A prompt in app/core/textrules.py's normal form (multi-line), or RecipeError naming the field
    and the character that cannot be stored, or the length over the limit."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise RecipeError(f"{name} must be text, not {_shown(value)}", name)
    value = textrules.checked(value, name, PROMPT_RULE, lambda message: RecipeError(message, name))
    if required and not value:
        raise RecipeError(f"{name} must not be empty", name)
    return value


def _name(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 200 or not value.isprintable():
        raise RecipeError(f"{name} must be a non-empty name, not {_shown(value)}", name)
    return value


def _whole(value: Any, name: str, low: int, high: int, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecipeError(f"{name} must be a whole number from {low} to {high}, not "
                          f"{_shown(value)}", name)
    if not low <= value <= high:
        raise RecipeError(f"{name} must be from {low} to {high}, not {_shown(value)}", name)
    return value


def _size(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = _whole(body.get(name, default), name, SIZE_MIN, SIZE_MAX)
    if value is not None and value % SIZE_STEP:
        raise RecipeError(f"{name} must be a multiple of {SIZE_STEP}, not {value}", name)
    return value


def _sha256(body: dict[str, Any], name: str) -> str | None:
    """A SHA-256 as 64 lowercase hex digits (the frame a clip is made from), or None."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= _HEX:
        raise RecipeError(f"{name} must be a SHA-256 as 64 lowercase hex digits, not "
                          f"{_shown(value)}", name)
    return value


def _version(body: dict[str, Any]) -> int:
    value = body.get("version", RECIPE_VERSION)
    if isinstance(value, bool) or not isinstance(value, int) or value != RECIPE_VERSION:
        raise RecipeError(f"version {_shown(value)} is not supported; this app reads recipe "
                          f"version {RECIPE_VERSION}", "version")
    return RECIPE_VERSION


def _shown(value: Any) -> str:
    """A value for an error message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
