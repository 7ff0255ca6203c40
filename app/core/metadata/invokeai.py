"""InvokeAI's metadata in a PNG (pure): the recipe of versions 3 to 5, and of version 2.

InvokeAI 3 and later write tEXt `invokeai_metadata`, a flat JSON object (`positive_prompt`,
`negative_prompt`, `seed`, `steps`, `cfg_scale`, `scheduler`, `width`, `height`, and `model`:
`{"name": ..., "key": ..., "base": ...}` from version 4, `{"model_name": ..., "base_model": ...}`
in version 3), beside `invokeai_graph` (and `invokeai_workflow`), which are kept raw but not
read. InvokeAI 2 wrote `sd-metadata` (`{"model_weights": ..., "image": {"prompt": ..., "seed":
..., "sampler": ...}}`, the prompt a string or a list of `{"prompt", "weight"}`) and `Dream`.
Values of the wrong type are left out by jsontext.recipe_fields.

    >>> read_invokeai({"invokeai_metadata": '{"positive_prompt": "a red fox", "seed": 7, '
    ...                '"scheduler": "euler", "model": {"name": "SDXL base", "key": "k1"}}'})
    {'prompt': 'a red fox', 'seed': 7, 'sampler': 'euler', 'model': 'SDXL base'}
"""

from __future__ import annotations

from typing import Any, Mapping

from app.core.metadata.jsontext import load_json

__all__ = ["METADATA_KEY", "LEGACY_KEY", "INVOKEAI_KEYS", "MAX_METADATA_DEPTH", "read_invokeai"]

METADATA_KEY = "invokeai_metadata"
LEGACY_KEY = "sd-metadata"
INVOKEAI_KEYS = (METADATA_KEY, "invokeai_graph", "invokeai_workflow", LEGACY_KEY, "Dream")
MAX_METADATA_DEPTH = 32  # the metadata nests 3 levels (LoRAs, reference images: a few more)
MAX_PROMPT_PARTS = 256   # version 2's weighted prompt list


def read_invokeai(texts: Mapping[str, str]) -> dict[str, Any] | None:
    """The recipe values (untyped) in InvokeAI's texts, {} when only its graph is there, None
    when there is no InvokeAI text. Raises MetadataError when the JSON is broken or too deep."""
    if METADATA_KEY in texts:
        return _present(_from_metadata(_object(texts[METADATA_KEY], METADATA_KEY)))
    if LEGACY_KEY in texts:
        return _present(_from_legacy(_object(texts[LEGACY_KEY], LEGACY_KEY)))
    return {} if any(key in texts for key in INVOKEAI_KEYS) else None


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _object(text: str, key: str) -> dict[str, Any]:
    """The JSON object in `text`; anything but an object counts as empty."""
    decoded = load_json(text, f"InvokeAI's {key} text", MAX_METADATA_DEPTH)
    return decoded if isinstance(decoded, dict) else {}


def _from_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    fields = {name: metadata.get(name) for name in ("seed", "steps", "cfg_scale", "width",
                                                     "height")}
    return {"prompt": metadata.get("positive_prompt"),
            "negative_prompt": metadata.get("negative_prompt"), **fields,
            "sampler": metadata.get("scheduler"), "model": _model_name(metadata.get("model"))}


def _model_name(model: Any) -> Any:
    """A model's display name: the string itself, else `name`, `model_name` or `key`."""
    if not isinstance(model, dict):
        return model
    return next((model[key] for key in ("name", "model_name", "key")
                 if isinstance(model.get(key), str) and model[key].strip()), None)


def _from_legacy(metadata: dict[str, Any]) -> dict[str, Any]:
    image = metadata.get("image") if isinstance(metadata.get("image"), dict) else {}
    fields = {name: image.get(name) for name in ("seed", "steps", "cfg_scale", "sampler",
                                                 "width", "height")}
    return {"prompt": _legacy_prompt(image.get("prompt")), **fields,
            "model": metadata.get("model_weights")}


def _legacy_prompt(prompt: Any) -> Any:
    """Version 2's prompt: a string, or the prompts of a weighted list joined by lines."""
    if not isinstance(prompt, list):
        return prompt
    parts = [part.get("prompt") for part in prompt[:MAX_PROMPT_PARTS] if isinstance(part, dict)]
    return "\n".join(part for part in parts if isinstance(part, str)) or None
