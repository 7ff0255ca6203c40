"""app/backup/manifest.py, app/backup/schema.py and app/backup/merge.py under CPython: the manifest
round-trips the vault's records, the layout is human-readable, every schema rule refuses with
its own message, and merge planning follows the README's rules (a second import is a no-op)."""

import ast
import datetime
import itertools
import json
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from unicode_cases import DROPPED, FORBIDDEN, TEXT

from app.backup.manifest import (archive_name, asset_path, build_manifest, check_depth, encode_manifest,
                        parse_manifest, plan_layout, slugify, unique_slugs)
from app.backup.merge import Existing, plan_import, report_of
from app.backup.policy import Limits
from app.backup.schema import iso_time, parse_iso
from app.core.errors import BackupCancelled, BackupError
from app.core.model import Asset, Project
from app.core.textrules import normal_form

ROOT = Path(__file__).resolve().parents[3]
PURE = ["app/backup/manifest.py", "app/backup/schema.py", "app/backup/policy.py", "app/backup/merge.py",
        "app/backup/zip/format.py"]
SHA = {name: name * 64 for name in "abcdef"}
EXPORTED = 1_738_326_896_789


def project(pid="prj_1", title="Moon Heist") -> Project:
    return Project(id=pid, title=title, created_at=1000, updated_at=2000, description="d")


def asset(aid, slot="scene:3", version=1, current=True, sha="a", kind="scene", **extra) -> Asset:
    mime = {"audio": "audio/wav", "clip": "video/webm", "video": "video/mp4"}.get(kind, "image/png")
    return Asset(id=aid, project_id=extra.pop("project_id", "prj_1"), kind=kind, slot=slot,
                 version=version, current=current, sha256=SHA[sha], mime_type=mime, size=100,
                 source="generated", created_at=3000, recipe={"prompt": "x", "seed": 1}, **extra)


def manifest_dict(projects, assets, recipe_only=False, stored=None) -> dict:
    layout = plan_layout(projects, assets, set(SHA.values()) if stored is None else stored)
    return build_manifest(projects, assets, layout.paths, EXPORTED, recipe_only)


def parse(data: dict, limits=Limits()):
    return parse_manifest(json.dumps(data).encode(), limits)


def error_of(data: dict, limits=Limits()) -> BackupError:
    with pytest.raises(BackupError) as caught:
        parse(data, limits)
    return caught.value


# --- layout and names ---------------------------------------------------------------------------
@pytest.mark.parametrize("title, slug", [("Moon Heist: Part 2!", "moon-heist-part-2"),
                                         ("Été à Montréal", "ete-a-montreal"), ("???", "project"),
                                         ("x" * 80, "x" * 48)])
def test_slugs_are_ascii_and_short(title, slug):
    assert slugify(title) == slug


def test_projects_with_the_same_title_get_distinct_slugs():
    assert list(unique_slugs([project("p1"), project("p2"), project("p3")]).values()) == [
        "moon-heist", "moon-heist-2", "moon-heist-3"]


@pytest.mark.parametrize("kind, slot, version, path", [
    ("thumbnail", "thumbnail", 1, "thumbnail/thumbnail-v1.png"),
    ("character", "character:hero", 2, "characters/hero-v2.png"),
    ("scene", "scene:3", 1, "scenes/scene-03-v1.png"),
    ("scene", "scene:intro", 1, "scenes/scene-intro-v1.png"),
    ("clip", "scene:3:clip", 1, "clips/scene-03-clip-v1.webm"),
    ("audio", "scene:12:narration", 4, "audio/scene-12-narration-v4.wav"),
    ("video", "final", 1, "video/final-v1.mp4"),
])
def test_paths_are_human_readable(kind, slot, version, path):
    assert asset_path("moon-heist", asset("ast_1", slot, version, kind=kind)) == f"projects/moon-heist/{path}"


def test_storyboard_scenes_are_numbered_by_position_and_characters_named():
    board = replace(project(), scenes=[{"id": "s0a0a0a", "story": "", "prompt": ""},
                                       {"id": "s1b1b1b", "story": "", "prompt": ""}],
                    characters=[{"id": "c2c2c2", "name": "Captain Nemo", "description": ""},
                                {"id": "c3c3c3", "name": "captain nemo!", "description": ""}])
    assets = [asset("ast_1", "scene:s1b1b1b"), asset("ast_2", "scene:s1b1b1b:clip", kind="clip", sha="b"),
              asset("ast_3", "character:c2c2c2", kind="character", sha="c"),
              asset("ast_4", "character:c3c3c3", kind="character", sha="d"),
              asset("ast_5", "scene:gone", sha="e")]
    paths = plan_layout([board], assets, set(SHA.values())).paths
    assert [paths[f"ast_{n}"].split("/", 2)[2] for n in range(1, 6)] == [
        "scenes/scene-02-v1.png", "clips/scene-02-clip-v1.webm", "characters/captain-nemo-v1.png",
        "characters/captain-nemo-2-v1.png", "scenes/scene-gone-v1.png"]
    parsed = parse(manifest_dict([board], assets))
    assert parsed.projects[0].scenes == board.scenes and parsed.projects[0].characters == board.characters


def test_archive_names():
    day = datetime.date(2025, 1, 31)
    assert archive_name(["moon-heist"], day) == "moon-heist-20250131.scenevault.zip"
    assert archive_name(["a", "b"], day) == "scenevault-2-projects-20250131.scenevault.zip"
    assert archive_name(["a"], day, everything=True) == "scenevault-all-20250131.scenevault.zip"
    assert archive_name(["a"], day, recipe_only=True) == "a-20250131-recipes.scenevault.zip"


def test_assets_sharing_bytes_share_one_file_and_absent_bytes_get_no_path():
    assets = [asset("ast_1"), asset("ast_2", "scene:4"), asset("ast_3", "scene:5", sha="b")]
    layout = plan_layout([project()], assets, {SHA["a"]})
    assert layout.paths == {"ast_1": "projects/moon-heist/scenes/scene-03-v1.png",
                            "ast_2": "projects/moon-heist/scenes/scene-03-v1.png", "ast_3": None}
    assert layout.files == {"projects/moon-heist/scenes/scene-03-v1.png": SHA["a"]}


# --- the manifest -------------------------------------------------------------------------------
def test_the_manifest_round_trips_every_record_field():
    assets = [asset("ast_1", width=1024, height=576, favorite=True, backed_up_at=5),
              asset("ast_2", "scene:3:narration", kind="audio", sha="b", duration_ms=2500,
                    current=True, replaces="ast_0")]
    data = manifest_dict([project()], assets)
    assert set(data) == {"format", "version", "exportedAt", "app", "recipeOnly", "projects", "assets"}
    assert data["exportedAt"] == "2025-01-31T12:34:56.789Z"
    parsed = parse_manifest(encode_manifest(data))
    assert parsed.projects == (project(),) and parsed.exported_at == EXPORTED
    assert [item.asset for item in parsed.assets] == assets
    assert parsed.assets[0].path == "projects/moon-heist/scenes/scene-03-v1.png"


def test_assets_without_stored_bytes_are_listed_as_missing_without_a_path():
    data = manifest_dict([project()], [asset("ast_1")], stored=set())
    assert data["assets"][0]["missing"] is True and data["assets"][0]["path"] is None
    assert parse(data).assets[0].asset.missing


def test_a_recipe_only_manifest_keeps_paths_and_does_not_claim_missing():
    data = manifest_dict([project()], [asset("ast_1")], recipe_only=True, stored=set())
    assert data["recipeOnly"] is True and data["assets"][0]["missing"] is False
    assert len(encode_manifest(data)) < 2000  # kilobytes for a project


def test_iso_times_round_trip():
    assert parse_iso(iso_time(EXPORTED)) == EXPORTED
    assert parse_iso("2025-01-31T12:34:56Z") == EXPORTED - 789


def test_unknown_fields_are_dropped_not_stored():
    data = manifest_dict([project()], [asset("ast_1")])
    data["assets"][0]["__proto__"] = {"polluted": True}
    data["projects"][0]["onload"] = "<script>"
    parsed = parse(data)
    assert "polluted" not in str(parsed) and "<script>" not in str(parsed.projects[0])


def valid() -> dict:
    return manifest_dict([project()], [asset("ast_1"), asset("ast_2", version=2, current=False)])


def changed(path: str, value) -> dict:
    """valid() with one value replaced (`assets.0.size`) or removed (value ...)."""
    data = valid()
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[int(key) if key.isdigit() else key]
    if value is ...:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize("path, value, code, fragment", [
    ("format", "zipped-stuff", "unknown_format", "'zipped-stuff'"),
    ("format", ..., "unknown_format", "None"),
    ("version", 2, "unsupported_version", "newer SceneVault"),
    ("version", "1", "unsupported_version", "'1'"),
    ("assets.0.size", "100", "invalid_manifest", "'size' must be a whole number"),
    ("assets.0.current", 1, "invalid_manifest", "'current' must be true or false"),
    ("assets.0.sha256", "A" * 64, "invalid_manifest", "64 lowercase hex"),
    ("assets.0.sha256", ..., "invalid_manifest", "has no 'sha256'"),
    ("assets.0.id", "../../x", "invalid_manifest", "'id' must be an id"),
    ("assets.0.slot", "character:hero", "invalid_manifest", "cannot hold a scene"),
    ("assets.0.slot", "scene:1:2:3", "invalid_manifest", "malformed"),
    ("assets.0.mimeType", "image/svg+xml", "media_type", "not allowed"),
    ("assets.0.mimeType", "text/html", "media_type", "not allowed"),
    ("assets.0.mimeType", "IMAGE/PNG", "invalid_manifest", "normal form"),
    ("assets.0.projectId", "prj_other", "invalid_manifest", "does not list"),
    ("assets.1.id", "ast_1", "invalid_manifest", "asset id 'ast_1' appears twice"),
    ("assets.1.version", 1, "invalid_manifest", "slot version"),
    ("assets.1.current", True, "invalid_manifest", "2 current versions"),
    ("assets.0.path", "/etc/passwd", "unsafe_path", "absolute"),
    ("assets.0.path", ..., "invalid_manifest", "has no 'path'"),
    ("assets.0.recipe", "seed=1", "invalid_manifest", "'recipe' must be an object"),
    ("assets.0.size", 17 << 30, "entry_too_large", "at most"),
    ("projects.0.title", " ", "invalid_manifest", "'title' must be text"),
    ("projects.0.aspectRatio", "2:1", "invalid_manifest", "one of 16:9"),
    ("projects.0.scenes", [{"id": "s1", "story": 5}], "invalid_manifest", "'scenes' must be a list"),
    ("projects.0.characters", [{"name": "x"}], "invalid_manifest", "{id, name, description}"),
    ("projects", {}, "invalid_manifest", "'projects' must be a list"),
    ("exportedAt", "yesterday", "invalid_manifest", "UTC time"),
    ("recipeOnly", "yes", "invalid_manifest", "'recipeOnly'"),
    ("app", ..., "invalid_manifest", "'app'"),
])
def test_each_schema_rule_refuses_with_its_own_message(path, value, code, fragment):
    error = error_of(changed(path, value))
    assert error.code == code and fragment in str(error), str(error)


def test_duplicate_project_ids_and_paths_shared_by_different_bytes_are_refused():
    data = manifest_dict([project(), project()], [asset("ast_1")])
    assert "project id 'prj_1' appears twice" in str(error_of(data))
    data = valid()
    data["assets"][1]["path"] = data["assets"][0]["path"]
    data["assets"][1]["sha256"] = SHA["b"]
    assert "share the path" in str(error_of(data))


def test_the_manifest_size_total_and_asset_count_caps():
    data = valid()
    assert error_of(data, Limits(max_manifest_bytes=100)).code == "manifest_too_large"
    assert error_of(data, Limits(max_total_bytes=50)).code == "total_too_large"
    assert error_of(data, Limits(max_entries=1)).code == "too_many_entries"


def test_json_nested_too_deep_is_refused_without_recursion():
    data = valid()
    data["assets"][0]["recipe"] = {"x": "placeholder"}
    text = json.dumps(data).replace('"placeholder"', "[" * 100_000 + "]" * 100_000)
    with pytest.raises(BackupError) as caught:
        parse_manifest(text.encode())
    assert caught.value.code == "json_too_deep" and "32 levels" in str(caught.value)


def test_depth_counting_ignores_brackets_inside_strings_and_spots_malformed_json():
    check_depth(json.dumps({"prompt": "[[[[" * 50 + '\\"{{{{' * 50}), 3)
    check_depth(json.dumps([[[1]]]), 3)
    with pytest.raises(BackupError, match="deeper than 2"):
        check_depth(json.dumps([[[1]]]), 2)
    with pytest.raises(BackupError, match="brackets do not pair"):
        check_depth("[" * 1_000_000, 32)


def test_a_manifest_that_is_not_utf8_or_not_json_is_invalid():
    assert "not UTF-8" in str(pytest.raises(BackupError, parse_manifest, b"\xff\xfe{}").value)
    assert "not JSON" in str(pytest.raises(BackupError, parse_manifest, b"{'a': 1}").value)


# --- text hygiene (app/core/textrules.py) and counts ------------------------------------------------
# json.dumps writes a lone surrogate as a \\udXXXX escape, as a hand-edited manifest would.
@pytest.mark.parametrize("path, value, fragment", [
    ("projects.0.title", "Moon\x00", "projects[0].title contains U+0000 (a control character)"),
    ("projects.0.title", "\ud800 Heist", "projects[0].title contains U+D800 (a lone surrogate)"),
    ("projects.0.description", "a\x1bb", "projects[0].description contains U+001B"),
    ("projects.0.mood", "\udfff", "projects[0].mood contains U+DFFF"),
    ("projects.0.scenes", [{"id": "s1", "story": "ok"}, {"id": "s2", "prompt": "a\x00"}],
     "projects[0].scenes[1].prompt contains U+0000"),
    ("projects.0.characters", [{"id": "c1", "name": "\udc00"}],
     "projects[0].characters[0].name contains U+DC00"),
    ("projects.0.characters", [{"id": "c1", "\ud800": "x"}],
     "projects[0].characters[0] has a key that contains U+D800"),
    ("assets.1.recipe", {"prompt": "fox\x00", "seed": 1}, "assets[1].recipe.prompt contains U+0000"),
    ("assets.0.recipe", {"scenes": [{"sceneId": "\ud83e"}]},
     "assets[0].recipe.scenes[0].sceneId contains U+D83E (a lone surrogate)"),
    ("assets.0.recipe", {"\x00": 1}, "assets[0].recipe has a key that contains U+0000"),
])
def test_text_no_export_could_hold_is_refused_naming_record_and_field(path, value, fragment):
    error = error_of(changed(path, value))
    assert error.code == "invalid_manifest" and fragment in str(error), str(error)


@pytest.mark.parametrize("number, shown", [(float("nan"), "nan"), (float("inf"), "inf"),
                                           (float("-inf"), "-inf")])
def test_nan_and_infinities_in_a_recipe_are_refused(number, shown):
    for recipe in ({"prompt": "x", "seed": number}, {"settings": {"fps": [24, number]}}):
        data = changed("assets.0.recipe", recipe)
        text = json.dumps(data)  # NaN, Infinity, -Infinity: what json.loads accepts by default
        assert shown.replace("inf", "Infinity").replace("nan", "NaN") in text
        error = pytest.raises(BackupError, parse_manifest, text.encode()).value
        assert error.code == "invalid_manifest" and "numbers must be finite" in str(error)
        assert f"is {shown};" in str(error) and "assets[0].recipe." in str(error)


def test_imported_texts_are_put_in_the_normal_form_the_page_and_server_use():
    data = valid()
    data["projects"][0].update(title="\u202eMoon\u200b Heist\r\n2\x85", description="a\r\nb\ufeff",
                               style="noir\tneon", scenes=[{"id": "s1", "prompt": "Cafe\u0301\u2066"}],
                               characters=[{"id": "c1", "name": "Ada\nL\x9b", "description": "x\ry"}])
    data["assets"][0]["recipe"] = {"prompt": " fox\u200b\r\n", "seed": 1, "steps": 1.5}
    parsed = parse(data)
    imported = parsed.projects[0]
    assert (imported.title, imported.description, imported.style) == \
        ("Moon Heist 2", "a\nb", "noir neon")
    assert imported.scenes == [{"id": "s1", "prompt": "Café"}]
    assert imported.characters == [{"id": "c1", "name": "Ada L", "description": "x\ny"}]
    assert parsed.assets[0].asset.recipe == {"prompt": "fox", "seed": 1, "steps": 1.5}


def test_a_title_of_invisible_characters_only_is_no_title():
    error = error_of(changed("projects.0.title", "\u200b\u202e\ufeff "))
    assert "'title' must be text of 1-200 characters" in str(error)


@pytest.mark.parametrize("text", [
    "2025-13-01T00:00:00Z", "2025-00-10T00:00:00Z", "2025-02-30T00:00:00Z", "2025-01-32T00:00:00Z",
    "2025-01-31T24:00:00Z", "2025-01-31T12:60:00Z", "2016-12-31T23:59:60Z", "0000-01-01T00:00:00Z",
    "2025-01-31T12:00:00.000", "2025-01-31 12:00:00Z", 1738326896789, None,
])
def test_a_malformed_exported_at_is_a_backup_error_naming_it(text):
    with pytest.raises(BackupError) as caught:
        parse_iso(text)
    assert caught.value.code == "invalid_manifest" and "'exportedAt'" in str(caught.value)
    assert error_of(changed("exportedAt", text)).code == "invalid_manifest"


def test_an_exported_at_before_1970_is_refused_and_the_last_moment_of_9999_read():
    assert "before 1970" in str(pytest.raises(BackupError, parse_iso, "1969-12-31T23:59:59Z").value)
    assert parse_iso("9999-12-31T23:59:59.999Z") == 253_402_300_799_999
    assert parse_iso("2024-02-29T00:00:00.5Z") == 1_709_164_800_500  # leap day; .5 s


def test_the_project_and_asset_counts_are_capped_before_any_record_is_read():
    data = manifest_dict([project("prj_1"), project("prj_2", "Sun Heist")], [asset("ast_1")])
    error = error_of(data, Limits(max_projects=1))
    assert error.code == "too_many_projects" and "2 projects" in str(error) and "at most 1" in str(error)
    junk = {**valid(), "projects": [7] * 3}  # records that would be refused one by one
    assert error_of(junk, Limits(max_projects=2)).code == "too_many_projects"
    assert error_of({**valid(), "assets": [7] * 3}, Limits(max_entries=2)).code == "too_many_entries"
    assert error_of({**valid(), "projects": [0] * 10_001}).code == "too_many_projects"  # default


def hygiene_manifest(title: str, prompt: str) -> dict:
    """A project, storyboard and recipe whose every text is `title` or `prompt`, as records that
    skipped the model's rules would be (an older vault, or a hand-edited backup)."""
    record = Project(id="prj_1", title=title, created_at=1000, updated_at=2000, description=prompt,
                     style=title, mood=prompt.replace("\n", " "),
                     characters=[{"id": "c1", "name": title, "description": prompt}],
                     scenes=[{"id": "s1", "story": prompt, "prompt": prompt}])
    recipe = {"kind": "image", "prompt": prompt, "negative_prompt": title, "seed": 1}
    return manifest_dict([record], [replace(asset("ast_1"), recipe=recipe)])


def texts_of(manifest) -> list[tuple[str, bool]]:
    """(text, single_line) for every text the manifest's records hold."""
    (record,), (item,) = manifest.projects, manifest.assets
    lines = [record.title, record.style, record.mood, *(c["name"] for c in record.characters)]
    prose = [record.description, *(c["description"] for c in record.characters),
             *(text for scene in record.scenes for key, text in scene.items() if key != "id"),
             item.asset.recipe["prompt"], item.asset.recipe["negative_prompt"]]
    return [(text, True) for text in lines] + [(text, False) for text in prose]


@settings(max_examples=200, deadline=None)
@given(title=TEXT, prompt=TEXT)
def test_any_unicode_text_imports_in_normal_form_and_round_trips_unchanged(title, prompt):
    data = json.dumps(hygiene_manifest(title, prompt)).encode()
    # The texts as the importer reads them: JSON joins an escaped high and low surrogate into one
    # character ("\ud800\udfff" is U+103FF), so a pair of lone surrogates is no longer forbidden.
    title, prompt = json.loads(json.dumps([title, prompt]))
    forbidden = FORBIDDEN & set(title + prompt)
    try:
        first = parse_manifest(data)
    except BackupError as error:
        assert error.code == "invalid_manifest"
        if " contains U+" in str(error):
            assert forbidden
        else:  # a title with nothing visible in it is no title
            assert "'title' must be text of 1-200" in str(error)
            assert not any(unicodedata.category(ch)[0] in "LMNPS" for ch in title)
        return
    assert not forbidden
    for text, single_line in texts_of(first):
        assert unicodedata.is_normalized("NFC", text) and not DROPPED & set(text)
        assert normal_form(text, single_line) == text and "\r" not in text
        assert not single_line or not {"\n", "\t"} & set(text)
    exported = build_manifest(list(first.projects), [item.asset for item in first.assets],
                              first.paths(), EXPORTED)
    assert parse_manifest(encode_manifest(exported)) == first


# --- merge planning -----------------------------------------------------------------------------
def ids(prefix_counter=itertools.count(1)):
    return lambda prefix: f"{prefix}_new{next(prefix_counter)}"


def plan(manifest_assets, local_assets=(), local_projects=(project(),), blobs=(), present=None,
         **options):
    manifest = parse(manifest_dict([project()], list(manifest_assets)))
    paths = {item.path for item in manifest.assets if item.path}
    existing = Existing({p.id: p for p in local_projects}, {a.id: a for a in local_assets},
                        frozenset(SHA[b] for b in blobs))
    return plan_import(manifest, existing, paths if present is None else present,
                       make_id=ids(), now=9999, **options)


def test_importing_into_an_empty_vault_adds_everything_marked_backed_up():
    result = plan([asset("ast_1"), asset("ast_2", version=2, current=False)], local_projects=())
    assert [p.backed_up_at for p in result.new_projects] == [EXPORTED]
    assert [(a.id, a.version, a.current, a.missing, a.backed_up_at) for a in result.assets] == [
        ("ast_1", 1, True, False, EXPORTED), ("ast_2", 2, False, False, EXPORTED)]
    assert result.store_shas == {SHA["a"]} and result.project_ids == ("prj_1",)


def test_identical_assets_are_skipped_and_a_second_import_is_a_noop():
    backup = [asset("ast_1"), asset("ast_2", version=2, current=False, sha="b")]
    result = plan(backup, local_assets=backup, blobs="ab")
    assert result.is_noop and result.skipped == ("ast_1", "ast_2")
    report = report_of(result, {SHA["a"]: 100, SHA["b"]: 100})
    assert not report.changed and report.assets_skipped == 2


def test_new_versions_join_the_slot_and_the_local_current_stays_current():
    local = [asset("ast_1"), asset("ast_9", version=2, current=True, sha="c")]
    local[0] = replace(local[0], current=False)
    result = plan([asset("ast_1", current=False), asset("ast_5", version=2, current=True, sha="b")],
                  local_assets=local, blobs="ac")
    assert result.merged_projects == ("prj_1",) and result.new_projects == ()
    assert [(a.id, a.version, a.current) for a in result.assets] == [("ast_5", 3, False)]
    assert result.renumbered == 1 and result.skipped == ("ast_1",)


def test_a_slot_new_to_the_vault_keeps_the_backups_current_version():
    result = plan([asset("ast_5", "scene:7", current=True)], local_assets=[asset("ast_1")], blobs="a")
    assert [(a.slot, a.current, a.version, a.missing) for a in result.assets] == [("scene:7", True, 1, False)]
    assert result.store_shas == frozenset()  # the bytes are already stored


def test_the_same_id_with_different_bytes_is_imported_under_a_new_id():
    result = plan([asset("ast_1", sha="b")], local_assets=[asset("ast_1")], blobs="a")
    assert result.renamed == {"ast_1": "ast_new1"}
    assert [(a.id, a.version, a.current) for a in result.assets] == [("ast_new1", 2, False)]


def test_import_as_a_copy_gives_new_ids_and_remaps_replaces():
    backup = [asset("ast_1", current=False), asset("ast_2", version=2, replaces="ast_1")]
    result = plan(backup, local_assets=backup, blobs="a", as_copy=True)
    new_project = result.new_projects[0]
    assert new_project.id != "prj_1" and new_project.title == "Moon Heist (copy)"
    assert new_project.backed_up_at is None and new_project.updated_at == 9999
    by_version = {a.version: a for a in result.assets}
    assert {a.project_id for a in result.assets} == {new_project.id}
    assert by_version[2].replaces == by_version[1].id != "ast_1"
    assert result.project_ids == (new_project.id,)


def test_assets_without_bytes_anywhere_are_missing_and_bytes_restore_local_missing_assets():
    recipe_only = plan([asset("ast_1"), asset("ast_2", "scene:4", sha="b")], local_projects=(),
                       blobs="b", present=set())
    assert [(a.id, a.missing) for a in recipe_only.assets] == [("ast_1", True), ("ast_2", False)]
    restore = plan([asset("ast_1")], local_assets=[asset("ast_1", missing=True)])
    assert restore.assets == () and restore.store_shas == {SHA["a"]} and not restore.is_noop


# --- errors and purity --------------------------------------------------------------------------
def test_backup_errors_carry_a_code_and_cancelling_is_one_of_them():
    assert BackupError("x").code == "backup_failed"
    assert BackupCancelled().code == "cancelled" and isinstance(BackupCancelled(), BackupError)


@pytest.mark.parametrize("module", PURE)
def test_backup_core_modules_stay_pure(module):
    tree = ast.parse((ROOT / module).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"js", "pyodide", "pyodide_js", "pyscript"}
    assert len((ROOT / module).read_text().splitlines()) <= 400


def test_source_metadata_round_trips_and_is_checked():
    kept = {"tool": "comfyui", "raw": {"prompt": '{"3": {}}', "workflow": "{}"}}
    data = manifest_dict([project()], [asset("ast_1", source_metadata=kept)])
    assert parse_manifest(encode_manifest(data)).assets[0].asset.source_metadata == kept
    for bad in ({"tool": "comfyui"}, {"tool": "", "raw": {}}, {"tool": "x", "raw": {"k": 1}},
                {"tool": "x", "raw": {f"k{i}": "v" for i in range(17)}},
                {"tool": "x", "raw": {}, "extra": 1}, ["comfyui"]):
        data["assets"][0]["sourceMetadata"] = bad
        assert "sourceMetadata" in str(error_of(data)), bad
    data["assets"][0]["sourceMetadata"] = {"tool": "x", "raw": {"k": "a\x00b"}}
    assert "U+0000" in str(error_of(data))
