"""Importing a user's file into a slot (browser): what the file really is, the recipe it may
carry, and the one vault write, so that the slot card only picks the file and shows the outcome.

The media type comes from the file's first bytes (app/core/sniff.py), never from its name or the
browser's label; it must fit the slot's kind. An image's recipe is read by
app/core/metadata/source.py: SceneVault's own recipe is kept as it is; what another tool wrote
(A1111/Forge, ComfyUI, InvokeAI, NovelAI, EXIF or XMP) becomes the recipe fields it maps to,
with the raw original kept as the asset's `source_metadata`. Metadata that breaks a rule does
not stop the import: the file is stored without a recipe and `metadata_problem` says why. A
refusal of the file itself raises the project's errors (InvalidAsset for the bytes,
QuotaExceeded and friends from the vault) and stores nothing.

    imported = await import_into_slot(vault, project.id, "scene", "scene:1", file)
    imported.asset.mime_type, imported.has_recipe, imported.tool   # "image/png", True, "comfyui"
"""

from __future__ import annotations

from dataclasses import dataclass

from app.store import media
from app.core import sniff
from app.core.errors import MetadataError
from app.core.metadata.source import READ_METADATA_OF, file_recipe, read_source_metadata
from app.core.model import Asset, validate_media_type


@dataclass(frozen=True)
class ImportedFile:
    """The stored asset, which tool's recipe it carried (None: no recipe), and why its
    metadata was not read, if it was not."""

    asset: Asset
    tool: str | None = None
    metadata_problem: str | None = None

    @property
    def has_recipe(self) -> bool:
        return self.asset.recipe is not None


async def import_into_slot(vault, project_id: str, kind: str, slot: str, file) -> ImportedFile:
    """Check `file` (a JS File or Blob) by its bytes and store it as the slot's next version."""
    head = (await file.slice(0, sniff.SNIFF_BYTES).arrayBuffer()).to_bytes()
    mime_type = sniff.sniff(head)
    validate_media_type(kind, mime_type)
    recipe = source_metadata = tool = problem = None
    if mime_type in READ_METADATA_OF:
        try:
            found = read_source_metadata(await media.blob_bytes(file), mime_type)
            recipe, source_metadata = file_recipe(found)
            tool = found.tool if found else None
        except MetadataError as exc:
            problem = str(exc)
    owned = await media.own_copy(file)  # never a reference to the user's file on disk
    asset = await vault.put_asset(project_id, kind, slot, owned, mime_type, recipe=recipe,
                                  source="imported", source_metadata=source_metadata)
    return ImportedFile(asset, tool, problem)

