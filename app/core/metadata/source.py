"""The recipe a file from another tool carries (pure): one entry point over every format.

`read_source_metadata(data, mime_type)` returns a `SourceMetadata` (which tool wrote it, the
recipe fields it maps to, and the raw original texts, so nothing is lost), or None when the file
carries none. A file whose metadata breaks a rule or a cap raises MetadataError with a message
for the user; the caller may still store the file without a recipe. Every reader is linear in its
input with capped counts (untrusted files: see docs/security.md).

    >>> from app.core.pngmeta import tiny_png, with_text
    >>> png = with_text(tiny_png(), {"parameters": "a red fox\\nSteps: 20, Seed: 7, Size: 8x8"})
    >>> found = read_source_metadata(png, "image/png")
    >>> (found.tool, found.recipe["prompt"], found.recipe["seed"])
    ('a1111', 'a red fox', 7)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core import textrules
from app.core.errors import MetadataError

# Each raw text kept from a file is at most this long, and a file keeps at most MAX_RAW_KEYS.
MAX_RAW_CHARS = 1 << 20
MAX_RAW_KEYS = 16
# The media types whose files may carry a recipe.
READ_METADATA_OF = frozenset({"image/png", "image/jpeg", "image/webp"})
# The recipe fields a source may fill (the same names as SceneVault's own recipes, plus the
# sampler settings other tools record).
RECIPE_FIELDS = ("kind", "provider", "prompt", "negative_prompt", "seed", "steps", "cfg_scale",
                 "sampler", "model", "width", "height")


@dataclass(frozen=True)
class SourceMetadata:
    """What a file says about how it was made.

    tool: who wrote it ("a1111", "comfyui", "invokeai", "novelai", "scenevault", or "exif" /
    "xmp" for a generic camera or editor description); recipe: the fields of RECIPE_FIELDS found
    (always "kind": "image" and "provider": the tool); raw: the original texts by their key in the
    file (e.g. {"parameters": "..."} or {"prompt": "<json>", "workflow": "<json>"}).
    """

    tool: str
    recipe: dict
    raw: dict[str, str] = field(default_factory=dict)

    def stored_recipe(self) -> dict:
        """The recipe as an asset keeps it: only RECIPE_FIELDS, every text in app/core/textrules.py's
        normal form (a backup's import applies the same rules, so a round trip changes nothing);
        characters no stored text may hold become U+FFFD."""
        found = {key: _stored_text(value) if isinstance(value, str) else value
                 for key, value in self.recipe.items() if key in RECIPE_FIELDS}
        return textrules.checked_json(found, "recipe", MetadataError)

    def to_record(self) -> dict:
        """The form kept on an asset (`Asset.source_metadata`) and in backups, normalized like
        `stored_recipe`."""
        raw = {_stored_text(key): _stored_text(text) for key, text in self.raw.items()}
        return textrules.checked_json({"tool": self.tool, "raw": raw}, "sourceMetadata",
                                      MetadataError)


def _stored_text(text: str) -> str:
    return textrules.without_problems(text)


def file_recipe(found: SourceMetadata | None) -> tuple[dict | None, dict | None]:
    """(recipe, source_metadata) as an asset keeps them: SceneVault's own recipe as it is;
    another tool's as `stored_recipe()` and `to_record()`; (None, None) for nothing found."""
    if found is None:
        return None, None
    if found.tool == "scenevault":
        return found.recipe, None
    return found.stored_recipe(), found.to_record()


def read_source_metadata(data: bytes, mime_type: str) -> SourceMetadata | None:
    """The recipe and raw metadata in `data` (a whole file of `mime_type`), or None."""
    if mime_type == "image/png":
        from app.core.metadata.png_sources import read_png
        return read_png(data)
    if mime_type in ("image/jpeg", "image/webp"):
        from app.core.metadata.exif import read_jpeg_or_webp
        return read_jpeg_or_webp(data, mime_type)
    return None
