"""Media library view (browser, route `#/library`): every generated or imported file across
projects, like a generation history. Filter by kind, project, provider, model and favorites,
search the prompts and models, sort by date; star favorites; select with checkboxes
(shift-click selects a range on the page) and delete in bulk (favorites are always kept); see
a file's record and full recipe in the details panel.

It stays quick at 100,000 files because nothing here reads every record: each page is ONE
index-served read of at most 61 records (app/store/library_query.py; the search rule is in
app/store/library_index.py), Next continues after the last key shown and Previous re-reads
from the key its page started after (a stack of keys, never an offset), and only the page's
previews are read, in one transaction. What needs more (the total, the values each filter
offers) is read after the page is on screen, and a late answer for an old query is dropped.
Each page owns a child Scope for its object URLs, disposed when another page is shown or the
view goes away; the grid has one delegated click listener. Changing a filter keeps only the
selected files that still match it.

    await library.render(app, scope, container)
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from app.ui.parts.dialogs import confirm_dialog
from app.ui.parts.dom import el, format_bytes, found, replace_children, run_soon
from app.ui.parts.library_cards import ChildScopes, card, load_previews, render_details, set_star
from app.ui.parts.undo import offer_undo
from app.ui.parts.library_filters import (PAGE_SIZE, SORTS, Query, deletable, page_count,
                                          toggle_selection)

EMPTY_TEXT = ("Images, clips and narration you generate or import in a project appear here, "
              "newest first, with the recipe that made each one.")
FILTERS = (("kind", "Kind", "All kinds"), ("project_id", "Project", "All projects"),
           ("provider", "Provider", "All providers"), ("model", "Model", "All models"))


async def render(app, scope, container) -> None:
    projects, first = await asyncio.gather(app.vault.list_projects(),
                                           app.vault.library_page(Query().filters))
    view = Library(app, scope, {p.id: p.title for p in projects})
    replace_children(container, *view.build(bool(first.assets)))
    view.show(first, 1)
    run_soon(view.fill_in())


class Library:
    """The view's state (query, page and the keys it started after, selection, focused file)
    and its DOM nodes."""

    def __init__(self, app, scope, titles: dict[str, str]):
        self.app, self.doc, self.scope = app, app.document, scope
        self.scopes = ChildScopes(scope)
        self.titles = titles
        self.query = Query()
        self.page = None                    # the LibraryPage shown
        self.number = 1
        self.starts: list = [None]          # starts[n - 1]: the key page n starts after
        self.total: int | None = None       # files the query shows, once counted
        self.all_files: int | None = None   # files in the library, once counted
        self.generation = 0                 # bumped by every new query; late answers drop
        self.selected: dict = {}            # asset id -> Asset
        self.anchor: str | None = None
        self.focused: str | None = None
        self.selects: dict[str, object] = {}
        self.previews = None                # the task filling the page's previews

    def title_of(self, asset) -> str:
        return self.titles.get(asset.project_id, "an unknown project")

    @property
    def shown(self) -> dict:
        """The page's assets by id, in order."""
        return {a.id: a for a in (self.page.assets if self.page else [])}

    # --- building -------------------------------------------------------------------------------
    def build(self, has_files: bool) -> list:
        doc = self.doc
        self.has_files = has_files
        self.summary = el(doc, "p", {"class": "muted"})
        header = el(doc, "div", {"class": "view-header"}, el(doc, "h1", {}, "Media library"),
                    self.summary)
        if not has_files:
            self.all_files = 0
            self._update_summary()
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
        doc = self.doc
        fields = [self._select(name, label, [("", everyone)]) for name, label, everyone in FILTERS]
        self.favorite = el(doc, "input", {"type": "checkbox", "id": "library-favorite"})
        self.scope.on(self.favorite, "change",
                      lambda event: self._set_query(favorite=bool(self.favorite.checked)))
        fields.append(el(doc, "div", {"class": "field field-check"}, self.favorite,
                         el(doc, "label", {"for": "library-favorite"}, "Favorites only")))
        self.search = el(doc, "input", {"type": "search", "id": "library-search",
                                        "placeholder": "e.g. lighthouse at dusk",
                                        "autocomplete": "off",
                                        "title": "Every word must start a word of the prompt "
                                                 "or the model"})
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

    async def fill_in(self) -> None:
        """After the first page: its previews, then the filters' values, then the totals."""
        if not self.has_files:
            return
        await asyncio.wait([self.previews])  # first: a long count would hold the reads up
        choices = await self.app.vault.library_choices()
        if self.scope.disposed:
            return
        options = {"kind": [(k, k) for k in choices.kinds],
                   "project_id": sorted(((p, self.titles.get(p, p)) for p in choices.project_ids),
                                        key=lambda pair: pair[1].casefold()),
                   "provider": [(p, p) for p in choices.providers],
                   "model": [(m, m) for m in choices.models]}
        for name, values in options.items():
            self.selects[name].append(*[el(self.doc, "option", {"value": value}, text)
                                        for value, text in values])
        self.all_files = await self.app.vault.library_count(Query().filters)
        self._update_summary()
        await self._count(self.generation)

    async def _count(self, generation: int) -> None:
        total = (self.all_files if not self.query.narrowed and self.all_files is not None
                 else await self.app.vault.library_count(self.query.filters))
        if generation == self.generation and not self.scope.disposed:
            self.total = total
            self._update_pager()

    def _toolbar(self):
        doc = self.doc
        select_page = el(doc, "button", {"type": "button"}, "Select all on page")
        self.clear = el(doc, "button", {"type": "button", "class": "secondary"}, "Clear selection")
        self.status = el(doc, "span", {"class": "selection-status", "role": "status"})
        self.delete = el(doc, "button", {"type": "button", "class": "danger"}, "Delete selected")
        self.scope.on(select_page, "click", lambda event: self._select_page())
        self.scope.on(self.clear, "click", lambda event: self._set_selection({}))
        self.scope.on(self.delete, "click", lambda event: self._delete_selected())
        return el(doc, "div", {"class": "library-toolbar"}, select_page, self.clear, self.status,
                  self.delete)

    def _pager(self):
        doc = self.doc
        self.previous = el(doc, "button", {"type": "button"}, "Previous")
        self.next = el(doc, "button", {"type": "button"}, "Next")
        self.page_label = el(doc, "span", {"class": "pager-label"})
        self.scope.on(self.previous, "click", lambda event: self.turn(-1))
        self.scope.on(self.next, "click", lambda event: self.turn(1))
        return el(doc, "nav", {"class": "pager", "aria-label": "Pages"}, self.previous,
                  self.page_label, self.next)

    # --- showing a page -------------------------------------------------------------------------
    async def turn(self, step: int) -> None:
        """Show the next (1) or previous (-1) page of the same query."""
        number = self.number + step
        if number < 1 or (step > 0 and not self.page.more):
            return
        if step > 0 and len(self.starts) < number:
            self.starts.append(self.page.last_key)
        await self._load(number)

    async def _load(self, number: int) -> None:
        generation = self.generation
        found = await self.app.vault.library_page(self.query.filters,
                                                  after=self.starts[number - 1])
        if generation != self.generation or self.scope.disposed:
            return
        del self.starts[number:]
        self.show(found, number)

    def show(self, found, number: int) -> None:
        """Render `found` as page `number`; the old page's object URLs are revoked."""
        self.page, self.number = found, number
        if found.total is not None:
            self.total = found.total
        if not self.has_files:
            return
        page_scope = self.scopes.renew("page")
        items = found.assets
        cards = [card(self.doc, a, self.title_of(a), a.id in self.selected, a.id == self.focused)
                 for a in items]
        self.grid.setAttribute("data-previews", "loading")
        replace_children(self.grid, *(cards or [self._no_match(page_scope)]))
        self._update_pager()
        self._update_selection()
        self.previews = run_soon(load_previews(self.app.vault, page_scope, self.grid, items))

    def _no_match(self, page_scope):
        reset = el(self.doc, "button", {"type": "button"}, "Clear filters")
        page_scope.on(reset, "click", lambda event: self._clear_filters())
        return el(self.doc, "li", {"class": "library-empty"},
                  el(self.doc, "p", {}, "No files match these filters."), reset)

    def _update_pager(self) -> None:
        shown = len(self.page.assets)
        first = (self.number - 1) * PAGE_SIZE + 1
        of = f" of {_count(self.total, 'file')}" if self.total is not None else ""
        self.count.textContent = (f"Showing {first:,}–{first + shown - 1:,}{of}" if shown
                                  else "No files shown")
        pages = f" of {page_count(self.total)}" if self.total is not None else ""
        self.page_label.textContent = f"Page {self.number}{pages}"
        self.previous.disabled = self.number <= 1
        self.next.disabled = not self.page.more

    def _update_summary(self) -> None:
        files = "… files" if self.all_files is None else _count(self.all_files, "file")
        self.summary.textContent = f"{files} across {_count(len(self.titles), 'project')}"

    # --- filters --------------------------------------------------------------------------------
    async def _set_query(self, **changes) -> None:
        self.query = replace(self.query, **changes)
        await self._refilter()

    async def _clear_filters(self) -> None:
        self.query = self.query.cleared()
        for name, select in self.selects.items():
            select.value = self.query.sort if name == "sort" else ""
        self.search.value = ""
        self.favorite.checked = False
        await self._refilter()

    async def _refilter(self) -> None:
        self.generation += 1
        self.total, self.starts = None, [None]
        self.selected = {i: a for i, a in self.selected.items() if self.query.matches(a)}
        if self.anchor not in self.selected:
            self.anchor = None
        await self._load(1)
        if self.total is None:
            run_soon(self._count(self.generation))

    # --- clicks on the grid (one delegated listener) ---------------------------------------------
    async def _on_grid_click(self, event) -> None:
        target = found(event.target.closest("[data-action]"))
        item = found(event.target.closest("[data-asset-id]"))
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
        shown = self.shown
        chosen = toggle_selection(set(self.selected), list(shown), self.anchor, asset_id,
                                  checked, extend)
        known = {**self.selected, **shown}
        self._set_selection({i: known[i] for i in chosen})
        self.anchor = asset_id

    def _select_page(self) -> None:
        self._set_selection({**self.selected, **self.shown})

    def _set_selection(self, selected: dict) -> None:
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
        asset = self.shown.get(asset_id) or self.selected.get(asset_id)
        await render_details(self.app, self.scopes.renew("details"), self.details, asset,
                             self.title_of(asset) if asset else "")

    async def _toggle_favorite(self, asset_id: str, button) -> None:
        button.disabled = True  # one change at a time
        try:
            asset = await self.app.vault.set_favorite(asset_id,
                                                      not self.shown[asset_id].favorite)
        finally:
            button.disabled = False
        self.page = replace(self.page, assets=[asset if a.id == asset_id else a
                                               for a in self.page.assets])
        if asset_id in self.selected:
            self.selected[asset_id] = asset
        set_star(button, asset.favorite)
        if self.focused == asset_id:
            await self.focus(asset_id)

    # --- bulk delete ----------------------------------------------------------------------------
    async def _delete_selected(self) -> None:
        doomed, kept = deletable(self.selected.values(), set(self.selected))
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
        unique = {self.selected[i].sha256: self.selected[i].size for i in doomed}
        size = format_bytes(sum(unique.values()))
        kept_text = (f" {_count(len(kept), 'favorite')} in the selection "
                     f"{'is' if len(kept) == 1 else 'are'} protected and will be kept."
                     if kept else "")
        return (f"This moves {_count(len(doomed), 'selected file')} (up to {size}) to the "
                f"trash.{kept_text} Undo, or restore them from Trash; their space is freed when "
                "you empty the trash.")

    async def reload(self) -> None:
        """Read the page again (after a delete), keeping the filters and the page, or the one
        before it when this one emptied."""
        self.selected = {i: a for i, a in self.selected.items()
                         if i not in set(self._gone_ids())}
        self.generation += 1
        self.total = None
        number = self.number
        found = await self.app.vault.library_page(self.query.filters,
                                                  after=self.starts[number - 1])
        while not found.assets and number > 1:
            number -= 1
            found = await self.app.vault.library_page(self.query.filters,
                                                      after=self.starts[number - 1])
        if not found.assets and not self.query.narrowed:
            self.app.refresh()
            return
        del self.starts[number:]
        if self.focused and self.focused not in {a.id for a in found.assets}:
            await self.focus(None)
        self.show(found, number)
        self.all_files = await self.app.vault.library_count(Query().filters)
        self._update_summary()
        await self._count(self.generation)

    def _gone_ids(self) -> list[str]:
        return [i for i in self.selected if not self.selected[i].favorite]


def _field(doc, node_id: str, label: str, control, css: str = ""):
    return el(doc, "div", {"class": f"field {css}".strip()},
              el(doc, "label", {"for": node_id}, label), control)


def _count(n: int, noun: str) -> str:
    """'1 file', '10,000 files'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
