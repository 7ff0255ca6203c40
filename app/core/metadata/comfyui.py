"""ComfyUI's graphs in a PNG (pure): the recipe behind the image, read from the graph that made it.

ComfyUI writes two tEXt chunks: `prompt`, the API-format graph (`{"<node id>": {"class_type":
..., "inputs": {...}}}`, where an input is a literal or a link `[node id, output index]`), and
`workflow`, the editor's graph (`{"nodes": [...], "links": [...]}`). `read_comfyui` finds the
sampler node (KSampler, KSamplerAdvanced, SamplerCustom, SamplerCustomAdvanced, else any node
whose class names a sampler) and follows its links: `positive`/`negative` to the prompt texts
(through conditioning combiners, ControlNet appliers, string nodes), `model` to the checkpoint
loader (through LoRA loaders and model patches), the latent to its width and height, and seed,
steps, cfg and sampler name through primitive nodes or a custom sampler's noise, guider,
sampler and sigmas nodes. The editor's graph is used only when `prompt` is missing or has no
sampler (comfyui_workflow.py turns it into the API format).

Hostile graphs: the JSON nesting is scanned before parsing (MAX_GRAPH_DEPTH), at most
MAX_GRAPH_NODES nodes are read (more is refused at once), and every walk keeps a visited set,
goes at most MAX_LINK_HOPS links deep and visits at most MAX_VISITS nodes, so cycles end and the
work stays linear. Values of the wrong type are left out, never guessed.

    >>> graph = ('{"3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20, '
    ...          '"cfg": 7.0, "sampler_name": "euler", "positive": ["6", 0]}}, '
    ...          '"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox"}}}')
    >>> read_comfyui(graph, None)
    {'prompt': 'a red fox', 'seed': 5, 'steps': 20, 'cfg_scale': 7.0, 'sampler': 'euler'}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from app.core.errors import MetadataError
from app.core.metadata.comfyui_workflow import workflow_as_api
from app.core.metadata.jsontext import as_whole_number, load_json

__all__ = ["Node", "Link", "Graph", "MAX_GRAPH_NODES", "MAX_GRAPH_DEPTH", "MAX_LINK_HOPS",
           "MAX_VISITS", "read_comfyui", "api_graph", "as_graph", "graph_fields", "as_link"]

MAX_GRAPH_NODES = 10_000  # a large real workflow has a few hundred
MAX_GRAPH_DEPTH = 64      # real graphs nest 4 (API) to about 10 (editor, with subgraphs)
MAX_LINK_HOPS = 64        # how far from the sampler a walk follows links
MAX_VISITS = 2_000        # how many nodes one walk may visit
MAX_SIDE = 2**31 - 1      # a latent's width or height, as PNG's own limit
SAMPLER_CLASSES = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
# Links from a sampler to the nodes that hold its settings (custom samplers split them up).
HELPER_INPUTS = ("noise", "guider", "sampler", "sigmas")
TEXT_INPUTS = ("text", "text_g", "text_l", "clip_l", "clip_g", "t5xxl", "prompt", "string",
               "value", "populated_text", "wildcard_text")
MODEL_NAMES = ("ckpt_name", "unet_name", "model_name")
LATENT_INPUTS = ("latent_image", "latent", "samples")
# Nodes whose output carries no text of their input (a zeroed conditioning for Flux's negative).
SILENCING_CLASSES = ("ConditioningZeroOut",)
# Where a primitive or literal node keeps the value it passes on.
VALUE_INPUTS = ("value", "int", "float", "number", "seed", "string", "text")


@dataclass(frozen=True)
class Link:
    """An input wired to another node's output: `[node id, output index]` in the graph."""

    node: str
    output: int


@dataclass(frozen=True)
class Node:
    """One node: its class and its inputs (literals or links, as the graph holds them)."""

    class_type: str
    inputs: Mapping[str, Any]


Graph = dict[str, Node]


def as_link(value: Any) -> Link | None:
    """The link `value` spells (`["6", 0]` or `[6, 0]`), or None for a literal."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    node, output = value
    if isinstance(node, bool) or not isinstance(node, (str, int)):
        return None
    if isinstance(output, bool) or not isinstance(output, int) or output < 0:
        return None
    return Link(str(node), output)


def read_comfyui(prompt: str | None, workflow: str | None) -> dict[str, Any]:
    """The recipe values (untyped: jsontext.recipe_fields cleans them) in ComfyUI's `prompt`
    graph, else in its `workflow` graph; {} when neither has a sampler. Raises MetadataError
    when a graph present is not JSON, nests too deep, has too many nodes or the wrong shape."""
    if prompt is not None:
        found = graph_fields(api_graph(prompt))
        if found or workflow is None:
            return found
    if workflow is None:
        return {}
    return graph_fields(as_graph(workflow_as_api(workflow, MAX_GRAPH_NODES, MAX_GRAPH_DEPTH)))


def api_graph(text: str) -> Graph:
    """ComfyUI's API-format `prompt` graph; nodes that are not objects are left out."""
    decoded = load_json(text, "the ComfyUI prompt graph", MAX_GRAPH_DEPTH)
    if not isinstance(decoded, dict):
        raise MetadataError(f"the ComfyUI prompt graph is a JSON {type(decoded).__name__}, "
                            "not an object of nodes")
    if len(decoded) > MAX_GRAPH_NODES:
        raise MetadataError(f"the ComfyUI prompt graph has {len(decoded):,} nodes; SceneVault "
                            f"reads at most {MAX_GRAPH_NODES:,}")
    return as_graph(decoded)


def as_graph(nodes: Mapping[str, Any]) -> Graph:
    """The nodes of an API-format graph that have a class; inputs that are not an object count
    as none."""
    graph: Graph = {}
    for node_id, node in nodes.items():
        if isinstance(node, dict) and isinstance(node.get("class_type"), str):
            inputs = node.get("inputs")
            graph[node_id] = Node(node["class_type"], inputs if isinstance(inputs, dict) else {})
    return graph


def graph_fields(graph: Graph) -> dict[str, Any]:
    """The recipe values the graph's first sampler node leads to; {} when it has none."""
    sampler = find_sampler(graph)
    if sampler is None:
        return {}
    fields = {"prompt": _prompt_text(graph, sampler, ("positive", "conditioning")),
              "negative_prompt": _prompt_text(graph, sampler, ("negative",)),
              "seed": _setting(graph, sampler, ("seed", "noise_seed")),
              "steps": _setting(graph, sampler, ("steps",)),
              "cfg_scale": _setting(graph, sampler, ("cfg",)),
              "sampler": _setting(graph, sampler, ("sampler_name",)),
              "model": _model_name(graph, sampler), **_latent_size(graph, sampler)}
    return {name: value for name, value in fields.items() if value is not None}


def find_sampler(graph: Graph) -> str | None:
    """The first node of a known sampler class, else the first whose class names a sampler and
    that has a positive or guider link."""
    known = (node_id for node_id, node in graph.items() if node.class_type in SAMPLER_CLASSES)
    other = (node_id for node_id, node in graph.items()
             if "Sampler" in node.class_type
             and any(as_link(node.inputs.get(name)) for name in ("positive", "guider")))
    found = next(known, None)
    return found if found is not None else next(other, None)


# --- walks --------------------------------------------------------------------------------------
Edges = Callable[[Node, int], Iterator[Link]]


def walk(graph: Graph, start: Link, edges: Edges) -> Iterator[Node]:
    """Nodes reachable from `start` along `edges`, depth first in link order (so a combiner's
    first conditioning comes before its second): each at most once, at most MAX_LINK_HOPS links
    away, at most MAX_VISITS in all. Links to missing nodes end there."""
    stack = [(start, 0)]
    visited: set[str] = set()
    while stack and len(visited) < MAX_VISITS:
        link, hops = stack.pop()
        node = graph.get(link.node)
        if node is None or link.node in visited:
            continue
        visited.add(link.node)
        yield node
        if hops < MAX_LINK_HOPS:
            following = [(linked, hops + 1) for linked in edges(node, link.output)]
            stack.extend(reversed(following))


def _links(node: Node, names: tuple[str, ...]) -> Iterator[Link]:
    for name in names:
        link = as_link(node.inputs.get(name))
        if link:
            yield link


def _sampler_parts(graph: Graph, sampler: str) -> Iterator[Node]:
    """The sampler node, then the noise, guider, sampler and sigmas nodes behind it."""
    return walk(graph, Link(sampler, 0), lambda node, _output: _links(node, HELPER_INPUTS))


def _sampler_input(graph: Graph, sampler: str, names: tuple[str, ...]) -> Any:
    """The first of `names` in the sampler or one of its parts, as the graph holds it."""
    for node in _sampler_parts(graph, sampler):
        for name in names:
            if node.inputs.get(name) is not None:
                return node.inputs[name]
    return None


def _setting(graph: Graph, sampler: str, names: tuple[str, ...]) -> Any:
    """A sampler setting's literal value, following links to primitive nodes."""
    return _literal(graph, _sampler_input(graph, sampler, names), names)


def _prompt_text(graph: Graph, sampler: str, names: tuple[str, ...]) -> str | None:
    """The texts the sampler's positive (or negative) conditioning was encoded from, each once,
    one per line, in the order the walk meets them."""
    start = as_link(_sampler_input(graph, sampler, names))
    if start is None:
        return None
    texts: dict[str, None] = {}  # insertion-ordered, each text once
    for node in walk(graph, start, _conditioning_edges):
        for name in TEXT_INPUTS:
            value = node.inputs.get(name)
            if isinstance(value, str) and value.strip():
                texts.setdefault(value)
    return "\n".join(texts) or None


def _conditioning_edges(node: Node, output: int) -> Iterator[Link]:
    """Links a conditioning comes through: text inputs wired to string nodes, conditioning
    inputs, and a node's positive or negative input (the output it was reached by picks which
    when it has both: ControlNet appliers pass positive on output 0, negative on output 1)."""
    if node.class_type in SILENCING_CLASSES:
        return
    yield from _links(node, TEXT_INPUTS)
    yield from (link for name, value in node.inputs.items()
                if name.startswith(("conditioning", "string_", "text_"))
                and (link := as_link(value)))
    has_both = "positive" in node.inputs and "negative" in node.inputs
    if has_both:
        yield from _links(node, ("negative",) if output == 1 else ("positive",))
    else:
        yield from _links(node, ("positive", "negative"))


def _model_name(graph: Graph, sampler: str) -> str | None:
    """The checkpoint (or UNet) file name behind the sampler's model input."""
    start = as_link(_sampler_input(graph, sampler, ("model",)))
    if start is None:
        return None
    for node in walk(graph, start, lambda node, _output: _links(node, ("model", "unet"))):
        for name in MODEL_NAMES:
            if isinstance(node.inputs.get(name), str):
                return node.inputs[name]
    return None


def _latent_size(graph: Graph, sampler: str) -> dict[str, Any]:
    """Width and height of the first latent node behind the sampler that has both as whole
    numbers (a latent upscaler's own size counts: it is the size of the image made)."""
    start = as_link(_sampler_input(graph, sampler, LATENT_INPUTS))
    if start is None:
        return {}
    for node in walk(graph, start, lambda node, _output: _links(node, LATENT_INPUTS)):
        width, height = (as_whole_number(_literal(graph, node.inputs.get(name)), MAX_SIDE)
                         for name in ("width", "height"))
        if width is not None and height is not None:
            return {"width": width, "height": height}
    return {}


def _literal(graph: Graph, value: Any, names: tuple[str, ...] = ()) -> Any:
    """`value`, or, when it is a link, the first literal under `names` or a primitive's value
    input in the nodes it leads to."""
    link = as_link(value)
    if link is None:
        return value
    names = (*names, *VALUE_INPUTS)
    for node in walk(graph, link, lambda node, _output: _links(node, names)):
        for name in names:
            found = node.inputs.get(name)
            if found is not None and as_link(found) is None:
                return found
    return None
