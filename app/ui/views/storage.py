"""Storage panel (browser, route `#/storage`): how much of the browser's storage SceneVault
uses, what takes the space (bytes by kind and by project, as inline SVG bar charts with a table
for screen readers), whether storage is persistent (with a button that asks the browser), when
each kind of backup last ran (app/ui/parts/backup_history.py), and how much is not backed up
yet, with a warning past `UNBACKED_WARNING_BYTES`.

The figures come from `vault.usage()` (navigator.storage.estimate() plus byte totals from the
records) and the records' `backed_up_at`; the numbers are computed in app/ui/parts/storage_stats.py.
Nothing here makes object URLs; the view's scope owns the buttons' handlers.

    await storage.render(app, scope, container)
    storage.UNBACKED_WARNING_BYTES = 100 * 1024 * 1024   # read at each render
"""

from __future__ import annotations

from app.core.backup_log import folder_covers, last_backups
from app.ui.parts.backup_history import backup_history_list
from app.ui.parts.dom import el, format_bytes, replace_children
from app.ui.parts.folder_panel import folder_section
from app.ui.parts.storage_stats import (BAR_HEIGHT, bar_layout, clip_label, format_share, percent,
                                  plural, ranked, unbacked)

UNBACKED_WARNING_BYTES = 500 * 1024 * 1024  # warn when more than this is not in any backup
SVG_NS = "http://www.w3.org/2000/svg"
WHY_PERSIST = (
    "Browsers may evict (silently delete) a site's stored data when the disk runs low, unless "
    "the site's storage is persistent. Persistent storage is only cleared if you clear it "
    "yourself. Either way, a backup is the only copy that survives losing this browser profile.")


async def render(app, scope, container) -> None:
    vault = app.vault
    usage = await vault.usage()
    assets = await vault.list_all_assets()
    persistent = await vault.is_persistent()
    projects = await vault.list_projects()
    folder = await vault.get_setting("folderBackup")
    last = last_backups(await vault.get_setting("lastExport"), folder, projects)
    in_folder = {p.id for p in projects if folder_covers(p, last.folder)}
    refresh = el(app.document, "button", {"type": "button"}, "Refresh figures")
    scope.on(refresh, "click", lambda event: app.refresh())
    header = el(app.document, "div", {"class": "view-header"},
                el(app.document, "h1", {}, "Storage"), refresh)
    titles = {p.id: p.title for p in projects}
    replace_children(container, header, _used(app.document, usage, len(assets)),
                     _backups(app.document, assets, in_folder, last), folder_section(app, scope),
                     _persistence(app, scope, persistent),
                     _charts(app.document, usage, titles))


def _section(doc, key: str, title: str, *children):
    return el(doc, "section", {"class": "panel", "aria-labelledby": f"storage-{key}-title"},
              el(doc, "h2", {"id": f"storage-{key}-title"}, title), *children)


# --- used versus available ----------------------------------------------------------------------
def _used(doc, usage, files: int):
    share = percent(usage.usage, usage.quota)
    mine = (f"SceneVault's files ({plural(files, 'file')}) take {format_bytes(usage.stored_bytes)}"
            ", identical files counted once; the rest is the app itself and the browser's "
            "bookkeeping.")
    if getattr(usage, "trash_bytes", 0):
        mine += (f" {format_bytes(usage.trash_bytes)} of it is only in the Trash: emptying the "
                 "Trash frees it; trash older than 30 days goes first when space runs short.")
    if share is None:
        return _section(doc, "used", "Space used",
                        el(doc, "p", {}, "This browser does not report how much space is used."),
                        el(doc, "p", {"class": "muted"}, mine))
    text = f"{format_bytes(usage.usage)} of {format_bytes(usage.quota)} ({format_share(share)})"
    fill = el(doc, "div", {"class": "meter-fill"})
    fill.style.width = f"{max(share, 0.5):.2f}%"
    meter = el(doc, "div", {"class": "meter" + (" meter-high" if share >= 80 else ""),
                            "role": "meter", "aria-label": "Storage used by this site",
                            "aria-valuemin": 0, "aria-valuemax": usage.quota,
                            "aria-valuenow": usage.usage, "aria-valuetext": text}, fill)
    return _section(doc, "used", "Space used", meter,
                    el(doc, "p", {"class": "meter-caption"},
                       f"{format_bytes(usage.usage)} used of {format_bytes(usage.quota)} this "
                       f"browser lets this site use ({format_share(share)})."),
                    el(doc, "p", {"class": "muted"}, mine))


# --- backups ------------------------------------------------------------------------------------
def _backups(doc, assets, in_folder: set[str], last):
    pending = unbacked(assets, in_folder)
    figure = el(doc, "p", {"class": "unbacked-total"},
                f"Not backed up yet: {format_bytes(pending.bytes)} in "
                f"{plural(pending.files, 'file')}.")
    if pending.bytes > UNBACKED_WARNING_BYTES:
        note = el(doc, "div", {"class": "warning-box", "role": "alert"},
                  el(doc, "strong", {}, f"{format_bytes(pending.bytes)} of your files are not "
                                        "backed up."),
                  " If the browser clears this site's storage, they are gone for good. Export a "
                  "backup of your projects from each project's page and keep the zip somewhere "
                  "safe.")
    else:
        note = el(doc, "p", {"class": "muted"}, "A warning shows here when more than "
                  f"{format_bytes(UNBACKED_WARNING_BYTES)} is not in any backup.")
    return _section(doc, "backup", "Backups", backup_history_list(doc, last), figure, note)


# --- persistence --------------------------------------------------------------------------------
def _persistence(app, scope, persistent: bool):
    doc = app.document
    state = el(doc, "p", {"class": "persist-state", "role": "status"}, _persist_text(persistent))
    ask = el(doc, "button", {"type": "button", "class": "primary", "disabled": persistent},
             "Keep my files (ask for persistent storage)")

    async def request(event):
        granted = await app.vault.request_persistence()
        state.textContent = _persist_text(granted)
        ask.disabled = granted
        await app.loss_banner.update()
        app.info("The browser granted persistent storage: it will not evict your files."
                 if granted else
                 "The browser declined persistent storage for now. Browsers grant it to sites "
                 "you bookmark, install or use often; meanwhile, export backups.")

    scope.on(ask, "click", request)
    return _section(doc, "persist", "Keep my files", state, el(doc, "p", {}, WHY_PERSIST), ask)


def _persist_text(persistent: bool) -> str:
    if persistent:
        return "Storage is persistent: the browser will not clear SceneVault's files on its own."
    return ("Storage is not persistent: the browser may clear SceneVault's files when space runs "
            "low.")


# --- charts -------------------------------------------------------------------------------------
def _charts(doc, usage, titles: dict[str, str]):
    if not usage.by_kind:
        return _section(doc, "charts", "What takes the space",
                        el(doc, "p", {"class": "muted"}, "Nothing is stored yet."))
    names = {key: titles.get(key, "Deleted project") for key in usage.by_project}
    return _section(doc, "charts", "What takes the space",
                    el(doc, "div", {"class": "charts"},
                       _chart(doc, "kind", "By kind", "Kind", ranked(usage.by_kind)),
                       _chart(doc, "project", "By project", "Project",
                              ranked(usage.by_project, names, limit=8))))


def _chart(doc, key: str, title: str, column: str, slices):
    total = sum(s.value for s in slices)
    return el(doc, "figure", {"class": f"chart chart-{key}"},
              el(doc, "figcaption", {}, title), _svg_bars(doc, slices),
              _table(doc, f"Bytes by {key}", column, slices, total))


def _svg_bars(doc, slices):
    layout = bar_layout(slices)
    chart = _svg(doc, "svg", {"viewBox": f"0 0 {layout.width} {layout.height}",
                              "class": "bar-chart", "aria-hidden": "true", "focusable": "false"})
    for bar in layout.bars:
        chart.append(_svg(doc, "text", {"x": 0, "y": bar.text_y, "class": "chart-label"},
                          clip_label(bar.label)))
        chart.append(_svg(doc, "text", {"x": layout.width, "y": bar.text_y,
                                        "class": "chart-value", "text-anchor": "end"},
                          format_bytes(bar.value)))
        chart.append(_svg(doc, "rect", {"x": 0, "y": bar.bar_y, "width": layout.width,
                                        "height": BAR_HEIGHT, "rx": 3, "class": "chart-track"}))
        chart.append(_svg(doc, "rect", {"x": 0, "y": bar.bar_y, "width": bar.width,
                                        "height": BAR_HEIGHT, "rx": 3, "class": "chart-bar",
                                        "data-label": bar.label, "data-bytes": bar.value}))
    return chart


def _svg(doc, tag: str, attrs: dict, text: str | None = None):
    node = doc.createElementNS(SVG_NS, tag)
    for name, value in attrs.items():
        node.setAttribute(name, str(value))
    if text is not None:
        node.textContent = text
    return node


def _table(doc, caption: str, column: str, slices, total: int):
    rows = [el(doc, "tr", {}, el(doc, "th", {"scope": "row"}, s.label),
               el(doc, "td", {}, format_bytes(s.value)),
               el(doc, "td", {}, f"{percent(s.value, total) or 0:.0f}%")) for s in slices]
    head = el(doc, "tr", {}, el(doc, "th", {"scope": "col"}, column),
              el(doc, "th", {"scope": "col"}, "Size"), el(doc, "th", {"scope": "col"}, "Share"))
    return el(doc, "table", {"class": "visually-hidden chart-table"},
              el(doc, "caption", {}, caption), el(doc, "thead", {}, head),
              el(doc, "tbody", {}, *rows))
