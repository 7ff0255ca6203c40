"""The backup manifest's schema (pure): turns decoded, untrusted JSON into checked `Project`
and `Asset` records, or refuses it with a message naming the offending item and field.

Known fields are type-checked and copied; unknown fields are dropped, never stored. Slots,
kinds and MIME types go through app/core/model.py's own rules, paths through
app/backup/policy.py. Texts (titles, descriptions, storyboards, every string of a recipe) are
put in app/core/textrules.py's normal form, the rules the page and the server use: a lone
surrogate, NUL or other control character is refused naming the record and field, and so
are NaN and infinities in a recipe. Across records: the counts are capped, ids are unique,
every asset's project is in the manifest, a slot's versions are unique with exactly one
current, and one path holds one SHA-256.

    manifest = validate_manifest(json.loads(text))
    manifest.projects[0].title, manifest.assets[0].path
"""

from __future__ import annotations

import datetime
import re
import time
from dataclasses import dataclass
from typing import Callable

from app.core import textrules
from app.backup.policy import DEFAULT_LIMITS, Limits, check_path, entry_too_large, path_problem
from app.core.errors import BackupError, InvalidAsset
from app.core.metadata.source import MAX_RAW_CHARS, MAX_RAW_KEYS
from app.core.model import (ASPECT_RATIOS, KINDS, MAX_TEXT, MAX_TITLE, PROJECT_TEXT_RULES, SOURCES,
                       Asset, Project, validate_media_type, validate_slot)
from app.core.storyboard import ITEM_TEXT_RULES, MAX_CHARACTERS, MAX_SCENES

FORMAT = "scenevault-backup"
VERSION = 1
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z")
_MAX_TIME = 2**53
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class ManifestAsset:
    """One asset as the manifest describes it; `path` is None when its bytes are not included."""

    asset: Asset
    path: str | None


@dataclass(frozen=True)
class Manifest:
    """A checked manifest."""

    exported_at: int
    recipe_only: bool
    projects: tuple[Project, ...]
    assets: tuple[ManifestAsset, ...]

    def paths(self) -> dict[str, str | None]:
        return {item.asset.id: item.path for item in self.assets}


@dataclass(frozen=True)
class Field:
    """A known field. `clean(value, where)`, when given, runs before `test`: it puts text in
    normal form and refuses what no text may hold; values of another type pass to `test`."""

    name: str
    expected: str
    test: Callable[[object], bool]
    required: bool = True
    clean: Callable[[object, str], object] | None = None


def _whole(low: int, high: int = _MAX_TIME) -> Callable[[object], bool]:
    return lambda v: type(v) is int and low <= v <= high


def _text(low: int, high: int) -> Callable[[object], bool]:
    return lambda v: isinstance(v, str) and low <= len(v.strip()) <= high


def _is_id(value) -> bool:
    return isinstance(value, str) and bool(_ID.fullmatch(value))


def _project_text(name: str) -> Callable[[object, str], object]:
    """The cleaner of a project's text field, by app/core/model.py's rule for `name`."""
    def clean(value, where: str):
        if not isinstance(value, str):
            return value
        return textrules.checked(value, where, PROJECT_TEXT_RULES[name], invalid)
    return clean


def _clean_items(value, where: str):
    """A storyboard list with its texts in normal form, by app/core/storyboard.py's rules (a key
    it does not know is prose); ids are left to `_items`, keys are checked."""
    if not isinstance(value, list):
        return value
    return [_clean_item(item, f"{where}[{i}]") if isinstance(item, dict) else item
            for i, item in enumerate(value)]


def _clean_item(item: dict, where: str) -> dict:
    clean = {}
    for key, text in item.items():
        found = textrules.problem(key)
        if found:
            raise invalid(f"{where} has a key that contains {found}")
        if key != "id" and isinstance(text, str):
            text = textrules.checked(text, f"{where}.{key}",
                                     ITEM_TEXT_RULES.get(key, textrules.PROSE), invalid)
        clean[key] = text
    return clean


def _clean_recipe(value, where: str):
    """Every string of a recipe in normal form; NaN and infinities refused."""
    if not isinstance(value, dict):
        return value
    return textrules.checked_json(value, where, invalid)


def _is_source_metadata(value) -> bool:
    """What another tool wrote into a file (app/core/metadata/source.py): a tool name and at
    most MAX_RAW_KEYS texts, each at most MAX_RAW_CHARS long."""
    raw = value.get("raw") if isinstance(value, dict) else None
    return (isinstance(value, dict) and set(value) <= {"tool", "raw"}
            and isinstance(value.get("tool"), str) and 0 < len(value["tool"]) <= 64
            and isinstance(raw, dict) and len(raw) <= MAX_RAW_KEYS
            and all(isinstance(text, str) and len(key) <= 64 and len(text) <= MAX_RAW_CHARS
                    for key, text in raw.items()))


def _items(most: int) -> Callable[[object], bool]:
    """A storyboard list: objects with an id and short text values (app/core/storyboard.py)."""
    def test(value) -> bool:
        return isinstance(value, list) and len(value) <= most and all(
            isinstance(item, dict) and _is_id(item.get("id")) and len(item) <= 8 and all(
                isinstance(text, str) and len(text) <= MAX_TEXT for text in item.values())
            for item in value)
    return test


_FLAG = ("true or false", lambda v: type(v) is bool)
_TIME = ("a time in milliseconds", _whole(0))
_IDENT = ("an id of letters, digits, '_' or '-'", _is_id)
PROJECT_FIELDS = [
    Field("id", *_IDENT), Field("title", f"text of 1-{MAX_TITLE} characters", _text(1, MAX_TITLE),
                                clean=_project_text("title")),
    Field("createdAt", *_TIME), Field("updatedAt", *_TIME),
    *(Field(name, f"text of at most {MAX_TEXT} characters", _text(0, MAX_TEXT), False,
            _project_text(name)) for name in ("description", "style", "mood")),
    Field("aspectRatio", f"one of {', '.join(ASPECT_RATIOS)}", lambda v: v in ASPECT_RATIOS, False),
    Field("backedUpAt", *_TIME, False),
    Field("characters", f"a list of at most {MAX_CHARACTERS} {{id, name, description}} objects",
          _items(MAX_CHARACTERS), False, _clean_items),
    Field("scenes", f"a list of at most {MAX_SCENES} {{id, story, prompt}} objects",
          _items(MAX_SCENES), False, _clean_items),
]
ASSET_FIELDS = [
    Field("id", *_IDENT), Field("projectId", *_IDENT),
    Field("kind", f"one of {', '.join(KINDS)}", lambda v: v in KINDS),
    Field("slot", "text", lambda v: isinstance(v, str)),
    Field("version", "a whole number from 1", _whole(1)), Field("current", *_FLAG),
    Field("sha256", "64 lowercase hex digits",
          lambda v: isinstance(v, str) and bool(_SHA256.fullmatch(v))),
    Field("size", "a whole number of bytes from 1", _whole(1)),
    Field("mimeType", "a MIME type", lambda v: isinstance(v, str) and len(v) < 100),
    Field("source", f"one of {', '.join(SOURCES)}", lambda v: v in SOURCES),
    Field("createdAt", *_TIME), Field("favorite", *_FLAG, False), Field("missing", *_FLAG, False),
    Field("width", "a whole number of pixels", _whole(1, 1 << 20), False),
    Field("height", "a whole number of pixels", _whole(1, 1 << 20), False),
    Field("durationMs", "a whole number of milliseconds", _whole(0), False),
    Field("recipe", "an object", lambda v: isinstance(v, dict), False, _clean_recipe),
    Field("backedUpAt", *_TIME, False), Field("replaces", *_IDENT, False),
    Field("sourceMetadata", "an object {tool: text, raw: {key: text}}", _is_source_metadata,
          False, _clean_recipe),
    Field("path", "a relative path", lambda v: isinstance(v, str), False),
]


def invalid(detail: str) -> BackupError:
    return BackupError(f"The backup's manifest is invalid: {detail}. It was damaged or edited "
                       "by hand; export the backup again from SceneVault.", "invalid_manifest")


def iso_time(ms: int) -> str:
    """UTC milliseconds -> '2025-11-21T22:08:00.123Z' (the manifest's exportedAt)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def parse_iso(text) -> int:
    """The pair of `iso_time`: an ISO 8601 UTC time ('...Z') from 1970 on -> milliseconds.
    Anything else (month 13, hour 24, February 30, ...) is BackupError naming the value."""
    match = _ISO.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise _bad_time(text)
    *parts, fraction = match.groups()
    try:
        moment = datetime.datetime(*map(int, parts), tzinfo=datetime.timezone.utc)
    except ValueError:
        raise _bad_time(text) from None
    if moment < _EPOCH:
        raise invalid(f"'exportedAt' is {_shown(text)}, before 1970")
    seconds = (moment - _EPOCH) // datetime.timedelta(seconds=1)
    return seconds * 1000 + int((fraction or "0").ljust(3, "0")[:3])


def _bad_time(text) -> BackupError:
    return invalid(f"'exportedAt' must be a UTC time like 2025-01-31T12:00:00.000Z, not "
                   f"{_shown(text)}")


def validate_manifest(data, limits: Limits = DEFAULT_LIMITS) -> Manifest:
    """Check a decoded manifest whose `format` and `version` were already accepted."""
    if not isinstance(data.get("app"), (dict, str)):
        raise invalid("'app' (what wrote the backup) is missing")
    recipe_only = data.get("recipeOnly", False)
    if type(recipe_only) is not bool:
        raise invalid(f"'recipeOnly' must be true or false, not {_shown(recipe_only)}")
    exported_at = parse_iso(data.get("exportedAt"))
    project_records, asset_records = _list(data, "projects"), _list(data, "assets")
    if len(project_records) > limits.max_projects:
        raise BackupError(f"The manifest lists {len(project_records):,} projects; a backup may "
                          f"list at most {limits.max_projects:,}.", "too_many_projects")
    if len(asset_records) > limits.max_entries:
        raise BackupError(f"The manifest lists {len(asset_records):,} assets; a backup may list "
                          f"at most {limits.max_entries:,}.", "too_many_entries")
    projects = [_project(r, i) for i, r in enumerate(project_records)]
    _unique([p.id for p in projects], "project id")
    assets = [_asset(r, i, recipe_only, limits) for i, r in enumerate(asset_records)]
    _check_relations(projects, assets, limits)
    return Manifest(exported_at, recipe_only, tuple(projects), tuple(assets))


def _list(data: dict, key: str) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise invalid(f"{key!r} must be a list, not {_shown(value)}")
    return value


def _read(record, fields: list[Field], where: str) -> dict:
    if not isinstance(record, dict):
        raise invalid(f"{where} must be an object, not {_shown(record)}")
    clean = {}
    for field in fields:
        value = record.get(field.name)
        if value is None:
            if field.required:
                raise invalid(f"{where} has no {field.name!r}")
            continue
        if field.clean is not None:
            value = field.clean(value, f"{where}.{field.name}")
        if not field.test(value):
            raise invalid(f"{where}: {field.name!r} must be {field.expected}, not {_shown(value)}")
        clean[field.name] = value
    return clean


def _project(record, index: int) -> Project:
    return Project.from_record(_read(record, PROJECT_FIELDS, f"projects[{index}]"))


def _asset(record, index: int, recipe_only: bool, limits: Limits) -> ManifestAsset:
    where = f"assets[{index}]"
    clean = _read(record, ASSET_FIELDS, where)
    where = f"{where} ({clean['id']})"
    try:
        validate_slot(clean["kind"], clean["slot"])
    except InvalidAsset as exc:
        raise invalid(f"{where}: {exc}") from None
    _check_media_type(clean, where)
    path = clean.pop("path", None)
    if path is not None and path_problem(path, limits):
        check_path(path, limits)
    if path is None and not (recipe_only or clean.get("missing")):
        raise invalid(f"{where} has no 'path', but its media should be in the archive")
    if clean["size"] > limits.max_entry_bytes:
        raise entry_too_large(path or clean["id"], clean["size"], limits)
    return ManifestAsset(Asset.from_record(clean), path)


def _check_media_type(clean: dict, where: str) -> None:
    """The MIME allowlist of app/core/model.py (no SVG, no HTML), in its normal form."""
    try:
        normal = validate_media_type(clean["kind"], clean["mimeType"])
    except InvalidAsset as exc:
        raise BackupError(f"{where}: {exc}. SceneVault imports only these media types.",
                          "media_type") from None
    if normal != clean["mimeType"]:
        raise invalid(f"{where}: media type {clean['mimeType']!r} is not in normal form")


def _check_relations(projects: list[Project], items: list[ManifestAsset], limits: Limits) -> None:
    project_ids = {p.id for p in projects}
    _unique([item.asset.id for item in items], "asset id")
    _unique([(i.asset.project_id, i.asset.slot, i.asset.version) for i in items], "slot version")
    currents: dict[tuple[str, str], int] = {}
    sha_by_path: dict[str, str] = {}
    for item in items:
        asset = item.asset
        if asset.project_id not in project_ids:
            raise invalid(f"asset {asset.id} belongs to project {asset.project_id!r}, which the "
                          "manifest does not list")
        key = (asset.project_id, asset.slot)
        currents[key] = currents.get(key, 0) + int(asset.current)
        if item.path and sha_by_path.setdefault(item.path, asset.sha256) != asset.sha256:
            raise invalid(f"two assets with different SHA-256 share the path {item.path!r}")
    for (project_id, slot), count in currents.items():
        if count != 1:
            raise invalid(f"slot {slot!r} of project {project_id} has {count} current versions "
                          "(exactly one is required)")
    sizes = {item.path: item.asset.size for item in items if item.path}
    if sum(sizes.values()) > limits.max_total_bytes:
        raise BackupError(f"The manifest lists {sum(sizes.values()):,} bytes of media; a backup "
                          f"may hold at most {limits.max_total_bytes:,}.", "total_too_large")


def _unique(values: list, what: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            shown = " ".join(map(str, value)) if isinstance(value, tuple) else value
            raise invalid(f"the {what} {shown!r} appears twice")
        seen.add(value)


def _shown(value) -> str:
    text = repr(value)
    return f"{text[:40]}… ({type(value).__name__})" if len(text) > 40 else \
        f"{text} ({type(value).__name__})"
