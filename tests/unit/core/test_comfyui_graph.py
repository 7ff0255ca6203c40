"""app/core/metadata/comfyui.py and comfyui_workflow.py: the sampler's settings are found through
the links ComfyUI's graphs really have, the editor's graph serves when `prompt` is missing, and
hostile graphs (cycles, 100,000 nodes, deep JSON, wrong types) are read or refused fast."""

import json
import time

import pytest

from app.core.errors import MetadataError
from app.core.metadata.comfyui import (MAX_GRAPH_DEPTH, MAX_GRAPH_NODES, MAX_LINK_HOPS,
                                       api_graph, as_graph, read_comfyui)
from app.core.metadata.comfyui_workflow import MAX_LINKS, workflow_as_api
from app.core.metadata.jsontext import json_nesting, recipe_fields

MAX_SECONDS = 2.0  # "linear, not catastrophic": each input below takes milliseconds

# What ComfyUI's default text-to-image workflow writes as `prompt` (API format).
DEFAULT_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 156680208700286, "steps": 20, "cfg": 8.0, "sampler_name": "euler",
        "scheduler": "normal", "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0],
        "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox in the snow", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, watermark", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
DEFAULT_FIELDS = {"prompt": "a red fox in the snow", "negative_prompt": "blurry, watermark",
                  "seed": 156680208700286, "steps": 20, "cfg_scale": 8.0, "sampler": "euler",
                  "model": "sd_xl_base_1.0.safetensors", "width": 1024, "height": 768}

# The same workflow as the editor saves it (`workflow`): links as lists, widgets by position.
DEFAULT_WORKFLOW = {
    "last_node_id": 9, "last_link_id": 9, "version": 0.4,
    "nodes": [
        {"id": 3, "type": "KSampler", "pos": [863, 186], "mode": 0,
         "inputs": [{"name": "model", "type": "MODEL", "link": 1},
                    {"name": "positive", "type": "CONDITIONING", "link": 4},
                    {"name": "negative", "type": "CONDITIONING", "link": 6},
                    {"name": "latent_image", "type": "LATENT", "link": 2}],
         "outputs": [{"name": "LATENT", "type": "LATENT", "links": [7], "slot_index": 0}],
         "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1]},
        {"id": 4, "type": "CheckpointLoaderSimple", "inputs": [],
         "widgets_values": ["sd_xl_base_1.0.safetensors"]},
        {"id": 5, "type": "EmptyLatentImage", "widgets_values": [1024, 768, 1]},
        {"id": 6, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "type": "CLIP", "link": 3}],
         "widgets_values": ["a red fox in the snow"]},
        {"id": 7, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "type": "CLIP", "link": 5}],
         "widgets_values": ["blurry, watermark"]},
    ],
    "links": [[1, 4, 0, 3, 0, "MODEL"], [2, 5, 0, 3, 3, "LATENT"], [3, 4, 1, 6, 0, "CLIP"],
              [4, 6, 0, 3, 1, "CONDITIONING"], [5, 4, 1, 7, 0, "CLIP"],
              [6, 7, 0, 3, 2, "CONDITIONING"]],
    "groups": [], "config": {}, "extra": {"ds": {"scale": 1, "offset": [0, 0]}},
}


def fields_of(prompt=None, workflow=None) -> dict:
    """What png_sources keeps: the cleaned recipe fields."""
    as_text = lambda value: value if value is None or isinstance(value, str) else json.dumps(value)
    return recipe_fields(read_comfyui(as_text(prompt), as_text(workflow)))


def timed(call):
    started = time.perf_counter()
    try:
        return call(), time.perf_counter() - started
    except MetadataError as exc:
        return exc, time.perf_counter() - started


# --- real graphs --------------------------------------------------------------------------------
def test_the_default_workflow_prompt_graph_gives_every_field():
    assert fields_of(DEFAULT_PROMPT) == DEFAULT_FIELDS


def test_the_editor_graph_is_read_when_the_prompt_graph_is_missing():
    assert fields_of(workflow=DEFAULT_WORKFLOW) == DEFAULT_FIELDS


def test_the_prompt_graph_wins_over_the_editor_graph():
    workflow = json.loads(json.dumps(DEFAULT_WORKFLOW))
    workflow["nodes"][0]["widgets_values"][2] = 99
    assert fields_of(DEFAULT_PROMPT, workflow)["steps"] == 20


def test_the_editor_graph_with_links_as_objects_reads_too():
    workflow = json.loads(json.dumps(DEFAULT_WORKFLOW))
    workflow["links"] = [{"id": link[0], "origin_id": link[1], "origin_slot": link[2],
                          "target_id": link[3], "target_slot": link[4], "type": link[5]}
                         for link in workflow["links"]]
    assert fields_of(workflow=workflow) == DEFAULT_FIELDS


def test_loras_combiners_primitives_and_the_advanced_sampler_are_followed():
    graph = {
        "10": {"class_type": "KSamplerAdvanced", "inputs": {
            "add_noise": "enable", "noise_seed": ["20", 0], "steps": 30, "cfg": "6.5",
            "sampler_name": "dpmpp_2m", "scheduler": "karras", "start_at_step": 0,
            "model": ["11", 0], "positive": ["12", 0], "negative": ["15", 1],
            "latent_image": ["16", 0]}},
        "11": {"class_type": "LoraLoader", "inputs": {"model": ["13", 0], "clip": ["13", 1],
                                                      "lora_name": "detail.safetensors"}},
        "13": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "juggernaut.safetensors"}},
        "12": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["14", 0],
                                                               "conditioning_2": ["17", 0]}},
        "14": {"class_type": "CLIPTextEncode", "inputs": {"text": ["18", 0], "clip": ["11", 1]}},
        "18": {"class_type": "PrimitiveString", "inputs": {"value": "a castle"}},
        "17": {"class_type": "CLIPTextEncodeSDXL", "inputs": {"text_g": "at dusk", "text_l": "at dusk",
                                                              "width": 4096, "clip": ["11", 1]}},
        "15": {"class_type": "ControlNetApplyAdvanced", "inputs": {
            "positive": ["12", 0], "negative": ["19", 0], "control_net": ["21", 0]}},
        "19": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres", "clip": ["11", 1]}},
        "20": {"class_type": "PrimitiveInt", "inputs": {"value": 424242}},
        "16": {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["22", 0], "scale_by": 1.5}},
        "22": {"class_type": "EmptyLatentImage", "inputs": {"width": ["23", 0], "height": 832}},
        "23": {"class_type": "PrimitiveInt", "inputs": {"value": 1216}},
    }
    assert fields_of(graph) == {
        "prompt": "a castle\nat dusk", "negative_prompt": "lowres", "seed": 424242, "steps": 30,
        "cfg_scale": 6.5, "sampler": "dpmpp_2m", "model": "juggernaut.safetensors",
        "width": 1216, "height": 832}


def test_a_custom_sampler_finds_seed_steps_cfg_and_model_through_its_helper_nodes():
    graph = {
        "1": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["2", 0], "guider": ["3", 0], "sampler": ["4", 0], "sigmas": ["5", 0],
            "latent_image": ["6", 0]}},
        "2": {"class_type": "RandomNoise", "inputs": {"noise_seed": 77}},
        "3": {"class_type": "BasicGuider", "inputs": {"model": ["7", 0], "conditioning": ["8", 0]}},
        "4": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "5": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 4,
                                                         "model": ["7", 0]}},
        "6": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024}},
        "7": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-schnell.safetensors"}},
        "8": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse"}},
    }
    assert fields_of(graph) == {"prompt": "a lighthouse", "seed": 77, "steps": 4,
                                "sampler": "euler", "model": "flux1-schnell.safetensors",
                                "width": 1024, "height": 1024}


def test_a_zeroed_negative_does_not_repeat_the_positive_prompt():
    graph = dict(DEFAULT_PROMPT)
    graph["3"] = {"class_type": "KSampler", "inputs": {**DEFAULT_PROMPT["3"]["inputs"],
                                                      "negative": ["30", 0]}}
    graph["30"] = {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["6", 0]}}
    assert "negative_prompt" not in fields_of(graph)


def test_a_sampler_whose_id_is_empty_is_still_the_sampler():
    graph = {"": {"class_type": "KSampler", "inputs": {"seed": 1}},
             "2": {"class_type": "MySampler", "inputs": {"seed": 2, "positive": ["", 0]}}}
    assert fields_of(graph) == {"seed": 1}


def test_a_graph_without_a_sampler_gives_no_fields():
    assert fields_of({"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}}}) == {}


# --- hostile graphs -----------------------------------------------------------------------------
def cycle_graph() -> dict:
    """The sampler's every link runs into a ring of 5,000 combiners that link back to each other."""
    ring = {str(n): {"class_type": "ConditioningCombine", "inputs": {
        "conditioning_1": [str((n + 1) % 5000), 0], "conditioning_2": [str((n + 7) % 5000), 0],
        "model": [str((n + 3) % 5000), 0], "samples": [str((n + 11) % 5000), 0]}}
        for n in range(5000)}
    ring["s"] = {"class_type": "KSampler", "inputs": {
        "seed": ["0", 0], "positive": ["0", 0], "negative": ["1", 0], "model": ["2", 0],
        "latent_image": ["3", 0], "steps": ["s", 0]}}
    return ring


def text_fan() -> dict:
    """A sampler whose positive conditioning fans out to 2,050 encoders of nine texts each, all
    alike but for their last characters (a list's `in` would compare them 160 million times)."""
    prefix = "x" * 20
    graph = {str(n): {"class_type": "ConditioningCombine", "inputs": {
        "conditioning_1": [str(2 * n + 1), 0], "conditioning_2": [str(2 * n + 2), 0],
        **{name: f"{prefix}{n:05}{name}" for name in ("text", "text_g", "text_l", "clip_l", "clip_g",
                                                "t5xxl", "prompt", "string", "value")}}}
        for n in range(2_050)}
    graph["s"] = {"class_type": "KSampler", "inputs": {"positive": ["0", 0]}}
    return graph


def nodes_json(count: int) -> str:
    """An API graph of `count` nodes in as few bytes as possible (about 1 MB for 100,000)."""
    return "{" + ",".join(f'"{n}":0' for n in range(count)) + "}"


HOSTILE = {
    "a cycle through 5,000 combiners": (lambda: json.dumps(cycle_graph()), None, {}),
    "2,050 encoders of nine near-identical texts each": (lambda: json.dumps(text_fan()), None,
                                                          "check_fan"),
    "a self-linked sampler": (lambda: json.dumps({"1": {"class_type": "KSampler", "inputs": {
        "positive": ["1", 0], "seed": ["1", 0], "model": ["1", 0], "latent_image": ["1", 0]}}}),
        None, {}),
    "a chain of 10,000 LoRA loaders (deeper than the hop cap)": (lambda: json.dumps(
        {"s": {"class_type": "KSampler", "inputs": {"model": ["0", 0]}},
         **{str(n): {"class_type": "LoraLoader", "inputs": {"model": [str(n + 1), 0]}}
            for n in range(9_998)},
         "9998": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "far.ckpt"}}}),
        None, {}),
    "links to missing nodes": (lambda: json.dumps({"3": {"class_type": "KSampler", "inputs": {
        "positive": ["404", 0], "negative": [404, 0], "model": ["", 0], "latent_image": ["x", 9],
        "seed": 5}}}), None, {"seed": 5}),
    "wrong types everywhere": (lambda: json.dumps({
        "3": {"class_type": "KSampler", "inputs": {
            "seed": "12", "steps": "20", "cfg": "7.5", "sampler_name": ["euler"],
            "positive": ["6", "0"], "negative": {"6": 0}, "model": [["4"], 0],
            "latent_image": ["5", 0]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": "512", "height": [512]}},
        "6": ["not", "a", "node"], "7": {"class_type": 7, "inputs": []},
        "8": {"class_type": "CLIPTextEncode", "inputs": "text"}}),
        None, {"seed": 12, "steps": 20, "cfg_scale": 7.5}),
    "NaN and Infinity literals": (lambda: '{"3": {"class_type": "KSampler", "inputs": {'
                                  '"seed": NaN, "steps": Infinity, "cfg": -Infinity, '
                                  '"sampler_name": "euler"}}}', None, {"sampler": "euler"}),
    "a 5,000-digit seed": (lambda: '{"3": {"class_type": "KSampler", "inputs": {"seed": '
                           + "9" * 5000 + "}}}", None, "is not valid JSON"),
    "100,000 nodes": (lambda: nodes_json(100_000), None, "has 100,000 nodes; SceneVault reads at most 10,000"),
    "100,000 editor nodes": (None, lambda: '{"nodes": [' + ",".join(["{}"] * 100_000) + "]}",
                             "workflow graph has 100,000 nodes"),
    "200,000 editor links": (None, lambda: '{"nodes": [], "links": [' + ",".join(["0"] * 200_000)
                             + "]}", f"has 200,000 links; SceneVault reads at most {MAX_LINKS:,}"),
    "30,000 nested brackets": (lambda: "[" * 30_000 + "]" * 30_000, None,
                               f"nests deeper than {MAX_GRAPH_DEPTH} levels"),
    "30,000 open brackets inside a node": (lambda: '{"3": {"inputs": ' + "{\"a\":" * 30_000, None,
                                           f"nests deeper than {MAX_GRAPH_DEPTH} levels"),
    "brackets hidden in 1 MB of strings": (lambda: json.dumps({"3": {"class_type": "KSampler",
        "inputs": {"text": "[{\\\"" * 150_000, "seed": 1}}}), None, {"seed": 1}),
    "a truncated graph": (lambda: json.dumps(DEFAULT_PROMPT)[:-40], None, "is not valid JSON"),
    "a list, not an object": (lambda: json.dumps([DEFAULT_PROMPT]), None,
                              "prompt graph is a JSON list, not an object of nodes"),
    "an editor graph without nodes": (None, lambda: '{"nodes": {"1": {}}}',
                                      'workflow graph is not an object with a "nodes" list'),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_graph_is_read_or_refused_fast(name):
    make_prompt, make_workflow, expected = HOSTILE[name]
    prompt = make_prompt() if make_prompt else None
    workflow = make_workflow() if make_workflow else None
    assert len(prompt or workflow) <= 1_100_000
    answer, seconds = timed(lambda: recipe_fields(read_comfyui(prompt, workflow)))
    if expected == "check_fan":  # the visit cap: 2,000 nodes, nine texts each
        assert answer["prompt"].count("\n") == 9 * 2_000 - 1
    elif isinstance(expected, str):
        assert isinstance(answer, MetadataError) and expected in str(answer), answer
    else:
        assert answer == expected
    assert seconds < MAX_SECONDS, f"{name} took {seconds:.2f} s"


def test_the_chain_below_the_hop_cap_is_followed_to_its_checkpoint():
    graph = {"s": {"class_type": "KSampler", "inputs": {"model": ["0", 0]}},
             **{str(n): {"class_type": "LoraLoader", "inputs": {"model": [str(n + 1), 0]}}
                for n in range(MAX_LINK_HOPS - 1)},
             str(MAX_LINK_HOPS - 1): {"class_type": "CheckpointLoaderSimple",
                                      "inputs": {"ckpt_name": "near.ckpt"}}}
    assert fields_of(graph) == {"model": "near.ckpt"}


def test_exactly_the_node_cap_is_read():
    graph = {str(n): {"class_type": "Note", "inputs": {}} for n in range(MAX_GRAPH_NODES)}
    assert len(api_graph(json.dumps(graph))) == MAX_GRAPH_NODES
    graph["one more"] = {"class_type": "Note", "inputs": {}}
    with pytest.raises(MetadataError, match="10,001 nodes"):
        api_graph(json.dumps(graph))


def test_the_editor_graph_skips_nodes_and_links_of_the_wrong_shape():
    text = json.dumps({"nodes": [7, {"id": True, "type": "KSampler"}, {"id": 1, "type": 3},
                                 {"id": 2, "type": "KSampler", "inputs": [{"name": "positive",
                                                                           "link": [1]}],
                                  "widgets_values": {"seed": 9}}],
                       "links": [None, [1, 2], {"id": [1]}]})
    graph = as_graph(workflow_as_api(text, MAX_GRAPH_NODES, MAX_GRAPH_DEPTH))
    assert list(graph) == ["2"] and graph["2"].inputs == {"seed": 9}


@pytest.mark.parametrize("text, depth", [
    ("{}", 1), ('{"a": [[1]]}', 3), ('"[[[["', 0), ('["\\"]]"]', 1), ('["\\\\", []]', 2),
    ('{"a": "\\\\\\"[["}', 1)])
def test_the_nesting_scan_leaves_strings_out(text, depth):
    assert json_nesting(text, 10) == depth
