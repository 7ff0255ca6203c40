"""Shared-project view (browser): what a share link holds, before anything is stored; the
passphrase form when it is encrypted; "Import as a copy"; then "Regenerate all".

`#/share/<payload>` opens a link (app/core/sharelink.py decodes it; every refusal is shown
here, in a role=alert, and nothing is stored). After the import the address is REPLACED by
`#/shared/<new project id>`, so the payload leaves the history; that page offers
"Regenerate all" and opens the project when it is done.

    await share.render(app, scope, container, payload="1.p.eNq...")
    await share.render(app, scope, container, imported="prj_...")
"""

from __future__ import annotations

import js

from app.core import sharelink
from app.core.errors import BackupError, NotFound
from app.ui.parts.dom import el, replace_children
from app.ui.parts.regenerate import regenerate_all
from app.ui.parts.share_panel import import_shared, open_shared

TITLE = "Open a shared project"


async def render(app, scope, container, payload: str | None = None,
                 imported: str | None = None) -> None:
    if imported is not None:
        await _imported(app, scope, container, imported)
        return
    try:
        link = sharelink.decode_link(payload or "")
        if link.encrypted:
            _ask_passphrase(app, scope, container, link)
            return
        shared = await open_shared(link)
    except BackupError as exc:
        _refused(app, container, str(exc))
        return
    _summary(app, scope, container, shared, encrypted=False)


def _refused(app, container, message: str) -> None:
    doc = app.document
    replace_children(container, el(doc, "h1", {}, TITLE),
                     el(doc, "p", {"role": "alert", "class": "notice notice-error"}, message),
                     el(doc, "a", {"href": "#/"}, "Back to projects"))


def _ask_passphrase(app, scope, container, link) -> None:
    doc = app.document
    field = el(doc, "input", {"id": "share-passphrase", "type": "password", "required": True,
                              "autocomplete": "off"})
    problem = el(doc, "div", {"class": "share-problem"})
    form = el(doc, "form", {"class": "share-unlock"},
              el(doc, "label", {"for": "share-passphrase"}, "Passphrase"), field,
              el(doc, "button", {"type": "submit", "class": "primary"}, "Unlock"))

    async def unlock() -> None:
        try:
            shared = await open_shared(link, str(field.value))
        except BackupError as exc:
            replace_children(problem, el(doc, "p", {"role": "alert",
                                                    "class": "notice notice-error"}, str(exc)))
            return
        _summary(app, scope, container, shared, encrypted=True)

    def submitted(event):
        event.preventDefault()  # now, before the page would submit the form
        return unlock()

    scope.on(form, "submit", submitted)
    replace_children(container, el(doc, "h1", {}, TITLE),
                     el(doc, "p", {}, "This link is encrypted. Enter the passphrase its sender "
                                      "gave you; nothing is imported until you choose to."),
                     problem, form, el(doc, "a", {"href": "#/"}, "Cancel"))
    field.focus()


def _summary(app, scope, container, shared, encrypted: bool) -> None:
    doc = app.document
    kinds = ", ".join(f"{count} {kind}" for kind, count in shared.kinds.items()) or "no files"
    scenes = [el(doc, "li", {}, el(doc, "strong", {}, "Story: "), scene.get("story") or "—",
                 " · ", el(doc, "strong", {}, "Frame prompt: "), scene.get("prompt") or "—")
              for scene in shared.scenes]
    rows = [el(doc, "tr", {}, el(doc, "td", {}, f.kind),
               el(doc, "td", {}, f"{f.slot} v{f.version}"), el(doc, "td", {}, f.prompt or "—"))
            for f in shared.files]
    files = el(doc, "table", {"class": "share-files", "aria-label": "Files in the link"},
               el(doc, "thead", {}, el(doc, "tr", {}, *[el(doc, "th", {"scope": "col"}, h)
                                                       for h in ("Kind", "Slot", "Prompt")])),
               el(doc, "tbody", {}, *rows))
    accept = el(doc, "button", {"type": "button", "class": "primary"}, "Import as a copy")

    async def do_import(event) -> None:
        accept.disabled = True
        try:
            report = await import_shared(app, shared)
        finally:
            accept.disabled = False
        app.info(f"Imported a copy of “{shared.title}”: {report.assets_added} files recorded, "
                 "to be regenerated from their recipes.")
        js.location.replace(f"#/shared/{report.project_ids[0]}")  # the payload leaves history

    scope.on(accept, "click", do_import)
    replace_children(
        container,
        el(doc, "h1", {}, f"Shared project: {shared.title}"),
        el(doc, "p", {}, f"{'An encrypted' if encrypted else 'A'} share link. It holds recipes, "
                         f"not media: {_count(len(shared.files), 'file')} ({kinds}), "
                         f"{_count(len(shared.scenes), 'scene')}. Importing adds a copy of the "
                         "project; its files are then regenerated from their recipes on this "
                         "device."),
        el(doc, "section", {"aria-labelledby": "share-scenes"},
           el(doc, "h2", {"id": "share-scenes"}, "Scenes"),
           el(doc, "ol", {}, *scenes) if scenes else el(doc, "p", {}, "No scenes.")),
        el(doc, "section", {"aria-labelledby": "share-files"},
           el(doc, "h2", {"id": "share-files"}, "Files"), files),
        el(doc, "div", {"class": "card-actions"}, accept, el(doc, "a", {"href": "#/"}, "Cancel")))


async def _imported(app, scope, container, project_id: str) -> None:
    doc = app.document
    try:
        project = await app.vault.get_project(project_id)
    except NotFound:
        _refused(app, container, "That project is not here any more; it may have been deleted.")
        return
    missing = await app.vault.missing(project_id)
    regenerate = el(doc, "button", {"type": "button", "class": "primary"}, "Regenerate all")

    async def run(event) -> None:
        if await regenerate_all(app, project_id, regenerate) is not None:
            app.navigate(f"#/project/{project_id}")

    scope.on(regenerate, "click", run)
    replace_children(
        container, el(doc, "h1", {}, f"Imported: {project.title}"),
        el(doc, "p", {}, f"Files to regenerate from their recipes: {len(missing)}. Under a "
                         "deterministic provider (the local one) they come back bit for bit."),
        el(doc, "div", {"class": "card-actions"}, regenerate,
           el(doc, "a", {"href": f"#/project/{project_id}"}, "Open project")))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
