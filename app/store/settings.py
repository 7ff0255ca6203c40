"""The app's own small records (browser): one record per key in the `settings` store, such as
the live backup folder (its FileSystemDirectoryHandle, which IndexedDB stores as it is) and when
each kind of backup last ran.

Known keys (each record is `{key, ...fields}`):
- "folderBackup": {handle, name, lastBackupAt, lastError}: the live backup folder
- "lastExport": {at, recipeOnly, projects, fullAt, recipeOnlyAt}: the last zip export, and
  the last of each kind (app/core/backup_log.py's `export_record`)

Values that are plain JSON come back as Python values; browser objects (a directory handle)
come back as they were stored, as JS objects. Mixed into `app.store.vault.Vault`.

    await vault.put_setting("lastExport", {"at": now_ms(), "recipeOnly": False})
    (await vault.get_setting("lastExport"))["at"]
    await vault.delete_setting("lastExport")
"""

from __future__ import annotations

import js
from pyodide.ffi import JsProxy

from app.store import idb


class SettingsStore:
    """The vault's methods for the `settings` store (one transaction each)."""

    async def get_setting(self, key: str) -> dict | None:
        """The record stored under `key` (without its `key` field), or None."""
        tx = self._transaction(["settings"])
        found = []
        tx.then(tx.store("settings").get(key), found.append)
        await tx.done()
        return None if not found or found[0] is None else _from_js(found[0])

    async def put_setting(self, key: str, fields: dict) -> None:
        """Store `fields` under `key`, replacing what was there. A field may be a JS object
        IndexedDB can clone (a FileSystemDirectoryHandle); the rest must be JSON values."""
        record = js.Object.new()
        record.key = key
        for name, value in fields.items():
            if value is not None:
                setattr(record, name, value if isinstance(value, JsProxy)
                        else idb.to_js_record({"v": value}).v)
        tx = self._transaction(["settings"], "readwrite")
        tx.store("settings").put(record)
        await self._commit(tx)

    async def delete_setting(self, key: str) -> None:
        tx = self._transaction(["settings"], "readwrite")
        tx.store("settings").delete(key)
        await self._commit(tx)


def _from_js(record) -> dict:
    fields = {}
    for name in js.Object.keys(record):
        if name == "key":
            continue
        value = getattr(record, name)
        plain = isinstance(value, JsProxy) and js.Object.getPrototypeOf(value) in (
            js.Object.prototype, js.Array.prototype)
        fields[name] = idb.from_js_record(value) if plain else value
    return fields


__all__ = ["SettingsStore"]
