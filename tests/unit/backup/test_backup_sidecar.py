"""The JSON sidecar beside each file of a backup (app/backup/sidecar.py): what it says about the
file and every asset using it, and the AI label by provenance."""

import json

from app.backup.sidecar import (DIGITAL_SOURCE_TYPES, build_sidecar, encode_sidecar,
                                sidecar_name)
from app.core.model import Asset, Project

PROJECT = Project(id="prj_1", title="Moon Heist", created_at=1000, updated_at=2000)
PATH = "projects/moon-heist/scenes/scene-01-v1.png"
AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def asset(aid="ast_1", source="generated", created=1_738_326_896_789, **extra) -> Asset:
    return Asset(id=aid, project_id="prj_1", kind="scene", slot="scene:1", version=1,
                 current=True, sha256="ab" * 32, mime_type="image/png", size=120, source=source,
                 created_at=created, width=64, height=32, **extra)


def test_a_generated_file_is_described_with_its_recipe_dates_and_ai_label():
    recipe = {"kind": "image", "prompt": "a moon over the bank", "seed": 7, "provider": "local"}
    card = build_sidecar(PATH, [asset(recipe=recipe)], {"prj_1": PROJECT})
    assert card["format"] == "scenevault-sidecar" and card["version"] == 1
    assert (card["file"], card["sha256"], card["size"], card["mimeType"]) == \
        ("scene-01-v1.png", "ab" * 32, 120, "image/png")
    assert card["digitalSourceType"] == AI
    [used] = card["assets"]
    assert used["project"] == "Moon Heist" and used["provenance"] == "generated"
    assert used["createdAt"] == "2025-01-31T12:34:56.789Z"
    assert (used["recipe"], used["width"], used["height"]) == (recipe, 64, 32)
    assert "sourceMetadata" not in used and "durationMs" not in used


def test_the_label_follows_provenance():
    def label(**fields):
        return build_sidecar(PATH, [asset(**fields)], {"prj_1": PROJECT}).get("digitalSourceType")

    assert label(source="rendered") == DIGITAL_SOURCE_TYPES["rendered"]
    assert label(source="rendered").endswith("/compositeWithTrainedAlgorithmicMedia")
    comfy = {"tool": "comfyui", "raw": {"prompt": "{}"}}
    assert label(source="imported", recipe={"prompt": "p"}, source_metadata=comfy) == AI
    assert label(source="imported", recipe={"prompt": "p"}) == AI  # SceneVault's own recipe
    assert label(source="imported") is None  # a photo: nothing says it is AI-made
    assert label(source="imported", source_metadata={"tool": "exif", "raw": {"x": "y"}}) is None


def test_a_file_shared_by_several_assets_lists_each_and_names_the_earliest_first():
    later, earlier = asset("ast_2", created=5_000), asset("ast_1", created=4_000)
    card = build_sidecar(PATH, [later, earlier], {})
    assert [a["id"] for a in card["assets"]] == ["ast_2", "ast_1"]
    assert card["assets"][0]["project"] is None  # a project that is not exported


def test_the_sidecar_is_readable_json_beside_its_file():
    imported = asset(source="imported", recipe={"prompt": "ünïcode ✨"},
                     source_metadata={"tool": "a1111", "raw": {"parameters": "ünïcode ✨"}})
    data = encode_sidecar(build_sidecar(PATH, [imported], {"prj_1": PROJECT}))
    assert "ünïcode ✨" in data.decode("utf-8") and b"\n  " in data  # not escaped, indented
    assert json.loads(data)["assets"][0]["sourceMetadata"]["tool"] == "a1111"
    assert sidecar_name(PATH) == PATH + ".json"
