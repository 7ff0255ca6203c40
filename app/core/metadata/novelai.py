"""NovelAI's metadata in a PNG (pure): its tEXt chunks read into recipe values.

NovelAI writes tEXt `Title` ("NovelAI generated image"), `Description` (the prompt), `Software`
("NovelAI"), `Source` (the model, e.g. "Stable Diffusion XL C1E1DE52"), `Generation time` and
`Comment`, a JSON object with `prompt`, `uc` (the negative prompt), `seed`, `steps`, `scale`
(the CFG scale), `sampler`, `width` and `height`. Only a file whose `Software` is "NovelAI" is
read; the prompt comes from `Comment`, else from `Description`. Values of the wrong type are
left out by jsontext.recipe_fields.

    >>> read_novelai({"Software": "NovelAI", "Description": "a red fox",
    ...               "Comment": '{"uc": "blurry", "seed": 7, "scale": 5.5}'})
    {'prompt': 'a red fox', 'negative_prompt': 'blurry', 'seed': 7, 'cfg_scale': 5.5}
"""

from __future__ import annotations

from typing import Any, Mapping

from app.core.metadata.jsontext import load_json

__all__ = ["SOFTWARE", "NOVELAI_KEYS", "MAX_COMMENT_DEPTH", "is_novelai", "read_novelai"]

SOFTWARE = "NovelAI"
NOVELAI_KEYS = ("Title", "Description", "Software", "Source", "Generation time", "Comment")
MAX_COMMENT_DEPTH = 32  # the Comment nests 4 levels (version 4's character captions)
# Comment keys → recipe fields.
COMMENT_FIELDS = {"uc": "negative_prompt", "seed": "seed", "steps": "steps",
                  "scale": "cfg_scale", "sampler": "sampler", "width": "width", "height": "height"}


def is_novelai(texts: Mapping[str, str]) -> bool:
    """Whether the texts are NovelAI's: its `Software` text says so."""
    return texts.get("Software", "").strip() == SOFTWARE


def read_novelai(texts: Mapping[str, str]) -> dict[str, Any] | None:
    """The recipe values (untyped) in NovelAI's texts, or None when `Software` is not NovelAI.
    Raises MetadataError when `Comment` is broken JSON or nests too deep."""
    if not is_novelai(texts):
        return None
    comment = load_json(texts["Comment"], "NovelAI's Comment text", MAX_COMMENT_DEPTH) \
        if "Comment" in texts else {}
    if not isinstance(comment, dict):
        comment = {}
    prompt = comment.get("prompt")
    fields = {"prompt": prompt if isinstance(prompt, str) else texts.get("Description")}
    fields.update({name: comment[key] for key, name in COMMENT_FIELDS.items() if key in comment})
    if "Source" in texts:
        fields["model"] = texts["Source"]
    return fields
