"""Backups in a real Chromium: a project with every kind of asset and several versions exports
to a zip that Python's zipfile reads (media STOREd, manifest DEFLATEd, hashes matching), comes
back exactly after being deleted, and a second import changes nothing. A recipe-only backup
regenerates bit for bit in a fresh profile. Merging, copies, missing media, cancelling and the
page's responsiveness are checked through the same service API the UI calls."""

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from textwrap import dedent

from backupkit import db_digest, py, record_clip, upload
from conftest import install_pagekit, vault_state, wait_for_app_state

from app.backup.manifest import parse_manifest
from app.backup.schema import parse_iso

GENERATE = """
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
service = GenerationService(vault, ProxyClient())

async def image(project, kind, slot, seed):
    return await service.generate(project.id, kind, slot, {"prompt": f"harbour at dusk {seed}",
                                  "seed": seed, "width": 256, "height": 144})

async def narration(project, slot, text):
    return await service.generate(project.id, "audio", slot, {"prompt": text})

async def records(project_id):
    assets = sorted(await vault.list_assets(project_id), key=lambda a: a.id)
    shas = [await media.sha256_hex(await vault.get_blob(a.id)) for a in assets if not a.missing]
    project = await vault.get_project(project_id)
    return {"project": project.to_record(), "assets": [a.to_record() for a in assets], "blobs": shas}
"""


def download(page, code: str):
    """Run `code` (which must call download.save) and return (its JSON result, the file's bytes)."""
    with page.expect_download() as info:
        result = py(page, code)
    return result, Path(info.value.path()).read_bytes(), info.value.suggested_filename


def test_round_trip_of_every_kind_and_version_is_exact_and_the_second_import_is_a_noop(vault_page):
    clip, final = record_clip(vault_page, 500, 0), record_clip(vault_page, 500, 180)
    made, archive, filename = download(vault_page, GENERATE + dedent(f"""
        project = await vault.create_project("Round Trip: Moon Heist")
        await image(project, "thumbnail", "thumbnail", 1)
        for seed in (2, 3):
            await image(project, "character", "character:hero", seed)
        scene_versions = [await image(project, "scene", "scene:3", seed) for seed in (4, 5, 6)]
        await image(project, "scene", "scene:12", 7)
        await narration(project, "scene:3:narration", "The vault door opens.")
        await narration(project, "scene:3:narration", "The vault door opens, slowly.")
        await vault.put_asset(project.id, "clip", "scene:3:clip", js.window.testClips[{clip}],
                              "video/webm", source="rendered")
        await vault.put_asset(project.id, "video", "final", js.window.testClips[{final}],
                              "video/webm", source="rendered")
        await vault.set_current(scene_versions[1].id)
        await vault.set_favorite(scene_versions[0].id, True)
        progress = []
        blob, name = await backups.export(vault, [project.id], on_progress=lambda d, t: progress.append([d, t]))
        url = download.save(blob, name, revoke_after_ms=300)
        json.dumps({{"project": project.id, "name": name, "url": url, "progress": progress,
                    "records": await records(project.id)}})
    """))
    # The file: a zip Python reads, laid out for people, media STOREd, manifest DEFLATEd.
    assert re.fullmatch(r"round-trip-moon-heist-\d{8}\.scenevault\.zip", made["name"])
    assert filename == made["name"]
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.testzip() is None
        everything = {info.filename: info for info in opened.infolist()}
        sidecars = {name[:-5]: json.loads(opened.read(name)) for name in everything
                    if name.endswith(".json") and name != "scenevault.json"}
        infos = {n: i for n, i in everything.items() if n[:-5] not in sidecars}
        manifest = parse_manifest(opened.read("scenevault.json"))
        files = {name: hashlib.sha256(opened.read(name)).hexdigest() for name in infos}
    assert infos["scenevault.json"].compress_type == zipfile.ZIP_DEFLATED
    assert {i.compress_type for n, i in infos.items() if n != "scenevault.json"} == {zipfile.ZIP_STORED}
    # Beside every file, a JSON sidecar (DEFLATEd) a person can read without SceneVault.
    assert set(sidecars) == set(infos) - {"scenevault.json"}
    assert {everything[n + ".json"].compress_type for n in sidecars} == {zipfile.ZIP_DEFLATED}
    for path, card in sidecars.items():
        users = [item.asset for item in manifest.assets if item.path == path]
        assert card["sha256"] == files[path] and card["size"] == infos[path].file_size
        assert sorted(a["id"] for a in card["assets"]) == sorted(a.id for a in users)
        assert all(a["project"] == "Round Trip: Moon Heist" for a in card["assets"])
        assert {a["provenance"] for a in card["assets"]} == {a.source for a in users}
        assert [a.get("recipe") for a in card["assets"]] == [a.recipe for a in users]
    prefix = "projects/round-trip-moon-heist/"
    labels = {path[len(prefix):]: card.get("digitalSourceType", "").rsplit("/", 1)[-1]
              for path, card in sidecars.items()}
    assert labels["video/final-v1.webm"] == "compositeWithTrainedAlgorithmicMedia"
    assert labels["scenes/scene-03-v1.png"] == "trainedAlgorithmicMedia"
    assert {name[len(prefix):] for name in infos if name != "scenevault.json"} == {
        "thumbnail/thumbnail-v1.png", "characters/hero-v1.png", "characters/hero-v2.png",
        "scenes/scene-03-v1.png", "scenes/scene-03-v2.png", "scenes/scene-03-v3.png",
        "scenes/scene-12-v1.png", "audio/scene-03-narration-v1.wav",
        "audio/scene-03-narration-v2.wav", "clips/scene-03-clip-v1.webm", "video/final-v1.webm"}
    assert all(files[item.path] == item.asset.sha256 for item in manifest.assets)
    assert {item.asset.kind for item in manifest.assets} == {"thumbnail", "character", "scene",
                                                             "audio", "clip", "video"}
    # Progress went from 0 to all media bytes, and the export marked everything backed up.
    media_bytes = sum(info.file_size for n, info in infos.items() if n != "scenevault.json")
    assert made["progress"][0] == [0, media_bytes] and made["progress"][-1] == [media_bytes] * 2
    stamp = parse_iso(json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("scenevault.json"))["exportedAt"])
    before = made["records"]
    assert before["project"]["backedUpAt"] == stamp
    assert {a["backedUpAt"] for a in before["assets"]} == {stamp}
    # Delete, then import the downloaded file: the same records and bytes come back.
    upload(vault_page, archive, filename)
    after = py(vault_page, GENERATE + dedent(f"""
        await vault.delete_project({made["project"]!r})
        gone = len(await vault.list_assets({made["project"]!r}))
        report = await backups.import_archive(vault, uploaded())
        await vault.preview_maker.idle()  # previews are made in the background, after the import
        previews = [bool(await vault.get_preview(a.id)) for a in await vault.list_assets({made["project"]!r})
                    if a.is_image]
        json.dumps({{"gone": gone, "report": pagekit.view(report), "previews": previews,
                    "records": await records({made["project"]!r})}})
    """))
    assert after["gone"] == 0 and after["report"]["assets_added"] == 11
    assert after["records"] == before and all(after["previews"]) and len(after["previews"]) == 7
    # A second import of the same file changes nothing at all.
    digest = db_digest(vault_page)["digest"]
    again = py(vault_page, "json.dumps(pagekit.view(await backups.import_archive(vault, uploaded())))")
    assert again["assets_skipped"] == 11 and again["assets_added"] == again["bytes_added"] == 0
    assert db_digest(vault_page)["digest"] == digest
    # The download's object URL was revoked once the browser had it.
    vault_page.wait_for_timeout(400)
    assert vault_page.evaluate("url => fetch(url).then(() => 'open', () => 'revoked')", made["url"]) == "revoked"
    py(vault_page, f"await vault.delete_project({made['project']!r}); '0'")


def test_a_recipe_only_backup_regenerates_bit_for_bit_in_a_fresh_profile(vault_page, app_page):
    made, archive, filename = download(vault_page, GENERATE + dedent("""
        project = await vault.create_project("Recipes only")
        await image(project, "thumbnail", "thumbnail", 11)
        await image(project, "character", "character:hero", 12)
        await image(project, "character", "character:hero", 13)
        await image(project, "scene", "scene:1", 14)
        await narration(project, "scene:1:narration", "Dawn over the harbour.")
        blob, name = await backups.export(vault, [project.id], recipe_only=True)
        download.save(blob, name)
        records = await records(project.id)
        await vault.delete_project(project.id)
        json.dumps({"name": name, "records": records})
    """))
    assert made["name"].endswith("-recipes.scenevault.zip") and len(archive) < 8_000
    assert "backedUpAt" not in made["records"]["project"]  # no media was backed up
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.namelist() == ["scenevault.json"]
        assert json.loads(opened.read("scenevault.json"))["recipeOnly"] is True
    fresh = app_page.open()
    assert wait_for_app_state(fresh) == "ready"
    install_pagekit(fresh)
    upload(fresh, archive, filename)
    result = py(fresh, GENERATE + dedent("""
        report = await backups.import_archive(vault, uploaded())
        project_id = report.project_ids[0]
        missing = len(await vault.missing(project_id))
        outcomes = await service.regenerate_missing(project_id)
        json.dumps({"report": pagekit.view(report), "missing": missing,
                    "statuses": [o.status for o in outcomes], "records": await records(project_id),
                    "left": len(await vault.missing(project_id))})
    """))
    assert result["report"]["assets_missing"] == result["missing"] == 5
    assert result["statuses"] == ["restored (identical)"] * 5 and result["left"] == 0
    original = {a["id"]: a["sha256"] for a in made["records"]["assets"]}
    assert {a["id"]: a["sha256"] for a in result["records"]["assets"]} == original
    assert sorted(result["records"]["blobs"]) == sorted(original.values())
    assert vault_state(fresh)["problems"] == []


def test_merging_restores_a_deleted_version_and_keeps_the_local_current_one(vault_page):
    result = py(vault_page, GENERATE + dedent("""
        project = await vault.create_project("Merge")
        first = await image(project, "scene", "scene:1", 21)
        second = await image(project, "scene", "scene:1", 22)
        blob, name = await backups.export(vault, [project.id])
        await vault.delete_asset(first.id)
        third = await image(project, "scene", "scene:1", 23)
        report = await backups.import_archive(vault, blob)
        slot = [(a.id, a.version, a.current) for a in await vault.versions(project.id, "scene:1")]
        await vault.delete_project(project.id)
        json.dumps({"report": pagekit.view(report), "slot": slot,
                    "ids": [first.id, second.id, third.id]})
    """))
    first, second, third = result["ids"]
    assert result["report"]["assets_added"] == 1 and result["report"]["assets_skipped"] == 1
    assert result["report"]["projects_merged"] == 1 and result["report"]["bytes_added"] > 0
    assert result["slot"] == [[first, 1, False], [second, 2, False], [third, 3, True]]


def test_import_as_a_copy_gets_new_ids_and_stores_no_bytes_twice(vault_page):
    before = vault_state(vault_page)["counts"]
    result = py(vault_page, GENERATE + dedent("""
        project = await vault.create_project("Original")
        await image(project, "scene", "scene:1", 31)
        await narration(project, "scene:1:narration", "A copy of a copy.")
        blob, name = await backups.export(vault, [project.id])
        report = await backups.import_archive(vault, blob, as_copy=True)
        copy = await vault.get_project(report.project_ids[0])
        copied = await vault.list_assets(copy.id)
        originals = await vault.list_assets(project.id)
        for project_id in (project.id, copy.id):
            await vault.delete_project(project_id)
        json.dumps({"report": pagekit.view(report), "title": copy.title, "original": project.id,
                    "copy": copy.id, "ids": [a.id for a in copied], "old_ids": [a.id for a in originals],
                    "shas": sorted(a.sha256 for a in copied) == sorted(a.sha256 for a in originals)})
    """))
    assert result["title"] == "Original (copy)" and result["copy"] != result["original"]
    assert not set(result["ids"]) & set(result["old_ids"]) and result["shas"]
    assert result["report"]["bytes_added"] == 0 and result["report"]["assets_added"] == 2
    assert vault_state(vault_page)["counts"] == before


def test_media_missing_at_export_is_listed_as_missing_and_imported_as_missing(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Half there")
        kept = await vault.put_asset(project.id, "scene", "scene:1", pagekit.png(40, 30), "image/png")
        lost = await vault.add_missing(project.id, "scene", "scene:2", sha256="ab" * 32,
                                       mime_type="image/png", size=1234, recipe={"prompt": "lost"})
        blob, name = await backups.export(vault, [project.id])
        await vault.delete_project(project.id)
        report = await backups.import_archive(vault, blob)
        missing = [a.id for a in await vault.missing(project.id)]
        await vault.delete_project(project.id)
        json.dumps({"report": pagekit.view(report), "missing": missing, "lost": lost.id})
    """)
    assert result["missing"] == [result["lost"]] and result["report"]["assets_missing"] == 1


def test_cancelling_an_export_marks_nothing_backed_up(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Cancel me")
        for n in range(3):
            await vault.put_asset(project.id, "audio", f"scene:{n}:narration",
                                  pagekit.wav_bytes(3 << 20), "audio/wav")
        token = CancelToken()
        def progress(done, total):
            if done:
                token.cancel()
        outcome = await refusal(backups.export(vault, [project.id], on_progress=progress, cancel=token))
        marked = (await vault.get_project(project.id)).backed_up_at
        await vault.delete_project(project.id)
        json.dumps({**outcome, "marked": marked})
    """)
    assert result["code"] == "cancelled" and result["marked"] is None


