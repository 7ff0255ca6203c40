"""Untrusted JSON in file metadata (pure): parsed only after a linear nesting scan, and its values
turned into recipe fields by their type, never trusted as they come.

`load_json(text, what, max_depth)` scans the brackets first (one pass, no recursion, stops at the
cap), so 30,000 nested brackets are refused before `json.loads` could recurse into them; bad
JSON raises MetadataError naming `what`. `recipe_fields(values)` keeps the recipe fields whose
values have a usable type: whole numbers (also written as digits in a string) for seed, steps,
width and height, a finite number for cfg_scale, text (in textrules' normal form) for the rest.
Anything else (lists, NaN, booleans, text with a control character) is left out, not guessed.

    >>> load_json('{"seed": "42", "cfg": 7}', "the test text", max_depth=4)
    {'seed': '42', 'cfg': 7}
    >>> recipe_fields({"seed": "42", "cfg_scale": 7, "steps": True, "prompt": ["a fox"]})
    {'seed': 42, 'cfg_scale': 7.0}
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping

from app.core import textrules
from app.core.errors import MetadataError

__all__ = ["load_json", "json_nesting", "recipe_fields", "as_whole_number", "as_finite_number",
           "as_text", "TEXT_FIELDS", "NUMBER_LIMITS"]

# The characters that matter for nesting: brackets, and what starts, ends or escapes a string.
_NESTING_CHARS = re.compile(r'[\[\]{}"\\]')
_DIGITS = re.compile(r"(\d{1,20})")  # fullmatch on stripped text only: no \s* to backtrack
_DECIMAL = re.compile(r"(-?\d{1,10}(?:\.\d{1,10})?)")
TEXT_FIELDS = {"prompt": False, "negative_prompt": False, "sampler": True, "model": True}
# The whole-number fields and the largest value each may take (a seed is at most 64 bits).
NUMBER_LIMITS = {"seed": 2**64 - 1, "steps": 10_000, "width": 2**31 - 1, "height": 2**31 - 1}
MAX_CFG_SCALE = 1_000.0


def json_nesting(text: str, cap: int) -> int:
    """How many brackets `text` holds open at most, strings left out; counting stops as soon as
    it passes `cap` (then cap + 1 is returned). One forward pass over the special characters."""
    depth = deepest = 0
    in_string = False
    skip_to = 0
    for match in _NESTING_CHARS.finditer(text):
        position, char = match.start(), match.group()
        if position < skip_to:
            continue
        if in_string:
            if char == "\\":
                skip_to = position + 2
            in_string = char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > cap:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def load_json(text: str, what: str, max_depth: int) -> Any:
    """`text` decoded, or MetadataError naming `what` when it nests deeper than `max_depth` or
    is not JSON. NaN and Infinity literals decode as Python does (floats); `recipe_fields`
    leaves them out."""
    if json_nesting(text, max_depth) > max_depth:
        raise MetadataError(f"{what} nests deeper than {max_depth} levels; it is not read")
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and integers past Python's digit limit
        raise MetadataError(f"{what} is not valid JSON ({exc})") from None


def as_whole_number(value: Any, maximum: int) -> int | None:
    """A whole number from 0 to `maximum`, from an int, an integral float or a string of digits;
    None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        digits = _DIGITS.fullmatch(value.strip())
        value = int(digits[1]) if digits else None
    if isinstance(value, int) and 0 <= value <= maximum:
        return value
    return None


def as_finite_number(value: Any) -> float | None:
    """A finite float within ±MAX_CFG_SCALE from a number or a decimal string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        decimal = _DECIMAL.fullmatch(value.strip())
        value = float(decimal[1]) if decimal else None
    if isinstance(value, (int, float)) and math.isfinite(value) and abs(value) <= MAX_CFG_SCALE:
        return float(value)
    return None


def as_text(value: Any, single_line: bool) -> str | None:
    """A non-empty string in textrules' normal form; None for other types, for text holding a
    character no stored text may (a control, a lone surrogate), or for blank text."""
    if not isinstance(value, str) or textrules.problem(value):
        return None
    return textrules.normal_form(value, single_line) or None


def recipe_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe fields in `values` whose values are usable (see the module docstring), in
    the order of `values`; unknown keys are left out."""
    fields: dict[str, Any] = {}
    for name, value in values.items():
        if name in TEXT_FIELDS:
            clean = as_text(value, TEXT_FIELDS[name])
        elif name in NUMBER_LIMITS:
            clean = as_whole_number(value, NUMBER_LIMITS[name])
        elif name == "cfg_scale":
            clean = as_finite_number(value)
        else:
            continue
        if clean is not None:
            fields[name] = clean
    return fields
