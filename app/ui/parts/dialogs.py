"""Modal dialogs (browser): a form and a confirmation, as awaitables, on the native <dialog>.

The dialog element is removed and its handlers released when it closes, whatever closed it
(a button, Escape). Every input has a label; focus moves into the dialog and back.

    values = await form_dialog(document, "New project", [Field("title", "Title", required=True)],
                               submit="Create")            # None when cancelled
    if await confirm_dialog(document, "Delete project?", "This removes 3 files.", "Delete"):
        ...
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.ui.parts.dom import Scope, el


@dataclass(frozen=True)
class Field:
    """One form input: `kind` is text, password, textarea or select (with `options`)."""

    name: str
    label: str
    value: str = ""
    kind: str = "text"
    required: bool = False
    options: tuple[str, ...] = ()


def _input(document, field: Field, form_id: str):
    attrs = {"id": f"{form_id}-{field.name}", "name": field.name, "required": field.required}
    if field.kind == "textarea":
        node = el(document, "textarea", {**attrs, "rows": 3}, field.value)
    elif field.kind == "select":
        node = el(document, "select", attrs, *[
            el(document, "option", {"value": option, "selected": option == field.value}, option)
            for option in field.options])
    elif field.kind == "password":  # never pre-filled, never remembered
        node = el(document, "input", {**attrs, "type": "password", "autocomplete": "off"})
    else:
        node = el(document, "input", {**attrs, "type": "text", "value": field.value})
    label = el(document, "label", {"for": attrs["id"]}, field.label)
    return el(document, "div", {"class": "form-row"}, label, node)


async def _run(document, dialog, scope: Scope, on_submit) -> object:
    """Show `dialog` modally and wait for it to close; returns what `on_submit` settled."""
    future = asyncio.get_event_loop().create_future()

    def settle(value):
        if not future.done():
            future.set_result(value)

    def closed(_event):
        settle(None)

    scope.on(dialog, "close", closed)
    scope.on(dialog, "submit", lambda event: on_submit(event, settle))
    document.body.append(dialog)
    dialog.showModal()
    try:
        return await future
    finally:
        if dialog.open:
            dialog.close()
        dialog.remove()
        scope.dispose()


async def form_dialog(document, title: str, fields: list[Field], submit: str) -> dict | None:
    """Ask for `fields`; returns {name: value} (trimmed), or None when cancelled."""
    scope = Scope()
    form_id = "dlg" + str(id(fields))
    cancel = el(document, "button", {"type": "button", "class": "secondary"}, "Cancel")
    form = el(document, "form", {"method": "dialog"},
              el(document, "h2", {"id": f"{form_id}-heading"}, title),
              *[_input(document, f, form_id) for f in fields],
              el(document, "div", {"class": "dialog-actions"}, cancel,
                 el(document, "button", {"type": "submit", "class": "primary"}, submit)))
    dialog = el(document, "dialog", {"aria-labelledby": f"{form_id}-heading"}, form)
    scope.on(cancel, "click", lambda event: dialog.close())

    def on_submit(event, settle):
        event.preventDefault()
        settle({f.name: str(form.elements.namedItem(f.name).value).strip() for f in fields})

    return await _run(document, dialog, scope, on_submit)


async def confirm_dialog(document, title: str, message: str, confirm: str) -> bool:
    """Ask a yes/no question; True only when the user presses `confirm`."""
    scope = Scope()
    cancel = el(document, "button", {"type": "button", "class": "secondary"}, "Cancel")
    form = el(document, "form", {"method": "dialog"},
              el(document, "h2", {"id": "confirm-title"}, title),
              el(document, "p", {}, message),
              el(document, "div", {"class": "dialog-actions"}, cancel,
                 el(document, "button", {"type": "submit", "class": "danger"}, confirm)))
    dialog = el(document, "dialog", {"aria-labelledby": "confirm-title", "role": "alertdialog"},
                form)
    scope.on(cancel, "click", lambda event: dialog.close())

    def on_submit(event, settle):
        event.preventDefault()
        settle(True)

    return bool(await _run(document, dialog, scope, on_submit))
