"""Bulk data for the media library's tests and benchmark. Two halves:

- `install(page)` runs under CPython: it makes this file importable as `librarykit` in the
  page's Pyodide (as conftest's `install_pagekit` does for pagekit).
- `bulk_records(...)` runs INSIDE the page: it inserts thousands of asset records in ONE
  readwrite transaction through app.store.idb (a put_asset per record would take minutes at 10k).
  Each record copies a stored "template" asset (same sha256, size and type, so its preview
  and blob exist and the vault's invariants hold) into its own slot, with its own prompt, and
  carries the library's index fields exactly as the vault writes them
  (app/store/library_index.py `indexed`).

    import librarykit
    ids = await librarykit.bulk_records(vault, project.id, [template], 10_000)
"""

from pathlib import Path

from app.store.library_index import indexed

SOURCE = Path(__file__).read_text()
WORDS = ("lighthouse", "desert", "knight", "harbor", "forest", "neon", "storm", "castle",
         "river", "moon", "market", "glacier")
SLOT_BY_KIND = {"scene": "scene:b{n}", "character": "character:b{n}",
                "audio": "scene:b{n}:narration", "clip": "scene:b{n}:clip"}


def install(page) -> None:
    """Write this file into the page's Pyodide as the module `librarykit`."""
    page.evaluate("code => window.sceneVault.runPython(code)",
                  f"open('/home/pyodide/librarykit.py', 'w').write({SOURCE!r}); "
                  "import sys; sys.modules.pop('librarykit', None); 0")


def record_for(template, n: int, start_ms: int, providers=None) -> dict:
    """The record of bulk item `n`: the template's media, its own slot, prompt and time."""
    recipe = dict(template.recipe or {})
    if providers:
        recipe["provider"], recipe["model"] = providers[n % len(providers)]
    recipe.update(prompt=f"{WORDS[n % len(WORDS)]} number {n}", seed=n)
    record = template.to_record()
    record.update(id=f"ast_bulk{n:08d}{template.id[-6:]}",
                  slot=SLOT_BY_KIND[template.kind].format(n=n), version=1, current=True,
                  createdAt=start_ms - n * 1000, favorite=False, recipe=recipe)
    record.pop("backedUpAt", None)
    return indexed(record)


async def bulk_records(vault, project_id: str, templates: list, count: int,
                       start_ms: int | None = None, providers=None, first: int = 0) -> list[str]:
    """Insert `count` records (items `first`, `first + 1`, …) into `project_id` in one
    transaction; returns their ids, newest first. Templates are used in turn; `providers` is a
    list of (provider, model)."""
    from app.store import idb
    from app.core.model import now_ms

    start = now_ms() if start_ms is None else start_ms
    records = [record_for(templates[n % len(templates)], n, start, providers)
               for n in range(first, first + count)]
    for record in records:
        record["projectId"] = project_id
    tx = idb.Transaction(vault.db, ["assets"], "readwrite")
    store = tx.store("assets")
    for record in records:
        store.put(idb.to_js_record(record))
    await tx.done()
    return [record["id"] for record in records]
