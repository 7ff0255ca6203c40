"""Hostile backups against the real import in Chromium: every archive of the corpus
(tests/browser/hostile_zips.py) is refused with its own code and message, and a digest of the
whole database (every store, every record, every blob's SHA-256) is identical before and
after. A write the browser refuses (quota) and a cancelled import change nothing either."""

import pytest

from backupkit import db_digest, py, upload
from conftest import install_pagekit, wait_for_app_state
from hostile_zips import PROJECT_ID, big_backup, corpus, valid_backup

CASES = corpus()
RULES = {"not_a_zip", "corrupt_zip", "no_manifest", "unknown_format", "unsupported_version",
         "invalid_manifest", "unsafe_path", "unreferenced_entry", "missing_file", "hash_mismatch",
         "size_mismatch", "media_type", "magic_mismatch", "too_many_entries", "entry_too_large",
         "total_too_large", "suspicious_ratio", "manifest_too_large", "json_too_deep"}


@pytest.fixture(scope="module", autouse=True)
def remove_seed(shared_app):
    """Leave the shared page's database as this module found it."""
    yield
    _recorder, page = shared_app
    install_pagekit(page)
    py(page, """
        for project in await vault.list_projects():
            if project.title == "Hostile seed":
                await vault.delete_project(project.id)
        "0"
    """)


def seed(page) -> None:
    """Make sure the database holds something a stray write would change."""
    py(page, """
        if not [p for p in await vault.list_projects() if p.title == "Hostile seed"]:
            seed = await vault.create_project("Hostile seed")
            await vault.put_asset(seed.id, "scene", "scene:1", pagekit.png(32, 18), "image/png")
            await vault.put_asset(seed.id, "audio", "scene:1:narration", pagekit.wav_bytes(4000),
                                  "audio/wav")
        "0"
    """)


def test_the_corpus_has_an_archive_for_every_rule_and_some_combinations():
    assert len(CASES) >= 20
    assert RULES <= {case.code for case in CASES}
    assert len({case.name for case in CASES}) == len(CASES)


def test_the_corpus_base_itself_imports_cleanly(vault_page):
    """The control: the hostile archives differ from this one only in what they break."""
    upload(vault_page, valid_backup())
    result = py(vault_page, f"""
        report = await backups.import_archive(vault, uploaded())
        assets = await vault.list_assets({PROJECT_ID!r})
        await vault.delete_project({PROJECT_ID!r})
        json.dumps({{"report": pagekit.view(report), "kinds": sorted(a.kind for a in assets)}})
    """)
    assert result["report"]["assets_added"] == 2 and result["report"]["projects_added"] == 1
    assert result["kinds"] == ["audio", "scene"]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_archive_is_refused_by_its_rule_and_changes_nothing(vault_page, case):
    seed(vault_page)
    upload(vault_page, case.archive, f"{case.name}.scenevault.zip")
    before = db_digest(vault_page)
    result = py(vault_page, f"""
        json.dumps(await refusal(backups.import_archive(vault, uploaded(),
                                                        limits=Limits(**{case.limits!r}))))
    """)
    after = db_digest(vault_page)
    assert result["code"] == case.code, result["message"]
    assert case.fragment in result["message"]
    assert after["digest"] == before["digest"] and after["counts"]["projects"] >= 1


def test_a_write_the_browser_refuses_for_space_leaves_the_database_as_it_was(app_page):
    page = app_page.open()
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    cdp = app_page.context.new_cdp_session(page)
    origin = app_page.base_url.rstrip("/")
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": 4 << 20})
    try:
        py(page, "await vault.create_project('Kept'); '0'")
        upload(page, big_backup(8, 1 << 20))
        before = db_digest(page)
        result = py(page, """
            try:
                await backups.import_archive(vault, uploaded())
                failure = None
            except Exception as exc:
                failure = [type(exc).__name__, str(exc)]
            json.dumps(failure)
        """)
    finally:
        cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin})
    assert result is not None and result[0] == "QuotaExceeded", result
    assert "Nothing was imported" in result[1]
    assert db_digest(page)["digest"] == before["digest"] and before["counts"]["projects"] == 1


def test_cancelling_an_import_changes_nothing(vault_page):
    seed(vault_page)
    upload(vault_page, valid_backup())
    before = db_digest(vault_page)
    result = py(vault_page, """
        token = CancelToken()
        seen = []
        def progress(done, total):
            seen.append(done)
            token.cancel()
        outcome = await refusal(backups.import_archive(vault, uploaded(), on_progress=progress,
                                                       cancel=token))
        json.dumps({**outcome, "calls": len(seen)})
    """)
    assert result["code"] == "cancelled" and result["calls"] >= 1
    assert db_digest(vault_page)["digest"] == before["digest"]
