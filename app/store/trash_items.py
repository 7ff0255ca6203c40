"""What the trash holds (pure): one trash item per delete, the bytes only it holds, which items
are old enough to free first, and how an item goes back beside what the vault holds now.

A trash item is ONE record of the `trash` store (app/store/schema.py), written by
app/store/trash.py in the same transaction that takes its records out of `projects` and
`assets`. It keeps those records exactly as they were, so a restore puts back the same ids,
versions and current flags. Blobs and previews stay stored while any live asset or any trash
item names their SHA-256.

    >>> item = TrashItem.from_record({"id": "trs_1", "trashedAt": 0, "what": "versions",
    ...     "label": "Scene 1 version 2", "assets": [{"id": "ast_1", "projectId": "prj_1",
    ...     "slot": "scene:1", "version": 2, "current": False, "sha256": "ab", "size": 10}]})
    >>> held_bytes(item, live_shas=set(), others=[])
    10
    >>> [i.id for i in older_than([item], now=DAY_MS * 31)]
    ['trs_1']
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 60 * 60 * 1000
KEEP_DAYS = 30  # trash older than this is freed first when storage runs short
WHATS = ("project", "slot", "versions")


@dataclass(frozen=True)
class TrashItem:
    """One delete, waiting to be restored or freed: `what` is project, slot or versions;
    `assets` the asset records as they were; `project` the project record (a project);
    `entry` the storyboard entry a removed scene or character had ({list, index, value});
    `promoted` the versions that became current because this delete took their slot's current."""

    id: str
    trashed_at: int
    what: str
    label: str
    assets: tuple[dict, ...] = ()
    project_id: str | None = None
    project: dict | None = None
    entry: dict | None = None
    promoted: tuple[str, ...] = ()

    def to_record(self) -> dict:
        record = {"id": self.id, "trashedAt": self.trashed_at, "what": self.what,
                  "label": self.label, "assets": [dict(a) for a in self.assets],
                  "projectId": self.project_id, "project": self.project, "entry": self.entry,
                  "promoted": list(self.promoted)}
        return {key: value for key, value in record.items() if value is not None}

    @classmethod
    def from_record(cls, record: dict) -> TrashItem:
        return cls(id=record["id"], trashed_at=int(record.get("trashedAt", 0)),
                   what=record.get("what", "versions"), label=record.get("label", ""),
                   assets=tuple(record.get("assets") or ()), project_id=record.get("projectId"),
                   project=record.get("project"), entry=record.get("entry"),
                   promoted=tuple(record.get("promoted") or ()))

    @property
    def shas(self) -> frozenset[str]:
        """Every SHA-256 this item references (the refcount it holds on blobs and previews)."""
        return frozenset(a["sha256"] for a in self.assets)

    @property
    def sizes(self) -> dict[str, int]:
        """{sha256: size} of the bytes its records say are stored (missing ones hold none)."""
        return {a["sha256"]: int(a.get("size", 0)) for a in self.assets if not a.get("missing")}


@dataclass(frozen=True)
class RestorePlan:
    """The records to put back (current flags settled), the live versions to un-promote, and
    sentences that say what differed from an exact restore."""

    records: tuple[dict, ...]
    demote: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def held_bytes(item: TrashItem, live_shas, others, stored=None) -> int:
    """The bytes only `item` holds: no live asset and no other trash item uses them (and, when
    `stored` is given, still stored: bytes the browser evicted free nothing)."""
    shared = set(live_shas).union(*(o.shas for o in others if o.id != item.id))
    return sum(size for sha, size in item.sizes.items()
               if sha not in shared and (stored is None or sha in stored))


def freeable(dropped, kept, live_shas) -> dict[str, int]:
    """{sha256: size} that dropping the `dropped` items frees: not used by a live asset or by
    any item in `kept`."""
    shared = set(live_shas).union(*(k.shas for k in kept))
    sizes: dict[str, int] = {}
    for item in dropped:
        for sha in item.shas - shared:
            sizes[sha] = max(sizes.get(sha, 0), item.sizes.get(sha, 0))
    return sizes


def older_than(items, now: int, days: int = KEEP_DAYS) -> list[TrashItem]:
    """Items trashed more than `days` ago, oldest first (the first to free)."""
    cutoff = now - days * DAY_MS
    return sorted((i for i in items if i.trashed_at < cutoff), key=lambda i: i.trashed_at)


def restore_plan(item: TrashItem, live: dict[tuple[str, str], list[dict]]) -> RestorePlan:
    """How `item`'s records go back beside `live` ({(projectId, slot): records there now}).

    Exactly as they were when the slot is as the delete left it. When the slot got new versions
    meanwhile, the restored ones keep their ids, lose `current` (the newest work stays current),
    and take version numbers after the live ones if theirs are taken."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in item.assets:
        groups.setdefault((record["projectId"], record["slot"]), []).append(dict(record))
    records: list[dict] = []
    demote: list[str] = []
    notes: list[str] = []
    for key, restored in groups.items():
        restored.sort(key=lambda r: r["version"])
        siblings = live.get(key, [])
        current = [r for r in siblings if r.get("current")]
        untouched = all(r["id"] in item.promoted for r in current)
        was_current = any(r.get("current") for r in restored)
        if was_current and current and untouched:
            demote.extend(r["id"] for r in current)  # the delete promoted them: undo that
        elif current:
            for record in restored:
                record["current"] = False
        taken = {r["version"] for r in siblings}
        if taken & {r["version"] for r in restored}:
            top = max(taken)
            for offset, record in enumerate(restored, 1):
                old, record["version"] = record["version"], top + offset
                notes.append(f"{key[1]}: version {old} came back as version {record['version']}, "
                             "beside the versions made since.")
        if was_current and current and not untouched:
            newest = max(current, key=lambda r: r["version"])
            notes.append(f"{key[1]}: version {newest['version']}, made or chosen since the "
                         "delete, stays current.")
        if not any(r.get("current") for r in restored + siblings if r["id"] not in demote):
            restored[-1]["current"] = True  # a slot always has exactly one current version
        records.extend(restored)
    return RestorePlan(tuple(records), tuple(demote), tuple(notes))


def size_text(size: int) -> str:
    """'120 MB', '3.4 MB', '12 KB', '900 bytes' (for notices the store writes)."""
    if size >= 1_048_576:
        mb = size / 1_048_576
        return f"{mb:.0f} MB" if mb >= 100 else f"{mb:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


__all__ = ["DAY_MS", "KEEP_DAYS", "WHATS", "RestorePlan", "TrashItem", "freeable", "held_bytes",
           "older_than", "restore_plan", "size_text"]
