"""Version history and recipe dialogs of a slot card (browser).

History shows every version with its preview (a thumbnail, waveform or poster frame), and lets
the user restore one, delete one, or compare an image or a clip side by side with the current
version. The recipe dialog shows the recipe, copies
it, or reuses it to fill the generation form. Both dialogs own a Scope that releases their
object URLs when they close; the card re-renders afterwards.

    await open_history(card, versions)
    await open_recipe(card, asset)
"""

from __future__ import annotations

import asyncio
import json

import js
from pyodide.ffi import JsException

from app.core.errors import MissingBlob
from app.ui.parts.dialogs import confirm_dialog
from app.ui.parts.dom import Scope, el, format_bytes, format_time, replace_children
from app.ui.parts.preview_watch import placeholder_state, when_preview_lands
from app.ui.parts.undo import offer_undo


async def _show(document, dialog, scope: Scope) -> None:
    """Show `dialog` modally until it closes; then release it and its scope."""
    done = asyncio.get_event_loop().create_future()
    scope.on(dialog, "close", lambda event: done.done() or done.set_result(None))
    document.body.append(dialog)
    dialog.showModal()
    try:
        await done
    finally:
        dialog.remove()
        scope.dispose()


async def open_history(card, versions) -> None:
    doc = card.app.document
    scope = Scope()
    body = el(doc, "div", {"class": "history-body"})
    close = el(doc, "button", {"type": "button", "class": "secondary"}, "Close")
    dialog = el(doc, "dialog", {"aria-labelledby": "history-title", "class": "wide"},
                el(doc, "h2", {"id": "history-title"}, f"History of {card.spec.label}"), body,
                el(doc, "div", {"class": "dialog-actions"}, close))
    scope.on(close, "click", lambda event: dialog.close())
    await _fill_history(card, scope, body, dialog)
    await _show(doc, dialog, scope)
    await card.render()


async def _fill_history(card, scope: Scope, body, dialog) -> None:
    doc, vault = card.app.document, card.app.vault
    versions = sorted(await vault.versions(card.project.id, card.spec.slot),
                      key=lambda a: -a.version)
    rows = []
    for asset in versions:
        rows.append(await _history_row(card, scope, body, dialog, asset))
    compare = el(doc, "div", {"class": "compare", "aria-live": "polite"})
    replace_children(body, el(doc, "ol", {"class": "history-list"}, *rows), compare)


async def _history_row(card, scope, body, dialog, asset):
    doc, vault, label = card.app.document, card.app.vault, card.spec.label
    preview = None if asset.missing else await vault.get_preview(asset.id)  # image, waveform or poster
    alt = f"{label} version {asset.version}"
    picture = (el(doc, "img", {"src": scope.url(preview), "alt": alt})
               if preview is not None else el(doc, "div", {"class": "placeholder small"},
                                               "missing" if asset.missing else card.spec.family))
    if preview is None and not asset.missing:  # still being made: it appears when it lands
        picture.setAttribute("data-preview", placeholder_state(vault, asset.sha256))
        when_preview_lands(vault, scope, asset.sha256, lambda url: (
            picture.replaceWith(el(doc, "img", {"src": url, "alt": alt})) if url
            else picture.setAttribute("data-preview", "none")))
    actions = []

    def button(text, name, handler):
        node = el(doc, "button", {"type": "button", "aria-label": name}, text)
        scope.on(node, "click", handler)
        actions.append(node)

    if not asset.current:
        button("Restore", f"Restore version {asset.version}",
               lambda event: _restore(card, scope, body, dialog, asset))
        if card.spec.family in ("image", "video"):
            button("Compare", f"Compare version {asset.version} with current",
                   lambda event: _compare(card, scope, body, asset))
    button("Delete", f"Delete version {asset.version}",
           lambda event: _delete(card, scope, body, dialog, asset))
    state = "current" if asset.current else ("missing" if asset.missing else "")
    return el(doc, "li", {"class": "history-row", "data-version": asset.version}, picture,
              el(doc, "div", {},
                 el(doc, "strong", {}, f"Version {asset.version}" + (f" ({state})" if state else "")),
                 el(doc, "p", {"class": "muted small"},
                    f"{format_time(asset.created_at)} · {format_bytes(asset.size)} · {asset.source}")),
              el(doc, "div", {"class": "row-actions"}, *actions))


async def _restore(card, scope, body, dialog, asset) -> None:
    await card.app.vault.set_current(asset.id)
    card.app.info(f"{card.spec.label}: version {asset.version} is current again.")
    await _fill_history(card, scope, body, dialog)


async def _delete(card, scope, body, dialog, asset) -> None:
    question = f"Delete version {asset.version} of {card.spec.label}?"
    if not await confirm_dialog(card.app.document, question,
                                "It moves to the trash: Undo, or restore it from Trash. Its "
                                "space is freed when you empty the trash.", "Delete version"):
        return
    label = f"{card.spec.label} version {asset.version}"
    moved = await card.app.vault.trash_assets([asset.id], keep_favorites=False, label=label)
    offer_undo(card.app, f"Moved {label} to the trash.", moved)
    if await card.app.vault.versions(card.project.id, card.spec.slot):
        await _fill_history(card, scope, body, dialog)
    else:
        dialog.close()


async def _compare(card, scope, body, asset) -> None:
    doc, vault = card.app.document, card.app.vault
    versions = await vault.versions(card.project.id, card.spec.slot)
    current = next(v for v in versions if v.current)
    figures = []
    for shown in (asset, current):
        try:
            url = scope.url(await vault.get_blob(shown.id))
            media = (el(doc, "video", {"src": url, "controls": True, "muted": True, "loop": True,
                                       "playsinline": True,
                                       "aria-label": f"Version {shown.version}"})
                     if card.spec.family == "video" else
                     el(doc, "img", {"src": url, "alt": f"Version {shown.version} full size"}))
        except MissingBlob:
            media = el(doc, "div", {"class": "placeholder"}, "Missing")
        figures.append(el(doc, "figure", {}, media,
                          el(doc, "figcaption", {}, f"Version {shown.version}"
                             + (" (current)" if shown.current else ""))))
    replace_children(body.querySelector(".compare"),
                     el(doc, "div", {"class": "side-by-side", "role": "group",
                                     "aria-label": "Side-by-side comparison"}, *figures))


async def open_recipe(card, asset) -> None:
    doc = card.app.document
    scope = Scope()
    text = json.dumps(asset.recipe, indent=2, sort_keys=True)
    copy = el(doc, "button", {"type": "button"}, "Copy recipe")
    # A render recipe is re-made by rendering, not by the generation form.
    reuse = (el(doc, "button", {"type": "button", "class": "primary"}, "Reuse recipe")
             if card.spec.generatable else None)
    close = el(doc, "button", {"type": "button", "class": "secondary"}, "Close")
    feedback = el(doc, "p", {"class": "muted small", "aria-live": "polite"})
    dialog = el(doc, "dialog", {"aria-labelledby": "recipe-title"},
                el(doc, "h2", {"id": "recipe-title"},
                   f"Recipe of {card.spec.label} v{asset.version}"),
                el(doc, "pre", {"class": "recipe", "tabindex": "0"}, text), feedback,
                el(doc, "div", {"class": "dialog-actions"}, copy, reuse, close))
    reused: list[dict] = []

    async def copy_text(event):
        try:
            await js.navigator.clipboard.writeText(text)
            feedback.textContent = "Copied to the clipboard."
        except JsException:  # clipboard permission denied: select the text instead
            js.getSelection().selectAllChildren(dialog.querySelector("pre"))
            feedback.textContent = "Press Ctrl+C to copy the selected recipe."

    scope.on(copy, "click", copy_text)
    if reuse is not None:
        scope.on(reuse, "click", lambda event: (reused.append(asset.recipe), dialog.close()))
    scope.on(close, "click", lambda event: dialog.close())
    await _show(doc, dialog, scope)
    if reused:
        await card.generate_with_options(reused[0])
