"""app/backup/share_manifest.py under CPython: a project's recipes go into a link compactly and
come back checked by the backup import's own rules (a hostile manifest in a link is refused
exactly as in a backup zip), summed up for the page that shows them."""

import json
from dataclasses import replace

import pytest

from app.backup.manifest import build_manifest
from app.backup.share_manifest import SHARE_LIMITS, check_shared, share_manifest
from app.core import sharelink
from app.core.errors import ShareLinkError
from app.core.model import Asset, Project

EXPORTED = 1_738_326_896_789
SCENES = ({"id": "s1", "story": "The boat leaves.", "prompt": "a boat leaving a pier"},
          {"id": "s2", "story": "The lighthouse blinks.", "prompt": "a lighthouse at night"})


def project(pid="prj_1", title="Moon Heist") -> Project:
    return Project(id=pid, title=title, created_at=1000, updated_at=2000, description="d",
                   scenes=[dict(s) for s in SCENES])


def asset(aid, slot, kind="scene", version=1, prompt="x", sha="a") -> Asset:
    return Asset(id=aid, project_id="prj_1", kind=kind, slot=slot, version=version, current=True,
                 sha256=sha * 64, mime_type="image/png", size=100, source="generated",
                 created_at=3000, recipe={"prompt": prompt, "seed": 1, "provider": "local"})


ASSETS = [asset("ast_t", "thumbnail", "thumbnail", prompt="harbour at dusk", sha="a"),
          asset("ast_1", "scene:s1", prompt="a boat leaving a pier", sha="b"),
          asset("ast_2", "scene:s2", prompt="a lighthouse at night", sha="c")]


def refusal(data: bytes) -> ShareLinkError:
    with pytest.raises(ShareLinkError) as caught:
        check_shared(data)
    return caught.value


def test_a_projects_recipes_round_trip_through_a_link_and_are_summed_up():
    data = share_manifest(project(), ASSETS, EXPORTED)
    shared = check_shared(sharelink.decode_link(sharelink.encode_link(data)).manifest)
    assert shared.data == data and shared.title == "Moon Heist"
    assert [s["story"] for s in shared.scenes] == ["The boat leaves.", "The lighthouse blinks."]
    assert shared.kinds == {"scene": 2, "thumbnail": 1}
    assert [(f.kind, f.slot, f.version, f.prompt) for f in shared.files] == [
        ("thumbnail", "thumbnail", 1, "harbour at dusk"),
        ("scene", "scene:s1", 1, "a boat leaving a pier"),
        ("scene", "scene:s2", 1, "a lighthouse at night")]
    assert [item.asset.sha256 for item in shared.manifest.assets] == [a.sha256 for a in ASSETS]


def test_the_manifest_is_compact_recipe_only_and_carries_no_paths():
    data = share_manifest(project(), ASSETS, EXPORTED)
    decoded = json.loads(data)
    assert b"\n" not in data and b": " not in data
    assert decoded["recipeOnly"] is True and {a["path"] for a in decoded["assets"]} == {None}


def test_a_hundred_scenes_of_recipes_fit_in_a_link():
    scenes = [{"id": f"s{n}", "story": f"Scene {n} of the heist.", "prompt": f"a vault door {n}"}
              for n in range(100)]
    big = replace(project(), scenes=scenes)
    assets = [asset(f"ast_{n}", f"scene:s{n}", prompt=f"a vault door {n}, cinematic light",
                    sha="abcdef"[n % 6]) for n in range(100)]
    payload = sharelink.encode_link(share_manifest(big, assets, EXPORTED))
    assert len(payload) < sharelink.MAX_FRAGMENT_CHARS


def test_the_share_limits_are_the_backup_limits_with_the_links_manifest_cap():
    assert SHARE_LIMITS.max_manifest_bytes == sharelink.MAX_MANIFEST_BYTES
    assert SHARE_LIMITS.max_json_depth == 32


def manifest_bytes(**changes) -> bytes:
    manifest = build_manifest([project()], ASSETS, {a.id: None for a in ASSETS}, EXPORTED, True)
    return json.dumps({**manifest, **changes}).encode()


@pytest.mark.parametrize("data, code, words", [
    (b"not JSON", "invalid_manifest", "it is not JSON"),
    (b"\xff\xfe", "invalid_manifest", "not UTF-8"),
    (b"[" * 40 + b"]" * 40, "json_too_deep", "deeper than 32"),
    (b" " * (sharelink.MAX_MANIFEST_BYTES + 1), "manifest_too_large", "is over"),
    (json.dumps({"format": "zip-of-cats"}).encode(), "unknown_format", "not a SceneVault backup"),
    (manifest_bytes(version=2), "unsupported_version", "made by a newer SceneVault"),
    (manifest_bytes(projects=[{**project().to_record(), "title": "Moon\x00Heist"}]),
     "invalid_manifest", "control"),
    (manifest_bytes(assets=[{**ASSETS[0].to_record(), "path": None, "kind": "script"}]),
     "invalid_manifest", "kind"),
])
def test_a_hostile_manifest_in_a_link_is_refused_by_the_backup_rules(data, code, words):
    error = refusal(data)
    assert error.code == code and words in str(error)
    assert str(error).startswith("This share link's contents fail the checks a backup import makes")


@pytest.mark.parametrize("manifest", [
    build_manifest([project()], ASSETS, {a.id: None for a in ASSETS}, EXPORTED, False),
    build_manifest([project(), project("prj_2", "Second")], ASSETS,
                   {a.id: None for a in ASSETS}, EXPORTED, True),
    build_manifest([], [], {}, EXPORTED, True),
])
def test_a_manifest_that_is_not_one_projects_recipes_is_not_shareable(manifest):
    assert refusal(json.dumps(manifest).encode()).code == "not_shareable"
