"""Saving to the user's disk (browser): a Blob through a temporary <a download> and its object
URL, which this module revokes after a delay (the browser has resolved it by then), or, where
the browser has `showSaveFilePicker`, the file the user chooses, for an export to stream into
(app/backup/zip/stream.py). The JS lives in static/js/bridge/download.mjs.

    url = save(archive, "moon-heist-20250131.scenevault.zip")   # revoked after 60 s
    handle = await pick_save_file("moon-heist-20250131.scenevault.zip")  # None: no picker
"""

from __future__ import annotations

from pyodide.ffi import JsException, jsnull
from pyscript.js_modules import sv_download

from app.core.errors import BackupCancelled


def save(blob, filename: str, revoke_after_ms: int = 60_000) -> str:
    """Download `blob` as `filename` through a temporary <a download>. The object URL is
    revoked after `revoke_after_ms`; returns it."""
    return str(sv_download.save(blob, filename, revoke_after_ms))


async def pick_save_file(filename: str):
    """The FileSystemFileHandle the user chose to save `filename` as, or None where the
    browser has no save picker. Dismissing the picker raises BackupCancelled."""
    try:
        handle = await sv_download.pickSaveFile(filename)
    except JsException as exc:
        if exc.name == "AbortError":
            raise BackupCancelled() from None
        raise
    return None if handle is None or handle is jsnull else handle
