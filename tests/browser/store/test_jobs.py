"""Pending server jobs in the vault (app/store/jobs.py) on real IndexedDB: a job is recorded and
read back after the vault is reopened (as after a reload), its result is stored exactly once
even when two writers race for it, a lost job keeps its recipe, and the upgrade that added the
`jobs` store kept every record of a version-1 database."""

import json
import textwrap

from conftest import run_python

PRELUDE = """
import asyncio, json, js, pagekit
from app.core.errors import JobAlreadyStored
from app.store import idb
from app.store.jobs import PendingJob
from app.store.vault import Vault
from app.startup import current_vault
RECIPE = {"kind": "clip", "prompt": "slow push-in", "provider": "fal", "model": "kling",
          "seconds": 5, "width": 640, "height": 360, "input_sha256": "ab" * 32, "version": 1}
"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def test_a_recorded_job_outlives_the_connection_and_its_result_is_stored_once(vault_page):
    result = py(vault_page, """
        name = "jobs-test"
        db = await idb.connect(name)
        vault = Vault(db, name=name)
        project = await vault.create_project("Jobs")
        await vault.add_job(PendingJob("job_" + "1" * 32, project.id, "scene", "scene:s1", RECIPE))
        idb.close(name)                                    # as a reload does
        vault = Vault(await idb.connect(name), name=name)
        seen = [(j.id, j.slot, j.recipe["provider"], j.state)
                for j in await vault.pending_jobs(project.id)]
        png = pagekit.png(64, 36)
        outcomes = await asyncio.gather(*(
            pagekit.error_of(vault.put_asset(project.id, "scene", "scene:s1", png, "image/png",
                                             job_id="job_" + "1" * 32))
            for _ in range(2)), return_exceptions=True)
        versions = await vault.versions(project.id, "scene:s1")
        left = await vault.pending_jobs(project.id)
        idb.close(name)
        js.indexedDB.deleteDatabase(name)
        json.dumps({"seen": seen, "outcomes": [o.get("type") if isinstance(o, dict) else None
                                               for o in outcomes],
                    "versions": len(versions), "left": len(left)})
    """)
    assert result["seen"] == [["job_" + "1" * 32, "scene:s1", "fal", "running"]]
    assert sorted(map(str, result["outcomes"])) == ["JobAlreadyStored", "None"]
    assert result["versions"] == 1 and result["left"] == 0


def test_a_lost_job_keeps_its_recipe_until_dismissed(vault_page):
    result = py(vault_page, """
        vault = current_vault()
        project = await vault.create_project("Lost job")
        job = await vault.add_job(PendingJob("job_" + "2" * 32, project.id, "clip", "scene:s1:clip", RECIPE))
        await vault.mark_job(job.id, "lost", "The server no longer knows this job.")
        kept = [(j.state, j.message, j.recipe) for j in await vault.pending_jobs(project.id)]
        error = await pagekit.error_of(vault.put_asset(project.id, "scene", "scene:s1",
                                       pagekit.png(8, 8), "image/png", job_id="job_" + "3" * 32))
        await vault.drop_job(job.id)
        after = await vault.pending_jobs(project.id)
        stored = await vault.versions(project.id, "scene:s1")
        await vault.delete_project(project.id)
        json.dumps({"kept": kept, "after": len(after), "error": error["type"], "stored": len(stored)})
    """)
    assert result["kept"] == [["lost", "The server no longer knows this job.", json.loads(
        json.dumps({"kind": "clip", "prompt": "slow push-in", "provider": "fal", "model": "kling",
                    "seconds": 5, "width": 640, "height": 360, "input_sha256": "ab" * 32,
                    "version": 1}))]]
    assert result["after"] == 0
    assert result["error"] == "JobAlreadyStored" and result["stored"] == 0  # no record: no write


def test_upgrades_keep_a_version_1_database(vault_page):
    result = py(vault_page, """
        from app.store import schema
        name = "jobs-upgrade-test"
        old = await idb.connect(name, version=1, upgrades={1: schema.UPGRADES[1]})
        tx = idb.Transaction(old, ["projects"], "readwrite")
        tx.store("projects").put(idb.to_js_record({"id": "prj_old", "title": "Kept", "updatedAt": 1}))
        await tx.done()
        idb.close(name)
        new = await idb.connect(name, version=schema.VERSION)
        tx = idb.Transaction(new, ["projects", "jobs", "trash", "settings"])
        found = []
        tx.then(tx.store("projects").get("prj_old"), lambda r: found.append(idb.from_js_record(r)))
        tx.then(tx.store("jobs").count(), lambda n: found.append(n))
        tx.then(tx.store("trash").count(), lambda n: found.append(n))
        tx.then(tx.store("settings").count(), lambda n: found.append(n))
        await tx.done()
        idb.close(name)
        js.indexedDB.deleteDatabase(name)
        json.dumps({"project": found[0]["title"], "jobs": found[1], "trash": found[2],
                    "settings": found[3], "version": schema.VERSION})
    """)
    # Every later store (jobs in version 2, trash and settings in 3; version 4 adds the library's
    # indexes) is added, nothing lost.
    assert result == {"project": "Kept", "jobs": 0, "trash": 0, "settings": 0, "version": 4}


def test_a_write_that_fails_while_being_built_claims_no_job_and_stores_nothing(vault_page):
    """The job claim is queued first; if building the rest of the write then fails, the
    transaction is aborted, so the job is still pending and no version or blob was stored."""
    result = py(vault_page, """
        import app.store.vault as vault_module
        name = "jobs-build-fail"
        db = await idb.connect(name)
        vault = Vault(db, name=name)
        project = await vault.create_project("Jobs")
        job_id = "job_" + "4" * 32
        await vault.add_job(PendingJob(job_id, project.id, "scene", "scene:s4", RECIPE))
        real = vault_module.add_version

        def broken(tx, asset):
            raise RuntimeError("the record could not be built")
        vault_module.add_version = broken
        try:
            failed = await pagekit.error_of(vault.put_asset(
                project.id, "scene", "scene:s4", pagekit.png(16, 16), "image/png", job_id=job_id))
        finally:
            vault_module.add_version = real
        left = [j.id for j in await vault.pending_jobs(project.id)]
        versions = await vault.versions(project.id, "scene:s4")
        stored = await vault.put_asset(project.id, "scene", "scene:s4", pagekit.png(16, 16),
                                       "image/png", job_id=job_id)
        after = [j.id for j in await vault.pending_jobs(project.id)]
        idb.close(name)
        js.indexedDB.deleteDatabase(name)
        json.dumps({"failed": failed, "left": left, "versions": len(versions),
                    "stored": stored.version, "after": after})
    """)
    assert result["failed"] == {"type": "RuntimeError", "message": "the record could not be built"}
    assert result["left"] == ["job_" + "4" * 32] and result["versions"] == 0
    assert result["stored"] == 1 and result["after"] == []  # the job's result can still be stored
