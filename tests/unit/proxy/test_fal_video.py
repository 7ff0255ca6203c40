"""FAL's image-to-video models (proxy/providers/fal_video.py): which field takes the frame, which
lengths each family offers, which take a seed, and the model list setting."""

import base64

import pytest

from app.core.errors import RecipeError
from app.core.pngmeta import tiny_png
from app.core.recipe import Recipe
from proxy.providers import settings_from_env
from proxy.providers.clip import Frame
from proxy.providers.fal_video import (DEFAULT_VIDEO_MODELS, check_seconds, model_ids,
                                       video_input)

PNG = tiny_png(8, 8)
FRAME = Frame.from_data_uri("data:image/png;base64," + base64.b64encode(PNG).decode())


def recipe(model: str, seconds: int = 5) -> Recipe:
    return Recipe(kind="clip", prompt="slow push-in", provider="fal", model=model, seed=42,
                  width=512, height=512, seconds=seconds, input_sha256=FRAME.sha256)


@pytest.mark.parametrize("model, field, duration, seed", [
    ("fal-ai/kling-video/v2.1/standard/image-to-video", "image_url", "5", None),
    ("fal-ai/kling-video/v2.5-turbo/pro/image-to-video", "image_url", "5", None),
    ("fal-ai/kling-video/v1/standard/image-to-video", "image_url", "5", None),
    ("fal-ai/kling-video/v3/pro/image-to-video", "start_image_url", "5", None),
    ("fal-ai/kling-video/v4/image-to-video", "start_image_url", "5", None),
    ("fal-ai/wan-flf2v", "start_image_url", None, 42),
    ("someone/new-video-model/i2v", "image_url", "5", None),
])
def test_each_model_gets_the_frame_in_its_field_with_its_length(model, field, duration, seed):
    sent = video_input(recipe(model), FRAME)
    assert sent["prompt"] == "slow push-in" and sent[field] == FRAME.data_uri()
    assert sent.get("duration") == duration and sent.get("seed") == seed
    assert {"image_url", "start_image_url"} - {field} - set(sent) == {"image_url", "start_image_url"} - {field}


@pytest.mark.parametrize("model, good, bad", [
    ("fal-ai/kling-video/v2.1/standard/image-to-video", (5, 10), (1, 6, 7)),
    ("fal-ai/minimax/hailuo-02/standard/image-to-video", (6, 10), (5,)),
    ("fal-ai/minimax/hailuo-02-fast/image-to-video", (6, 10), (5,)),
    ("fal-ai/kling-video/v3/pro/image-to-video", (1, 3, 7, 10), ()),
])
def test_a_length_the_model_does_not_offer_is_refused(model, good, bad):
    for seconds in good:
        check_seconds(recipe(model, seconds))
    for seconds in bad:
        with pytest.raises(RecipeError) as caught:
            check_seconds(recipe(model, seconds))
        assert caught.value.code == "invalid_seconds" and model in str(caught.value)


def test_the_model_list_is_parsed_and_deduplicated():
    assert model_ids(" a/b , c/d/e,a/b ", "V") == ("a/b", "c/d/e")
    assert settings_from_env({}).fal_video_models == (DEFAULT_VIDEO_MODELS,)
    assert settings_from_env({"SCENEVAULT_FAL_VIDEO_MODELS": "fal-ai/x/y, fal-ai/z"}).fal_video_models == (
        "fal-ai/x/y", "fal-ai/z")


@pytest.mark.parametrize("text", ["fal-ai", "/fal-ai/x", "fal-ai/x/", "fal-ai//x", "fal-ai/./x",
                                  "fal-ai/x y", "fal-ai/x#y", "http://evil/x", "fal-ai/x%2f..",
                                  "fal-ai/é"])
def test_a_model_id_that_is_not_a_plain_path_is_refused(text):
    with pytest.raises(ValueError, match="is not a FAL model id"):
        model_ids(text, "V")
