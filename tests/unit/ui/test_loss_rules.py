"""app/ui/parts/loss_rules.py and app/core/backup_log.py under CPython: which warnings show, their
exact words, the 7-day boundary, never-backed-up projects, the empty vault, the folder backup,
the "lastExport" record and the last backup of each kind."""

from __future__ import annotations

import pytest

from app.core import backup_log as log
from app.core.model import Asset, Project
from app.ui.parts import loss_rules as rules
from app.ui.parts import storage_stats

DAY = log.DAY_MS
NOW = 1_800_000_000_000
LIMIT = rules.BACKUP_AGE_LIMIT_MS


def project(pid="prj_1", title="Moon heist", created=NOW - 30 * DAY, updated=None,
            backed_up=None) -> Project:
    return Project(id=pid, title=title, created_at=created,
                   updated_at=created if updated is None else updated, backed_up_at=backed_up)


def asset(n=1, pid="prj_1", created=NOW - 30 * DAY, backed_up=None, missing=False, sha=None,
          size=100) -> Asset:
    return Asset(id=f"ast_{n}", project_id=pid, kind="scene", slot=f"scene:{n}", version=1,
                 current=True, sha256=sha or f"sha{n}", mime_type="image/png", size=size,
                 source="generated", created_at=created, backed_up_at=backed_up, missing=missing)


def situation(**changes) -> rules.Situation:
    return rules.Situation(**({"has_data": True, "persisted": False, "install": "manual",
                               "now": NOW} | changes))


# --- the 7-day computation ----------------------------------------------------------------------
def test_a_never_backed_up_project_counts_from_its_creation():
    assert log.unbacked_since(project(created=NOW - 9 * DAY), []) == NOW - 9 * DAY
    # a file carrying an older date (a clip's WebM tags) does not make it older than the project
    assert log.unbacked_since(project(created=NOW - 9 * DAY),
                              [asset(created=NOW - 90 * DAY)]) == NOW - 9 * DAY


def test_only_a_project_with_a_backup_needs_its_assets_read():
    """The loss banner reads a project's assets only when they can change the answer (it read
    every asset of the vault after every view before)."""
    backed = NOW - 20 * DAY
    assert not log.needs_assets(project(created=NOW - 9 * DAY))
    assert log.needs_assets(project(backed_up=backed, updated=NOW - 2 * DAY))
    assert not log.needs_assets(project(backed_up=backed, updated=NOW - 2 * DAY), NOW - DAY)
    assert log.needs_assets(project(created=NOW - 30 * DAY, updated=NOW), folder_at=NOW - DAY)


def test_a_backed_up_project_counts_from_its_oldest_change_after_the_backup():
    backed = NOW - 20 * DAY
    assert log.unbacked_since(project(backed_up=backed, updated=backed - DAY), []) is None
    assert log.unbacked_since(project(backed_up=backed, updated=NOW - 2 * DAY), []) == NOW - 2 * DAY
    files = [asset(1, created=NOW - 10 * DAY), asset(2, created=NOW - 5 * DAY),
             asset(3, created=backed - DAY, backed_up=backed)]
    assert log.unbacked_since(project(backed_up=backed, updated=NOW - 2 * DAY), files) == NOW - 10 * DAY
    # a file stored after the backup but dated before it counts from the backup
    old_dated = [asset(4, created=backed - 40 * DAY)]
    assert log.unbacked_since(project(backed_up=backed, updated=NOW - DAY), old_dated) == backed
    # missing files hold no bytes; other projects' files are not this one's
    assert log.unbacked_since(project(backed_up=backed, updated=backed),
                              [asset(5, created=NOW - 9 * DAY, missing=True),
                               asset(6, pid="prj_2", created=NOW - 9 * DAY)]) is None


@pytest.mark.parametrize("age, stale", [(7 * DAY - 1, False), (7 * DAY, False), (7 * DAY + 1, True),
                                        (8 * DAY, True)])
def test_the_seven_day_boundary(age, stale):
    found = rules.stale_projects([project(created=NOW - age)], [], NOW)
    assert bool(found) is stale
    changed = rules.stale_projects([project(backed_up=NOW - 30 * DAY, updated=NOW - age)], [], NOW)
    assert bool(changed) is stale


def test_stale_projects_are_listed_oldest_first_with_whole_days():
    found = rules.stale_projects(
        [project("prj_1", "Moon heist", backed_up=NOW - 30 * DAY, updated=NOW - 9 * DAY - 5),
         project("prj_2", "Train ride", created=NOW - 12 * DAY - DAY // 2),
         project("prj_3", "Fresh", created=NOW - DAY)], [], NOW)
    assert found == (rules.StaleProject("prj_2", "Train ride", NOW - 12 * DAY - DAY // 2, 12, True),
                     rules.StaleProject("prj_1", "Moon heist", NOW - 9 * DAY - 5, 9, False))


def test_the_folder_backup_covers_projects_it_ran_after():
    folder = NOW - 8 * DAY
    covered = project(created=NOW - 30 * DAY, updated=folder - DAY)
    assert log.unbacked_since(covered, [asset(created=NOW - 20 * DAY)], folder) is None
    changed = project(created=NOW - 30 * DAY, updated=NOW - DAY)
    assert log.unbacked_since(changed, [asset(created=NOW - 20 * DAY)], folder) == NOW - DAY
    assert log.unbacked_since(changed, [asset(created=NOW - 3 * DAY)], folder) == NOW - 3 * DAY
    # a project made after the last folder backup was never in it
    newer = project(created=NOW - 5 * DAY, updated=NOW - DAY)
    assert log.unbacked_since(newer, [], NOW - 6 * DAY) == NOW - 5 * DAY


# --- which banners ------------------------------------------------------------------------------
def test_an_empty_vault_shows_nothing():
    assert rules.banners(situation(has_data=False, stale=())) == []
    assert rules.stale_projects([], [], NOW) == ()


def test_persistence_banner_only_when_not_persisted_and_something_is_stored():
    assert [b.kind for b in rules.banners(situation())] == ["persist"]
    assert rules.banners(situation(persisted=True)) == []
    assert rules.banners(situation(has_data=False)) == []


def test_dismissed_banners_stay_hidden():
    stale = rules.stale_projects([project(created=NOW - 8 * DAY)], [], NOW)
    assert [b.kind for b in rules.banners(situation(stale=stale))] == ["persist", "backup"]
    assert [b.kind for b in rules.banners(situation(stale=stale, dismissed=frozenset({"persist"})))] == ["backup"]
    assert rules.banners(situation(stale=stale, dismissed=frozenset({"persist", "backup"}))) == []
    assert [b.kind for b in rules.banners(situation(stale=stale, persisted=True))] == ["backup"]


# --- exact words --------------------------------------------------------------------------------
def test_the_persistence_banner_words_and_fixes():
    banner = rules.persist_banner("manual")
    assert banner.title == "The browser may delete your files"
    assert banner.text == (
        "SceneVault keeps your projects only in this browser's storage, and the browser has not "
        "promised to keep it: when the disk runs low it may delete them without asking. Some "
        "browsers (Safari) also delete what a site stored after 7 days without a visit, unless "
        "the app is installed (added to the Home Screen or the Dock). To keep your files: ask the "
        "browser to keep them, install the app, and keep a backup.")
    assert banner.note is None
    assert banner.fixes == (
        rules.Fix("persist", "Keep my data"),
        rules.Fix("install-help", "To install: use your browser's Install item (Chrome and Edge: "
                  "the install icon in the address bar, or the menu, then Install SceneVault; "
                  "Safari: Share, then Add to Home Screen or Add to Dock)."),
        rules.Fix("folder", "Back up to a folder", "#/storage"),
        rules.Fix("export", "Export a backup", "#/"))


def test_the_persistence_banner_follows_install_and_the_browsers_answer():
    assert [f.action for f in rules.persist_banner("available").fixes] == [
        "persist", "install", "folder", "export"]
    assert rules.persist_banner("available").fixes[1].label == "Install SceneVault"
    assert [f.action for f in rules.persist_banner("installed").fixes] == [
        "persist", "folder", "export"]
    assert rules.persist_banner("manual", "declined").note == (
        "The browser said no for now. Browsers usually agree for sites you install, bookmark or "
        "use often; until then, a backup is the only copy that survives.")


def test_the_backup_banner_names_the_projects():
    stale = rules.stale_projects(
        [project("prj_1", "Moon heist", backed_up=NOW - 30 * DAY, updated=NOW - 9 * DAY),
         project("prj_2", "Train ride", created=NOW - 12 * DAY)], [], NOW)
    banner = rules.backup_banner(stale)
    assert banner.title == "Changes not backed up for more than 7 days"
    assert banner.text == (
        "Not in any backup: “Train ride” (never backed up, 12 days) and “Moon heist” (oldest "
        "change 9 days ago). If this browser's storage is cleared (by you, by the browser when "
        "the disk runs low, or by Safari after 7 days without a visit), these changes are gone "
        "for good. Export a backup, or back up to a folder.")
    assert banner.fixes == (rules.Fix("export", "Export a backup", "#/"),
                            rules.Fix("folder", "Back up to a folder", "#/storage"))


def test_the_backup_banner_names_three_projects_then_counts():
    many = tuple(rules.StaleProject(f"p{n}", f"P{n}", NOW - (20 - n) * DAY, 20 - n, True)
                 for n in range(5))
    assert rules.stale_list(many) == ("Not in any backup: “P0” (never backed up, 20 days), “P1” "
                                      "(never backed up, 19 days), “P2” (never backed up, 18 days) "
                                      "and 2 more.")
    one = (rules.StaleProject("p", "Solo", NOW - 8 * DAY, 1, False),)
    assert rules.stale_list(one) == "Not in any backup: “Solo” (oldest change 1 day ago)."


# --- the lastExport record and the last backups -------------------------------------------------
def test_the_export_record_keeps_the_last_of_each_kind():
    full = log.export_record(None, 1_000, False, ["prj_1", "prj_2"])
    assert full == {"at": 1_000, "recipeOnly": False, "projects": ["prj_1", "prj_2"],
                    "fullAt": 1_000}
    recipes = log.export_record(full, 2_000, True, ["prj_1"])
    assert recipes == {"at": 2_000, "recipeOnly": True, "projects": ["prj_1"], "fullAt": 1_000,
                       "recipeOnlyAt": 2_000}
    again = log.export_record(recipes, 3_000, False, ["prj_2"])
    assert (again["fullAt"], again["recipeOnlyAt"]) == (3_000, 2_000)


def test_last_backups_of_each_kind():
    assert log.last_backups(None, None, []) == log.LastBackups(None, None, None)
    record = log.export_record(log.export_record(None, 1_000, False, ["p"]), 2_000, True, ["p"])
    folder = {"handle": object(), "name": "SceneVault backups", "lastBackupAt": 3_000,
              "lastError": None}
    assert log.last_backups(record, folder, []) == log.LastBackups(
        1_000, 2_000, 3_000, "SceneVault backups", None)
    failing = folder | {"lastError": "The folder is no longer allowed."}
    assert log.last_backups(None, failing, []).folder_error == "The folder is no longer allowed."
    # before any "lastExport" record: the newest project backup is the last full export
    older = [project("a", backed_up=500), project("b", backed_up=700), project("c")]
    assert log.last_backups(None, None, older).full_export == 700
    assert log.last_backups({"at": 900, "recipeOnly": True, "projects": []}, None,
                            older) == log.LastBackups(700, 900, None)


def test_unbacked_bytes_count_what_is_in_no_backup():
    files = [asset(1, sha="a", size=1000), asset(2, sha="a", size=1000, pid="prj_2"),
             asset(3, sha="b", size=500, backed_up=5), asset(4, sha="b", size=500),
             asset(5, sha="c", size=300, pid="prj_2"), asset(6, sha="d", size=900, missing=True)]
    # the bytes of "b" are in a backup (asset 3 holds them), but record 4 is not
    assert storage_stats.unbacked(files) == storage_stats.Unbacked(bytes=1300, files=4)
    # prj_2 is wholly in the folder backup
    assert storage_stats.unbacked(files, {"prj_2"}) == storage_stats.Unbacked(bytes=0, files=2)
