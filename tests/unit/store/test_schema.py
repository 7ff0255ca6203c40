"""app/store/schema.py under CPython: upgrades only add, and the final layout is docs/schema.md's."""

from app.store import schema


def test_upgrade_steps_only_create_never_delete():
    for version, steps in schema.UPGRADES.items():
        for step in steps:
            assert isinstance(step, (schema.CreateStore, schema.CreateIndex,
                                     schema.FillIndexFields)), (version, step)


def test_final_layout_matches_the_design():
    assert schema.final_layout() == {
        "projects": {"updatedAt"},
        "assets": {"projectId", "projectId_slot", "kind", "createdAt", "sha256",
                   "created", "kind_created", "project_created", "project_kind_created",
                   "starred_created", "provider_created", "model_created", "terms"},
        "blobs": set(),
        "previews": set(),
        "jobs": set(),
        "trash": {"trashedAt"},
        "settings": set(),
    }


def test_steps_between_versions_are_the_missing_ones_in_order():
    upgrades = {1: [schema.CreateStore("a", "id")], 2: [schema.CreateIndex("a", "x", "x")],
                3: [schema.CreateStore("b", "id")]}
    assert schema.steps_between(0, 3, upgrades) == [*upgrades[1], *upgrades[2], *upgrades[3]]
    assert schema.steps_between(1, 3, upgrades) == [*upgrades[2], *upgrades[3]]
    assert schema.steps_between(3, 3, upgrades) == []


def test_every_index_is_created_on_a_store_that_exists_by_then():
    created = set()
    for step in schema.steps_between(0, schema.VERSION):
        if isinstance(step, schema.CreateStore):
            assert step.store not in created
            created.add(step.store)
        else:
            assert step.store in created


def test_compound_index_key_path_is_project_then_slot():
    index = next(s for s in schema.UPGRADES[1] if getattr(s, "name", "") == "projectId_slot")
    assert index.key_path == ("projectId", "slot")


def test_version_4_adds_date_ordered_library_indexes_and_fills_existing_records():
    steps = schema.UPGRADES[4]
    for step in steps:
        if isinstance(step, schema.CreateIndex) and step.name != "terms":
            assert step.key_path[-2:] == ("createdAt", "id"), step  # keyset pages
    terms = next(s for s in steps if getattr(s, "name", "") == "terms")
    assert terms.multi_entry and terms.key_path == "terms"
    assert steps[-1] == schema.FillIndexFields("assets")  # after the indexes it feeds
