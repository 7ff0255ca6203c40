"""Media library view (browser, route `#/library`): every generated or imported file across
projects, like a generation history. Filter by kind, project, provider and model, search the
prompts, sort by date; star favorites; select with checkboxes (shift-click selects a range) and
delete in bulk (favorites are always kept); see a file's record and full recipe in the details
panel.

It stays smooth at 10,000 files: records are read once (no media), filtering and paging happen
in memory (app/ui/parts/library_filters.py), only one page of 60 cards is in the DOM, and only that
page's small previews are read. Each page owns a child Scope for its object URLs, disposed when
another page is shown or the view goes away; the grid has one delegated click listener.
Changing a filter keeps only the selected files that still match it.

    await library.render(app, scope, container)
"""

from __future__ import annotations

from dataclasses import replace

from app.ui.parts.dialogs import confirm_dialog
from app.ui.parts.dom import el, format_bytes, replace_children, run_soon
from app.ui.parts.library_cards import ChildScopes, card, load_previews, render_details, set_star
from app.ui.parts.undo import offer_undo
from app.ui.parts.library_filters import (SORTS, Query, apply, deletable, facets, paginate,
                                    toggle_selection)

EMPTY_TEXT = ("Images, clips and narration you generate or import in a project appear here, "
              "newest first, with the recipe that made each one.")
FILTERS = (("kind", "Kind", "All kinds"), ("project_id", "Project", "All projects"),
           ("provider", "Provider", "All providers"), ("model", "Model", "All models"))


async def render(app, scope, container) -> None:
    assets = await app.vault.list_all_assets()
    projects = await app.vault.list_projects()
    view = Library(app, scope, assets, {p.id: p.title for p in projects})
    replace_children(container, *view.build())
    await view.show_page(1)


class Library:
    """The view's state (query, page, selection, focused file) and its DOM nodes."""

    def __init__(self, app, scope, assets, titles: dict[str, str]):
        self.app, self.doc, self.scope = app, app.document, scope
        self.scopes = ChildScopes(scope)
        self.titles = titles
        self.by_id = {a.id: a for a in assets}
        self.query = Query()
        self.shown: list[str] = [a.id for a in apply(assets, self.query)]
        self.page = paginate([], 1)
        self.selected: set[str] = set()
        self.anchor: str | None = None
        self.focused: str | None = None
        self.selects: dict[str, object] = {}

    def title_of(self, asset) -> str:
        return self.titles.get(asset.project_id, "an unknown project")

    # --- building -------------------------------------------------------------------------------
    def build(self) -> list:
        doc = self.doc
        self.summary = el(doc, "p", {"class": "muted"})
        header = el(doc, "div", {"class": "view-header"}, el(doc, "h1", {}, "Media library"),
                    self.summary)
        if not self.by_id:
            return [header, el(doc, "section", {"class": "empty-state"},
                               el(doc, "h2", {}, "No media yet"), el(doc, "p", {}, EMPTY_TEXT))]
        self.count = el(doc, "p", {"class": "library-count", "aria-live": "polite"})
        self.grid = el(doc, "ul", {"class": "library-grid", "aria-label": "Media files"})
        self.scope.on(self.grid, "click", self._on_grid_click)
        self.details = el(doc, "section", {"class": "library-details",
                                           "aria-labelledby": "library-details-title"})
        main = el(doc, "div", {"class": "library-main"}, self._toolbar(), self.count, self.grid,
                  self._pager())
        run_soon(render_details(self.app, self.scopes.renew("details"), self.details, None, ""))
        return [header, self._filters(), el(doc, "div", {"class": "library-body"}, main,
                                            self.details)]

    def _filters(self):
        doc, found = self.doc, facets(self.by_id.values())
        options = {"kind": [(k, k) for k in found.kinds],
                   "project_id": sorted(((p, self.titles.get(p, p)) for p in found.project_ids),
                                        key=lambda pair: pair[1].casefold()),
                   "provider": [(p, p) for p in found.providers],
                   "model": [(m, m) for m in found.models]}
        fields = [self._select(name, label, [("", everyone), *options[name]])
                  for name, label, everyone in FILTERS]
        self.search = el(doc, "input", {"type": "search", "id": "library-search",
                                        "placeholder": "e.g. lighthouse at dusk",
                                        "autocomplete": "off"})
        self.scope.on(self.search, "input", lambda event: self._set_query(search=self.search.value))
        fields.append(_field(doc, "library-search", "Search prompts", self.search, "field-search"))
        fields.append(self._select("sort", "Sort by date", list(SORTS.items())))
        form = el(doc, "form", {"class": "library-filters", "role": "search",
                                "aria-label": "Filter media"}, *fields)
        self.scope.on(form, "submit", lambda event: event.preventDefault())
        return form

    def _select(self, name: str, label: str, options: list[tuple[str, str]]):
        node_id = f"library-{name.replace('_', '-')}"
        select = el(self.doc, "select", {"id": node_id}, *[
            el(self.doc, "option", {"value": value}, text) for value, text in options])
        self.selects[name] = select
        self.scope.on(select, "change", lambda event: self._set_query(**{name: select.value}))
        return _field(self.doc, node_id, label, select)

    def _toolbar(self):
        doc = self.doc
        select_page = el(doc, "button", {"type": "button"}, "Select all on page")
        self.clear = el(doc, "button", {"type": "button", "class": "secondary"}, "Clear selection")
        self.status = el(doc, "span", {"class": "selection-status", "role": "status"})
        self.delete = el(doc, "button", {"type": "button", "class": "danger"}, "Delete selected")
        self.scope.on(select_page, "click", lambda event: self._select_page())
        self.scope.on(self.clear, "click", lambda event: self._set_selection(set()))
        self.scope.on(self.delete, "click", lambda event: self._delete_selected())
        return el(doc, "div", {"class": "library-toolbar"}, select_page, self.clear, self.status,
                  self.delete)

    def _pager(self):
        doc = self.doc
        self.previous = el(doc, "button", {"type": "button"}, "Previous")
        self.next = el(doc, "button", {"type": "button"}, "Next")
        self.page_label = el(doc, "span", {"class": "pager-label"})
        self.scope.on(self.previous, "click", lambda event: self.show_page(self.page.number - 1))
        self.scope.on(self.next, "click", lambda event: self.show_page(self.page.number + 1))
        return el(doc, "nav", {"class": "pager", "aria-label": "Pages"}, self.previous,
                  self.page_label, self.next)

    # --- showing a page -------------------------------------------------------------------------
    async def show_page(self, number: int) -> None:
        """Render page `number` of the shown files; the old page's object URLs are revoked."""
        self._update_summary()
        if not self.by_id:
            return
        self.page = paginate(self.shown, number)
        page_scope = self.scopes.renew("page")
        items = [self.by_id[asset_id] for asset_id in self.page.items]
        cards = [card(self.doc, a, self.title_of(a), a.id in self.selected, a.id == self.focused)
                 for a in items]
        self.grid.setAttribute("data-previews", "loading")
        replace_children(self.grid, *(cards or [self._no_match(page_scope)]))
        self._update_pager()
        self._update_selection()
        run_soon(load_previews(self.app.vault, page_scope, self.grid, items))

    def _no_match(self, page_scope):
        reset = el(self.doc, "button", {"type": "button"}, "Clear filters")
        page_scope.on(reset, "click", lambda event: self._clear_filters())
        return el(self.doc, "li", {"class": "library-empty"},
                  el(self.doc, "p", {}, "No files match these filters."), reset)

    def _update_pager(self) -> None:
        page = self.page
        self.count.textContent = (f"Showing {page.first:,}–{page.last:,} of "
                                  f"{_count(page.total, 'file')}"
                                  if page.total else "No files shown")
        self.page_label.textContent = f"Page {page.number} of {page.count}"
        self.previous.disabled = not page.has_previous
        self.next.disabled = not page.has_next

    def _update_summary(self) -> None:
        stored = {a.sha256: a.size for a in self.by_id.values() if not a.missing}
        self.summary.textContent = (f"{_count(len(self.by_id), 'file')} across "
                                    f"{_count(len(self.titles), 'project')}"
                                    f" · {format_bytes(sum(stored.values()))} stored")

    # --- filters --------------------------------------------------------------------------------
    async def _set_query(self, **changes) -> None:
        self.query = replace(self.query, **changes)
        await self._refilter(page=1)

    async def _clear_filters(self) -> None:
        self.query = self.query.cleared()
        for name, select in self.selects.items():
            select.value = self.query.sort if name == "sort" else ""
        self.search.value = ""
        await self._refilter(page=1)

    async def _refilter(self, page: int) -> None:
        self.shown = [a.id for a in apply(self.by_id.values(), self.query)]
        visible = set(self.shown)
        self.selected &= visible
        if self.anchor not in visible:
            self.anchor = None
        await self.show_page(page)

    # --- clicks on the grid (one delegated listener) ---------------------------------------------
    async def _on_grid_click(self, event) -> None:
        target = event.target.closest("[data-action]")
        item = event.target.closest("[data-asset-id]")
        if target is None or item is None:
            return
        asset_id = str(item.dataset.assetId)
        action = str(target.dataset.action)
        if action == "select":
            self._check(asset_id, bool(target.checked), bool(event.shiftKey))
        elif action == "details":
            await self.focus(asset_id)
        elif action == "favorite":
            await self._toggle_favorite(asset_id, target)

    def _check(self, asset_id: str, checked: bool, extend: bool) -> None:
        self._set_selection(toggle_selection(self.selected, self.shown, self.anchor, asset_id,
                                             checked, extend))
        self.anchor = asset_id

    def _select_page(self) -> None:
        self._set_selection(self.selected | set(self.page.items))

    def _set_selection(self, selected: set[str]) -> None:
        self.selected = selected
        if not selected:
            self.anchor = None
        self._update_selection()

    def _update_selection(self) -> None:
        for node in self.grid.querySelectorAll("[data-asset-id]"):
            chosen = str(node.dataset.assetId) in self.selected
            node.classList.toggle("is-selected", chosen)
            node.querySelector(".media-check").checked = chosen
        count = len(self.selected)
        self.status.textContent = f"{count} selected" if count else "No files selected"
        self.delete.disabled = self.clear.disabled = not count

    async def focus(self, asset_id: str | None) -> None:
        """Show `asset_id` in the details panel and mark its card (None: nothing chosen)."""
        self.focused = asset_id
        for node in self.grid.querySelectorAll("[data-asset-id]"):
            mine = str(node.dataset.assetId) == asset_id
            node.classList.toggle("is-focused", mine)
            if mine:
                node.setAttribute("aria-current", "true")
            else:
                node.removeAttribute("aria-current")
        asset = self.by_id.get(asset_id)
        await render_details(self.app, self.scopes.renew("details"), self.details, asset,
                             self.title_of(asset) if asset else "")

    async def _toggle_favorite(self, asset_id: str, button) -> None:
        button.disabled = True  # one change at a time
        try:
            asset = await self.app.vault.set_favorite(asset_id, not self.by_id[asset_id].favorite)
        finally:
            button.disabled = False
        self.by_id[asset_id] = asset
        set_star(button, asset.favorite)
        if self.focused == asset_id:
            await self.focus(asset_id)

    # --- bulk delete ----------------------------------------------------------------------------
    async def _delete_selected(self) -> None:
        doomed, kept = deletable(self.by_id.values(), self.selected)
        if not doomed:
            self.app.info("Nothing was deleted: the selection holds only favorites, which are "
                          "protected from bulk delete. Unstar them first to delete them.")
            return
        if not await confirm_dialog(self.doc, f"Delete {_count(len(doomed), 'file')}?",
                                    self._delete_message(doomed, kept), "Delete files"):
            return
        moved = await self.app.vault.trash_assets(
            doomed + kept, keep_favorites=True,
            label=f"{_count(len(doomed), 'file')} from the library")
        kept_note = f" Kept {_count(len(kept), 'favorite')}." if kept else ""
        offer_undo(self.app, f"Moved {_count(moved.assets_moved, 'file')} "
                   f"({format_bytes(moved.size)}) to the trash.{kept_note}", moved)
        await self.reload()

    def _delete_message(self, doomed: list[str], kept: list[str]) -> str:
        unique = {self.by_id[i].sha256: self.by_id[i].size for i in doomed}
        size = format_bytes(sum(unique.values()))
        kept_text = (f" {_count(len(kept), 'favorite')} in the selection "
                     f"{'is' if len(kept) == 1 else 'are'} protected and will be kept."
                     if kept else "")
        return (f"This moves {_count(len(doomed), 'selected file')} (up to {size}) to the "
                f"trash.{kept_text} Undo, or restore them from Trash; their space is freed when "
                "you empty the trash.")

    async def reload(self) -> None:
        """Read the records again (after a delete), keeping the filters and the page."""
        assets = await self.app.vault.list_all_assets()
        self.by_id = {a.id: a for a in assets}
        self.selected &= set(self.by_id)
        if self.focused and self.focused not in self.by_id:
            await self.focus(None)
        if not self.by_id:
            self.app.refresh()
            return
        number = self.page.number
        self.shown = [a.id for a in apply(assets, self.query)]
        await self.show_page(number)


def _field(doc, node_id: str, label: str, control, css: str = ""):
    return el(doc, "div", {"class": f"field {css}".strip()},
              el(doc, "label", {"for": node_id}, label), control)


def _count(n: int, noun: str) -> str:
    """'1 file', '10,000 files'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
