"""Media library parts (browser): one card per asset, its lazily loaded preview, the details
panel, and `ChildScopes`, the per-page scopes that own the previews' object URLs.

Cards carry `data-action` attributes instead of handlers: app/ui/views/library.py listens once on
the grid (event delegation), so a page of 60 cards costs no event proxies. Previews are the
vault's small WebP previews (an image scaled down, a narration's waveform, a clip's poster
frame; app/store/media.py), never the full media, read only for the page on screen and in one
transaction (`vault.library_previews`); an audio or video asset without one keeps its icon, and a
preview still being made in the background appears in place when it lands. Whoever
passes a `scope` to `load_previews` or `render_details` owns the object URLs it makes: they are
revoked when that scope is disposed.

    scopes = ChildScopes(view_scope)
    page_scope = scopes.renew("page")          # disposes the previous page's URLs
    grid.replaceChildren(*[card(doc, asset, "Moon heist", selected=False) for asset in items])
    run_soon(load_previews(vault, page_scope, grid, items))
"""

from __future__ import annotations

import json

import js
from pyodide.ffi import JsException

from app.core.errors import VaultError
from app.ui.parts.dom import Scope, el, format_bytes, format_time, found, replace_children
from app.ui.parts.preview_watch import when_preview_lands
from app.ui.parts.library_filters import format_duration, item_label, prompt_of, recipe_rows

KIND_ICONS = {"audio": "♪", "clip": "▶", "video": "▶"}


class ChildScopes:
    """Named child scopes of a view's scope: `renew(name)` disposes that child and returns a
    fresh one, and every child is disposed with the parent."""

    def __init__(self, parent: Scope):
        self._children: dict[str, Scope] = {}
        self._parent = parent

    def renew(self, name: str) -> Scope:
        old = self._children.pop(name, None)
        if old is not None:
            old.dispose()
        child = self._parent.child()
        self._children[name] = child
        return child


def names(asset, project_title: str) -> dict[str, str]:
    """The accessible names of a card's controls ('Favorite scene:3 v2 of Moon heist')."""
    subject = f"{item_label(asset)} of {project_title}"
    return {"select": f"Select {subject}", "details": f"Show details of {subject}",
            "favorite": f"Favorite {subject}"}


def star(doc, asset, label: str):
    return el(doc, "button", {"type": "button", "class": "star", "data-action": "favorite",
                              "aria-pressed": "true" if asset.favorite else "false",
                              "aria-label": label,
                              "title": "Favorite (protected from bulk delete)"},
              "★" if asset.favorite else "☆")


def set_star(button, favorite: bool) -> None:
    button.setAttribute("aria-pressed", "true" if favorite else "false")
    button.textContent = "★" if favorite else "☆"


def card(doc, asset, project_title: str, selected: bool, focused: bool = False):
    """The card of one asset; the preview <img> gets its src later (`load_previews`)."""
    label = names(asset, project_title)
    box = el(doc, "input", {"type": "checkbox", "class": "media-check", "data-action": "select",
                            "aria-label": label["select"], "checked": selected})
    thumb = el(doc, "button", {"type": "button", "class": "media-thumb", "data-action": "details",
                               "aria-label": label["details"], "title": prompt_of(asset) or None},
               _thumb_content(doc, asset))
    meta = el(doc, "div", {"class": "media-meta"},
              el(doc, "span", {"class": "media-title"}, item_label(asset)),
              el(doc, "span", {"class": "small"}, f"{project_title} · {asset.kind}"),
              el(doc, "span", {"class": "small"}, _summary(asset)))
    css = "media-card" + (" is-selected" if selected else "") + (" is-focused" if focused else "")
    return el(doc, "li", {"class": css, "data-asset-id": asset.id,
                          "aria-current": "true" if focused else None},
              el(doc, "div", {"class": "media-frame"}, box, thumb,
                 star(doc, asset, label["favorite"])), meta)


def _thumb_content(doc, asset):
    if asset.missing:
        return el(doc, "span", {"class": "media-placeholder missing"}, "Missing")
    if asset.is_image:
        return el(doc, "img", {"alt": "", "decoding": "async", "class": "media-preview",
                               "width": asset.width, "height": asset.height})
    return el(doc, "span", {"class": "media-placeholder"},
              el(doc, "span", {"class": "media-icon", "aria-hidden": "true"},
                 KIND_ICONS.get(asset.kind, "▶")),
              el(doc, "span", {"class": "media-duration"}, format_duration(asset.duration_ms)
                 or asset.mime_type))


def _summary(asset) -> str:
    return f"{format_bytes(asset.size)} · {js.Date.new(asset.created_at).toLocaleDateString()}"


async def load_previews(vault, scope: Scope, grid, items) -> None:
    """Fill the page's previews; stops if `scope` was disposed meanwhile (another page, or
    another view). Audio and video cards keep their icon unless their asset has a preview (a
    waveform or poster frame). Marks the grid `data-previews="ready"` when done."""
    wanted = [a for a in items if not a.missing]
    blobs = await vault.library_previews(wanted)
    if scope.disposed:
        return
    for asset in wanted:
        thumb = found(grid.querySelector(f'[data-asset-id="{asset.id}"] .media-thumb'))
        if thumb is None:
            continue
        if asset.id in blobs:
            _show_preview(thumb, asset, scope.url(blobs[asset.id]))
        else:  # still being made in the background: shown in place when it lands
            when_preview_lands(vault, scope, asset.sha256, lambda url, thumb=thumb, asset=asset:
                               url and _show_preview(thumb, asset, url))
    grid.setAttribute("data-previews", "ready")


def _show_preview(thumb, asset, url: str) -> None:
    img = found(thumb.querySelector("img")) or _media_preview(thumb, asset)
    img.src = url


def _media_preview(thumb, asset):
    """Swap an audio/video card's icon for an <img> (its preview), keeping a small badge."""
    doc = thumb.ownerDocument
    img = el(doc, "img", {"alt": "", "decoding": "async", "class": f"media-preview {asset.kind}"})
    badge = el(doc, "span", {"class": "media-badge"},
               el(doc, "span", {"aria-hidden": "true"}, KIND_ICONS.get(asset.kind, "▶")),
               format_duration(asset.duration_ms) or None)
    replace_children(thumb, img, badge)
    return img


async def _preview(vault, asset_id: str):
    try:
        return await vault.get_preview(asset_id)
    except VaultError:  # deleted meanwhile: the details show no picture
        return None


# --- details panel --------------------------------------------------------------------------------
async def render_details(app, scope: Scope, panel, asset, project_title: str) -> None:
    """Show `asset`'s record fields and full recipe in `panel`; `scope` owns its preview URL."""
    doc = app.document
    heading = el(doc, "h2", {"id": "library-details-title"}, "Details")
    if asset is None:
        replace_children(panel, heading, el(doc, "p", {"class": "muted"},
                         "Choose a file to see its recipe and where it is stored."))
        return
    preview = await _details_preview(app.vault, scope, doc, asset)
    recipe = _recipe_part(app, scope, asset)
    replace_children(panel, heading, preview,
                     el(doc, "h3", {"class": "details-title"}, item_label(asset)),
                     el(doc, "p", {}, el(doc, "a", {"href": f"#/project/{asset.project_id}"},
                                         f"Open project {project_title}")),
                     *recipe, el(doc, "h3", {}, "Record"),
                     _rows(doc, _record_rows(asset, project_title)))


async def _details_preview(vault, scope: Scope, doc, asset):
    blob = None if asset.missing else await _preview(vault, asset.id)
    if blob is None or scope.disposed:
        return None
    return el(doc, "img", {"class": "details-preview", "src": scope.url(blob),
                           "alt": f"Preview of {item_label(asset)}"})


def _record_rows(asset, project_title: str) -> list[tuple[str, str]]:
    size = f"{asset.width}×{asset.height} px" if asset.width and asset.height else ""
    return [r for r in [
        ("Reference ID", asset.id), ("Project", project_title), ("Kind", asset.kind),
        ("Slot", asset.slot),
        ("Version", f"v{asset.version}" + (" (current)" if asset.current else " (older)")),
        ("Source", asset.source), ("Type", asset.mime_type), ("Size", format_bytes(asset.size)),
        ("Dimensions", size), ("Duration", format_duration(asset.duration_ms)),
        ("Created", format_time(asset.created_at)),
        ("Favorite", "yes (protected from bulk delete)" if asset.favorite else "no"),
        ("Backed up", format_time(asset.backed_up_at) if asset.backed_up_at else "never"),
        ("Media", "missing on this device" if asset.missing else "stored on this device"),
        ("SHA-256", asset.sha256),
    ] if r[1]]


def _rows(doc, rows: list[tuple[str, str]], css: str = "details-list"):
    items = []
    for label, value in rows:
        items += [el(doc, "dt", {}, label), el(doc, "dd", {}, value)]
    return el(doc, "dl", {"class": css}, *items)


def _recipe_part(app, scope: Scope, asset) -> list:
    doc = app.document
    title = el(doc, "h3", {}, "Recipe")
    if not asset.recipe:
        return [title, el(doc, "p", {"class": "muted"},
                          "No recipe was recorded for this file (imported without one).")]
    text = json.dumps(asset.recipe, indent=2, sort_keys=True, ensure_ascii=False)
    pre = el(doc, "pre", {"class": "recipe", "tabindex": "0", "aria-label": "Full recipe (JSON)"},
             text)
    feedback = el(doc, "p", {"class": "muted small", "aria-live": "polite"})
    copy = el(doc, "button", {"type": "button"}, "Copy recipe")

    async def copy_text(event):
        try:
            await js.navigator.clipboard.writeText(text)
            feedback.textContent = "Copied to the clipboard."
        except JsException:  # permission denied: select the text for Ctrl+C instead
            js.getSelection().selectAllChildren(pre)
            feedback.textContent = "Press Ctrl+C to copy the selected recipe."

    scope.on(copy, "click", copy_text)
    return [title, _rows(doc, recipe_rows(asset.recipe), "details-list recipe-fields"), pre,
            el(doc, "div", {"class": "details-actions"}, copy), feedback]
