"""The ComfyUI workflow a clip is made with (server-only): loaded and checked once at start-up,
filled for each job.

Owns `ComfyWorkflow`: the user's workflow in ComfyUI's API format (File > Export (API): an
object of node id -> {"class_type", "inputs"}; the editor's own format, with a "nodes" list, is
refused with that hint), and where the recipe goes in it. Each place is a setting naming a node
id, optionally with the input (`"52"` or `"52.image"`); without an input name, the first of the
usual names that the node has is used:

    setting                         input (first one the node has)    gets
    SCENEVAULT_COMFYUI_IMAGE_NODE   image                             the uploaded frame's name
    SCENEVAULT_COMFYUI_PROMPT_NODE  text, prompt                      the motion prompt
    SCENEVAULT_COMFYUI_SEED_NODE    seed, noise_seed                  the seed
    SCENEVAULT_COMFYUI_LENGTH_NODE  length, num_frames, frames,       seconds x FPS + 1 frames
                                    video_length
    SCENEVAULT_COMFYUI_SIZE_NODE    width and height (optional)       the recipe's size

The four first are required; a node or input the workflow lacks stops the server at start-up
with a message naming the setting. The recipe's model is the workflow file's name (its stem).

    workflow = ComfyWorkflow.load(Path("wan_i2v_api.json"), {"image": "52", "prompt": "6",
                                  "seed": "3", "length": "50", "size": "50"}, fps=16)
    workflow.filled(recipe, "scenevault-0123abcd.png")   # the workflow to POST to /prompt
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from app.core.recipe import Recipe

MAX_WORKFLOW_BYTES = 4 * 1024 * 1024
# place -> (setting, the usual input names in order); "size" sets width and height.
PLACES = {
    "image": ("SCENEVAULT_COMFYUI_IMAGE_NODE", ("image",)),
    "prompt": ("SCENEVAULT_COMFYUI_PROMPT_NODE", ("text", "prompt")),
    "seed": ("SCENEVAULT_COMFYUI_SEED_NODE", ("seed", "noise_seed")),
    "length": ("SCENEVAULT_COMFYUI_LENGTH_NODE", ("length", "num_frames", "frames", "video_length")),
}
SIZE_SETTING = "SCENEVAULT_COMFYUI_SIZE_NODE"


@dataclass(frozen=True)
class NodeInput:
    """One input of one node: where a value goes."""

    node: str
    name: str


@dataclass(frozen=True)
class ComfyWorkflow:
    """The workflow (kept as its JSON text, so every job starts from a fresh copy) and the inputs
    the recipe fills."""

    name: str
    template: str
    image: NodeInput
    prompt: NodeInput
    seed: NodeInput
    length: NodeInput
    size: tuple[NodeInput, NodeInput] | None
    fps: int

    @classmethod
    def load(cls, path: Path, nodes: dict[str, str], fps: int,
             variable: str = "SCENEVAULT_COMFYUI_WORKFLOW") -> ComfyWorkflow:
        """Read and check the workflow; a ValueError naming the setting at fault."""
        graph = _read(path, variable)
        found = {}
        for place, (setting, usual) in PLACES.items():
            if not nodes.get(place):
                raise ValueError(f"{setting} is required with SCENEVAULT_COMFYUI_URL: the id of the "
                                 f"workflow node that takes the {place}")
            found[place] = _node_input(graph, nodes[place], usual, setting)
        size = None
        if nodes.get("size"):
            size = (_node_input(graph, nodes["size"].split(".")[0] + ".width", (), SIZE_SETTING),
                    _node_input(graph, nodes["size"].split(".")[0] + ".height", (), SIZE_SETTING))
        name = path.stem
        if not name.isprintable() or not 0 < len(name) <= 200:
            raise ValueError(f"{variable}: the file name {name[:80]!r} cannot name a model")
        return cls(name, json.dumps(graph), found["image"], found["prompt"], found["seed"],
                   found["length"], size, fps)

    def frames(self, seconds: int) -> int:
        """The frame count for a length: seconds x FPS, plus the first frame."""
        return seconds * self.fps + 1

    def filled(self, recipe: Recipe, image_name: str) -> dict:
        """A fresh copy of the workflow with the frame, prompt, seed, length (and size) set."""
        graph = json.loads(self.template)
        values = [(self.image, image_name), (self.prompt, recipe.prompt), (self.seed, recipe.seed),
                  (self.length, self.frames(recipe.seconds))]
        if self.size is not None:
            values += [(self.size[0], recipe.width), (self.size[1], recipe.height)]
        for where, value in values:
            graph[where.node]["inputs"][where.name] = value
        return graph


def _read(path: Path, variable: str) -> dict:
    try:
        raw = path.read_bytes()[:MAX_WORKFLOW_BYTES + 1]
    except OSError as exc:
        raise ValueError(f"{variable}: cannot read {str(path)[:200]!r} ({exc.strerror or exc})") from None
    if len(raw) > MAX_WORKFLOW_BYTES:
        raise ValueError(f"{variable}: the workflow is over {MAX_WORKFLOW_BYTES} bytes")
    try:
        graph = json.loads(raw)
    except ValueError:
        raise ValueError(f"{variable}: {path.name} is not JSON") from None
    if isinstance(graph, dict) and isinstance(graph.get("nodes"), list):
        raise ValueError(f"{variable}: {path.name} is in the editor's format; save it in the API "
                         "format (ComfyUI: Workflow > Export (API))")
    if not isinstance(graph, dict) or not graph or not all(
            isinstance(node, dict) and isinstance(node.get("class_type"), str)
            and isinstance(node.get("inputs"), dict) for node in graph.values()):
        raise ValueError(f"{variable}: {path.name} is not a workflow in ComfyUI's API format "
                         "(node id -> {\"class_type\", \"inputs\"})")
    return graph


def _node_input(graph: dict, text: str, usual: tuple[str, ...], setting: str) -> NodeInput:
    node_id, _, name = text.strip().partition(".")
    node = graph.get(node_id)
    if node is None:
        raise ValueError(f"{setting}={text!r}: the workflow has no node {node_id!r}")
    inputs = node["inputs"]
    name = name or next((candidate for candidate in usual if candidate in inputs), "")
    if name not in inputs:
        wanted = name or " or ".join(usual)
        raise ValueError(f"{setting}={text!r}: node {node_id} ({node['class_type']}) has no input "
                         f"{wanted}; it has {', '.join(sorted(inputs)) or 'none'}")
    if isinstance(inputs[name], list):
        raise ValueError(f"{setting}={text!r}: input {name} of node {node_id} is a link from "
                         "another node, not a value")
    return NodeInput(node_id, name)
