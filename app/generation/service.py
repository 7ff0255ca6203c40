"""Generation service (browser): generate media for a slot through the proxy and keep it in the
vault with its recipe; regenerate missing media and prove whether the result is identical.

The service receives its vault and its proxy client, so nothing here opens a connection of its
own. Progress goes to an optional `on_progress(stage)` callback: "queued", "generating",
"saving", then "done" (or "failed"). A failure stores nothing: the vault writes the media and
its record in one transaction, after the provider has answered. A lost rendered video has a
render recipe instead of a generation recipe: it is rendered again (app/render/encoder.py) from the
images and narration it names, after those have been regenerated. A scene's clip is made from
its current frame in the page (app/generation/clips.py: the local motion clip).

    service = GenerationService(vault, ProxyClient())
    asset = await service.generate(project.id, "scene", "scene:1", {"prompt": "a harbour"})
    outcomes = await service.regenerate_missing(project.id)   # [Regeneration(status=...)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from app.store import media
from app.core.errors import ProviderError, RecipeError, SceneVaultError
from app.core.model import Asset
from app.core.recipe import Recipe, is_local_clip
from app.generation.clips import ClipService

RECIPE_KIND_BY_ASSET_KIND = {"thumbnail": "image", "character": "image", "scene": "image",
                             "audio": "audio", "clip": "clip"}
RESTORED = "restored (identical)"
REROLLED = "re-rolled"
NO_RECIPE = "no recipe"
FAILED = "failed"


@dataclass(frozen=True)
class Regeneration:
    """What regenerating one missing asset did. `asset` is the restored or new version."""

    asset_id: str
    status: str
    message: str
    asset: Asset | None = None


class GenerationService:
    """Generate and regenerate through `client` (app.generation.client.ProxyClient), store in `vault`."""

    def __init__(self, vault, client, renderer=None):
        self.vault = vault
        self.client = client
        self._renderer = renderer
        self.clips = ClipService(vault, client)

    @property
    def renderer(self):
        """The app.render.encoder.Renderer that re-renders lost videos (imported on first use)."""
        if self._renderer is None:
            from app.render.encoder import Renderer

            self._renderer = Renderer(self.vault)
        return self._renderer

    async def generate(self, project_id: str, kind: str, slot: str, request: dict,
                       on_progress: Callable[[str], None] | None = None) -> Asset:
        """Generate `request` for the slot; the result becomes the slot's current version."""
        report = on_progress or (lambda stage: None)
        report("queued")
        try:
            full_request = {"kind": recipe_kind(kind), **request}
            report("generating")
            if kind == "clip":
                asset = await self.clips.generate(project_id, slot, request, on_stage=report)
                report("done")
                return asset
            result = await self.client.generate(full_request)
            report("saving")
            asset = await self.vault.put_asset(project_id, kind, slot, result.blob,
                                               result.mime_type, recipe=result.recipe,
                                               source="generated")
        except SceneVaultError:
            report("failed")
            raise
        report("done")
        return asset

    async def regenerate_missing(self, project_id: str,
                                 on_progress: Callable[[str, str], None] | None = None
                                 ) -> list[Regeneration]:
        """Regenerate every asset of the project whose media is missing, one by one.

        When the bytes hash to the recorded SHA-256, the record gets its media back: "restored
        (identical)". Otherwise the result is stored as a new version of the slot: "re-rolled".
        """
        outcomes = []
        replaced = {a.replaces for a in await self.vault.list_assets(project_id) if a.replaces}
        # Clips come after the frames they are made from, rendered videos last: each is made
        # from what was restored before it.
        missing = sorted(await self.vault.missing(project_id),
                         key=lambda a: (a.source == "rendered", a.kind == "clip"))
        for asset in missing:
            if asset.id in replaced:
                continue  # already re-rolled once; the new version is in the slot
            if on_progress is not None:
                on_progress(asset.id, "generating")
            outcomes.append(await self.regenerate_asset(asset))
            if on_progress is not None:
                on_progress(asset.id, outcomes[-1].status)
        return outcomes

    async def regenerate_asset(self, asset: Asset) -> Regeneration:
        """Regenerate one missing asset from its recipe (see `regenerate_missing`)."""
        if not asset.recipe:
            return Regeneration(asset.id, NO_RECIPE, f"{asset.slot} v{asset.version} has no "
                                "recipe, so it cannot be regenerated. Restore it from a backup.")
        if asset.source_metadata:  # another tool's recipe: its samplers and models are not ours
            tool = asset.source_metadata.get("tool", "another tool")
            return Regeneration(asset.id, NO_RECIPE, f"{asset.slot} v{asset.version} was made by "
                                f"{tool}, whose recipe SceneVault cannot run. Restore it from a "
                                "backup, or reuse its prompt to make a new version here.")
        from app.render.timeline import is_render_recipe  # start-up does not need the render timeline

        try:
            if is_render_recipe(asset.recipe):
                # The lost asset's created_at dates the tags, so the bytes can match.
                blob = await self.renderer.rerender(asset.recipe, made_at_ms=asset.created_at)
                mime_type, recipe, source = asset.mime_type, asset.recipe, "rendered"
            elif is_local_clip(asset.recipe):
                blob = await self.clips.make(asset.recipe, made_at_ms=asset.created_at)
                mime_type, recipe, source = asset.mime_type, asset.recipe, "generated"
            elif asset.recipe.get("kind") == "clip":  # a server job: minutes, and a new take
                new = await self.clips.start_job(asset.project_id, asset.slot,
                                                 Recipe.from_dict(asset.recipe))
                return Regeneration(asset.id, REROLLED, f"{asset.slot}: the provider made the "
                                    "clip again; it is stored as a new version.", new)
            else:
                result = await self.client.generate(Recipe.from_dict(asset.recipe).to_dict())
                blob, mime_type, recipe, source = (result.blob, result.mime_type, result.recipe,
                                                   "generated")
            digest = await media.sha256_hex(blob)
            if digest == asset.sha256:
                restored = await self.vault.attach_media(asset.id, blob)
                return Regeneration(asset.id, RESTORED, f"{asset.slot} v{asset.version} was "
                                    "regenerated bit for bit.", restored)
            new = await self.vault.put_asset(asset.project_id, asset.kind, asset.slot, blob,
                                             mime_type, recipe=recipe, source=source,
                                             replaces=asset.id)
        except (ProviderError, RecipeError, SceneVaultError) as exc:
            return Regeneration(asset.id, FAILED, f"{asset.slot} v{asset.version} could not be "
                                f"regenerated: {exc}")
        maker = ("the render" if source == "rendered" else "the local clip maker"
                 if is_local_clip(recipe) else "the provider")
        return Regeneration(asset.id, REROLLED, f"{asset.slot}: {maker} gave different bytes, so "
                            f"they were stored as a new version (v{new.version}); the missing "
                            "original stays listed.", new)


def recipe_kind(asset_kind: str) -> str:
    """The generation kind ("image", "audio" or "clip") an asset kind is made with."""
    try:
        return RECIPE_KIND_BY_ASSET_KIND[asset_kind]
    except KeyError:
        raise RecipeError(f"kind: a {asset_kind!r} cannot be generated; only "
                          f"{', '.join(RECIPE_KIND_BY_ASSET_KIND)} can") from None
