"""FAL image-to-video models (server-only): how each takes the frame, the length and the seed.

Owns `VideoModel` and the small table, keyed by model-id prefix, of what differs between FAL's
image-to-video models (the first matching prefix wins; a model that matches none takes the
defaults: the frame as `image_url`, the length as a string of seconds, no seed):

    prefix                       frame field        seconds it takes   seed
    fal-ai/kling-video/v1, v2    image_url          "5" or "10"        no
    fal-ai/kling-video/v3, v4    start_image_url    as asked           no
    fal-ai/minimax/hailuo-02     image_url          "6" or "10"        no
    fal-ai/wan-flf2v             start_image_url    not sent           yes

`video_input` builds the submission (the prompt, the frame as a data URI, the duration), and
`check_seconds` refuses a length the model does not offer before anything is sent, so the
recipe never records a length the clip does not have. `model_ids` parses and checks the
SCENEVAULT_FAL_VIDEO_MODELS list (each id goes into the queue URL's path).

    video_input(recipe, frame)   # {"prompt": ..., "image_url": "data:image/png;base64,...", "duration": "5"}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.errors import RecipeError
from app.core.recipe import Recipe
from proxy.providers.clip import Frame

DEFAULT_VIDEO_MODELS = "fal-ai/kling-video/v2.1/standard/image-to-video"
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)+")


@dataclass(frozen=True)
class VideoModel:
    """How one family of models takes its input. `seconds` lists the lengths it offers (None:
    any, sent as asked); `sends_seconds` False means it takes no length at all."""

    image_field: str = "image_url"
    seconds: tuple[int, ...] | None = None
    sends_seconds: bool = True
    takes_seed: bool = False


VIDEO_MODELS: tuple[tuple[str, VideoModel], ...] = (
    ("fal-ai/kling-video/v1", VideoModel("image_url", (5, 10))),
    ("fal-ai/kling-video/v2", VideoModel("image_url", (5, 10))),  # v2, v2.1, v2.5-turbo
    ("fal-ai/kling-video/v3", VideoModel("start_image_url")),
    ("fal-ai/kling-video/v4", VideoModel("start_image_url")),
    ("fal-ai/minimax/hailuo-02", VideoModel("image_url", (6, 10))),
    ("fal-ai/wan-flf2v", VideoModel("start_image_url", sends_seconds=False, takes_seed=True)),
)


def video_model(model_id: str) -> VideoModel:
    return next((model for prefix, model in VIDEO_MODELS if model_id.startswith(prefix)),
                VideoModel())


def check_seconds(recipe: Recipe) -> None:
    """RecipeError("seconds") when the model does not offer the recipe's length."""
    model = video_model(recipe.model)
    if model.seconds is not None and recipe.seconds not in model.seconds:
        offered = " or ".join(str(s) for s in model.seconds)
        raise RecipeError(f"seconds must be {offered} for {recipe.model}, not {recipe.seconds}",
                          "seconds")


def video_input(recipe: Recipe, frame: Frame) -> dict:
    """The queue submission for a clip: the motion prompt, the frame, the length, the seed."""
    model = video_model(recipe.model)
    payload = {"prompt": recipe.prompt, model.image_field: frame.data_uri()}
    if model.sends_seconds:
        payload["duration"] = str(recipe.seconds)
    if model.takes_seed:
        payload["seed"] = recipe.seed
    return payload


def model_ids(text: str, variable: str) -> tuple[str, ...]:
    """'a/b, c/d/e' -> ('a/b', 'c/d/e'); a ValueError naming `variable` for an id that is not
    owner/app[/path] in plain characters (it becomes part of a URL path)."""
    ids = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    for model in ids:
        if not _MODEL_ID.fullmatch(model) or ".." in model.split("/"):
            raise ValueError(f"{variable}: {model[:80]!r} is not a FAL model id such as "
                             f"{DEFAULT_VIDEO_MODELS}")
    if not ids:
        raise ValueError(f"{variable} names no model")
    return ids
