"""The live backup folder's plan (app/backup/folder_plan.py): what a run writes, keeps, trashes,
hashes first or refuses to touch; the state file; faults and the status line."""

from __future__ import annotations

import json

import pytest

from app.backup.folder_plan import (FOLDER_STATE_NAME, FileMark, FolderState, Seen, Wanted, ago,
                                    changed_outside, encode_state, fault, is_own_name,
                                    is_skipped_on_restore,
                                    next_state, parse_state, plan_mirror, sidecar_files,
                                    status_text, wanted_bytes)
from app.backup.manifest import plan_layout
from app.core.model import Asset, Project

A, B, C = "a" * 64, "b" * 64, "c" * 64
PNG = "projects/p/scenes/scene-01-v1.png"
WAV = "projects/p/audio/scene-01-narration-v1.wav"
MANIFEST = "scenevault.json"


def marked(sha, size=10, modified=1000):
    return FileMark(sha, size, modified)


def test_an_empty_folder_gets_everything_with_the_manifest_last():
    wanted = {MANIFEST: Wanted(C, 5), PNG: Wanted(A, 10), PNG + ".json": Wanted(B, 3)}
    plan = plan_mirror(wanted, FolderState(), {})
    assert plan.write == (PNG, PNG + ".json", MANIFEST)
    assert plan.verify == plan.keep == plan.trash == plan.changed_outside == plan.leftovers == ()


def test_only_new_or_changed_files_are_written():
    state = FolderState({PNG: marked(A), MANIFEST: marked(C, 5)})
    seen = {PNG: Seen(10, 1000), MANIFEST: Seen(5, 1000)}
    wanted = {PNG: Wanted(A, 10), WAV: Wanted(B, 20), MANIFEST: Wanted("d" * 64, 6)}
    plan = plan_mirror(wanted, state, seen)
    assert plan.write == (WAV, MANIFEST) and plan.keep == (PNG,)


def test_same_path_with_new_bytes_is_rewritten():
    state = FolderState({PNG: marked(A)})
    plan = plan_mirror({PNG: Wanted(B, 11)}, state, {PNG: Seen(10, 1000)})
    assert plan.write == (PNG,)


@pytest.mark.parametrize("seen", [Seen(11, 1000), Seen(10, 2000)], ids=["size", "lastModified"])
def test_a_recorded_file_that_changed_outside_is_reported_not_written(seen):
    state = FolderState({PNG: marked(A)})
    plan = plan_mirror({PNG: Wanted(B, 12)}, state, {PNG: seen})
    assert plan.changed_outside == (PNG,) and plan.write == ()


def test_a_changed_file_of_a_deleted_asset_is_not_trashed_either():
    plan = plan_mirror({}, FolderState({PNG: marked(A)}), {PNG: Seen(99, 1000)})
    assert plan.changed_outside == (PNG,) and plan.trash == ()


def test_a_recorded_file_deleted_by_hand_is_written_again_or_forgotten():
    state = FolderState({PNG: marked(A), WAV: marked(B)})
    plan = plan_mirror({PNG: Wanted(A, 10)}, state, {})
    assert plan.write == (PNG,) and plan.trash == () and plan.changed_outside == ()


def test_files_of_deleted_assets_go_to_the_trash():
    state = FolderState({PNG: marked(A), WAV: marked(B, 20)})
    plan = plan_mirror({PNG: Wanted(A, 10)}, state, {PNG: Seen(10, 1000), WAV: Seen(20, 1000)})
    assert plan.trash == (WAV,) and plan.keep == (PNG,)


def test_a_present_unrecorded_file_is_hashed_before_it_is_trusted():
    plan = plan_mirror({PNG: Wanted(A, 10)}, FolderState(), {PNG: Seen(10, 5)})
    assert plan.verify == (PNG,) and plan.write == ()


def test_unrecorded_files_that_are_not_wanted_are_left_alone():
    plan = plan_mirror({PNG: Wanted(A, 10)}, FolderState(), {"notes.txt": Seen(1, 1)})
    assert plan.trash == () and plan.write == (PNG,)


def test_partial_files_of_ours_are_leftovers_others_are_not():
    seen = {PNG + ".partial": Seen(3, 1), MANIFEST + ".partial": Seen(1, 1),
            "mine.partial": Seen(1, 1)}
    plan = plan_mirror({PNG: Wanted(A, 10)}, FolderState(), seen)
    assert plan.leftovers == (PNG + ".partial", MANIFEST + ".partial")


def test_next_state_keeps_kept_adopts_verified_and_records_written():
    state = FolderState({PNG: marked(A), WAV: marked(B)})
    seen = {PNG: Seen(10, 1000), WAV: Seen(10, 1000), "x.png": Seen(4, 7)}
    wanted = {PNG: Wanted(A, 10), "x.png": Wanted(C, 4), MANIFEST: Wanted(C, 5)}
    plan = plan_mirror(wanted, state, seen)
    after = next_state(plan, state, {MANIFEST: marked(C, 5, 3000)}, {"x.png": marked(C, 4, 7)})
    assert after.files == {MANIFEST: marked(C, 5, 3000), PNG: marked(A), "x.png": marked(C, 4, 7)}


def test_the_state_file_round_trips_and_damage_counts_as_empty():
    state = FolderState({PNG: marked(A, 10, 1700000000123)})
    assert parse_state(encode_state(state)) == state
    assert json.loads(encode_state(state))["files"][PNG]["lastModified"] == 1700000000123
    for damaged in (b"\xff", b"{", b"[]", b'{"format": "other", "version": 1, "files": {}}',
                    b"[" * 100 + b"]" * 100):
        assert parse_state(damaged) == FolderState()
    odd = json.dumps({"format": "scenevault-folder-state", "version": 1,
                      "files": {PNG: {"sha256": "short", "size": 1, "lastModified": 1},
                                WAV: {"sha256": B, "size": 2, "lastModified": 3}}}).encode()
    assert parse_state(odd).files == {WAV: marked(B, 2, 3)}


def test_own_names_are_never_content():
    assert is_own_name(FOLDER_STATE_NAME) and is_own_name(".trash/projects/p/a.png")
    assert is_own_name(PNG + ".partial") and not is_own_name(PNG) and not is_own_name(MANIFEST)
    assert is_skipped_on_restore("projects/.DS_Store") and is_skipped_on_restore("._scenevault.json")
    assert is_skipped_on_restore(".trash/x") and not is_skipped_on_restore("projects/p/notes.txt")


def test_sidecars_are_the_zips_sidecars():
    project = Project.create("P")
    asset = Asset("ast_1", project.id, "scene", "scene:1", 1, True, A, "image/png", 10,
                  "generated", 1700000000000, recipe={"prompt": "moon"})
    layout = plan_layout([project], [asset], {A})
    cards = sidecar_files(layout, [project], [asset])
    assert list(cards) == [PNG + ".json"]
    card = json.loads(cards[PNG + ".json"])
    assert card["sha256"] == A and card["assets"][0]["recipe"] == {"prompt": "moon"}
    assert wanted_bytes(b"abc").size == 3


def test_faults_name_the_problem_and_what_to_do():
    error = fault("QuotaExceededError", "no space", "Backups", "projects/p/a.png")
    assert error.code == "folder_full" and "full" in str(error) and "'projects/p/a.png'" in str(error)
    assert fault("NotAllowedError", "denied", "Backups").code == "folder_permission"
    assert "Allow backups to Backups" in str(fault("NotAllowedError", "denied", "Backups"))
    assert fault("AbortError", "x", "B").code == "folder_cancelled"
    assert fault("WeirdError", "x", "B").code == "folder_failed"
    many = changed_outside([f"f{n}" for n in range(5)], "Backups")
    assert many.code == "folder_changed_outside" and "changed outside the app" in str(many)
    assert "and 2 more" in str(many)


def test_status_line():
    assert ago(0, 30_000) == "just now" and ago(0, 125_000) == "2 min ago"
    assert ago(0, 3 * 3600_000) == "3 h ago" and ago(0, 86400_000) == "1 day ago"
    assert status_text("Backups", 0, None, "granted", 120_000) == "Backed up to folder Backups: 2 min ago"
    assert "needs your permission" in status_text("Backups", 0, None, "prompt", 1)
    assert status_text("B", 0, "disk full", "granted", 1) == "Not backed up to folder B: disk full"
