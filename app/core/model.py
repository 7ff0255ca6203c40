"""SceneVault's records (pure): projects and assets, their ids, validation, and the dict form
stored in IndexedDB (camelCase keys, as in docs/schema.md).

Serializing is pure; app/store/vault.py does the I/O. `from_record(to_record(x)) == x` always holds.
A project's texts are kept in app/core/textrules.py's normal form (`PROJECT_TEXT_RULES`).

    >>> project = Project.create("Moon heist")
    >>> Project.from_record(project.to_record()) == project
    True
    >>> validate_slot("scene", "scene:3")
    'scene:3'
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from dataclasses import dataclass, field, fields, replace

from app.core import textrules
from app.core.errors import InvalidAsset

KINDS = ("thumbnail", "character", "scene", "clip", "audio", "video")
SOURCES = ("generated", "imported", "rendered")
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
AUDIO_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/ogg",
                         "audio/webm", "audio/mp4", "audio/flac"})
VIDEO_TYPES = frozenset({"video/mp4", "video/webm"})
TYPES_BY_KIND = {
    "thumbnail": IMAGE_TYPES, "character": IMAGE_TYPES, "scene": IMAGE_TYPES,
    "clip": VIDEO_TYPES, "audio": AUDIO_TYPES, "video": VIDEO_TYPES,
}
# A slot names a place in a project: `thumbnail`, `final`, `character:hero`, `scene:3`,
# `scene:3:clip`, `scene:3:narration`. Its first part says which kinds may live there.
SLOT_PATTERN = re.compile(r"[a-z]+(?::[a-z0-9][a-z0-9_-]{0,63}){0,2}")
SLOT_ROOTS_BY_KIND = {
    "thumbnail": {"thumbnail"}, "character": {"character"}, "scene": {"scene"},
    "clip": {"scene"}, "audio": {"scene", "character"}, "video": {"final", "scene"},
}
PROJECT_FIELDS = ("title", "description", "style", "mood", "aspect_ratio")
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "21:9")
MAX_TITLE = textrules.LINE.max_chars
MAX_TEXT = textrules.PROSE.max_chars
# How each project text is kept (app/core/textrules.py): only the description has several lines;
# style and mood are one line each, but as long as a description.
PROJECT_TEXT_RULES = {"title": textrules.LINE, "description": textrules.PROSE,
                      "style": textrules.TextRule(single_line=True, max_chars=MAX_TEXT),
                      "mood": textrules.TextRule(single_line=True, max_chars=MAX_TEXT),
                      "aspect_ratio": textrules.LINE}


def new_id(prefix: str) -> str:
    """A reference ID that sorts by creation time: 'ast_0193a1b2c3d4e5f60718293a4b5c6d7e'."""
    return f"{prefix}_{now_ms():012x}{secrets.token_hex(10)}"


def now_ms() -> int:
    return int(time.time() * 1000)


_last_change_ms = 0


def change_stamp(after: int = 0) -> int:
    """Unix ms for a change made now, later than `after` and than every stamp this process gave
    before: two changes in one millisecond still sort in the order they were made (projects
    are listed most recently changed first, by `updatedAt`)."""
    global _last_change_ms
    _last_change_ms = max(now_ms(), _last_change_ms + 1, after + 1)
    return _last_change_ms


def validate_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidAsset(f"Unknown asset kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def validate_slot(kind: str, slot: str) -> str:
    """Check that `slot` is well formed and may hold a `kind` asset."""
    if not isinstance(slot, str) or not SLOT_PATTERN.fullmatch(slot):
        raise InvalidAsset(f"Slot {slot!r} is malformed; use e.g. 'thumbnail', 'scene:3' or "
                           "'character:hero' (lowercase)")
    root = slot.split(":", 1)[0]
    if root not in SLOT_ROOTS_BY_KIND[validate_kind(kind)]:
        allowed = " or ".join(sorted(SLOT_ROOTS_BY_KIND[kind]))
        raise InvalidAsset(f"Slot {slot!r} cannot hold a {kind}; its slot must start with {allowed}")
    return slot


def validate_media_type(kind: str, mime_type: str) -> str:
    """Normalise and check a MIME type against the kind's allowlist (no SVG, no HTML)."""
    normalized = str(mime_type).split(";", 1)[0].strip().lower()
    if normalized not in TYPES_BY_KIND[validate_kind(kind)]:
        allowed = ", ".join(sorted(TYPES_BY_KIND[kind]))
        raise InvalidAsset(f"Media type {mime_type!r} is not allowed for a {kind}; "
                           f"allowed: {allowed}")
    return normalized


def validate_source(source: str) -> str:
    if source not in SOURCES:
        raise InvalidAsset(f"Unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    return source


@functools.cache
def _camel_names(cls) -> tuple[tuple[str, str], ...]:
    """(python_name, camelName) for each field of a record class, computed once."""
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return tuple((f.name, camel(f.name)) for f in fields(cls))


def _to_record(obj) -> dict:
    """Dataclass -> camelCase dict, leaving out fields that are None."""
    values = obj.__dict__
    return {camel: values[name] for name, camel in _camel_names(type(obj))
            if values[name] is not None}


def _from_record(cls, record: dict):
    return cls(**{name: record[camel] for name, camel in _camel_names(cls) if camel in record})


@dataclass(frozen=True)
class Project:
    """A video project: its texts and settings. Its assets point to it by `project_id`."""

    id: str
    title: str
    created_at: int
    updated_at: int
    description: str = ""
    style: str = ""
    mood: str = ""
    aspect_ratio: str = "16:9"
    backed_up_at: int | None = None
    characters: list[dict] = field(default_factory=list)  # [{id, name, description}]
    scenes: list[dict] = field(default_factory=list)      # [{id, story, prompt}], in order

    @classmethod
    def create(cls, title: str, **details: str) -> Project:
        stamp = change_stamp()
        project = cls(id=new_id("prj"), title="", created_at=stamp, updated_at=stamp)
        return project.updated(title=title, **details)

    def updated(self, **changes) -> Project:
        """A copy with `changes` applied and validated, and `updated_at` moved on."""
        unknown = set(changes) - set(PROJECT_FIELDS)
        if unknown:
            raise InvalidAsset(f"Unknown project field(s) {', '.join(sorted(unknown))}; "
                               f"editable: {', '.join(PROJECT_FIELDS)}")
        changed = replace(self, **{k: _clean_text(k, v) for k, v in changes.items()},
                          updated_at=change_stamp(self.updated_at))
        if not changed.title:
            raise InvalidAsset("A project needs a title")
        if changed.aspect_ratio not in ASPECT_RATIOS:
            raise InvalidAsset(f"Aspect ratio {changed.aspect_ratio!r} is not one of "
                               f"{', '.join(ASPECT_RATIOS)}")
        return changed

    def to_record(self) -> dict:
        return _to_record(self)

    @classmethod
    def from_record(cls, record: dict) -> Project:
        return _from_record(cls, record)


def _clean_text(name: str, value) -> str:
    """A project field in app/core/textrules.py's normal form, or InvalidAsset naming it."""
    if not isinstance(value, str):
        raise InvalidAsset(f"Project {name} must be text, not {type(value).__name__}")
    return textrules.checked(value, f"Project {name}", PROJECT_TEXT_RULES[name], InvalidAsset)


@dataclass(frozen=True)
class Asset:
    """One version of one file in a slot. The bytes live in the blob store under `sha256`."""

    id: str
    project_id: str
    kind: str
    slot: str
    version: int
    current: bool
    sha256: str
    mime_type: str
    size: int
    source: str
    created_at: int
    favorite: bool = False
    missing: bool = False
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    recipe: dict | None = None
    backed_up_at: int | None = None
    replaces: str | None = None  # the missing asset this one was re-rolled for
    source_metadata: dict | None = None  # {tool, raw}: what another tool wrote into the file

    @property
    def is_image(self) -> bool:
        return self.mime_type in IMAGE_TYPES

    def to_record(self) -> dict:
        return _to_record(self)

    @classmethod
    def from_record(cls, record: dict) -> Asset:
        return _from_record(cls, record)
