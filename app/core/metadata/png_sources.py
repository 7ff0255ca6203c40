"""The recipe other generators wrote into a PNG (pure): which tool it was, and its fields.

`read_png(png)` reads the PNG's text chunks once (app/core/pngmeta.py: every chunk CRC-checked,
every count capped) and takes the first source present, in this order:

| tool         | text chunks read (tEXt, zTXt or iTXt, by keyword)                          |
|--------------|-----------------------------------------------------------------------------|
| "scenevault" | `scenevault:recipe` (SceneVault's own JSON recipe), beside `parameters`    |
| "a1111"      | `parameters` (A1111 / Forge infotext)                                      |
| "comfyui"    | `prompt` (API graph) and `workflow` (editor graph), JSON objects           |
| "invokeai"   | `invokeai_metadata`, else `sd-metadata` (v2); `invokeai_graph` etc. raw    |
| "novelai"    | `Software` == "NovelAI": `Comment` JSON, `Description`, `Source`           |

The recipe always has "kind": "image" and "provider": the tool; the other RECIPE_FIELDS are
those the source holds with a usable type (jsontext.recipe_fields), width and height from IHDR
when the text lacks them. `raw` keeps each of the source's original texts by keyword, at most
source.MAX_RAW_CHARS each and source.MAX_RAW_KEYS in all. None when no source is present.

Errors: a broken or hostile PNG (pngmeta's PngError: bad chunk, CRC, caps) and metadata that
breaks a rule or cap (text over MAX_RAW_CHARS, JSON too deep or not JSON, a graph with too many
nodes) both raise MetadataError with the message saying what was wrong. The PNG error becomes a
MetadataError (the PngError kept as its cause) because the caller has already taken the file as
a PNG by its first bytes and asks only for its metadata: one error type means "store the file,
without a recipe, and tell the user why"; whether the pixels decode is the image decoder's call.

    >>> from app.core.pngmeta import tiny_png, with_text
    >>> png = with_text(tiny_png(), {"parameters": "a fox\\nSteps: 20, Seed: 7, CFG scale: 7"})
    >>> found = read_png(png)
    >>> found.tool, found.recipe["prompt"], found.recipe["cfg_scale"], found.recipe["width"]
    ('a1111', 'a fox', 7.0, 8)
    >>> found.raw
    {'parameters': 'a fox\\nSteps: 20, Seed: 7, CFG scale: 7'}
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from app.core import pngmeta
from app.core.errors import MetadataError, PngError
from app.core.metadata.comfyui import read_comfyui
from app.core.metadata.invokeai import INVOKEAI_KEYS, read_invokeai
from app.core.metadata.jsontext import load_json, recipe_fields
from app.core.metadata.novelai import NOVELAI_KEYS, is_novelai, read_novelai
from app.core.metadata.source import MAX_RAW_CHARS, MAX_RAW_KEYS, SourceMetadata

__all__ = ["Source", "SOURCES", "read_png"]

COMFYUI_KEYS = ("prompt", "workflow")
MAX_IMAGE_SIDE = 2**31 - 1  # the PNG specification's limit for IHDR's width and height


@dataclass(frozen=True)
class Source:
    """One tool's metadata: its name, the keywords it writes (all kept raw), whether a PNG's
    texts hold it, and how its texts (already capped) become untyped recipe values."""

    tool: str
    keys: tuple[str, ...]
    present: Callable[[Mapping[str, str]], bool]
    read: Callable[[Mapping[str, str]], Mapping[str, Any]]


def _own_recipe(texts: Mapping[str, str]) -> Mapping[str, Any]:
    """SceneVault's recipe JSON, under pngmeta's caps for it."""
    text = texts[pngmeta.RECIPE_KEY]
    if len(text) > pngmeta.MAX_RECIPE_CHARS:
        raise MetadataError(f"the {pngmeta.RECIPE_KEY} text has {len(text):,} characters; the "
                            f"limit is {pngmeta.MAX_RECIPE_CHARS:,}")
    decoded = load_json(text, f"the {pngmeta.RECIPE_KEY} text", pngmeta.MAX_RECIPE_DEPTH)
    if not isinstance(decoded, dict):
        raise MetadataError(f"the {pngmeta.RECIPE_KEY} text is a JSON {type(decoded).__name__}, "
                            "not an object")
    return decoded


def _a1111(texts: Mapping[str, str]) -> Mapping[str, Any]:
    return pngmeta.parse_parameters(texts[pngmeta.PARAMETERS_KEY]).to_recipe_fields()


def _holds_a_json_object(texts: Mapping[str, str], key: str) -> bool:
    return texts.get(key, "").lstrip().startswith("{")


SOURCES = (
    Source("scenevault", (pngmeta.RECIPE_KEY, pngmeta.PARAMETERS_KEY),
           lambda texts: pngmeta.RECIPE_KEY in texts, _own_recipe),
    Source("a1111", (pngmeta.PARAMETERS_KEY,),
           lambda texts: bool(texts.get(pngmeta.PARAMETERS_KEY, "").strip()), _a1111),
    Source("comfyui", COMFYUI_KEYS,
           lambda texts: any(_holds_a_json_object(texts, key) for key in COMFYUI_KEYS),
           lambda texts: read_comfyui(*(texts[key] if _holds_a_json_object(texts, key) else None
                                        for key in COMFYUI_KEYS))),
    Source("invokeai", INVOKEAI_KEYS, lambda texts: any(key in texts for key in INVOKEAI_KEYS),
           lambda texts: read_invokeai(texts) or {}),
    Source("novelai", NOVELAI_KEYS, is_novelai, lambda texts: read_novelai(texts) or {}),
)


def read_png(png: bytes) -> SourceMetadata | None:
    """The first source (SOURCES order) in `png`'s text chunks, or None when it has none.
    Raises MetadataError when the PNG or its metadata breaks a rule or a cap."""
    try:
        texts = pngmeta.read_text(png)
        source = next((source for source in SOURCES if source.present(texts)), None)
        if source is None:
            return None
        raw = _raw_texts(texts, source.keys)
        fields = recipe_fields(source.read(raw))
        size = _image_size(png)
    except PngError as exc:
        raise MetadataError(f"the PNG's metadata cannot be read: {exc}") from exc
    recipe = {"kind": "image", "provider": source.tool, **fields}
    for name, value in size.items():
        recipe.setdefault(name, value)
    return SourceMetadata(source.tool, recipe, raw)


def _raw_texts(texts: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    """The texts under `keys`, each at most MAX_RAW_CHARS, at most MAX_RAW_KEYS of them."""
    raw = {key: texts[key] for key in keys if key in texts}
    if len(raw) > MAX_RAW_KEYS:
        raise MetadataError(f"the PNG has {len(raw)} metadata texts to keep; the limit is "
                            f"{MAX_RAW_KEYS}")
    for key, text in raw.items():
        if len(text) > MAX_RAW_CHARS:
            raise MetadataError(f"the PNG's {key!r} text has {len(text):,} characters; the "
                                f"limit is {MAX_RAW_CHARS:,}")
    return raw


def _image_size(png: bytes) -> dict[str, int]:
    """Width and height from IHDR (the first chunk; pngmeta has checked it), when valid."""
    header = next(pngmeta.iter_chunks(png)).data
    if len(header) != 13:
        return {}
    width, height = struct.unpack_from(">II", header)
    if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE):
        return {}
    return {"width": width, "height": height}
