"""The media library (#/library), driven by role and name: filters and prompt search narrow the
list, pages hold 60 files, shift-click selects a range, bulk delete keeps favorites and frees
space, the details panel shows the full recipe, object URLs are revoked when paging or leaving,
and 10,000 records still show one light page."""

from __future__ import annotations

import json
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

import librarykit
from conftest import install_pagekit, run_python, vault_state, wait_for_app_state

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
PRELUDE = """
import json, js, pagekit, librarykit
from app.startup import current_app, current_vault
from app.ui.parts import library_filters as lf
vault = current_vault()
"""
# Counts the object URLs alive in the page (created and not yet revoked).
COUNT_URLS_JS = """(() => {
  const live = new Set();
  const create = URL.createObjectURL.bind(URL), revoke = URL.revokeObjectURL.bind(URL);
  URL.createObjectURL = (obj) => { const url = create(obj); live.add(url); return url; };
  URL.revokeObjectURL = (url) => { live.delete(url); return revoke(url); };
  window.liveObjectUrls = () => [...live];
})();"""
SCENES = [  # slot, prompt, provider, model
    ("scene:1", "a lighthouse at dusk", "local", "sketch"),
    ("scene:2", "red desert at night", "local", "sketch"),
    ("scene:3", "two knights on a bridge", "local", "sketch"),
    ("scene:4", "harbor in the fog", "local", "sketch"),
]


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def screenshot(page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def open_view(page, route: str, heading: str) -> None:
    """Navigate the app to `route` and wait until that view has rendered afresh."""
    page.evaluate("document.getElementById('view').replaceChildren()")
    run_python(page, f"from app.startup import current_app; current_app().navigate({route!r}); 0")
    expect(page.get_by_role("heading", name=heading, exact=True, level=1)).to_be_visible()


def open_library(page) -> None:
    open_view(page, "#/library", "Media library")
    expect(page.locator(".library-grid[data-previews=ready]")).to_be_attached()


def cards(page):
    return page.get_by_role("list", name="Media files").get_by_role("listitem")


def titles(page) -> list[str]:
    return cards(page).locator(".media-title").all_inner_texts()


def choose(page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).select_option(label=option)


@dataclass
class Library:
    page: object
    title: str
    project_id: str
    ids: dict[str, str]  # slot -> asset id

    def name(self, action: str, slot: str, version: int = 1) -> str:
        return f"{action} {slot} v{version} of {self.title}"


@pytest.fixture
def library(vault_page):
    """A project of 4 scenes, a character (openai) and a narration in the shared page, plus a
    second project; both are deleted afterwards and the page goes back to the dashboard."""
    librarykit.install(vault_page)
    title = f"Library test {time.time_ns()}"
    made = py(vault_page, f"""
        project = await vault.create_project({title!r})
        other = await vault.create_project({title + " other"!r})
        ids = {{}}
        for n, (slot, prompt, provider, model) in enumerate({SCENES!r}):
            recipe = {{"kind": "image", "prompt": prompt, "provider": provider, "model": model,
                      "seed": n, "width": 64, "height": 36}}
            asset = await vault.put_asset(project.id, "scene", slot,
                                          pagekit.png(64, 36, (40 * n, 90, 160)), "image/png",
                                          recipe=recipe)
            ids[slot] = asset.id
        hero = await vault.put_asset(project.id, "character", "character:hero",
                                     pagekit.png(48, 48, (10, 200, 90)), "image/png",
                                     recipe={{"kind": "image", "prompt": "portrait of a hero",
                                             "provider": "openai", "model": "gpt-image-1",
                                             "seed": 9}})
        voice = await vault.put_asset(project.id, "audio", "scene:1:narration",
                                      pagekit.wav_bytes(24_044), "audio/wav",
                                      recipe={{"kind": "audio", "prompt": "Once upon a time",
                                              "provider": "local", "model": "speech",
                                              "voice": "narrator", "seed": 3}})
        await vault.put_asset(other.id, "scene", "scene:1", pagekit.png(32, 18), "image/png")
        ids.update({{"character:hero": hero.id, "scene:1:narration": voice.id}})
        json.dumps({{"project": project.id, "other": other.id, "ids": ids}})
    """)
    yield Library(vault_page, title, made["project"], made["ids"])
    py(vault_page, f"""
        for project_id in ({made['project']!r}, {made['other']!r}):
            await vault.delete_project(project_id)
        current_app().navigate("#/")
        json.dumps(0)
    """)


def show_project(lib: Library) -> None:
    open_library(lib.page)
    choose(lib.page, "Project", lib.title)
    expect(lib.page.locator(".library-count")).to_have_text("Showing 1–6 of 6 files")


def test_filters_and_search_narrow_the_list(library):
    page = library.page
    show_project(library)
    screenshot(page, "library.png")
    choose(page, "Kind", "audio")
    expect(cards(page).locator(".media-title")).to_have_text(["scene:1:narration v1"])
    choose(page, "Kind", "All kinds")
    choose(page, "Provider", "openai")
    expect(cards(page).locator(".media-title")).to_have_text(["character:hero v1"])
    choose(page, "Provider", "All providers")
    choose(page, "Model", "sketch")
    expect(cards(page)).to_have_count(4)
    page.get_by_label("Search prompts").fill("Desert NIGHT")
    expect(cards(page).locator(".media-title")).to_have_text(["scene:2 v1"])
    page.get_by_label("Search prompts").fill("nothing like this")
    expect(page.get_by_text("No files match these filters.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_label("Project", exact=True)).to_have_value("")
    choose(page, "Project", library.title)
    choose(page, "Sort by date", "Oldest first")
    expect(cards(page).first.locator(".media-title")).to_have_text("scene:1 v1")
    choose(page, "Sort by date", "Newest first")
    expect(cards(page).first.locator(".media-title")).to_have_text("scene:1:narration v1")


def test_details_panel_shows_the_record_and_the_full_recipe(library):
    page = library.page
    show_project(library)
    page.get_by_role("button", name=library.name("Show details of", "scene:2"), exact=True).click()
    details = page.get_by_role("region", name="Details")
    expect(details.get_by_role("heading", name="scene:2 v1")).to_be_visible()
    page.emulate_media(color_scheme="dark")
    screenshot(page, "library-details-dark.png")
    page.emulate_media(color_scheme="light")
    expect(details).to_contain_text(library.ids["scene:2"])
    expect(details).to_contain_text(library.title)
    recipe = json.loads(details.get_by_label("Full recipe (JSON)").inner_text())
    assert recipe == {"kind": "image", "prompt": "red desert at night", "provider": "local",
                      "model": "sketch", "seed": 1, "width": 64, "height": 36}
    preview = details.get_by_role("img", name="Preview of scene:2 v1")
    expect(preview).to_be_visible()
    assert preview.evaluate("img => img.decode().then(() => img.naturalWidth)") == 64
    assert page.locator(".media-card[aria-current=true] .media-title").inner_text() == "scene:2 v1"


def test_a_click_on_a_card_outside_its_buttons_does_nothing(library):
    """The grid's one click listener must not fail on clicks that hit no button: a card's
    title, or the gap between cards (DOM lookups that find nothing answer JS null)."""
    page = library.page
    show_project(library)
    alerts = page.get_by_role("alert").filter(has_text="Something went wrong")
    before = alerts.count()
    page.locator(".media-card .media-title").first.click()
    page.locator(".library-grid").dispatch_event("click")
    page.get_by_role("button", name=library.name("Show details of", "scene:2"), exact=True).click()
    details = page.get_by_role("region", name="Details")
    expect(details.get_by_role("heading", name="scene:2 v1")).to_be_visible()
    assert alerts.count() == before, alerts.all_inner_texts()
    assert page.locator(".media-card.is-selected").count() == 0


def test_shift_click_selects_a_range_and_filters_prune_the_selection(library):
    page = library.page
    show_project(library)
    choose(page, "Sort by date", "Oldest first")
    order = ["scene:1", "scene:2", "scene:3", "scene:4", "character:hero", "scene:1:narration"]
    expect(cards(page).locator(".media-title")).to_have_text([f"{slot} v1" for slot in order])
    box = {slot: page.get_by_role("checkbox", name=library.name("Select", slot), exact=True)
           for slot in order}
    status = page.locator(".selection-status")
    box["scene:2"].click()
    box["character:hero"].click(modifiers=["Shift"])
    expect(status).to_have_text("4 selected")
    assert [box[slot].is_checked() for slot in order] == [False, True, True, True, True, False]
    box["scene:3"].click(modifiers=["Shift"])  # unchecks from the anchor (hero) back to scene:3
    expect(status).to_have_text("1 selected")
    assert [box[slot].is_checked() for slot in order] == [False, True, False, False, False, False]
    page.get_by_role("button", name="Select all on page").click()
    expect(status).to_have_text("6 selected")
    choose(page, "Kind", "audio")
    expect(status).to_have_text("1 selected")
    page.get_by_role("button", name="Clear selection").click()
    expect(status).to_have_text("No files selected")
    expect(page.get_by_role("button", name="Delete selected")).to_be_disabled()


def test_bulk_delete_keeps_favorites_and_moves_the_rest_to_the_trash(library):
    page = library.page
    show_project(library)
    star = page.get_by_role("button", name=library.name("Favorite", "scene:1"), exact=True)
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    doomed = ["scene:2", "scene:3"]
    sizes = py(page, f"""
        from app.ui.parts.dom import format_bytes
        starred = (await vault.get({library.ids['scene:1']!r})).favorite
        sizes = [(await vault.get(i)).size for i in {[library.ids[s] for s in doomed]!r}]
        json.dumps({{"starred": starred, "freed": format_bytes(sum(sizes))}})
    """)
    assert sizes["starred"] is True
    for slot in ["scene:1", *doomed]:
        page.get_by_role("checkbox", name=library.name("Select", slot), exact=True).check()
    page.get_by_role("button", name="Delete selected").click()
    dialog = page.get_by_role("alertdialog", name="Delete 2 files?")
    expect(dialog).to_contain_text("1 favorite in the selection is protected and will be kept")
    dialog.get_by_role("button", name="Delete files").click()
    expect(page.locator(".notice-info .notice-text")).to_have_text(
        f"Moved 2 files ({sizes['freed']}) to the trash. Kept 1 favorite.")
    expect(page.locator(".library-count")).to_have_text("Showing 1–4 of 4 files")
    left = py(page, f"json.dumps([a.slot for a in await vault.list_assets("
                    f"{library.project_id!r})])")
    assert "scene:1" in left and not set(doomed) & set(left)
    assert "scene:2 v1" not in titles(page)
    page.locator(".notice-info").get_by_role("button", name="Dismiss").click()


def fresh_page(app_page, width: int = 1280):
    page = app_page.open()
    page.set_viewport_size({"width": width, "height": 900})
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    librarykit.install(page)
    return page


def fresh_library(app_page, count: int, width: int = 1280, page=None):
    """A fresh context whose vault holds one real image and `count - 1` bulk copies of it."""
    page = page or fresh_page(app_page, width)
    made = py(page, f"""
        project = await vault.create_project("Ten thousand frames")
        template = await vault.put_asset(project.id, "scene", "scene:template",
                                         pagekit.png(96, 54, (200, 120, 40)), "image/png",
                                         recipe={{"kind": "image", "prompt": "template",
                                                 "provider": "local", "model": "sketch",
                                                 "seed": 1}})
        ids = await librarykit.bulk_records(vault, project.id, [template], {count - 1},
                                            providers=[("local", "sketch"), ("fal", "flux")])
        order = [a.id for a in lf.apply(await vault.list_all_assets(), lf.Query())]
        json.dumps({{"project": project.id, "order": order}})
    """)
    return page, made


def test_an_empty_library_explains_itself_then_pages_hold_sixty_files(app_page):
    page = fresh_page(app_page)
    open_view(page, "#/library", "Media library")
    expect(page.get_by_role("heading", name="No media yet")).to_be_visible()
    expect(page.get_by_text("0 files across 0 projects")).to_be_visible()
    expect(page.get_by_role("button", name="Delete selected")).to_have_count(0)
    page, made = fresh_library(app_page, 300, page=page)
    open_library(page)
    label, count = page.locator(".pager-label"), page.locator(".library-count")
    expect(label).to_have_text("Page 1 of 5")
    expect(cards(page)).to_have_count(60)
    expect(page.get_by_role("button", name="Previous", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Next", exact=True).click()
    expect(label).to_have_text("Page 2 of 5")
    expect(count).to_have_text("Showing 61–120 of 300 files")
    assert cards(page).first.get_attribute("data-asset-id") == made["order"][60]
    expect(page.locator(".library-grid[data-previews=ready]")).to_be_attached()
    shown = page.locator(".library-grid img[src^='blob:']")
    expect(shown).to_have_count(60)  # previews of this page only
    for _ in range(3):
        page.get_by_role("button", name="Next", exact=True).click()
    expect(label).to_have_text("Page 5 of 5")
    expect(count).to_have_text("Showing 241–300 of 300 files")
    expect(page.get_by_role("button", name="Next", exact=True)).to_be_disabled()
    choose(page, "Provider", "fal")
    expect(label).to_have_text("Page 1 of 3")  # 150 fal records
    assert vault_state(page)["problems"] == []


def test_object_urls_are_revoked_when_paging_and_when_leaving(app_page):
    app_page.context.add_init_script(COUNT_URLS_JS)
    page, _ = fresh_library(app_page, 130)
    live = lambda: len(page.evaluate("window.liveObjectUrls()"))  # noqa: E731
    before = live()
    open_library(page)
    assert live() - before == 60
    page.get_by_role("button", name="Show details of", exact=False).first.click()
    expect(page.get_by_role("region", name="Details").get_by_role("img")).to_be_visible()
    assert live() - before == 61  # the page's previews and the details preview
    for _ in range(3):
        for button, expected in (("Next", "Page 2 of 3"), ("Next", "Page 3 of 3"),
                                 ("Previous", "Page 2 of 3"), ("Previous", "Page 1 of 3")):
            page.get_by_role("button", name=button, exact=True).click()
            expect(page.locator(".pager-label")).to_have_text(expected)
            expect(page.locator(".library-grid[data-previews=ready]")).to_be_attached()
    assert live() - before == 61
    page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_role("button", name="Next", exact=True).click()
    # The label first: until the click's handler runs, the grid still says page 1 is ready.
    expect(page.locator(".pager-label")).to_have_text("Page 3 of 3")
    expect(page.locator(".library-grid[data-previews=ready]")).to_be_attached()
    assert live() - before == 10 + 1  # the last page holds 10 files
    open_view(page, "#/storage", "Storage")
    assert live() == before
    assert app_page.page_errors == []


def test_ten_thousand_records_show_one_light_page(app_page):
    page, made = fresh_library(app_page, 10_000, width=360)
    open_library(page)  # how fast: bench/gallery.py's library_10k_first_page_ms, not a timed test
    expect(page.locator(".pager-label")).to_have_text("Page 1 of 167")
    expect(cards(page)).to_have_count(60)  # only one page is ever in the DOM
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.locator(".pager-label")).to_have_text("Page 2 of 167")
    page.get_by_label("Search prompts").fill(f"{librarykit.WORDS[9995 % 12]} number 9995")
    expect(page.locator(".library-count")).to_have_text("Showing 1–1 of 1 file")
    page.get_by_label("Search prompts").fill("")
    expect(page.locator(".pager-label")).to_have_text("Page 1 of 167")
    screenshot(page, "library-10k-360px.png", full_page=False)
    page.get_by_role("navigation", name="Pages").scroll_into_view_if_needed()
    screenshot(page, "library-10k-360px-pager.png", full_page=False)
    assert len(made["order"]) == 10_000


# Records every getAll-style read the page makes: its store and index, whether it named a key or
# range, and its count.
COUNT_READS_JS = """(() => {
  window.idbReads = [];
  const wrap = (proto, method, storeOf) => {
    const original = proto[method];
    if (!original) return;
    proto[method] = function (...args) {
      const first = args[0];
      const options = first != null && typeof first === "object" && !(first instanceof IDBKeyRange)
        && !Array.isArray(first);
      const query = options ? first.query : first, count = options ? first.count : args[1];
      window.idbReads.push({store: storeOf(this), index: this instanceof IDBIndex ? this.name : null,
                            method, query: query != null, count: count == null ? null : count});
      return original.apply(this, args);
    };
  };
  for (const method of ["getAll", "getAllKeys", "getAllRecords"]) {
    wrap(IDBObjectStore.prototype, method, (s) => s.name);
    wrap(IDBIndex.prototype, method, (i) => i.objectStore.name);
  }
})();"""


def test_the_library_never_reads_every_asset(app_page):
    """Opening the library, paging, filtering and searching read bounded batches of the assets
    store through its indexes, never a getAll of the whole store (or of a whole index)."""
    app_page.context.add_init_script(COUNT_READS_JS)
    page, made = fresh_library(app_page, 300)
    page.evaluate("window.idbReads.length = 0")
    open_library(page)
    expect(page.locator(".pager-label")).to_have_text("Page 1 of 5")
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.locator(".pager-label")).to_have_text("Page 2 of 5")
    choose(page, "Provider", "fal")
    expect(page.locator(".pager-label")).to_have_text("Page 1 of 3")
    page.get_by_label("Search prompts").fill("moon number")
    expect(page.locator(".library-count")).to_have_text("Showing 1–25 of 25 files")
    reads = [r for r in page.evaluate("window.idbReads") if r["store"] == "assets"]
    assert reads, "the library read no assets at all?"
    whole = [r for r in reads if not r["query"] and not r["count"]]
    assert whole == []
    assert all(r["count"] and r["count"] <= 2001 for r in reads if r["method"] != "getAll"), reads


def test_paging_forwards_and_back_shows_the_same_pages(app_page):
    page, made = fresh_library(app_page, 130)
    open_library(page)
    label = page.locator(".pager-label")
    ids = lambda: [c.get_attribute("data-asset-id") for c in cards(page).all()]  # noqa: E731
    order = made["order"]
    assert ids() == order[:60]
    for button, number, first in (("Next", 2, 60), ("Next", 3, 120), ("Previous", 2, 60),
                                  ("Previous", 1, 0), ("Next", 2, 60)):
        page.get_by_role("button", name=button, exact=True).click()
        expect(label).to_have_text(f"Page {number} of 3")
        expect(cards(page).first).to_have_attribute("data-asset-id", order[first])
        assert ids() == order[first:first + 60]
    choose(page, "Sort by date", "Oldest first")
    expect(label).to_have_text("Page 1 of 3")
    expect(cards(page).first).to_have_attribute("data-asset-id", order[-1])
    page.get_by_role("button", name="Next", exact=True).click()
    expect(label).to_have_text("Page 2 of 3")
    assert ids() == order[::-1][60:120]


def test_favorites_only_and_an_empty_search(library):
    page = library.page
    show_project(library)
    page.get_by_role("button", name=library.name("Favorite", "scene:3"), exact=True).click()
    expect(page.get_by_role("button", name=library.name("Favorite", "scene:3"), exact=True)
           ).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Favorites only").check()
    expect(cards(page).locator(".media-title")).to_have_text(["scene:3 v1"])
    expect(page.locator(".library-count")).to_have_text("Showing 1–1 of 1 file")
    page.get_by_label("Search prompts").fill("knig")  # the start of "knights"
    expect(cards(page).locator(".media-title")).to_have_text(["scene:3 v1"])
    page.get_by_label("Search prompts").fill("nights")  # inside a word: no match
    expect(page.get_by_text("No files match these filters.")).to_be_visible()
    expect(page.locator(".library-count")).to_have_text("No files shown")
    expect(page.get_by_role("button", name="Next", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_label("Favorites only")).not_to_be_checked()
    expect(page.get_by_label("Search prompts")).to_have_value("")
