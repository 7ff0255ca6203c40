"""What a share link carries (pure): one project's recipe-only manifest, written compactly for
the link, and, on the way in, that manifest checked by the very rules a backup import uses
(app/backup/manifest.py `parse_manifest`, under a 1 MiB cap) and summed up for the page that
shows it before anything is imported. The link's framing is app/core/sharelink.py.

    data = share_manifest(project, assets, exported_at=now_ms())    # JSON bytes, recipes only
    shared = check_shared(data)              # BackupError / ShareLinkError when it breaks a rule
    shared.title, shared.scenes, shared.kinds, shared.files[0].prompt
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace

from app.backup.manifest import build_manifest, parse_manifest
from app.backup.policy import DEFAULT_LIMITS, Limits
from app.backup.schema import Manifest
from app.core.errors import BackupError, ShareLinkError
from app.core.model import Asset, Project
from app.core.sharelink import MAX_MANIFEST_BYTES

__all__ = ["SHARE_LIMITS", "SharedFile", "SharedProject", "share_manifest", "check_shared"]

# A backup import's caps, with the manifest held to what a link may inflate to.
SHARE_LIMITS: Limits = replace(DEFAULT_LIMITS, max_manifest_bytes=MAX_MANIFEST_BYTES)


@dataclass(frozen=True)
class SharedFile:
    """One file a link describes (its bytes are not in the link: they are regenerated)."""

    kind: str
    slot: str
    version: int
    prompt: str


@dataclass(frozen=True)
class SharedProject:
    """A checked share manifest: the bytes to import and what to show about them."""

    data: bytes
    manifest: Manifest

    @property
    def project(self) -> Project:
        return self.manifest.projects[0]

    @property
    def title(self) -> str:
        return self.project.title

    @property
    def scenes(self) -> tuple[dict, ...]:
        return tuple(self.project.scenes)

    @property
    def files(self) -> tuple[SharedFile, ...]:
        return tuple(SharedFile(item.asset.kind, item.asset.slot, item.asset.version,
                                _prompt(item.asset)) for item in self.manifest.assets)

    @property
    def kinds(self) -> dict[str, int]:
        """kind -> how many files of it, most first."""
        return dict(Counter(item.asset.kind for item in self.manifest.assets).most_common())


def share_manifest(project: Project, assets: list[Asset], exported_at: int) -> bytes:
    """The recipe-only manifest of one project, as compact UTF-8 JSON (no indentation: every
    byte counts in a link). Paths are None: a link never carries media."""
    manifest = build_manifest([project], assets, {asset.id: None for asset in assets},
                              exported_at, recipe_only=True)
    return json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def check_shared(data: bytes) -> SharedProject:
    """Check a link's manifest as a backup import would (size, UTF-8, depth, JSON, format,
    version, schema), then that it is what a link holds: one project, recipes only. Raises
    ShareLinkError, with the failing backup rule's code (`invalid_manifest`, ...) when there
    is one, else `not_shareable`."""
    try:
        manifest = parse_manifest(data, SHARE_LIMITS)
    except BackupError as exc:  # the backup rule's message, said of a link; its code kept
        raise ShareLinkError(f"This share link's contents fail the checks a backup import "
                             f"makes, so nothing was imported. {exc}", exc.code) from None
    if not manifest.recipe_only or len(manifest.projects) != 1 or any(
            item.path is not None for item in manifest.assets):
        raise ShareLinkError("This link does not hold one project's recipes, as a SceneVault "
                             "share link does; it was not opened.", "not_shareable")
    return SharedProject(data, manifest)


def _prompt(asset: Asset) -> str:
    prompt = (asset.recipe or {}).get("prompt")
    return prompt if isinstance(prompt, str) else ""
