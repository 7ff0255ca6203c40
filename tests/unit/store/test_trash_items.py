"""The trash's pure rules (app/store/trash_items.py): what an item holds, the bytes only it holds,
the 30-day selection, and how an item goes back beside versions made since."""

from app.store.trash_items import (DAY_MS, TrashItem, freeable, held_bytes, older_than,
                                   restore_plan, size_text)


def asset(asset_id, slot="scene:1", version=1, current=False, sha="a", size=10, project="prj_1",
          **extra):
    return {"id": asset_id, "projectId": project, "slot": slot, "version": version,
            "current": current, "sha256": sha, "size": size, **extra}


def item(item_id, *assets, at=0, what="versions", promoted=()):
    return TrashItem(id=item_id, trashed_at=at, what=what, label=item_id, assets=tuple(assets),
                     promoted=tuple(promoted))


def test_a_record_round_trips_and_leaves_out_empty_fields():
    original = TrashItem(id="trs_1", trashed_at=5, what="project", label="Moon heist",
                         assets=(asset("ast_1"),), project_id="prj_1",
                         project={"id": "prj_1", "title": "Moon heist"})
    record = original.to_record()
    assert "entry" not in record and record["trashedAt"] == 5
    assert TrashItem.from_record(record) == original


def test_missing_files_reference_their_hash_but_hold_no_bytes():
    one = item("trs_1", asset("ast_1", sha="a", size=10), asset("ast_2", sha="b", size=7, missing=True))
    assert one.shas == {"a", "b"} and one.sizes == {"a": 10}


def test_held_bytes_leaves_out_what_live_assets_and_other_items_use():
    mine = item("trs_1", asset("ast_1", sha="live", size=100), asset("ast_2", sha="shared", size=20),
                asset("ast_3", sha="own", size=3))
    other = item("trs_2", asset("ast_4", sha="shared", size=20))
    assert held_bytes(mine, {"live"}, [mine, other]) == 3
    assert held_bytes(other, {"live"}, [mine, other]) == 0
    assert held_bytes(mine, set(), [mine]) == 123
    assert held_bytes(mine, set(), [mine], stored={"live"}) == 100  # evicted bytes free nothing


def test_freeable_counts_each_hash_once_and_spares_live_and_kept_items():
    a = item("trs_1", asset("ast_1", sha="x", size=5), asset("ast_2", sha="y", size=6))
    b = item("trs_2", asset("ast_3", sha="x", size=5), asset("ast_4", sha="z", size=7))
    kept = item("trs_3", asset("ast_5", sha="z", size=7))
    assert freeable([a, b], [kept], {"y"}) == {"x": 5}
    assert freeable([a, b], [], set()) == {"x": 5, "y": 6, "z": 7}


def test_only_items_older_than_30_days_are_chosen_oldest_first():
    now = 100 * DAY_MS
    items = [item("new", at=now - DAY_MS), item("old", at=now - 40 * DAY_MS),
             item("older", at=now - 60 * DAY_MS), item("edge", at=now - 30 * DAY_MS)]
    assert [i.id for i in older_than(items, now)] == ["older", "old"]
    assert [i.id for i in older_than(items, now, days=0)] == ["older", "old", "edge", "new"]


def test_restore_is_exact_when_the_slot_is_as_the_delete_left_it():
    v1, v2 = asset("ast_1", version=1), asset("ast_2", version=2)
    trashed = asset("ast_3", version=3, current=True)
    plan = restore_plan(item("trs_1", trashed, promoted=["ast_2"]),
                        {("prj_1", "scene:1"): [v1, {**v2, "current": True}]})
    assert plan.records == (trashed,) and plan.demote == ("ast_2",) and plan.notes == ()


def test_restore_of_a_whole_slot_keeps_versions_and_current():
    records = (asset("ast_1", version=1), asset("ast_2", version=2, current=True))
    plan = restore_plan(item("trs_1", *records, what="slot"), {})
    assert plan.records == records and plan.demote == () and plan.notes == ()


def test_restore_after_new_versions_goes_beside_them_and_says_so():
    made_since = asset("ast_9", version=1, current=True)
    trashed = (asset("ast_1", version=1), asset("ast_2", version=2, current=True))
    plan = restore_plan(item("trs_1", *trashed, what="slot"), {("prj_1", "scene:1"): [made_since]})
    assert [(r["id"], r["version"], r["current"]) for r in plan.records] == [
        ("ast_1", 2, False), ("ast_2", 3, False)]
    assert plan.demote == ()
    assert "version 1 came back as version 2" in plan.notes[0]
    assert any("version 1, made or chosen since the delete, stays current" in n for n in plan.notes)


def test_restore_without_a_clash_keeps_numbers_and_the_newer_current():
    v1 = asset("ast_1", version=1)
    made_since = asset("ast_4", version=3, current=True)
    trashed = asset("ast_2", version=2, current=True)
    plan = restore_plan(item("trs_1", trashed, promoted=["ast_1"]),
                        {("prj_1", "scene:1"): [v1, made_since]})
    assert [(r["version"], r["current"]) for r in plan.records] == [(2, False)]
    assert plan.demote == () and "stays current" in plan.notes[0]


def test_a_restored_slot_always_has_one_current_version():
    plan = restore_plan(item("trs_1", asset("ast_1", version=1), asset("ast_2", version=2)), {})
    assert [r["current"] for r in plan.records] == [False, True]


def test_sizes_read_as_people_say_them():
    assert size_text(120 * 1_048_576) == "120 MB"
    assert size_text(3_565_158) == "3.4 MB"
    assert size_text(12 * 1024) == "12 KB" and size_text(900) == "900 bytes"


def test_restoring_a_version_that_was_not_current_changes_nothing_else():
    v2 = asset("ast_2", version=2, current=True)
    plan = restore_plan(item("trs_1", asset("ast_1", version=1)), {("prj_1", "scene:1"): [v2]})
    assert [(r["version"], r["current"]) for r in plan.records] == [(1, False)]
    assert plan.demote == () and plan.notes == ()
