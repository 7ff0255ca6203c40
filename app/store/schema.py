"""The IndexedDB schema of the `scenevault` database (pure): stores, indexes and the additive
upgrade steps that build them, one list per version.

app/store/idb.py applies `steps_between(old, new)` inside `onupgradeneeded`. Steps only ever create
stores and indexes, or add derived fields to existing records (`FillIndexFields`), so an upgrade
never destroys data (tests/unit/store/test_schema.py checks).

    >>> [step.describe() for step in steps_between(0, 1)][:2]
    ['create store projects (key id)', 'create index projects.updatedAt on updatedAt']
"""

from __future__ import annotations

from dataclasses import dataclass

DB_NAME = "scenevault"


@dataclass(frozen=True)
class CreateStore:
    store: str
    key_path: str

    def describe(self) -> str:
        return f"create store {self.store} (key {self.key_path})"


@dataclass(frozen=True)
class CreateIndex:
    store: str
    name: str
    key_path: str | tuple[str, ...]
    unique: bool = False
    multi_entry: bool = False

    def describe(self) -> str:
        key = "+".join(self.key_path) if isinstance(self.key_path, tuple) else self.key_path
        return f"create index {self.store}.{self.name} on {key}" + (
            " (each entry)" if self.multi_entry else "")


@dataclass(frozen=True)
class FillIndexFields:
    """Set the library's index fields (app/store/library_index.py `indexed`) on every record
    of `store` that exists when the upgrade runs: it only adds derived fields."""

    store: str

    def describe(self) -> str:
        return f"fill index fields of every {self.store} record"


Step = CreateStore | CreateIndex | FillIndexFields


UPGRADES: dict[int, list[Step]] = {
    1: [
        CreateStore("projects", "id"),
        CreateIndex("projects", "updatedAt", "updatedAt"),
        CreateStore("assets", "id"),
        CreateIndex("assets", "projectId", "projectId"),
        CreateIndex("assets", "projectId_slot", ("projectId", "slot")),
        CreateIndex("assets", "kind", "kind"),
        CreateIndex("assets", "createdAt", "createdAt"),
        CreateIndex("assets", "sha256", "sha256"),
        CreateStore("blobs", "sha256"),
        CreateStore("previews", "sha256"),
    ],
    # Generation jobs that run on the server (clips), so a reload never loses one.
    2: [
        CreateStore("jobs", "id"),
    ],
    # Nothing lost without a warning: deleted projects, slots and versions wait in a trash,
    # and small records of the app's own state (the backup folder's
    # handle, when each kind of backup last ran) live in settings (app/store/settings.py).
    3: [
        CreateStore("trash", "id"),
        CreateIndex("trash", "trashedAt", "trashedAt"),
        CreateStore("settings", "key"),
    ],
    # The media library at 100,000 files (app/store/library_index.py): date-ordered compound
    # indexes, each ending in [createdAt, id] so that pages continue from the last key shown,
    # one per filter the library answers from an index, and the search terms.
    4: [
        CreateIndex("assets", "created", ("createdAt", "id")),
        CreateIndex("assets", "kind_created", ("kind", "createdAt", "id")),
        CreateIndex("assets", "project_created", ("projectId", "createdAt", "id")),
        CreateIndex("assets", "project_kind_created", ("projectId", "kind", "createdAt", "id")),
        CreateIndex("assets", "starred_created", ("starred", "createdAt", "id")),
        CreateIndex("assets", "provider_created", ("recipe.provider", "createdAt", "id")),
        CreateIndex("assets", "model_created", ("recipe.model", "createdAt", "id")),
        CreateIndex("assets", "terms", "terms", multi_entry=True),
        FillIndexFields("assets"),
    ],
}
VERSION = max(UPGRADES)


def steps_between(old_version: int, new_version: int,
                  upgrades: dict[int, list] | None = None) -> list[Step]:
    """The steps that take a database from `old_version` to `new_version`, in order."""
    upgrades = UPGRADES if upgrades is None else upgrades
    return [step for version in sorted(upgrades) if old_version < version <= new_version
            for step in upgrades[version]]


def final_layout(upgrades: dict[int, list] | None = None) -> dict[str, set[str]]:
    """{store: {index names}} once every step has run."""
    layout: dict[str, set[str]] = {}
    for step in steps_between(0, max((upgrades or UPGRADES)), upgrades):
        if isinstance(step, CreateStore):
            layout[step.store] = set()
        elif isinstance(step, CreateIndex):
            layout[step.store].add(step.name)
    return layout
