"""Backups, the pure part: the `scenevault-backup` v1 manifest (build, encode, parse and check),
the archive's human-readable layout, and its file name. app/backup/service.py does the I/O.

Layout (one folder per project, a file per asset version, every version included):

    scenevault.json                                   the manifest (DEFLATEd)
    projects/moon-heist/thumbnail/thumbnail-v1.png    slot thumbnail
    projects/moon-heist/characters/hero-v2.png        slot character:hero
    projects/moon-heist/scenes/scene-03-v1.png        slot scene:3
    projects/moon-heist/clips/scene-03-clip-v1.webm   slot scene:3:clip
    projects/moon-heist/audio/scene-03-narration-v1.wav
    projects/moon-heist/video/final-v1.mp4            slot final

    layout = plan_layout(projects, assets, stored_shas)
    manifest = build_manifest(projects, assets, layout.paths, exported_at_ms, recipe_only=False)
    data = encode_manifest(manifest)
    parse_manifest(data).assets[0].path                # 'projects/moon-heist/...'

The manifest is `{format, version, exportedAt, app, recipeOnly, projects[], assets[]}`; each
asset is its vault record (app/core/model.py) plus `path`. Parsing checks the size cap and the
nesting depth before decoding, then the format, the version and the schema
(app/backup/schema.py).
"""

from __future__ import annotations

import datetime
import json
import re
import unicodedata
from dataclasses import dataclass

from app.backup.policy import DEFAULT_LIMITS, MANIFEST_NAME, Limits
from app.backup.schema import FORMAT, VERSION, Manifest, invalid, iso_time, validate_manifest
from app.core.errors import BackupError
from app.core.model import Asset, Project
from app.core.version import __version__

__all__ = ["FORMAT", "VERSION", "MANIFEST_NAME", "Layout", "Manifest", "archive_name",
           "asset_path", "build_manifest", "encode_manifest", "parse_manifest", "plan_layout",
           "slugify"]

FOLDERS = {"thumbnail": "thumbnail", "character": "characters", "scene": "scenes",
           "clip": "clips", "audio": "audio", "video": "video"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif",
              "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/mpeg": "mp3",
              "audio/ogg": "ogg", "audio/webm": "weba", "audio/mp4": "m4a", "audio/flac": "flac",
              "video/mp4": "mp4", "video/webm": "webm"}
MAX_SLUG = 48
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# A JSON string, to its closing quote or, when it never closes, to the end (json.loads then
# refuses it). The quantifiers are possessive (Python 3.11+): none gives back what it took, so
# no attempt backtracks, and none restarts inside a string that never closes. Linear.
_STRINGS = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_OPENER = {"]": "[", "}": "{"}


@dataclass(frozen=True)
class Layout:
    """Where each asset's bytes go: `paths` (asset id -> path, None when not included) and
    `files` (path -> sha256, each distinct file once: assets sharing bytes share a path)."""

    paths: dict[str, str | None]
    files: dict[str, str]


# --- names --------------------------------------------------------------------------------------
def slugify(title: str, fallback: str = "project") -> str:
    """'Moon Heist: Part 2!' -> 'moon-heist-part-2' (ASCII, at most 48 characters)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_title.lower()).strip("-")[:MAX_SLUG].strip("-")
    return slug or fallback


def unique_slugs(projects: list[Project]) -> dict[str, str]:
    """project id -> slug; a repeated slug gets -2, -3 ..."""
    slugs = _DistinctNames()
    return {project.id: slugs.claim(slugify(project.title)) for project in projects}


class _DistinctNames:
    """Hands out distinct names: a name already taken gets -2, -3 ... Each base remembers the
    last number it tried, so n claims cost O(n) however many repeat (no rescan from -2)."""

    def __init__(self):
        self.taken: set[str] = set()
        self.last: dict[str, int] = {}

    def claim(self, base: str) -> str:
        """`base` if free, else the first free `base-N`; it is taken from then on."""
        n = self.last.get(base, 1)
        name = base if n == 1 else f"{base}-{n}"
        while name in self.taken:
            n += 1
            name = f"{base}-{n}"
        self.last[base] = n
        self.taken.add(name)
        return name


def place_label(root: str, key: str, numbers: dict | None = None,
                names: dict | None = None) -> str:
    """'scene-03' for scene 3 (or the storyboard's third scene), a character's name slug."""
    if root == "scene":
        number = (numbers or {}).get(key, int(key) if key.isdigit() else None)
        return f"scene-{number:02d}" if number is not None else f"scene-{key}"
    if root == "character":
        name = (names or {}).get(key)
        return slugify(name, fallback=key) if name else key
    return f"{root}-{key}"


def place_labels(project: Project, slots: list[str]) -> dict[tuple[str, str], str]:
    """Unique labels for the places (root, key) the project's slots point at, read from its
    storyboard: a scene id becomes its position, a character id its name."""
    numbers = {scene.get("id"): n for n, scene in enumerate(project.scenes, 1)}
    names = {character.get("id"): character.get("name") for character in project.characters}
    labels = _DistinctNames()
    return {(root, key): labels.claim(place_label(root, key, numbers, names))
            for root, key in sorted({tuple(slot.split(":")[:2]) for slot in slots if ":" in slot})}


def asset_path(slug: str, asset: Asset, labels: dict[tuple[str, str], str] | None = None) -> str:
    """The asset's human-readable path in the archive (`labels` from `place_labels`)."""
    parts = asset.slot.split(":")
    if len(parts) > 1:
        label = (labels or {}).get((parts[0], parts[1])) or place_label(parts[0], parts[1])
        parts = [label, *parts[2:]]
    extension = EXTENSIONS.get(asset.mime_type, "bin")
    return f"projects/{slug}/{FOLDERS[asset.kind]}/{'-'.join(parts)}-v{asset.version}.{extension}"


def archive_name(slugs: list[str], day: datetime.date, recipe_only: bool = False,
                 everything: bool = False) -> str:
    """'<project-slug>-<YYYYMMDD>.scenevault.zip' (several projects: 'scenevault-3-projects-...')."""
    if len(slugs) == 1 and not everything:
        stem = slugs[0]
    else:
        stem = "scenevault-all" if everything else f"scenevault-{len(slugs)}-projects"
    return f"{stem}-{day:%Y%m%d}{'-recipes' if recipe_only else ''}.scenevault.zip"


def plan_layout(projects: list[Project], assets: list[Asset], stored: set[str]) -> Layout:
    """Paths for every asset; bytes are included for assets whose sha256 is in `stored`."""
    slugs = unique_slugs(projects)
    slots: dict[str, list[str]] = {project.id: [] for project in projects}
    for asset in assets:
        slots.setdefault(asset.project_id, []).append(asset.slot)
    labels = {project.id: place_labels(project, slots[project.id]) for project in projects}
    paths: dict[str, str | None] = {}
    by_sha: dict[str, str] = {}
    used: set[str] = set()
    for asset in assets:
        if asset.sha256 not in stored:
            paths[asset.id] = None
            continue
        if asset.sha256 not in by_sha:
            path = asset_path(slugs[asset.project_id], asset, labels[asset.project_id])
            if path in used:  # a character named like a scene could do it
                stem, extension = path.rsplit(".", 1)
                path = f"{stem}-{asset.id}.{extension}"
            by_sha[asset.sha256] = path
            used.add(path)
        paths[asset.id] = by_sha[asset.sha256]
    return Layout(paths, {path: sha for sha, path in by_sha.items()})


# --- the manifest -------------------------------------------------------------------------------
def build_manifest(projects: list[Project], assets: list[Asset], paths: dict[str, str | None],
                   exported_at: int, recipe_only: bool = False) -> dict:
    """The manifest as a JSON-ready dict. Assets without bytes (path None) are `missing`;
    in a recipe-only backup the paths say where the bytes would go."""
    listed = []
    for asset in assets:
        record = asset.to_record()
        if paths.get(asset.id) is None and not recipe_only:
            record["missing"] = True
        listed.append({**record, "path": paths.get(asset.id)})
    return {"format": FORMAT, "version": VERSION, "exportedAt": iso_time(exported_at),
            "app": {"name": "SceneVault", "version": __version__}, "recipeOnly": recipe_only,
            "projects": [project.to_record() for project in projects], "assets": listed}


def encode_manifest(manifest: dict) -> bytes:
    """UTF-8 JSON, one key per line: readable in a diff, small once DEFLATEd."""
    return json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8")


def parse_manifest(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Manifest:
    """Check and decode scenevault.json: size, UTF-8, nesting depth, JSON, format, version,
    then the schema. Raises BackupError with the code of the first rule that fails."""
    if len(data) > limits.max_manifest_bytes:
        raise manifest_too_large(limits)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid(f"it is not UTF-8 text (byte {exc.start})") from None
    check_depth(text, limits.max_json_depth)
    try:
        decoded = json.loads(text)
    except ValueError as exc:
        raise invalid(f"it is not JSON ({exc})") from None
    check_format(decoded)
    return validate_manifest(decoded, limits)


def manifest_too_large(limits: Limits) -> BackupError:
    return BackupError(f"The manifest ({MANIFEST_NAME}) is over {limits.max_manifest_bytes:,} "
                       "bytes; a real one is far smaller. This file is not a usable backup.",
                       "manifest_too_large")


def check_depth(text: str, max_depth: int) -> None:
    """Refuse JSON nested deeper than `max_depth` before any parser recurses into it, in linear
    time: strip strings and all but brackets (C-speed passes), then match the brackets on a
    stack that stops at the cap; a tally of the rest then tells a document that is too deep
    from brackets that never pair."""
    shape = _NOT_BRACKET.sub("", _STRINGS.sub("", text))
    stack: list[str] = []
    for index, char in enumerate(shape):
        if char in "[{":
            if len(stack) == max_depth:
                raise _too_deep_or_unpaired(shape[index:], max_depth)
            stack.append(char)
        elif not stack or stack.pop() != _OPENER[char]:
            raise _brackets_unpaired()
    if stack:
        raise _brackets_unpaired()


def _too_deep_or_unpaired(rest: str, max_depth: int) -> BackupError:
    """`rest` starts with a bracket opened past the cap, `max_depth` being open: the document
    is too deep when the rest closes as many brackets as are open, else they do not pair."""
    opened = rest.count("[") + rest.count("{")
    if len(rest) - opened != opened + max_depth:
        return _brackets_unpaired()
    return BackupError(f"The manifest nests deeper than {max_depth} levels; a real one nests "
                       "about 5. This file is not a usable backup.", "json_too_deep")


def _brackets_unpaired() -> BackupError:
    return invalid("it is not JSON (its brackets do not pair up)")


def check_format(decoded) -> None:
    if not isinstance(decoded, dict) or decoded.get("format") != FORMAT:
        shown = decoded.get("format") if isinstance(decoded, dict) else type(decoded).__name__
        raise BackupError(f"This is not a SceneVault backup: its manifest's format is "
                          f"{shown!r}, not {FORMAT!r}.", "unknown_format")
    version = decoded.get("version")
    if version != VERSION or type(version) is not int:
        newer = type(version) is int and version > VERSION
        advice = ("It was made by a newer SceneVault: update this one, then import it."
                  if newer else "Export the backup again from SceneVault.")
        raise BackupError(f"This backup has version {version!r}; this SceneVault reads version "
                          f"{VERSION}. {advice}", "unsupported_version")
