"""Share links (browser): make a link that carries a project's recipes, open one, and import it
as a copy. The framing and caps are app/core/sharelink.py, the manifest and its checks
app/backup/share_manifest.py; this module does the I/O: the vault, WebCrypto for the
passphrase (static/js/bridge/sharecrypt.mjs), and the recipe-only zip that
app/backup/service.py's `import_archive` reads, so a link is imported exactly as a recipe-only
backup would be. Nothing here talks to a server.

    url = await make_link(vault, project.id, passphrase="", base=str(js.location.href))
    link = decode_link(payload)                    # app.core.sharelink: ShareLinkError if bad
    shared = await open_link(link, passphrase)     # checked; shared.title, shared.files
    report = await import_shared(vault, shared)    # a copy; its files are missing until
                                                   # "Regenerate all" makes them again
"""

from __future__ import annotations

import js
from pyodide.ffi import JsException
from pyscript.js_modules import sv_sharecrypt

from app.backup.merge import ImportReport
from app.backup.policy import MANIFEST_NAME
from app.backup.service import import_archive
from app.backup.share_manifest import SharedProject, check_shared, share_manifest
from app.backup.zip.write import ZipWriter
from app.core import sharelink
from app.core.errors import ShareLinkError
from app.core.model import now_ms

__all__ = ["make_link", "open_link", "import_shared"]

_JS = sv_sharecrypt  # static/js/bridge/sharecrypt.mjs, loaded by pyscript.toml


def _to_js(data: bytes):
    array = js.Uint8Array.new(len(data))
    array.assign(data)
    return array


async def make_link(vault, project_id: str, passphrase: str = "", base: str = "") -> str:
    """The share link of a project's recipes (`base` + '#/share/' + payload), sealed with
    `passphrase` when one is given. Raises ShareLinkError `link_too_long` over the cap."""
    project = await vault.get_project(project_id)
    data = share_manifest(project, await vault.list_assets(project_id), now_ms())
    if not passphrase:
        return sharelink.link_url(base, sharelink.encode_link(data))
    salt, iv = sharelink.new_seal()
    sealed = await _JS.seal(_to_js(sharelink.deflate(data)),
                            sharelink.normalize_passphrase(passphrase), _to_js(salt), _to_js(iv),
                            sharelink.PBKDF2_ITERATIONS)
    payload = sharelink.encode_sealed(sharelink.Sealed(salt, iv, sealed.to_bytes()))
    return sharelink.link_url(base, payload)


async def open_link(link: sharelink.ShareLink, passphrase: str = "") -> SharedProject:
    """The checked contents of a decoded link; an encrypted one is opened with `passphrase`
    (ShareLinkError `wrong_passphrase` when it does not fit, or the data was altered)."""
    if not link.encrypted:
        return check_shared(link.manifest)
    sealed = link.sealed
    try:
        plain = await _JS.open(_to_js(sealed.ciphertext),
                               sharelink.normalize_passphrase(passphrase), _to_js(sealed.salt),
                               _to_js(sealed.iv), sharelink.PBKDF2_ITERATIONS)
    except JsException as exc:
        if exc.name != "OperationError":
            raise
        raise ShareLinkError("The passphrase does not open this link (or the link was altered). "
                             "Check the passphrase with the person who sent it; nothing was "
                             "imported.", "wrong_passphrase") from None
    return check_shared(sharelink.inflate(plain.to_bytes()))


async def import_shared(vault, shared: SharedProject) -> ImportReport:
    """Import the link's project as a copy (new ids), through the recipe-only backup path:
    one transaction, every file recorded as missing until it is regenerated."""
    writer = ZipWriter(now_ms())
    writer.add_bytes(MANIFEST_NAME, shared.data)
    return await import_archive(vault, writer.finish(), as_copy=True)
