"""Benchmark `gallery`: showing stored images the app's way against the common base64 way, and
the media library's first page at 10,000 records.

- `gallery_objecturl_speedup_vs_dataurl`: 200 grainy 1024x576 PNGs (about 1 MB each, as
  generated pictures are; drawn on a canvas with a seeded noise so they compress like photos)
  stored in the vault. The app's way: `vault.get_preview` (the small WebP), then
  `URL.createObjectURL` and `img.decode()`. The common way: `vault.get_blob` (the full image),
  `FileReader.readAsDataURL`, `img.decode()`. Both until all 200 are decoded, in the same
  browser; medians of `runs` alternating runs, each in a freshly reloaded page (200 data URLs
  leave ~280 MB of strings and ~470 MB of decoded pixels behind, which would slow whatever runs
  next). Goal >= 3. `..._worst_case` divides the data-URL way's fastest run by the object-URL
  way's slowest.
- `..._batch_reads` (3 runs): the same, reading the 200 previews (or full images) in one
  transaction, as the library does (`Vault.read_previews`).
- `..._local_provider_pngs` (3 runs): the same with the local provider's own 1024x576 PNGs,
  flat landscapes of about 25 KB: with tiny files the two ways are close.
- `library_10k_first_page_ms` (goal <= 250): through the real library view, from the hash
  change to `#/library` (from the Trash view, once the page is idle) until the first page's 60 cards are in the DOM and
  a frame has painted, with 10,000 records stored. `library_10k_previews_ms` (goal <= 250) is
  the same navigation until the page's previews are shown (`data-previews=ready`);
  `library_10k_next_page_ms` is "Next". Medians of `runs`.
- `library_100k_first_page_ms` (goal <= 400), `library_100k_previews_ms`: the same with
  100,000 records. The fixture is built here: the 10,000 above plus 90,000 more, written
  straight into IndexedDB in transactions of 10,000 (tests/browser/librarykit.py), each a copy
  of one of the stored generated images (pictures and local-provider PNGs) in its own slot
  with its own prompt. The bench proves the copies are what the vault would write: every
  sampled record, read back raw, equals `indexed(Asset.from_record(r).to_record())`, the
  record `put_asset` stores for that asset (the model's fields, nothing more, and the library
  index fields derived from them), and the library counts 100,000 files.
  `library_100k_fixture_s` is how long writing the 90,000 took.
- `library_100k_search_ms` (goal <= 400): in the library view at 100,000 files, from typing a
  prompt search ("neon 77777", dispatched as one input event) until its one result is
  rendered and counted ("Showing 1–1 of 1 file"). `library_100k_search_common_ms` searches
  "lighthouse" (1 file in 12) until its first page of 60 is rendered. Medians of 3 runs; the
  view is left to finish its background count between runs.

    figures = gallery.run(session, runs=5)
"""

import json
import sys
from pathlib import Path

from harness import ROOT, median

sys.path.insert(0, str(ROOT / "tests" / "browser"))
import librarykit  # noqa: E402  (the bulk-insert helper the browser tests use too)

IMAGES = 10_000
PY_SETUP = """
import asyncio, js
from pyodide.ffi import to_js
from app.store import idb
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.startup import current_vault

vault = current_vault()
HELPERS = js.Function.new('''return {
  // A 1024x576 PNG with the fine grain of a generated picture (about 1 MB, as real ones are):
  // a sky gradient, soft shapes, and seeded noise, so it compresses like a photo.
  picture: async (seed) => {
    let state = seed * 2654435761 >>> 0;
    const random = () => { state = (state + 0x6D2B79F5) >>> 0; let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
    const canvas = new OffscreenCanvas(1024, 576), ctx = canvas.getContext("2d");
    const sky = ctx.createLinearGradient(0, 0, 0, 576);
    sky.addColorStop(0, `hsl(${seed * 37 % 360} 60% 65%)`);
    sky.addColorStop(1, `hsl(${(seed * 37 + 140) % 360} 45% 25%)`);
    ctx.fillStyle = sky;
    ctx.fillRect(0, 0, 1024, 576);
    for (let i = 0; i < 40; i++) {
      ctx.fillStyle = `hsl(${(seed * 13 + i * 29) % 360} 65% 50% / 0.45)`;
      ctx.beginPath();
      ctx.arc(random() * 1024, random() * 576, 20 + random() * 140, 0, 2 * Math.PI);
      ctx.fill();
    }
    const image = ctx.getImageData(0, 0, 1024, 576), px = image.data;
    for (let i = 0; i < px.length; i += 4) {
      const grain = (random() - 0.5) * 18;
      px[i] += grain; px[i + 1] += grain; px[i + 2] += grain;
    }
    ctx.putImageData(image, 0, 0);
    return canvas.convertToBlob({ type: "image/png" });
  },
  decodeAll: (imgs) => Promise.all(imgs.map((img) => img.decode())),
  showDataUrls: (blobs, imgs) => Promise.all(blobs.map((blob, i) => new Promise((ok, no) => {
    const reader = new FileReader();
    reader.onload = () => ok(reader.result);
    reader.onerror = () => no(reader.error);
    reader.readAsDataURL(blob);
  }).then((url) => { imgs[i].src = url; return imgs[i].decode(); }))),
};''')()


async def make_pictures(count):
    # `count` grainy 1024x576 PNGs (about 1 MB each, like generated pictures) in the vault.
    project = await vault.create_project("Gallery bench")
    for n in range(count):
        blob = await HELPERS.picture(n + 1)
        await vault.put_asset(project.id, "scene", f"scene:{n}", blob, "image/png",
                              recipe={"kind": "image", "prompt": f"grainy picture {n}",
                                      "provider": "canvas", "model": "grain", "seed": n})
    return await vault.list_assets(project.id)


async def make_local_images(count):
    # `count` 1024x576 PNGs from the local provider (flat landscapes, about 25 KB each).
    service = GenerationService(vault, ProxyClient())
    project = await vault.create_project("Gallery bench (local provider)")
    for n in range(count):
        await service.generate(project.id, "scene", f"scene:{n}",
                               {"prompt": f"a harbor town at dusk, view {n}", "seed": n,
                                "width": 1024, "height": 576})
    return await vault.list_assets(project.id)


async def read_full(assets):
    tx = idb.Transaction(vault.db, ["blobs"])
    found = {}
    for asset in assets:
        tx.then(tx.store("blobs").get(asset.sha256),
                lambda entry, asset_id=asset.id: found.__setitem__(asset_id, entry.blob))
    await tx.done()
    return found


SHELF = js.document.createElement("div")
js.document.body.append(SHELF)


def shelf(count):
    box = SHELF
    imgs = []
    for _ in range(count):
        img = js.document.createElement("img")
        img.width = 160
        box.append(img)
        imgs.append(img)
    return box, imgs


async def object_urls(assets, batch):
    start = js.performance.now()
    if batch:
        found = await vault.read_previews(assets)
        blobs = [found[a.id] for a in assets]
    else:
        blobs = [await vault.get_preview(a.id) for a in assets]
    box, imgs = shelf(len(assets))
    urls = [js.URL.createObjectURL(blob) for blob in blobs]
    for img, url in zip(imgs, urls):
        img.src = url
    await HELPERS.decodeAll(to_js(imgs))
    elapsed = js.performance.now() - start
    for url in urls:
        js.URL.revokeObjectURL(url)
    box.replaceChildren()
    return elapsed


async def data_urls(assets, batch):
    start = js.performance.now()
    if batch:
        found = await read_full(assets)
        blobs = [found[a.id] for a in assets]
    else:
        blobs = [await vault.get_blob(a.id) for a in assets]
    box, imgs = shelf(len(assets))
    await HELPERS.showDataUrls(to_js(blobs), to_js(imgs))
    elapsed = js.performance.now() - start
    box.replaceChildren()
    return elapsed
0
"""
# Time from the hash change to the first page painted (and to its previews), in the page.
FIRST_PAGE_JS = """async () => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await new Promise((resolve) => requestIdleCallback(resolve, { timeout: 2000 }));
  const start = performance.now();
  location.hash = "#/library";
  while (document.querySelectorAll(".library-grid > li").length < 60) await frame();
  await frame();
  const painted = performance.now() - start;
  while (!document.querySelector(".library-grid[data-previews=ready]")) await frame();
  return [painted, performance.now() - start];
}"""
NEXT_PAGE_JS = """async () => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const label = document.querySelector(".pager-label");
  const start = performance.now();
  [...document.querySelectorAll(".pager button")].find((b) => b.textContent === "Next").click();
  while (!label.textContent.startsWith("Page 2 ")) await frame();
  await frame();
  return performance.now() - start;
}"""


def _py(page, code: str):
    return page.evaluate("code => window.sceneVault.runPython(code)", code)


def _fresh(page, projects: dict[str, str]) -> None:
    """Reload the app and find the stored images again, so every run starts from a clean heap
    (200 data URLs leave ~280 MB of strings behind that would slow the next run)."""
    page.reload()
    page.wait_for_function("document.documentElement.dataset.appState === 'ready'",
                           timeout=60_000)
    _py(page, PY_SETUP)
    for name, project_id in projects.items():
        _py(page, f"{name} = await vault.list_assets({project_id!r})\n0")


def _gallery(page, projects, name: str, runs: int, batch: bool):
    """ms of the object-URL way and of the data-URL way for the assets called `name`, run by
    run, alternating, each in a freshly loaded page."""
    flag = "True" if batch else "False"
    fast, slow = [], []
    for _ in range(runs):
        _fresh(page, projects)
        fast.append(float(_py(page, f"await object_urls({name}, {flag})")))
        _fresh(page, projects)
        slow.append(float(_py(page, f"await data_urls({name}, {flag})")))
    return fast, slow


def _gallery_figures(page, runs: int, images: int) -> dict[str, float]:
    made = json.loads(_py(page, f"""
import json
pictures = await make_pictures({images})
small_pngs = await make_local_images({images})
json.dumps({{"projects": {{"pictures": pictures[0].project_id,
                          "small_pngs": small_pngs[0].project_id}},
            "mb": [sum(a.size for a in assets) / len(assets) / 1e6
                   for assets in (pictures, small_pngs)]}})
"""))
    projects = made["projects"]
    fast, slow = _gallery(page, projects, "pictures", runs, batch=False)
    figures = {
        "gallery_objecturl_speedup_vs_dataurl": round(median(slow) / median(fast), 3),
        # the data-URL way's best run against the object-URL way's worst
        "gallery_objecturl_speedup_vs_dataurl_worst_case": round(min(slow) / max(fast), 3),
        "gallery_objecturl_ms": round(median(fast), 1),
        "gallery_dataurl_ms": round(median(slow), 1),
        "gallery_image_mb_mean": round(made["mb"][0], 3)}
    fast, slow = _gallery(page, projects, "pictures", 3, batch=True)
    figures["gallery_objecturl_speedup_vs_dataurl_batch_reads"] = round(
        median(slow) / median(fast), 3)
    figures["gallery_objecturl_batch_ms"] = round(median(fast), 1)
    fast, slow = _gallery(page, projects, "small_pngs", 3, batch=False)
    figures["gallery_objecturl_speedup_vs_dataurl_local_provider_pngs"] = round(
        median(slow) / median(fast), 3)
    figures["gallery_local_provider_png_mb_mean"] = round(made["mb"][1], 3)
    _fresh(page, projects)
    return figures


def _wait_for_view(page, selector: str) -> None:
    page.wait_for_selector(selector, timeout=120_000)


def _leave_library(page) -> None:
    """Go to the Trash view (a light one) and wait until it is shown; FIRST_PAGE_JS then waits
    for an idle moment, so the library's time is its own, not the tail of another view's work
    (the dashboard reads every asset of each project for its cards)."""
    page.evaluate("location.hash = '#/trash'")
    _wait_for_view(page, "#view[data-route='#/trash']:not([inert])")


def _library_10k(page, runs: int) -> dict[str, float]:
    librarykit.install(page)  # again: the reloads emptied the page's file system
    _py(page, f"""
import librarykit
bulk = await vault.create_project("Ten thousand")
templates = pictures + small_pngs
await librarykit.bulk_records(vault, bulk.id, templates, {IMAGES} - len(templates))
from app.store.library_index import Filters
assert await vault.library_count(Filters()) == {IMAGES}
0
""")
    painted, previews, next_page = [], [], []
    for _ in range(runs):
        _leave_library(page)
        first, with_previews = page.evaluate(FIRST_PAGE_JS)
        painted.append(first)
        previews.append(with_previews)
        next_page.append(page.evaluate(NEXT_PAGE_JS))
    return {"library_10k_first_page_ms": round(median(painted), 1),
            "library_10k_previews_ms": round(median(previews), 1),
            "library_10k_next_page_ms": round(median(next_page), 1)}


# Type a search into the library view and time until `done` (a JS expression) holds.
SEARCH_JS = """async ([text, done]) => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const box = document.getElementById("library-search");
  const start = performance.now();
  box.value = text;
  box.dispatchEvent(new Event("input", { bubbles: true }));
  while (!eval(done)) await frame();
  await frame();
  return performance.now() - start;
}"""
RARE_SEARCH = ("neon 77777",
               "document.querySelector('.library-count').textContent === 'Showing 1–1 of 1 file'"
               " && document.querySelectorAll('.library-grid > li.media-card').length === 1")
COMMON_SEARCH = ("lighthouse",
                 "document.querySelectorAll('.library-grid > li.media-card').length === 60 && "
                 "[...document.querySelectorAll('.library-grid .media-thumb')].every("
                 "(b) => (b.title || '').startsWith('lighthouse'))")
COUNTED = "/ of [0-9,]+ files?$/.test(document.querySelector('.library-count').textContent)"
HUNDRED_K = 100_000


def _library_100k(page, runs: int) -> dict[str, float]:
    """Grow the 10,000-record vault to 100,000, check the copies, then time the view."""
    made = json.loads(_py(page, f"""
import json, librarykit
from app.core.model import Asset
from app.store import idb
from app.store.library_index import Filters, indexed
bulk = await vault.create_project("A hundred thousand")
templates = pictures + small_pngs
started = js.performance.now()
have = await vault.library_count(Filters())
for first in range(0, {HUNDRED_K} - have, 10_000):
    await librarykit.bulk_records(vault, bulk.id, templates, min(10_000, {HUNDRED_K} - have - first),
                                  first=10_000 + first)
seconds = (js.performance.now() - started) / 1000
sample = ["ast_bulk%08d%s" % (n, templates[n % len(templates)].id[-6:])
          for n in range(10_000, {HUNDRED_K}, 997)] + [templates[0].id]
tx = idb.Transaction(vault.db, ["assets"])
raw = []
for asset_id in sample:
    tx.then(tx.store("assets").get(asset_id), lambda r: raw.append(idb.from_js_record(r)))
await tx.done()
differ = [r["id"] for r in raw if r != indexed(Asset.from_record(r).to_record())]
json.dumps({{"seconds": seconds, "checked": len(raw), "differ": differ,
            "count": await vault.library_count(Filters())}})
"""))
    assert made["differ"] == [] and made["checked"] > 90, made
    assert made["count"] == HUNDRED_K, made
    painted, previews, rare, common = [], [], [], []
    for _ in range(runs):
        _leave_library(page)
        first, with_previews = page.evaluate(FIRST_PAGE_JS)
        painted.append(first)
        previews.append(with_previews)
        page.wait_for_function(COUNTED, timeout=600_000)
    for _ in range(3):
        rare.append(page.evaluate(SEARCH_JS, list(RARE_SEARCH)))
        common.append(page.evaluate(SEARCH_JS, list(COMMON_SEARCH)))
        page.wait_for_function(COUNTED, timeout=600_000)
    return {"library_100k_first_page_ms": round(median(painted), 1),
            "library_100k_previews_ms": round(median(previews), 1),
            "library_100k_search_ms": round(median(rare), 1),
            "library_100k_search_common_ms": round(median(common), 1),
            "library_100k_fixture_s": round(made["seconds"], 1)}


def run(session, runs: int = 5, images: int = 200) -> dict[str, float]:
    page = session.context.new_page()
    page.goto(session.base_url + "/")
    page.wait_for_function("document.documentElement.dataset.appState === 'ready'", timeout=60_000)
    librarykit.install(page)
    _py(page, PY_SETUP)
    figures = {"runs": runs, "images": images}
    figures |= _gallery_figures(page, runs, images)
    figures |= _library_10k(page, runs)
    figures |= _library_100k(page, 3)
    page.close()
    print(json.dumps(figures, indent=1))
    return figures
