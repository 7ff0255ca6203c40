"""The media library's reads (browser): one page of assets for a query, its total, the values
the filters offer, and one page's previews, all served by IndexedDB indexes (schema version 4)
and never by reading every record.

Mixed into `app.store.vault.Vault`, which provides `db` and `closed_reason`. The plan is pure
(app/store/library_index.py `plan`); static/js/bridge/library.mjs runs it in ONE readonly
transaction per call, so a page is one round trip from Python whatever its size. Pages are
keyset pages: `after` is the last key of the page before, so no call ever counts through
earlier records (the view keeps the key each page started after, for Previous).

    filters = Filters(kind="scene", search="lighthouse")
    first = await vault.library_page(filters)              # LibraryPage(assets, more, ...)
    second = await vault.library_page(filters, after=first.last_key)
    total = await vault.library_count(filters)
    blobs = await vault.library_previews(second.assets)    # {asset id: preview Blob}
"""

from __future__ import annotations

from dataclasses import dataclass

import js
from pyodide.ffi import JsException, jsnull, to_js
from pyscript.js_modules import sv_library

from app.core.errors import VaultError
from app.core.model import Asset
from app.store import idb
from app.store.library_index import PAGE_SIZE, Filters, plan

_FROM_ENTRIES = js.Object.fromEntries


@dataclass(frozen=True)
class LibraryPage:
    """Up to PAGE_SIZE assets in the query's order; `more` says whether records follow in the
    direction read; `first_key`/`last_key` continue from here; `total` is the number of matches
    when the search route already counted them (else None: ask `library_count`)."""

    assets: list[Asset]
    more: bool
    first_key: list | None
    last_key: list | None
    total: int | None = None


@dataclass(frozen=True)
class Choices:
    """The values the library's filters offer: what the stored records hold (sorted)."""

    kinds: tuple[str, ...]
    project_ids: tuple[str, ...]
    providers: tuple[str, ...]
    models: tuple[str, ...]


def _js_plan(filters: Filters):
    return to_js(plan(filters), dict_converter=_FROM_ENTRIES)


class LibraryStore:
    """The library's index-served reads; needs `db` and `closed_reason` from the vault."""

    def _library_db(self):
        if self.closed_reason:
            raise VaultError(self.closed_reason)
        return self.db

    async def library_page(self, filters: Filters, after: list | None = None,
                           limit: int = PAGE_SIZE) -> LibraryPage:
        """The page after key `after` (the last key of the page before; None: the first)."""
        try:
            found = await sv_library.page(self._library_db(), _js_plan(filters),
                                          to_js(after) if after else None, limit)
        except JsException as exc:
            raise idb.translate_error(exc) from None
        records = [idb.from_js_record(r) for r in found.records]
        keys = found.keys.to_py()
        total = found.total
        return LibraryPage([Asset.from_record(r) for r in records], bool(found.more),
                           keys[0] if keys else None, keys[-1] if keys else None,
                           None if total is None or total is jsnull else int(total))

    async def library_count(self, filters: Filters) -> int:
        """How many records the query shows (an index count when the index answers it)."""
        try:
            return int(await sv_library.count(self._library_db(), _js_plan(filters)))
        except JsException as exc:
            raise idb.translate_error(exc) from None

    async def library_choices(self) -> Choices:
        """The kinds, projects, providers and models on record, each read by jumping from one
        value to the next along its index (a step per distinct value, not per record)."""
        names = ["kind_created", "project_created", "provider_created", "model_created"]
        try:
            found = (await sv_library.distinct(self._library_db(), to_js(names))).to_py()
        except JsException as exc:
            raise idb.translate_error(exc) from None
        return Choices(*(tuple(sorted(v for v in values if isinstance(v, str) and v))
                         for values in found))

    async def library_previews(self, assets) -> dict[str, object]:
        """{asset id: preview Blob} for `assets` (those without a preview are left out), in one
        transaction."""
        assets = list(assets)
        try:
            blobs = await sv_library.previews(self._library_db(),
                                              to_js([a.sha256 for a in assets]))
        except JsException as exc:
            raise idb.translate_error(exc) from None
        return {asset.id: blob for asset, blob in zip(assets, blobs)
                if blob is not None and blob is not jsnull}
