"""Importing a user's file into a slot (browser): what the file really is, the recipe it may
carry, and the one vault write, so that the slot card only picks the file and shows the outcome.

The media type comes from the file's first bytes (app/core/sniff.py), never from its name or the
browser's label; it must fit the slot's kind; a PNG's recipe (SceneVault's own iTXt, else
A1111's `parameters`) is kept with the asset. A refusal raises the project's errors
(InvalidAsset for the bytes, QuotaExceeded and friends from the vault) and stores nothing.

    imported = await import_into_slot(vault, project.id, "scene", "scene:1", file)
    imported.asset.mime_type, imported.has_recipe          # "image/png", True
"""

from __future__ import annotations

from dataclasses import dataclass

from app.store import media
from app.core import sniff
from app.core.model import Asset, validate_media_type


@dataclass(frozen=True)
class ImportedFile:
    """The stored asset, and whether the file carried a recipe."""

    asset: Asset
    has_recipe: bool


async def import_into_slot(vault, project_id: str, kind: str, slot: str, file) -> ImportedFile:
    """Check `file` (a JS File or Blob) by its bytes and store it as the slot's next version."""
    head = (await file.slice(0, sniff.SNIFF_BYTES).arrayBuffer()).to_bytes()
    mime_type = sniff.sniff(head)
    validate_media_type(kind, mime_type)
    recipe = sniff.recipe_from_png(await media.blob_bytes(file)) if mime_type == "image/png" else None
    asset = await vault.put_asset(project_id, kind, slot, file, mime_type, recipe=recipe,
                                  source="imported")
    return ImportedFile(asset, recipe is not None)
