"""The JSON sidecar beside every file of a backup (pure): what the file is and how it was made,
readable without SceneVault.

A backup holds `projects/<slug>/scenes/scene-01-v1.png` and, beside it,
`projects/<slug>/scenes/scene-01-v1.png.json`: the file's sha256, size and media type, whether
it is AI-made (the IPTC digital source type), and for each asset that uses those bytes (usually
one) its project, slot, version, dates, provenance (generated, imported, rendered), recipe and
the metadata another tool wrote into it. The manifest stays the one authority: import never
reads a sidecar, it only accepts the entry (app/backup/policy.py `check_references`).

    >>> from app.core.model import Asset, Project
    >>> project = Project.create("Moon heist")
    >>> asset = Asset("ast_1", project.id, "scene", "scene:1", 1, True, "ab" * 32, "image/png",
    ...               120, "generated", 1700000000000, recipe={"prompt": "a moon"})
    >>> card = build_sidecar("projects/moon-heist/scenes/scene-01-v1.png", [asset], {project.id: project})
    >>> card["assets"][0]["recipe"]["prompt"], card["digitalSourceType"].rsplit("/", 1)[1]
    ('a moon', 'trainedAlgorithmicMedia')
    >>> sidecar_name("projects/moon-heist/scenes/scene-01-v1.png")
    'projects/moon-heist/scenes/scene-01-v1.png.json'
"""

from __future__ import annotations

import json

from app.backup.policy import SIDECAR_SUFFIX
from app.backup.schema import iso_time
from app.core.model import Asset, Project
from app.core.version import __version__

SIDECAR_FORMAT = "scenevault-sidecar"
SIDECAR_VERSION = 1
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# What made the bytes, in the IPTC vocabulary: a generation is AI-made; a render composites
# AI-made frames; an imported file is AI-made when it carries a generator's recipe.
DIGITAL_SOURCE_TYPES = {"generated": IPTC + "trainedAlgorithmicMedia",
                        "rendered": IPTC + "compositeWithTrainedAlgorithmicMedia"}
GENERATOR_TOOLS = frozenset({"a1111", "comfyui", "invokeai", "novelai"})


def sidecar_name(path: str) -> str:
    """The sidecar's path inside the archive: the file's path plus `.json`."""
    return path + SIDECAR_SUFFIX


def build_sidecar(path: str, assets: list[Asset], projects: dict[str, Project]) -> dict:
    """The sidecar of the file at `path`, which holds the bytes of every one of `assets`
    (the same sha256); `projects` by id, for their titles."""
    first = min(assets, key=lambda asset: asset.created_at)
    card = {"format": SIDECAR_FORMAT, "version": SIDECAR_VERSION,
            "file": path.rsplit("/", 1)[-1], "sha256": first.sha256, "size": first.size,
            "mimeType": first.mime_type,
            "writtenBy": {"name": "SceneVault", "version": __version__},
            "assets": [_asset_card(asset, projects.get(asset.project_id)) for asset in assets]}
    source_type = _digital_source_type(first)
    if source_type:
        card["digitalSourceType"] = source_type
    return card


def encode_sidecar(card: dict) -> bytes:
    """Indented UTF-8 JSON, for people as much as for programs."""
    return json.dumps(card, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8")


def _digital_source_type(asset: Asset) -> str | None:
    if asset.source in DIGITAL_SOURCE_TYPES:
        return DIGITAL_SOURCE_TYPES[asset.source]
    tool = (asset.source_metadata or {}).get("tool")
    made_here = asset.recipe is not None and asset.source_metadata is None  # our own recipe
    return DIGITAL_SOURCE_TYPES["generated"] if tool in GENERATOR_TOOLS or made_here else None


def _asset_card(asset: Asset, project: Project | None) -> dict:
    card = {"id": asset.id, "project": project.title if project else None,
            "projectId": asset.project_id, "kind": asset.kind, "slot": asset.slot,
            "version": asset.version, "current": asset.current, "provenance": asset.source,
            "createdAt": iso_time(asset.created_at)}
    for name, value in (("width", asset.width), ("height", asset.height),
                        ("durationMs", asset.duration_ms), ("recipe", asset.recipe),
                        ("sourceMetadata", asset.source_metadata)):
        if value is not None:
            card[name] = value
    return card
