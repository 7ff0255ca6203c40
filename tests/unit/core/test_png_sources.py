"""app/core/metadata/png_sources.py: PNGs in the byte layout each generator writes (A1111/Forge,
ComfyUI, InvokeAI 2 to 5, NovelAI, SceneVault) import with their recipe fields exactly and their
raw texts kept; hostile PNGs and metadata are read or refused with MetadataError, fast; and no
input at all raises anything but MetadataError."""

import doctest
import json
import math
import struct
import time
import zlib
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import app.core.metadata.comfyui as comfyui_module
import app.core.metadata.comfyui_workflow as workflow_module
import app.core.metadata.invokeai as invokeai_module
import app.core.metadata.jsontext as jsontext_module
import app.core.metadata.novelai as novelai_module
import app.core.metadata.png_sources as png_sources_module
import app.core.metadata.source as source_module
from app.core.errors import MetadataError
from app.core.metadata.png_sources import read_png
from app.core.metadata.source import MAX_RAW_CHARS, RECIPE_FIELDS, SourceMetadata, read_source_metadata
from app.core.pngmeta import PNG_SIGNATURE, embed_recipe, tiny_png
from test_comfyui_graph import DEFAULT_PROMPT, DEFAULT_WORKFLOW

MAX_SECONDS = 2.0  # "linear, not catastrophic": each input below takes milliseconds


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def text(keyword: str, value: str) -> bytes:
    """A tEXt chunk as PIL's PngInfo.add_text writes Latin-1 text (all these tools use PIL)."""
    return chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + value.encode("latin-1"))


def itxt(keyword: str, value: str) -> bytes:
    """An uncompressed iTXt chunk, as PIL writes text that Latin-1 cannot hold."""
    return chunk(b"iTXt", keyword.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8"))


@cache
def base_png(width: int, height: int) -> bytes:
    return tiny_png(width, height)


def png(*chunks: bytes, width: int = 64, height: int = 48) -> bytes:
    """A real image of `width` x `height` with `chunks` right after IHDR, where PIL puts text."""
    base = base_png(width, height)
    return base[:33] + b"".join(chunks) + base[33:]


def timed(call):
    started = time.perf_counter()
    try:
        return call(), time.perf_counter() - started
    except MetadataError as exc:
        return exc, time.perf_counter() - started


# --- each tool's layout -------------------------------------------------------------------------
FORGE_INFOTEXT = (
    "cinematic photo of a lighthouse, (storm:1.2), <lora:film:0.6>\n"
    "Negative prompt: cartoon, lowres\n"
    "Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 4.5, Seed: 3141592653, "
    "Size: 832x1216, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, "
    'Lora hashes: "film: 8e3e2a1f7c0b", Version: f2.0.1v1.10.1-previous-313-g8a042934')


def test_a1111_forge_parameters_map_cfg_scale_and_the_sampler_name():
    found = read_png(png(text("parameters", FORGE_INFOTEXT), width=832, height=1216))
    assert found == SourceMetadata("a1111", {
        "kind": "image", "provider": "a1111",
        "prompt": "cinematic photo of a lighthouse, (storm:1.2), <lora:film:0.6>",
        "negative_prompt": "cartoon, lowres", "steps": 25, "seed": 3141592653, "width": 832,
        "height": 1216, "model": "sd_xl_base_1.0", "cfg_scale": 4.5, "sampler": "DPM++ 2M"},
        {"parameters": FORGE_INFOTEXT})


def test_a1111_parameters_in_itxt_read_the_same():
    infotext = "雪の中の狐\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x48"
    found = read_png(png(itxt("parameters", infotext)))
    assert found.recipe == {"kind": "image", "provider": "a1111", "prompt": "雪の中の狐",
                            "steps": 20, "seed": 1, "width": 64, "height": 48, "cfg_scale": 7.0,
                            "sampler": "Euler a"}


def test_comfyui_prompt_and_workflow_chunks():
    prompt, workflow = json.dumps(DEFAULT_PROMPT), json.dumps(DEFAULT_WORKFLOW)
    found = read_png(png(text("prompt", prompt), text("workflow", workflow)))
    assert found == SourceMetadata("comfyui", {
        "kind": "image", "provider": "comfyui", "prompt": "a red fox in the snow",
        "negative_prompt": "blurry, watermark", "seed": 156680208700286, "steps": 20,
        "cfg_scale": 8.0, "sampler": "euler", "model": "sd_xl_base_1.0.safetensors",
        "width": 1024, "height": 768}, {"prompt": prompt, "workflow": workflow})


@pytest.mark.parametrize("prompt", [None, "a plain-text prompt another tool wrote"])
def test_comfyui_workflow_alone_is_read(prompt):
    chunks = [text("prompt", prompt)] if prompt else []
    found = read_png(png(*chunks, text("workflow", json.dumps(DEFAULT_WORKFLOW))))
    assert (found.tool, found.recipe["seed"], found.recipe["prompt"]) == (
        "comfyui", 156680208700286, "a red fox in the snow")


INVOKEAI_5_METADATA = {
    "generation_mode": "sdxl_txt2img", "positive_prompt": "a cozy cabin in the woods",
    "negative_prompt": "people", "width": 1024, "height": 1024, "seed": 2930586245,
    "rand_device": "cpu", "cfg_scale": 6.5, "cfg_rescale_multiplier": 0, "steps": 32,
    "scheduler": "dpmpp_2m_k", "positive_style_prompt": "", "negative_style_prompt": "",
    "model": {"key": "2ba1a9c5-7a74-4c5a-8a58-1e5d8a0b5a52", "hash": "blake3:5cd4",
              "name": "Juggernaut XL v9", "base": "sdxl", "type": "main"},
    "loras": [{"model": {"key": "k2", "name": "detail", "base": "sdxl"}, "weight": 0.75}],
    "app_version": "5.0.0"}


def test_invokeai_metadata_beside_its_graph():
    metadata = json.dumps(INVOKEAI_5_METADATA)
    graph = json.dumps({"id": "graph", "nodes": {"noise": {"type": "noise", "seed": 1}},
                        "edges": []})
    found = read_png(png(text("invokeai_metadata", metadata), text("invokeai_graph", graph)))
    assert found == SourceMetadata("invokeai", {
        "kind": "image", "provider": "invokeai", "prompt": "a cozy cabin in the woods",
        "negative_prompt": "people", "seed": 2930586245, "steps": 32, "cfg_scale": 6.5,
        "width": 1024, "height": 1024, "sampler": "dpmpp_2m_k", "model": "Juggernaut XL v9"},
        {"invokeai_metadata": metadata, "invokeai_graph": graph})


def test_invokeai_3_model_names_and_numbers_as_strings():
    metadata = json.dumps({"positive_prompt": "a fox", "seed": "42", "steps": "30",
                           "cfg_scale": "7.5", "scheduler": "euler", "width": 512, "height": 512,
                           "model": {"model_name": "stable-diffusion-v1-5", "base_model": "sd-1"}})
    assert read_png(png(text("invokeai_metadata", metadata))).recipe == {
        "kind": "image", "provider": "invokeai", "prompt": "a fox", "seed": 42, "steps": 30,
        "cfg_scale": 7.5, "width": 512, "height": 512, "sampler": "euler",
        "model": "stable-diffusion-v1-5"}


def test_invokeai_2_sd_metadata_and_dream():
    metadata = json.dumps({
        "model": "stable diffusion", "model_weights": "stable-diffusion-1.5", "app_version": "2.2.4",
        "image": {"prompt": [{"prompt": "a lighthouse [fog]", "weight": 1.0}], "steps": 50,
                  "cfg_scale": 7.5, "height": 512, "width": 512, "seed": 3357757885,
                  "type": "txt2img", "sampler": "k_lms", "variations": []}})
    dream = '"a lighthouse [fog]" -s 50 -S 3357757885 -W 512 -H 512 -C 7.5 -A k_lms'
    found = read_png(png(text("Dream", dream), text("sd-metadata", metadata)))
    assert found == SourceMetadata("invokeai", {
        "kind": "image", "provider": "invokeai", "prompt": "a lighthouse [fog]",
        "seed": 3357757885, "steps": 50, "cfg_scale": 7.5, "sampler": "k_lms", "width": 512,
        "height": 512, "model": "stable-diffusion-1.5"},
        {"sd-metadata": metadata, "Dream": dream})


def test_invokeai_graph_alone_is_kept_raw_with_the_size_from_ihdr():
    found = read_png(png(text("invokeai_graph", '{"nodes": {}}')))
    assert found == SourceMetadata("invokeai", {"kind": "image", "provider": "invokeai",
                                                "width": 64, "height": 48},
                                   {"invokeai_graph": '{"nodes": {}}'})


NOVELAI_COMMENT = {
    "prompt": "1girl, cherry blossoms, best quality", "steps": 28, "height": 1216, "width": 832,
    "scale": 5.0, "uncond_scale": 0.0, "cfg_rescale": 0.0, "seed": 1829327540, "n_samples": 1,
    "noise_schedule": "karras", "sampler": "k_euler_ancestral", "sm": False, "sm_dyn": False,
    "controlnet_strength": 1.0, "controlnet_model": None, "dynamic_thresholding": False,
    "uc": "lowres, bad anatomy", "request_type": "PromptGenerateRequest",
    "signed_hash": "aGVsbG8=", "v4_prompt": {"caption": {"base_caption": "1girl",
                                                         "char_captions": []}}}


def test_novelai_text_chunks():
    comment = json.dumps(NOVELAI_COMMENT)
    chunks = {"Title": "NovelAI generated image", "Description": "1girl, cherry blossoms, best quality",
              "Software": "NovelAI", "Source": "Stable Diffusion XL C1E1DE52",
              "Generation time": "5.6", "Comment": comment}
    found = read_png(png(*(text(key, value) for key, value in chunks.items())))
    assert found == SourceMetadata("novelai", {
        "kind": "image", "provider": "novelai", "prompt": "1girl, cherry blossoms, best quality",
        "negative_prompt": "lowres, bad anatomy", "seed": 1829327540, "steps": 28,
        "cfg_scale": 5.0, "sampler": "k_euler_ancestral", "width": 832, "height": 1216,
        "model": "Stable Diffusion XL C1E1DE52"}, chunks)


def test_novelai_without_a_comment_takes_the_prompt_from_the_description():
    found = read_png(png(text("Software", "NovelAI"), text("Description", "a fox")))
    assert found.recipe == {"kind": "image", "provider": "novelai", "prompt": "a fox",
                            "width": 64, "height": 48}


def test_scenevault_own_recipe_comes_first_and_keeps_only_recipe_fields():
    recipe = {"kind": "image", "prompt": "a red fox", "negative_prompt": "blurry", "seed": 7,
              "width": 64, "height": 48, "steps": 20, "model": "sketch-1", "provider": "local",
              "version": 1}
    found = read_png(embed_recipe(png(text("prompt", json.dumps(DEFAULT_PROMPT))), recipe))
    assert found.tool == "scenevault"
    assert found.recipe == {"kind": "image", "provider": "scenevault", "prompt": "a red fox",
                            "negative_prompt": "blurry", "seed": 7, "width": 64, "height": 48,
                            "steps": 20, "model": "sketch-1"}
    assert set(found.raw) == {"scenevault:recipe", "parameters"}
    assert json.loads(found.raw["scenevault:recipe"])["provider"] == "local"


def test_a1111_comes_before_comfyui_and_the_others():
    found = read_png(png(text("prompt", json.dumps(DEFAULT_PROMPT)),
                         text("parameters", "a fox\nSteps: 2, Seed: 1, Size: 8x8"),
                         text("Software", "NovelAI")))
    assert (found.tool, found.raw) == ("a1111", {"parameters": "a fox\nSteps: 2, Seed: 1, Size: 8x8"})


@pytest.mark.parametrize("chunks", [
    (), (text("Comment", "made with GIMP"),), (text("Software", "Adobe ImageReady"),),
    (text("prompt", "a plain-text prompt some tool wrote"),), (text("parameters", "  \n "),)])
def test_a_png_without_a_known_source_gives_none(chunks):
    assert read_png(png(*chunks)) is None


def test_the_size_from_ihdr_fills_only_what_the_text_lacks():
    found = read_png(png(text("parameters", "a fox\nSteps: 2, Seed: 1, CFG scale: 3"),
                         width=640, height=360))
    assert (found.recipe["width"], found.recipe["height"]) == (640, 360)
    found = read_png(png(text("parameters", "a fox\nSteps: 2, Seed: 1, Size: 512x512"),
                         width=640, height=360))
    assert (found.recipe["width"], found.recipe["height"]) == (512, 512)


def test_read_source_metadata_reads_a_png_through_read_png():
    data = png(text("prompt", json.dumps(DEFAULT_PROMPT)))
    assert read_source_metadata(data, "image/png") == read_png(data)
    assert read_source_metadata(data, "image/png").to_record() == {
        "tool": "comfyui", "raw": {"prompt": json.dumps(DEFAULT_PROMPT)}}
    assert read_source_metadata(data, "image/gif") is None


@pytest.mark.parametrize("module", [source_module, png_sources_module, comfyui_module,
                                    workflow_module, invokeai_module, novelai_module,
                                    jsontext_module], ids=lambda module: module.__name__)
def test_the_docstring_examples_hold(module):
    assert doctest.testmod(module).failed == 0


# --- hostile PNGs -------------------------------------------------------------------------------
def deep(count: int) -> str:
    return "[" * count + "]" * count


def bomb() -> bytes:
    return png(chunk(b"zTXt", b"prompt\0\0" + zlib.compress(b"{" + bytes(16 << 20), 9)))


def valid_then(cut: int) -> bytes:
    return png(text("prompt", json.dumps(DEFAULT_PROMPT) + " " * 70_000))[:cut]


def bad_crc() -> bytes:
    data = bytearray(png(text("prompt", json.dumps(DEFAULT_PROMPT) + " " * 70_000)))
    data[50] ^= 0xFF
    return bytes(data)


def oversized_length() -> bytes:
    good = png(text("workflow", "{" + " " * 70_000))
    return good[:33] + struct.pack(">I", 2**31 - 2) + good[37:]


HOSTILE = {
    "truncated in a text chunk": (lambda: valid_then(60_000),
                                  "chunk b'tEXt' at byte 33 runs past the end of the file"),
    "truncated before IEND": (lambda: valid_then(-12), "is truncated at byte"),
    "a text chunk whose CRC fails": (bad_crc, "fails its CRC check"),
    "a chunk length past the end": (oversized_length, "runs past the end of the file"),
    "a zTXt bomb": (bomb, "inflates past 1048576 bytes"),
    "a prompt text over the raw cap": (lambda: png(text("prompt", "{" + " " * MAX_RAW_CHARS)),
                                       "'prompt' text has 1,048,577 characters; the limit is 1,048,576"),
    "a 30,000-deep InvokeAI metadata": (lambda: png(text("invokeai_metadata", deep(30_000))),
                                        "InvokeAI's invokeai_metadata text nests deeper than 32"),
    "a 30,000-deep NovelAI comment": (lambda: png(text("Software", "NovelAI"),
                                                  text("Comment", deep(30_000))),
                                      "NovelAI's Comment text nests deeper than 32 levels"),
    "a 30,000-deep ComfyUI workflow": (lambda: png(text("workflow", "{" + deep(30_000)[1:-1] + "}")),
                                       "workflow graph nests deeper than 64 levels"),
    "a 30,000-deep SceneVault recipe": (lambda: png(itxt("scenevault:recipe", deep(30_000))),
                                        "scenevault:recipe text nests deeper than 8 levels"),
    "a 100,000-node ComfyUI prompt": (lambda: png(text("prompt", "{" + ",".join(
        f'"{n}":0' for n in range(100_000)) + "}")), "has 100,000 nodes; SceneVault reads at most"),
    "broken NovelAI comment JSON": (lambda: png(text("Software", "NovelAI"),
                                                text("Comment", '{"seed": 1,' + " " * 70_000)),
                                    "NovelAI's Comment text is not valid JSON"),
    "NaN and Infinity in InvokeAI metadata": (lambda: png(text("invokeai_metadata", (
        '{"cfg_scale": NaN, "seed": Infinity, "steps": -Infinity, "positive_prompt": "a fox",'
        ' "pad": "' + " " * 70_000 + '"}'))),
        {"kind": "image", "provider": "invokeai", "prompt": "a fox", "width": 64, "height": 48}),
    "lists where objects belong": (lambda: png(text("invokeai_metadata", json.dumps(
        [INVOKEAI_5_METADATA] * 200))), {"kind": "image", "provider": "invokeai", "width": 64,
                                         "height": 48}),
    "wrong types in NovelAI's comment": (lambda: png(text("Software", "NovelAI"), text(
        "Description", "a fox"), text("Comment", json.dumps({
            "prompt": ["x"] * 10_000, "seed": "7", "steps": 28.0, "scale": True, "uc": {"a": 1},
            "width": -832, "height": "1216px", "sampler": 5}))),
        {"kind": "image", "provider": "novelai", "prompt": "a fox", "seed": 7, "steps": 28,
         "width": 64, "height": 48}),
    "a prompt with control characters": (lambda: png(text("parameters", (
        "a\x00fox\nSteps: 2, Seed: 1, Size: 8x8, Sampler: Euler\x07"))),
        {"kind": "image", "provider": "a1111", "steps": 2, "seed": 1, "width": 8, "height": 8}),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_png_is_read_or_refused_fast(name):
    make, expected = HOSTILE[name]
    data = make()
    assert len(data) <= 1_200_000
    answer, seconds = timed(lambda: read_png(data))
    if isinstance(expected, str):
        assert isinstance(answer, MetadataError) and expected in str(answer), answer
    else:
        assert answer.recipe == expected
    assert seconds < MAX_SECONDS, f"{name} took {seconds:.2f} s"


def test_a_png_error_becomes_a_metadata_error_that_keeps_its_cause():
    with pytest.raises(MetadataError, match="^the PNG's metadata cannot be read: not a PNG") as caught:
        read_png(b"GIF89a" + bytes(40))
    assert type(caught.value.__cause__).__name__ == "PngError"


# --- nothing but MetadataError, ever -----------------------------------------------------------
KEYWORDS = ["prompt", "workflow", "invokeai_metadata", "sd-metadata", "invokeai_graph",
            "Comment", "Description", "Source", "parameters", "scenevault:recipe"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["3", "class_type", "inputs", "seed", "steps", "cfg", "positive",
                         "model", "latent_image", "text", "nodes", "links", "id", "type",
                         "widgets_values", "positive_prompt", "scale", "uc", "image", "prompt",
                         "width", "height", "name"]) | st.text(max_size=5), inner, max_size=6),
    max_leaves=30)
graph_texts = json_values.map(json.dumps) | st.text(alphabet='[]{}",:0123 "\\anud8', max_size=200)


def check_answer(data: bytes) -> None:
    try:
        found = read_png(data)
    except MetadataError as exc:
        assert str(exc)
        return
    if found is not None:
        assert set(found.recipe) <= set(RECIPE_FIELDS)
        assert found.recipe["kind"] == "image" and found.recipe["provider"] == found.tool
        assert all(isinstance(found.recipe.get(name, 1), int) and not isinstance(
            found.recipe.get(name, 1), bool) for name in ("seed", "steps", "width", "height"))
        assert math.isfinite(found.recipe.get("cfg_scale", 0.0))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(KEYWORDS), graph_texts), max_size=4),
       st.booleans())
def test_any_json_in_any_keyword_gives_a_source_or_a_metadata_error(entries, novelai):
    chunks = [itxt(keyword, value) for keyword, value in entries]
    check_answer(png(*chunks, *([text("Software", "NovelAI")] if novelai else [])))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_none_a_source_or_a_metadata_error(data):
    check_answer(data)
    check_answer(PNG_SIGNATURE + data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(json.dumps(DEFAULT_PROMPT)) - 1),
       st.sampled_from('[]{}",:0 \\x'))
def test_any_damaged_character_in_a_comfyui_graph_gives_a_source_or_a_metadata_error(at, char):
    graph = json.dumps(DEFAULT_PROMPT)
    check_answer(png(text("prompt", graph[:at] + char + graph[at + 1:])))
