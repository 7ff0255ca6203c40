"""Text rules (pure): what untrusted text may hold, and its one normal form. Titles, prompts,
names and descriptions go through here on the page, on the server and in a restored backup,
so all three store the same text.

Refused, wherever it appears: NUL and every other C0 control but tab, line feed and carriage
return, DEL, the C1 controls (U+0080-U+009F) and lone surrogates. They break exports (UTF-8
cannot encode a lone surrogate) and hide text. `problem` names the first one; callers raise
their own error with the field's name.

Normalized: bidi controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069) and invisible
characters (U+200B, U+2060-U+2064, U+206A-U+206F, U+FEFF, tag characters) are dropped, and
so are the joiners U+200C/U+200D, except between two visible non-ASCII characters, where
emoji sequences and scripts such as Persian or Devanagari need them. Then NFC. Multi-line
text keeps tabs and turns CR LF, CR, U+2028 and U+2029 into LF; a single line turns each
of them into a space. Edges are stripped. Both forms are idempotent: clean(clean(x)) ==
clean(x). The code points are listed here, not read from the Unicode database, so CPython
3.11 (the server) and 3.14 (the page) agree; only NFC depends on the database.

    >>> problem("a fox\\x00")
    'U+0000 (a control character) at position 5'
    >>> clean_line(" Moon\\u200b Heist\\r\\n2 ")
    'Moon Heist 2'
    >>> clean_text("a fox\\r\\nin the snow\\u202e")
    'a fox\\nin the snow'
    >>> clean_value({"prompt": "fox\\ud800"}, "recipe", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: recipe.prompt contains U+D800 (a lone surrogate) at position 3
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Callable

__all__ = ["problem", "clean_text", "clean_line", "checked", "clean_value"]

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_INVISIBLE = ("\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
              "\U000e0001\U000e0020-\U000e007f")
_JOINERS = "\u200c\u200d"
_VISIBLE_NON_ASCII = rf"[^\x00-\x7f\s{_INVISIBLE}{_JOINERS}]"
# One character class per pattern, lookarounds of one character: every match is O(1).
_DROPPED = re.compile(rf"[{_INVISIBLE}]|(?<!{_VISIBLE_NON_ASCII})[{_JOINERS}]"
                      rf"|[{_JOINERS}](?!{_VISIBLE_NON_ASCII})")
_FLAG_TAGS = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,8}\U000e007f")  # 🏴 + region
_BREAKS = re.compile("\r\n|[\r\u2028\u2029]")
_LINE_BREAKS = re.compile("\r\n|[\t\n\r\u2028\u2029]")
MAX_DEPTH = 16  # a JSON value clean_value walks (recipes nest two or three levels)


def problem(text: str) -> str | None:
    """'U+0000 (a control character) at position 12' for the first character no stored text
    may hold, or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    code = ord(found[0])
    what = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"U+{code:04X} ({what}) at position {found.start()}"


def _visible(text: str) -> str:
    """NFC, without invisible and bidi characters (then NFC again: dropping one can let two
    neighbours compose, and NFC can turn a neighbour of a joiner into ASCII)."""
    text = unicodedata.normalize("NFC", text)
    kept = _FLAG_TAGS.findall(text)
    if kept:  # subdivision flags (England, Scotland, Wales) are the one use of tag characters
        parts = _FLAG_TAGS.split(text)
        text = "".join(_DROPPED.sub("", part) + flag for part, flag in zip(parts, kept + [""]))
    else:
        text = _DROPPED.sub("", text)
    return unicodedata.normalize("NFC", text)


def clean_text(text: str) -> str:
    """Multi-line text (prompts, descriptions) in normal form; see the module docstring."""
    return _BREAKS.sub("\n", _visible(text)).strip()


def clean_line(text: str) -> str:
    """Single-line text (titles, names) in normal form: line breaks and tabs become spaces."""
    return _LINE_BREAKS.sub(" ", _visible(text)).strip()


def checked(text: str, field: str, refuse: Callable[[str], Exception], line: bool = False) -> str:
    """`text` in normal form, or `refuse("<field> contains U+0000 (...) at position 3")` raised."""
    found = problem(text)
    if found:
        raise refuse(f"{field} contains {found}")
    return clean_line(text) if line else clean_text(text)


def clean_value(value, field: str, refuse: Callable[[str], Exception], depth: int = 0):
    """A decoded JSON value (a recipe) with every string in normal form (multi-line) and every
    key checked; NaN, infinities and nesting past MAX_DEPTH are refused through `refuse`."""
    if isinstance(value, str):
        return checked(value, field, refuse)
    if isinstance(value, float) and not math.isfinite(value):
        raise refuse(f"{field} is {value}; numbers must be finite")
    if isinstance(value, (list, dict)) and depth >= MAX_DEPTH:
        raise refuse(f"{field} nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [clean_value(item, f"{field}[{i}]", refuse, depth + 1)
                for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {_key(key, field, refuse): clean_value(item, f"{field}.{key}", refuse, depth + 1)
                for key, item in value.items()}
    return value


def _key(key, field: str, refuse: Callable[[str], Exception]) -> str:
    found = problem(key) if isinstance(key, str) else "a key that is not text"
    if found:
        raise refuse(f"{field} has a key that contains {found}")
    return key
