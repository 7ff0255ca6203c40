"""ComfyUI's editor graph (`workflow` tEXt) in the API format (pure), for when `prompt` is missing.

The editor's graph lists nodes (`{"id": 3, "type": "KSampler", "inputs": [{"name": "model",
"link": 1}], "widgets_values": [5, "fixed", 20, 7.0, "euler", "normal", 1.0]}`) and links
(`[link id, from node, from slot, to node, to slot, type]`, or the same as an object in newer
files). `workflow_as_api` turns it into the API format comfyui.py reads (`{"3": {"class_type":
"KSampler", "inputs": {...}}}`): each linked input becomes a link `[from node, from slot]`, and
the widget values of the node classes in WIDGET_NAMES get their
input names (a dict of widget values is taken by name as it is). Widget values win over links:
an input wired to an editor-only primitive node still keeps its value among the widgets.
Counts are capped (the caller's node cap, MAX_LINKS links); wrong types are skipped.

    >>> text = ('{"nodes": [{"id": 3, "type": "KSampler", "inputs": [{"name": "positive", '
    ...         '"link": 9}], "widgets_values": [5, "fixed", 20, 7.5, "euler", "normal", 1]}, '
    ...         '{"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a red fox"]}], '
    ...         '"links": [[9, 6, 0, 3, 1, "CONDITIONING"]]}')
    >>> sampler = workflow_as_api(text, max_nodes=100, max_depth=64)["3"]
    >>> sampler["class_type"], sampler["inputs"]["positive"], sampler["inputs"]["cfg"]
    ('KSampler', ['6', 0], 7.5)
"""

from __future__ import annotations

from typing import Any

from app.core.errors import MetadataError
from app.core.metadata.jsontext import load_json

__all__ = ["MAX_LINKS", "WIDGET_NAMES", "workflow_as_api"]

MAX_LINKS = 4 * 10_000  # a node has a few links in and out
# The input name of each widget value, in the order the editor stores them (None: a widget
# that is not an input, such as the seed's "control after generate").
WIDGET_NAMES: dict[str, tuple[str | None, ...]] = {
    "KSampler": ("seed", None, "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": ("add_noise", "noise_seed", None, "steps", "cfg", "sampler_name",
                         "scheduler", "start_at_step", "end_at_step",
                         "return_with_leftover_noise"),
    "SamplerCustom": ("add_noise", "noise_seed", None, "cfg"),
    "RandomNoise": ("noise_seed", None),
    "KSamplerSelect": ("sampler_name",),
    "BasicScheduler": ("scheduler", "steps", "denoise"),
    "CFGGuider": ("cfg",),
    "CLIPTextEncode": ("text",),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "PrimitiveNode": ("value", None),
}


def workflow_as_api(text: str, max_nodes: int, max_depth: int) -> dict[str, dict[str, Any]]:
    """The editor's graph in the API format. Raises MetadataError when it is not JSON, nests
    deeper than `max_depth`, is not an object with a node list, or has more than `max_nodes`
    nodes or MAX_LINKS links."""
    decoded = load_json(text, "the ComfyUI workflow graph", max_depth)
    nodes = decoded.get("nodes") if isinstance(decoded, dict) else None
    if not isinstance(nodes, list):
        raise MetadataError("the ComfyUI workflow graph is not an object with a \"nodes\" list")
    if len(nodes) > max_nodes:
        raise MetadataError(f"the ComfyUI workflow graph has {len(nodes):,} nodes; SceneVault "
                            f"reads at most {max_nodes:,}")
    sources = _link_sources(decoded.get("links"))
    return {str(node["id"]): {"class_type": node["type"], "inputs": _node_inputs(node, sources)}
            for node in nodes if _is_node(node)}


def _is_node(node: Any) -> bool:
    return isinstance(node, dict) and isinstance(node.get("type"), str) and _is_id(node.get("id"))


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _link_sources(links: Any) -> dict[Any, list]:
    """Link id → `[from node, from slot]`, for links as lists or as objects."""
    if not isinstance(links, list):
        return {}
    if len(links) > MAX_LINKS:
        raise MetadataError(f"the ComfyUI workflow graph has {len(links):,} links; SceneVault "
                            f"reads at most {MAX_LINKS:,}")
    sources: dict[Any, list] = {}
    for link in links:
        if isinstance(link, list) and len(link) >= 3:
            link_id, origin, slot = link[0], link[1], link[2]
        elif isinstance(link, dict):
            link_id, origin, slot = link.get("id"), link.get("origin_id"), link.get("origin_slot")
        else:
            continue
        if _is_id(link_id) and _is_id(origin) and isinstance(slot, int):
            sources[link_id] = [str(origin), slot]
    return sources


def _node_inputs(node: dict, sources: dict[Any, list]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for entry in node.get("inputs") if isinstance(node.get("inputs"), list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            link_id = entry.get("link")
            if _is_id(link_id) and link_id in sources:
                inputs[entry["name"]] = sources[link_id]
    inputs.update(_widget_inputs(node))
    return inputs


def _widget_inputs(node: dict) -> dict[str, Any]:
    values = node.get("widgets_values")
    if isinstance(values, dict):
        return {name: value for name, value in values.items() if isinstance(name, str)}
    if not isinstance(values, list):
        return {}
    names = WIDGET_NAMES.get(node["type"], ())
    return {name: value for name, value in zip(names, values) if name is not None}
