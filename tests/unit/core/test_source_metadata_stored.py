"""What an asset keeps of another tool's metadata (app/core/metadata/source.py): recipe fields
only, every text in the stored normal form, characters no stored text may hold made visible as
U+FFFD rather than refused, so a backup round trip changes nothing."""

import pytest

from app.backup.schema import _clean_recipe
from app.core.errors import MetadataError
from app.core.metadata.source import RECIPE_FIELDS, SourceMetadata


def test_only_recipe_fields_are_kept_and_texts_are_in_normal_form():
    found = SourceMetadata("a1111", {"kind": "image", "provider": "a1111",
                                     "prompt": " a fox\r\nin snow\u202e\x00", "seed": 7,
                                     "cfg_scale": 6.5, "Hires upscale": "2"},
                           {"parameters": "a fox\x00\u200b", "\x01key": "v"})
    recipe = found.stored_recipe()
    assert recipe == {"kind": "image", "provider": "a1111", "prompt": "a fox\nin snow\ufffd",
                      "seed": 7, "cfg_scale": 6.5}
    assert set(recipe) <= set(RECIPE_FIELDS)
    assert found.to_record() == {"tool": "a1111",
                                 "raw": {"parameters": "a fox\ufffd", "\ufffdkey": "v"}}
    # What the backup's import does to them changes nothing: the round trip is stable.
    assert _clean_recipe(recipe, "recipe") == recipe
    assert _clean_recipe(found.to_record(), "sourceMetadata") == found.to_record()


def test_a_number_that_is_not_finite_is_refused_with_its_field():
    found = SourceMetadata("comfyui", {"prompt": "p", "cfg_scale": float("nan")})
    with pytest.raises(MetadataError, match="cfg_scale"):
        found.stored_recipe()
