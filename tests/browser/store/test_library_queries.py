"""The library's index-served reads (app/store/library_query.py, static/js/bridge/library.mjs) in
a real Chromium on real IndexedDB, each in a vault of its own: every filter, sort and search,
paged forwards key after key, shows exactly what the pure reference (library_filters.apply)
shows, by both search routes; totals agree; and a version-3 database with assets upgrades to
version 4 with its records searchable and starred."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from conftest import run_python, vault_state

SETUP = """
import json, js, pagekit
from app.core.model import Asset, Project
from app.store import idb, schema, library_index as li
from app.store.library_index import Filters
from app.store.vault import Vault
from app.ui.parts import library_filters as lf
from app.ui.parts.library_filters import Query
"""
WORDS = ("lighthouse", "desert", "knight", "harbor", "forest", "neon", "storm", "castle",
         "river", "moon", "market", "glacier")
COUNT = 300


def py(page, code: str):
    return json.loads(run_python(page, SETUP + textwrap.dedent(code)))


@pytest.fixture
def library_db(vault_page):
    """A vault of its own: two projects and COUNT records of four kinds, three per timestamp
    (so ids break ties), every seventh a favorite, every eleventh without a recipe."""
    name = f"sv-library-{time.time_ns()}"
    py(vault_page, f"""
        vault = await Vault.open({name!r})
        one, two = await vault.create_project("One"), await vault.create_project("Two")
        template = await vault.put_asset(one.id, "scene", "scene:t", pagekit.png(8, 8),
                                         "image/png", recipe={{"prompt": "template"}})
        kinds = {{"scene": "scene:b{{n}}", "character": "character:b{{n}}",
                 "audio": "scene:b{{n}}:narration", "clip": "scene:b{{n}}:clip"}}
        models = [("local", "sketch"), ("fal", "flux-dev"), ("openai", "gpt-image-1")]
        words = {WORDS!r}
        records = []
        for n in range({COUNT}):
            kind = list(kinds)[n % 4]
            provider, model = models[n % 3]
            record = template.to_record()
            record.update(id=f"ast_lib{{n:05d}}", projectId=(one.id, two.id)[(n // 2) % 2],
                          kind=kind, slot=kinds[kind].format(n=n), version=1, current=True,
                          createdAt=1_700_000_000_000 + (n // 3) * 1000, favorite=n % 7 == 0,
                          recipe=None if n % 11 == 0 else {{
                              "prompt": f"{{words[n % 12]}} {{words[n * 5 % 12]}} number {{n}}",
                              "provider": provider, "model": model}})
            records.append(li.indexed({{k: v for k, v in record.items() if v is not None}}))
        tx = idb.Transaction(vault.db, ["assets"], "readwrite")
        for record in records:
            tx.store("assets").put(idb.to_js_record(record))
        await tx.done()
        json.dumps([one.id, two.id])
    """)
    yield vault_page, name
    assert vault_state(vault_page, name)["problems"] == []
    py(vault_page, f"idb.close({name!r}); await idb.request(js.indexedDB.deleteDatabase({name!r}))\n'0'")


def queries(projects: list[str]) -> list[dict]:
    one, two = projects
    return [{}, {"sort": "oldest"}, {"kind": "audio"}, {"project_id": two},
            {"project_id": one, "kind": "scene"}, {"provider": "fal"}, {"model": "flux-dev"},
            {"model": "flux-dev", "provider": "local"}, {"favorite": True},
            {"favorite": True, "kind": "character", "sort": "oldest"},
            {"project_id": two, "provider": "openai"}, {"provider": "fal", "kind": "clip"},
            {"search": "lighthouse"}, {"search": "LIGHT num"}, {"search": "desert 1"},
            {"search": "moon", "kind": "scene", "project_id": one}, {"search": "zzz"},
            {"search": "gpt", "favorite": True}, {"search": "number", "sort": "oldest"}]


WALK = """
async def walk(vault, query):
    pages, after = [], None
    while True:
        page = await vault.library_page(query.filters, after=after)
        pages.append([a.id for a in page.assets])
        if not page.more:
            return pages, page.total
        after = page.last_key


async def compare(vault, projects, token_route_max):
    li.TOKEN_ROUTE_MAX = token_route_max
    everything = [Asset.from_record(r) for r in await vault._read(["assets"],
                  lambda tx: tx.store("assets").getAll())]
    out = []
    for spec in json.loads(SPECS):
        query = Query(**spec)
        expected = [a.id for a in lf.apply(everything, query)]
        pages, total = await walk(vault, query)
        out.append({"spec": spec, "expected": expected, "pages": pages, "total": total,
                    "count": await vault.library_count(query.filters)})
    li.TOKEN_ROUTE_MAX = 2000
    return out
"""


@pytest.mark.parametrize("route", ["terms", "date walk"])
def test_every_query_pages_through_exactly_what_the_reference_shows(library_db, route):
    page, name = library_db
    projects = py(page, f"""
        vault = await Vault.open({name!r})
        json.dumps(sorted(p.id for p in await vault.list_projects()))
    """)
    specs = queries(projects)
    tail = (f"SPECS = {json.dumps(specs)!r}\nvault = await Vault.open({name!r})\n"
            f"json.dumps(await compare(vault, {projects!r}, "
            f"{2000 if route == 'terms' else 0}))")
    results = json.loads(run_python(page, SETUP + WALK + tail))
    for result in results:
        flat = [asset_id for chunk in result["pages"] for asset_id in chunk]
        assert flat == result["expected"], result["spec"]
        assert all(len(chunk) == 60 for chunk in result["pages"][:-1]), result["spec"]
        assert result["count"] == len(result["expected"]), result["spec"]
        if result["total"] is not None:
            assert result["total"] == len(result["expected"]), result["spec"]
    by_spec = {json.dumps(r["spec"]): r for r in results}
    assert len(by_spec['{}']["expected"]) == COUNT + 1
    assert by_spec['{"search": "zzz"}']["pages"] == [[]]
    assert 0 < len(by_spec['{"favorite": true}']["expected"]) < COUNT
    if route == "terms":  # the search route counted its matches while reading them
        assert by_spec['{"search": "lighthouse"}']["total"] == len(
            by_spec['{"search": "lighthouse"}']["expected"])


def test_choices_list_each_value_on_record_once(library_db):
    page, name = library_db
    choices = py(page, f"""
        vault = await Vault.open({name!r})
        found = await vault.library_choices()
        json.dumps([list(found.kinds), len(found.project_ids), list(found.providers),
                    list(found.models)])
    """)
    assert choices == [["audio", "character", "clip", "scene"], 2, ["fal", "local", "openai"],
                       ["flux-dev", "gpt-image-1", "sketch"]]


def test_every_write_path_keeps_terms_and_starred_right(library_db):
    """put, favourite on and off, trash and restore: the records' index fields follow (the
    invariant in tests/browser/invariants.js checks every record after each test too)."""
    page, name = library_db
    found = py(page, f"""
        vault = await Vault.open({name!r})
        project = (await vault.list_projects())[0]
        asset = await vault.put_asset(project.id, "scene", "scene:w", pagekit.png(8, 8, (1, 2, 3)),
                                      "image/png", recipe={{"prompt": "Zebra crossing",
                                                           "model": "Qwen-Image"}})
        seen = {{}}
        seen["put"] = [a.id for a in (await vault.library_page(Filters(search="zebr qwen"))).assets]
        await vault.set_favorite(asset.id, True)
        seen["starred"] = [a.id for a in (await vault.library_page(
            Filters(favorite=True, search="zebra"))).assets]
        await vault.set_favorite(asset.id, False)
        seen["unstarred"] = [a.id for a in (await vault.library_page(
            Filters(favorite=True, search="zebra"))).assets]
        moved = await vault.trash_assets([asset.id])
        seen["trashed"] = [a.id for a in (await vault.library_page(Filters(search="zebra"))).assets]
        await vault.restore(moved.item_id)
        seen["restored"] = [a.id for a in (await vault.library_page(Filters(search="zebra"))).assets]
        json.dumps({{"id": asset.id, "seen": seen}})
    """)
    asset_id, seen = found["id"], found["seen"]
    assert seen == {"put": [asset_id], "starred": [asset_id], "unstarred": [],
                    "trashed": [], "restored": [asset_id]}


def test_a_version_3_database_upgrades_with_its_assets_searchable(vault_page):
    name = f"sv-upgrade-{time.time_ns()}"
    state = py(vault_page, f"""
        old = {{v: steps for v, steps in schema.UPGRADES.items() if v <= 3}}
        db = await idb.connect({name!r}, version=3, upgrades=old)
        project = Project.create("Old vault")
        tx = idb.Transaction(db, ["projects", "assets"], "readwrite")
        tx.store("projects").put(idb.to_js_record(project.to_record()))
        prompts = ["A lighthouse at dusk", "Neon market in the rain", "Lighthouse keeper"]
        for n, prompt in enumerate(prompts):
            asset = Asset(id=f"ast_old{{n}}", project_id=project.id, kind="scene",
                          slot=f"scene:{{n}}", version=1, current=True, sha256=f"{{n:064x}}",
                          mime_type="image/png", size=10, source="generated",
                          created_at=1_000 + n, favorite=n == 1, missing=True,
                          recipe={{"prompt": prompt, "model": "sdxl"}})
            tx.store("assets").put(idb.to_js_record(asset.to_record()))  # no index fields
        await tx.done()
        idb.close({name!r})
        vault = await Vault.open({name!r})
        out = {{"version": int(vault.db.version),
               "light": [a.id for a in (await vault.library_page(Filters(search="light"))).assets],
               "sdxl": await vault.library_count(Filters(search="SDXL")),
               "starred": [a.id for a in (await vault.library_page(Filters(favorite=True))).assets],
               "oldest": [a.id for a in (await vault.library_page(
                   Filters(newest_first=False))).assets]}}
        json.dumps(out)
    """)
    assert state == {"version": 4, "light": ["ast_old2", "ast_old0"], "sdxl": 3,
                     "starred": ["ast_old1"], "oldest": ["ast_old0", "ast_old1", "ast_old2"]}
    assert vault_state(vault_page, name)["problems"] == []
    py(vault_page, f"idb.close({name!r}); await idb.request(js.indexedDB.deleteDatabase({name!r}))\n'0'")
