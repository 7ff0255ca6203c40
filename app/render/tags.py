"""The Matroska tags of every WebM SceneVault makes (pure): the final video and the local motion
clip both carry their title, what they show, the AI label, the app that made them, the day they
were first made, and the very recipe the vault stores with them.

The tags come from the stored recipe dict alone (plus the day the media was first made and the
app's version), so the recipe in the file cannot drift from the recipe in the vault, and a lost
video or clip made again from its recipe and its asset's `created_at` gets the same tags, hence
the same bytes ("restored (identical)").

- TITLE: the caller's title (one line, at most MAX_TITLE_CHARS);
- DESCRIPTION: a clip's prompt; for a render, the project's title, the number of scenes, the
  length and the size (at most MAX_DESCRIPTION_CHARS);
- COMMENT: one sentence for people saying the media is AI-made and where the recipe is;
- SCENEVAULT_RECIPE: the recipe as canonical JSON (sorted keys, ASCII), never truncated: a
  recipe longer than MAX_RECIPE_CHARS (no valid recipe is) is left out rather than cut;
- DIGITAL_SOURCE_TYPE: the IPTC digital source type. A motion clip is one AI frame moved by a
  camera: `trainedAlgorithmicMedia`. A render composites AI frames with narration, transitions
  and pans: `compositeWithTrainedAlgorithmicMedia`;
- ENCODER: "SceneVault <version>"; DATE: the UTC day the media was first made, when known.

Text is normalised (app/core/textrules.py's normal form, after dropping NUL and the other
controls and lone surrogates, so it is valid UTF-8) and capped with an ellipsis.

    >>> tags = matroska_tags({"kind": "clip", "prompt": "a slow push-in", "seed": 3},
    ...                      "Motion clip: push-in, 4 s, 640×360", made_at_ms=0)
    >>> tags["DESCRIPTION"], tags["DATE"], tags["DIGITAL_SOURCE_TYPE"].rsplit("/", 1)[1]
    ('a slow push-in', '1970-01-01', 'trainedAlgorithmicMedia')
    >>> tags["SCENEVAULT_RECIPE"]
    '{"kind":"clip","prompt":"a slow push-in","seed":3}'
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from app.core.errors import RecipeError
from app.core.textrules import normal_form
from app.core.version import __version__
from app.render.motion import MotionPlan

__all__ = ["IPTC_DIGITAL_SOURCE_TYPE", "TRAINED", "COMPOSITE", "RECIPE_TAG", "SOURCE_TYPE_TAG",
           "MAX_TITLE_CHARS", "MAX_DESCRIPTION_CHARS", "MAX_RECIPE_CHARS", "matroska_tags",
           "title_of", "tag_text"]

IPTC_DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC_DIGITAL_SOURCE_TYPE + "trainedAlgorithmicMedia"
COMPOSITE = IPTC_DIGITAL_SOURCE_TYPE + "compositeWithTrainedAlgorithmicMedia"
RECIPE_TAG = "SCENEVAULT_RECIPE"
SOURCE_TYPE_TAG = "DIGITAL_SOURCE_TYPE"
MAX_TITLE_CHARS = 200          # textrules.LINE
MAX_DESCRIPTION_CHARS = 4000   # textrules.PROSE: a prompt
MAX_RECIPE_CHARS = 1 << 18     # a 500-scene render recipe is about 160 KB
RENDER_TITLE = "SceneVault render"
CLIP_TITLE = "SceneVault motion clip"
ELLIPSIS = "…"
COMMENT = "Made with AI by SceneVault: {what}. Its recipe is the " + RECIPE_TAG + " tag."
TRAINED_NOTE = "a scene's frame set in motion"
COMPOSITE_NOTE = "scene frames composited with narration and transitions"
# What no tag may hold: NUL and the other C0 controls but tab, LF and CR; DEL; lone surrogates
# (UTF-8 cannot encode them).
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def matroska_tags(recipe: dict, title: str, made_at_ms: int | None = None) -> dict[str, str]:
    """The tags (name -> text) of a WebM made from `recipe` (a render recipe, app/render/
    timeline.py, or a clip recipe, app/core/recipe.py), titled `title`, first made at
    `made_at_ms` (Unix ms; no DATE when None)."""
    render = recipe.get("kind") == "render"
    tags = {"TITLE": tag_text(title, MAX_TITLE_CHARS, single_line=True)
            or (RENDER_TITLE if render else CLIP_TITLE),
            "DESCRIPTION": tag_text(_render_description(recipe) if render
                                    else str(recipe.get("prompt") or ""), MAX_DESCRIPTION_CHARS),
            "COMMENT": COMMENT.format(what=COMPOSITE_NOTE if render else TRAINED_NOTE),
            SOURCE_TYPE_TAG: COMPOSITE if render else TRAINED,
            "ENCODER": f"SceneVault {__version__}"}
    try:
        recipe_json = json.dumps(recipe, sort_keys=True, separators=(",", ":"),
                                 ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"the recipe cannot be written as JSON ({exc})", "recipe") from None
    if len(recipe_json) <= MAX_RECIPE_CHARS:
        tags[RECIPE_TAG] = recipe_json
    if made_at_ms is not None:
        tags["DATE"] = datetime.fromtimestamp(made_at_ms / 1000, timezone.utc).strftime("%Y-%m-%d")
    return {name: text for name, text in tags.items() if text}


def title_of(recipe: dict) -> str:
    """The title a recipe's media carries: a render's project title (its recipe's `title`) or
    "SceneVault render"; a local clip's move ("Motion clip: push-in, 4 s, 640×360")."""
    if recipe.get("kind") == "render":
        return str(recipe.get("title") or RENDER_TITLE)
    return f"Motion clip: {MotionPlan.from_recipe(recipe).describe()}"


def tag_text(text: str, max_chars: int, single_line: bool = False) -> str:
    """`text` as a tag holds it: unwritable characters dropped, normal form, at most
    `max_chars` characters (cut ones end with an ellipsis)."""
    clean = normal_form(_UNWRITABLE.sub("", text), single_line)
    if len(clean) <= max_chars:
        return clean
    return clean[:max_chars - 1].rstrip() + ELLIPSIS


def _render_description(recipe: dict) -> str:
    """"Moon Heist: 3 scenes, 6.6 s, 640×360 at 30 fps" from a render recipe."""
    scenes = recipe.get("scenes") if isinstance(recipe.get("scenes"), list) else []
    settings = recipe.get("settings") if isinstance(recipe.get("settings"), dict) else {}
    total_ms = recipe.get("totalMs") if isinstance(recipe.get("totalMs"), int) else 0
    what = (f"{len(scenes)} scene{'' if len(scenes) == 1 else 's'}, {total_ms / 1000:.1f} s, "
            f"{settings.get('width')}×{settings.get('height')} at {settings.get('fps')} fps")
    title = tag_text(str(recipe.get("title") or ""), MAX_TITLE_CHARS, single_line=True)
    return f"{title}: {what}" if title else f"A SceneVault video: {what}"
