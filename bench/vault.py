"""Benchmark `vault`: the Python vault against plain-JS IndexedDB code in the same page.

- `vault_put_get_vs_js_{1mb,20mb}`: throughput of put_asset + get_blob from Python, divided by
  JS code doing the same work (bench/pages/js-vault.mjs `put`/`getBlob`), for 50 x 1 MB and
  5 x 20 MB WAV Blobs already in the page, on an on-disk profile. Goal >= 0.9.
  Like with like: both sides hash the media (crypto.subtle), read its duration from a detached
  <audio> element's metadata, and store blob, record, version bump and project touch in one
  transaction, then read the blob back; the JS side's database keeps the same asset indexes as
  the app's schema (APP_INDEXES, read from app/store/schema.py), so both pay the same index
  upkeep on every write. Neither side decodes the audio: the vault makes its
  waveform previews afterwards, in the background (app/store/preview_maker.py). Its preview
  maker is held while the writes are timed and released afterwards, and the time it then takes
  to make that run's previews is reported on its own, `vault_previews_ms_*` (context: the
  background work the write path no longer waits for; the JS side makes none).
- `vault_put_get_vs_raw_js_*` (for context): the same against a bare blob+record put/get.
- `listing_10k_vs_100`: listing one project's 10 assets in a database of 10,000 assets divided
  by the same in a database of 100. Goal <= 1.5.

Medians of `runs` alternating runs; every run starts from an empty project, after the same
pause (SETTLE_MS) in which the browser finishes deleting what the run before stored.

    figures = vault.run(session, runs=7)
"""

import json

from harness import median

from app.store.schema import CreateIndex, VERSION, steps_between  # pure; harness put ROOT on sys.path

# Every index the app's schema keeps, for the JS baseline's database: the same index work on
# every write on both sides.
APP_INDEXES = [[step.store, step.name, list(step.key_path) if isinstance(step.key_path, tuple)
                else step.key_path, step.multi_entry]
               for step in steps_between(0, VERSION) if isinstance(step, CreateIndex)]

SETUP_JS = """async (indexes) => {
  const kit = await import("/bench/pages/js-vault.mjs");
  window.benchKit = kit;
  window.benchDb = await kit.openDb("bench-js", indexes);
  await kit.clear(window.benchDb);
  window.benchBlobs = {"1mb": kit.wavBlobs(50, 1 << 20), "20mb": kit.wavBlobs(5, 20 << 20)};
}"""

JS_RUN = """async ([set, raw]) => {
  const kit = window.benchKit, db = window.benchDb, blobs = window.benchBlobs[set];
  const project = await kit.createProject(db, "bench");
  const start = performance.now();
  const ids = [];
  for (let i = 0; i < blobs.length; i++) {
    ids.push(raw ? await kit.rawPut(db, blobs[i])
                 : await kit.put(db, project, "audio", `scene:${i}:narration`, blobs[i], "audio/wav"));
  }
  for (const id of ids) (raw ? await kit.rawGet(db, id) : await kit.getBlob(db, id));
  const elapsed = performance.now() - start;
  await kit.clear(db);
  return elapsed;
}"""

PY_SETUP = """
import js, json
from app.store import idb
from app.startup import current_vault
from app.store.vault import Vault

async def bench_put_get(name):
    # The write path, timed with the preview maker held; then the previews it left to make.
    vault = current_vault()
    maker = vault.preview_maker
    blobs = getattr(js.window.benchBlobs, name)
    project = await vault.create_project("bench")
    maker.hold()
    start = js.performance.now()
    ids = []
    for i in range(blobs.length):
        asset = await vault.put_asset(project.id, "audio", f"scene:{i}:narration", blobs[i], "audio/wav")
        ids.append(asset.id)
    for asset_id in ids:
        await vault.get_blob(asset_id)
    elapsed = js.performance.now() - start
    assert maker.pending == len(ids), (maker.pending, len(ids))  # nothing was made meanwhile
    maker.release()
    start = js.performance.now()
    await maker.idle()
    previews = js.performance.now() - start
    await vault.delete_project(project.id)
    return json.dumps([elapsed, previews])

async def bench_listing(db_name, samples, batch=20):
    # Median time of one listing; each sample times `batch` listings (timer resolution).
    vault = Vault(await idb.connect(db_name), name=db_name)
    times = []
    for _ in range(samples):
        start = js.performance.now()
        for _ in range(batch):
            listed = await vault.list_assets("prj_target")
        times.append((js.performance.now() - start) / batch)
        assert len(listed) == 10, len(listed)
    times.sort()
    return times[len(times) // 2]
0
"""


# Every timed run starts after the same pause. Each run ends by deleting what it stored
# (100 MB at 20 MB a file), and the browser finishes that deletion in the background, after the
# transaction has committed: without a pause, that work lands in whichever run comes next. With
# the runs in a fixed order, it slowed the Python and raw runs (each after a JS side's `clear`)
# by a quarter to a half, and the JS run (after the previews' second of decoding) hardly at all.
SETTLE_MS = 1000


def _py(page, code: str):
    return page.evaluate("code => window.sceneVault.runPython(code)", code)


def _put_get_ratios(page, name: str, runs: int) -> dict[str, float]:
    py_times, js_times, raw_times, preview_times = [], [], [], []
    for _ in range(runs):
        page.wait_for_timeout(SETTLE_MS)
        elapsed, previews = json.loads(_py(page, f"await bench_put_get({name!r})"))
        py_times.append(float(elapsed))
        preview_times.append(float(previews))
        page.wait_for_timeout(SETTLE_MS)
        js_times.append(page.evaluate(JS_RUN, [name, False]))
        page.wait_for_timeout(SETTLE_MS)
        raw_times.append(page.evaluate(JS_RUN, [name, True]))
    py_ms, js_ms, raw_ms = median(py_times), median(js_times), median(raw_times)
    return {
        f"vault_put_get_vs_js_{name}": round(js_ms / py_ms, 3),
        f"vault_put_get_vs_raw_js_{name}": round(raw_ms / py_ms, 3),
        f"vault_put_get_ms_{name}": round(py_ms, 1),
        f"js_put_get_ms_{name}": round(js_ms, 1),
        f"vault_previews_ms_{name}": round(median(preview_times), 1),
    }


def _listing_ratio(page) -> dict[str, float]:
    medians = {}
    for total in (100, 10_000):
        name = f"bench-list-{total}"
        page.evaluate("""async ([name, total]) => {
            const db = await window.benchKit.openDb(name);
            await window.benchKit.clear(db);
            await window.benchKit.fillRecords(db, total, "prj_target", 10);
            db.close();
        }""", [name, total])
        _py(page, f"await bench_listing({name!r}, 3)")  # warm-up
        medians[total] = float(_py(page, f"await bench_listing({name!r}, 15)"))
    return {
        "listing_10k_vs_100": round(medians[10_000] / medians[100], 3),
        "listing_ms_10k": round(medians[10_000], 3),
        "listing_ms_100": round(medians[100], 3),
    }


def run(session, runs: int = 7) -> dict[str, float]:
    page = session.context.new_page()
    page.goto(session.base_url + "/")
    page.wait_for_function("document.documentElement.dataset.appState === 'ready'", timeout=60_000)
    page.evaluate(SETUP_JS, APP_INDEXES)
    _py(page, PY_SETUP)
    page.evaluate(JS_RUN, ["1mb", False])  # warm-up both paths once
    _py(page, "await bench_put_get('1mb')")
    figures = {"runs": runs}
    figures |= _put_get_ratios(page, "1mb", runs)
    figures |= _put_get_ratios(page, "20mb", runs)
    figures |= _listing_ratio(page)
    page.close()
    print(json.dumps(figures, indent=1))
    return figures
