"""app/core/model.py under CPython: ids, validation messages, and the record round trip."""

import re

import pytest

from app.core.errors import InvalidAsset
from app.core.model import (Asset, Project, new_id, validate_kind, validate_media_type, validate_slot,
                       validate_source)
from app.core.storyboard import add_character, add_scene, edit_character, edit_scene


def test_ids_are_prefixed_unique_and_sort_by_creation_time():
    ids = [new_id("ast") for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(re.fullmatch(r"ast_[0-9a-f]{32}", i) for i in ids)
    assert ids[0][:16] <= ids[-1][:16]


def test_project_records_round_trip_in_camel_case():
    project = Project.create("Moon heist", description="A heist", aspect_ratio="9:16")
    record = project.to_record()
    assert {"id", "title", "description", "createdAt", "updatedAt", "aspectRatio"} <= set(record)
    assert "backedUpAt" not in record  # None fields are left out
    assert Project.from_record(record) == project


def test_project_update_validates_and_moves_updated_at():
    project = Project.create("Draft")
    renamed = project.updated(title="  Final cut  ", mood="tense")
    assert renamed.title == "Final cut" and renamed.mood == "tense"
    assert renamed.updated_at >= project.updated_at and renamed.created_at == project.created_at


def test_changes_in_one_millisecond_still_sort_in_the_order_they_were_made(monkeypatch):
    """The clock stands still (two edits in one millisecond, as a fast machine makes them): each
    change still gets a later updatedAt than the one before, whichever project it touches."""
    from app.core import model

    monkeypatch.setattr(model, "now_ms", lambda: 1_700_000_000_000)
    monkeypatch.setattr(model, "_last_change_ms", 0)  # restored after the test, like now_ms
    one, two = Project.create("One"), Project.create("Two")
    two = two.updated(description="second")
    one = one.updated(title="One, renamed")
    assert two.updated_at > one.created_at and one.updated_at > two.updated_at
    assert [p.title for p in sorted([one, two], key=lambda p: p.updated_at, reverse=True)] == [
        "One, renamed", "Two"]
    assert model.change_stamp(after=one.updated_at + 50) == one.updated_at + 51


@pytest.mark.parametrize("changes, fragment", [
    ({"title": "   "}, "needs a title"),
    ({"title": "x" * 201}, "limit is 200"),
    ({"description": "x" * 4001}, "limit is 4000"),
    ({"aspect_ratio": "5:3"}, "'5:3'"),
    ({"colour": "red"}, "colour"),
    ({"title": 7}, "must be text, not int"),
])
def test_project_update_refuses_bad_fields_naming_them(changes, fragment):
    with pytest.raises(InvalidAsset, match=re.escape(fragment)):
        Project.create("Ok").updated(**changes)


def test_asset_records_round_trip_with_recipe_and_optional_fields():
    asset = Asset(id="ast_1", project_id="prj_1", kind="scene", slot="scene:3", version=2,
                  current=True, sha256="ab" * 32, mime_type="image/png", size=10,
                  source="generated", created_at=5, width=64, height=32,
                  recipe={"prompt": "p", "seed": 1})
    record = asset.to_record()
    assert record["projectId"] == "prj_1" and record["mimeType"] == "image/png"
    assert "durationMs" not in record and record["recipe"] == {"prompt": "p", "seed": 1}
    assert Asset.from_record(record) == asset
    assert Asset.from_record({**record, "unknownFutureField": 1}) == asset


@pytest.mark.parametrize("kind, slot", [
    ("thumbnail", "thumbnail"), ("scene", "scene:3"), ("character", "character:hero"),
    ("clip", "scene:3:clip"), ("audio", "scene:12:narration"), ("audio", "character:hero:voice"),
    ("video", "final"), ("video", "scene:2:render"),
])
def test_well_formed_slots_are_accepted(kind, slot):
    assert validate_slot(kind, slot) == slot


@pytest.mark.parametrize("kind, slot, fragment", [
    ("scene", "Scene:3", "malformed"), ("scene", "scene:", "malformed"),
    ("scene", "scene:3:clip:extra", "malformed"), ("scene", "scene 3", "malformed"),
    ("scene", "", "malformed"), ("scene", "character:hero", "cannot hold a scene"),
    ("thumbnail", "scene:1", "cannot hold a thumbnail"), ("video", "thumbnail", "final"),
])
def test_malformed_or_misplaced_slots_are_refused(kind, slot, fragment):
    with pytest.raises(InvalidAsset, match=fragment):
        validate_slot(kind, slot)


@pytest.mark.parametrize("kind, mime, expected", [
    ("scene", "image/png", "image/png"), ("scene", "IMAGE/JPEG; q=1", "image/jpeg"),
    ("audio", "audio/wav", "audio/wav"), ("clip", "video/webm", "video/webm"),
])
def test_allowed_media_types_are_normalised(kind, mime, expected):
    assert validate_media_type(kind, mime) == expected


@pytest.mark.parametrize("kind, mime", [
    ("scene", "image/svg+xml"), ("scene", "text/html"), ("audio", "image/png"),
    ("clip", "application/octet-stream"), ("thumbnail", "video/mp4"),
])
def test_media_types_off_the_allowlist_are_refused(kind, mime):
    with pytest.raises(InvalidAsset, match=re.escape(repr(mime))):
        validate_media_type(kind, mime)


def test_unknown_kind_and_source_name_the_value():
    with pytest.raises(InvalidAsset, match="'poster'"):
        validate_kind("poster")
    with pytest.raises(InvalidAsset, match="'stolen'"):
        validate_source("stolen")


# --- text hygiene (app/core/textrules.py) ------------------------------------------------------------
def test_project_texts_are_kept_in_normal_form():
    project = Project.create("\u202eMoon\u200b Heist\r\nPart 2\t", description=" one\r\ntwo\x85",
                             style="noir\nneon", mood="Cafe\u0301\ufeff")
    assert (project.title, project.description, project.style, project.mood) == \
        ("Moon Heist Part 2", "one\ntwo", "noir neon", "Café")


@pytest.mark.parametrize("field, value, shown", [
    ("title", "Moon\x00", "Project title contains U+0000 (a control character) at character 5"),
    ("title", "\ud800", "Project title contains U+D800 (a lone surrogate) at character 1"),
    ("description", "a\x1bb", "Project description contains U+001B (a control character)"),
    ("style", "\udc00noir", "Project style contains U+DC00 (a lone surrogate)"),
])
def test_project_texts_refuse_nul_controls_and_lone_surrogates_naming_the_field(field, value, shown):
    with pytest.raises(InvalidAsset, match=re.escape(shown)):
        Project.create("Ok").updated(**{field: value})


def test_a_title_of_invisible_characters_only_is_no_title():
    with pytest.raises(InvalidAsset, match="needs a title"):
        Project.create("\u200b\u2066\ufeff")


def test_storyboard_texts_are_kept_in_normal_form_and_refuse_what_cannot_be_stored():
    project = add_character(Project.create("Heist"), "Ada\nLovelace\u200b", "line one\r\nline two")
    project = add_scene(project, story="The vault\u202e", prompt="a steel door\r\n")
    character, scene = project.characters[0], project.scenes[0]
    assert (character["name"], character["description"]) == ("Ada Lovelace", "line one\nline two")
    assert (scene["story"], scene["prompt"]) == ("The vault", "a steel door")
    with pytest.raises(InvalidAsset, match=re.escape("Character name contains U+0000")):
        edit_character(project, character["id"], name="Ada\x00")
    with pytest.raises(InvalidAsset, match=re.escape("Frame prompt contains U+D800")):
        edit_scene(project, scene["id"], prompt="\ud800")
    with pytest.raises(InvalidAsset, match="Character name is required"):
        edit_character(project, character["id"], name="\u200b")
