"""The ComfyUI workflow (proxy/providers/comfyui_workflow.py) and its settings: the API format
only, every configured node and input checked at start-up (naming the setting), the usual input
names found, links never overwritten, and each job filled on a fresh copy."""

import json

import pytest

from app.core.recipe import Recipe
from proxy.providers import settings_from_env
from proxy.providers.comfyui_workflow import ComfyWorkflow, NodeInput

GRAPH = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20, "model": ["4", 0]}},
    "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 9}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "old", "clip": ["4", 1]}},
    "44": {"class_type": "LTXVConditioning", "inputs": {"prompt": "old"}},
    "50": {"class_type": "WanImageToVideo", "inputs": {"width": 832, "height": 480, "length": 81,
                                                       "start_image": ["52", 0]}},
    "51": {"class_type": "VideoSampler", "inputs": {"num_frames": 49}},
    "52": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
}
NODES = {"image": "52", "prompt": "6", "seed": "3", "length": "50", "size": "50"}
RECIPE = Recipe(kind="clip", prompt="waves roll in", provider="comfyui", model="wan", seed=77,
                width=512, height=288, seconds=3, input_sha256="0" * 64)


@pytest.fixture
def path(tmp_path):
    file = tmp_path / "wan-i2v.json"
    file.write_text(json.dumps(GRAPH))
    return file


def test_the_workflow_is_filled_on_a_fresh_copy(path):
    workflow = ComfyWorkflow.load(path, NODES, fps=16)
    assert workflow.name == "wan-i2v" and workflow.frames(3) == 49
    graph = workflow.filled(RECIPE, "scenevault-ab.png")
    assert graph["52"]["inputs"]["image"] == "scenevault-ab.png"
    assert graph["6"]["inputs"] == {"text": "waves roll in", "clip": ["4", 1]}
    assert graph["3"]["inputs"] == {"seed": 77, "steps": 20, "model": ["4", 0]}
    assert graph["50"]["inputs"] == {"width": 512, "height": 288, "length": 49, "start_image": ["52", 0]}
    assert workflow.filled(RECIPE, "x.png")["52"]["inputs"]["image"] == "x.png"  # not shared
    assert json.loads(workflow.template) == GRAPH


def test_the_usual_input_names_are_found_and_an_explicit_one_wins(path):
    workflow = ComfyWorkflow.load(path, {"image": "52", "prompt": "44", "seed": "25",
                                         "length": "51"}, fps=24)
    assert (workflow.prompt, workflow.seed, workflow.length, workflow.size) == (
        NodeInput("44", "prompt"), NodeInput("25", "noise_seed"), NodeInput("51", "num_frames"), None)
    explicit = ComfyWorkflow.load(path, {**NODES, "seed": "3.steps"}, fps=16)
    assert explicit.seed == NodeInput("3", "steps")
    assert "width" not in ComfyWorkflow.load(path, {**NODES, "size": ""}, fps=16).filled(RECIPE, "x")["51"]["inputs"]


@pytest.mark.parametrize("nodes, fragment", [
    ({**NODES, "image": ""}, "SCENEVAULT_COMFYUI_IMAGE_NODE is required"),
    ({**NODES, "seed": "99"}, "SCENEVAULT_COMFYUI_SEED_NODE='99': the workflow has no node '99'"),
    ({**NODES, "prompt": "52"}, "node 52 (LoadImage) has no input text or prompt; it has image"),
    ({**NODES, "seed": "3.cfg"}, "has no input cfg"),
    ({**NODES, "seed": "3.model"}, "input model of node 3 is a link"),
    ({**NODES, "size": "6"}, "SCENEVAULT_COMFYUI_SIZE_NODE='6.width'"),
])
def test_a_node_or_input_the_workflow_lacks_is_refused_naming_the_setting(path, nodes, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ComfyWorkflow.load(path, nodes, fps=16)


@pytest.mark.parametrize("content, fragment", [
    ('{"nodes": [], "links": [], "version": 0.4}', "editor's format"),
    ("not json", "is not JSON"),
    ("[1, 2]", "not a workflow in ComfyUI's API format"),
    ('{"3": {"inputs": {}}}', "not a workflow in ComfyUI's API format"),
    ("{}", "not a workflow in ComfyUI's API format"),
])
def test_only_the_api_format_is_taken(tmp_path, content, fragment):
    file = tmp_path / "w.json"
    file.write_text(content)
    with pytest.raises(ValueError, match=fragment):
        ComfyWorkflow.load(file, NODES, fps=16)


def env(path, **changes):
    values = {"SCENEVAULT_COMFYUI_URL": "http://127.0.0.1:8188", "SCENEVAULT_COMFYUI_WORKFLOW": str(path),
              "SCENEVAULT_COMFYUI_IMAGE_NODE": "52", "SCENEVAULT_COMFYUI_PROMPT_NODE": "6",
              "SCENEVAULT_COMFYUI_SEED_NODE": "3", "SCENEVAULT_COMFYUI_LENGTH_NODE": "50"}
    return {name: value for name, value in {**values, **changes}.items() if value is not None}


def test_the_settings_load_the_workflow_with_its_fps(path):
    settings = settings_from_env(env(path, SCENEVAULT_COMFYUI_FPS="24"))
    assert settings.comfyui_url == "http://127.0.0.1:8188" and settings.comfyui_workflow.fps == 24
    assert settings.comfyui_workflow.size is None and "template" not in repr(settings)
    assert settings_from_env(env(path)).comfyui_workflow.fps == 16


@pytest.mark.parametrize("changes, fragment", [
    ({"SCENEVAULT_COMFYUI_WORKFLOW": None}, "SCENEVAULT_COMFYUI_WORKFLOW is required"),
    ({"SCENEVAULT_COMFYUI_WORKFLOW": "/nonexistent/w.json"}, "SCENEVAULT_COMFYUI_WORKFLOW: cannot read"),
    ({"SCENEVAULT_COMFYUI_URL": None}, "SCENEVAULT_COMFYUI_WORKFLOW is set but SCENEVAULT_COMFYUI_URL is not"),
    ({"SCENEVAULT_COMFYUI_URL": "127.0.0.1:8188"}, "SCENEVAULT_COMFYUI_URL must be an http"),
    ({"SCENEVAULT_COMFYUI_FPS": "0"}, "SCENEVAULT_COMFYUI_FPS must be above zero"),
    ({"SCENEVAULT_COMFYUI_LENGTH_NODE": None}, "SCENEVAULT_COMFYUI_LENGTH_NODE is required"),
])
def test_bad_comfyui_settings_are_refused_naming_the_variable(path, changes, fragment):
    with pytest.raises(ValueError, match=fragment):
        settings_from_env(env(path, **changes))
