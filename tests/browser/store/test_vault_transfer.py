"""The vault's bulk reads and the import's one write (app/store/transfer.py) in a real Chromium
on real IndexedDB: what backups and the library ask of the store, one transaction each."""

import json
import textwrap

from conftest import run_python, vault_state

PRELUDE = """
import json, pagekit
from app.store import media
from app.backup.merge import ImportPlan
from app.core.model import Project
from app.startup import current_vault
from app.store.transfer import StagedFile
vault = current_vault()

def plan(new_projects=(), merged=(), assets=(), store=()):
    return ImportPlan(tuple(new_projects), tuple(merged), tuple(assets), (), {}, 0,
                      frozenset(store), tuple(p.id for p in new_projects))
"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def test_bulk_reads_return_what_is_stored_and_leave_out_the_rest(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Bulk reads")
        image = await vault.put_asset(project.id, "scene", "scene:1", pagekit.png(64, 48), "image/png")
        voice = await vault.put_asset(project.id, "audio", "scene:1:narration",
                                      pagekit.wav_bytes(4000), "audio/wav")
        blobs = await vault.read_blobs([image.sha256, voice.sha256, "0" * 64])
        ghost = __import__("dataclasses").replace(image, id="ast_ghost", sha256="0" * 64)
        await vault.preview_maker.idle()  # the waveform is made after the put returned
        previews = await vault.read_previews([image, voice, ghost])
        back = await media.blob_bytes(blobs[image.sha256])
        snap = await vault.snapshot([project.id, "prj_nope"], [], [image.sha256, "0" * 64])
        out = {"blob_keys": sorted(blobs) == sorted([image.sha256, voice.sha256]),
               "same": back == pagekit.png(64, 48), "previews": sorted(previews) == sorted([image.id, voice.id]), "preview_type": previews[image.id].type,
               "projects": sorted(snap.projects), "project": project.id,
               "assets": sorted(snap.assets) == sorted([image.id, voice.id]),
               "blobs": sorted(snap.blobs) == [image.sha256]}
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    assert result["blob_keys"] and result["same"]
    assert result["previews"]  # the image's and the waveform of the audio; none for the ghost
    assert result["preview_type"] == "image/webp"
    assert result["projects"] == [result["project"]] and result["assets"] and result["blobs"]


def test_apply_import_writes_everything_in_one_transaction(vault_page):
    result = py(vault_page, """
        donor = await vault.create_project("Donor")
        data = pagekit.png(40, 30, (9, 9, 9))
        kept = await vault.put_asset(donor.id, "scene", "scene:1", data, "image/png")
        blob = (await vault.read_blobs([kept.sha256]))[kept.sha256]
        info = await media.inspect(blob, "image/png")
        await vault.delete_project(donor.id)                      # the bytes are gone now
        fresh = Project.create("Imported")
        asset = kept.__class__(**{**kept.__dict__, "project_id": fresh.id})
        await vault.apply_import(plan([fresh], assets=[asset], store=[kept.sha256]),
                                 {kept.sha256: StagedFile(blob, "image/png", info)})
        back = await media.blob_bytes(await vault.get_blob(asset.id))
        title = (await vault.get_project(fresh.id)).title
        await vault.delete_project(fresh.id)
        json.dumps({"same": back == data, "title": title})
    """)
    assert result == {"same": True, "title": "Imported"}


def test_apply_import_writes_nothing_when_the_vault_moved_since_the_snapshot(vault_page):
    before = vault_state(vault_page)["counts"]
    result = py(vault_page, """
        taken = await vault.create_project("Already here")
        newcomer = Project.create("Newcomer")
        error = await pagekit.error_of(vault.apply_import(plan([newcomer, taken]), {}))
        try:
            await vault.get_project(newcomer.id)
            written = True
        except Exception:
            written = False
        await vault.delete_project(taken.id)
        json.dumps({**error, "written": written})
    """)
    assert result["type"] == "BackupError" and "appeared in this vault" in result["message"]
    assert result["written"] is False
    assert vault_state(vault_page)["counts"] == before
