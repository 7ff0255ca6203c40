"""Saving a Blob to the user's disk (browser): a temporary <a download> and its object URL,
which this module revokes after a delay (the browser has resolved it by then). The JS lives in
static/js/bridge/download.mjs.

    url = save(archive, "moon-heist-20250131.scenevault.zip")   # revoked after 60 s
"""

from __future__ import annotations

from pyscript.js_modules import sv_download


def save(blob, filename: str, revoke_after_ms: int = 60_000) -> str:
    """Download `blob` as `filename` through a temporary <a download>. The object URL is
    revoked after `revoke_after_ms`; returns it."""
    return str(sv_download.save(blob, filename, revoke_after_ms))
