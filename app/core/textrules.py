"""Text rules (pure): what user text may hold, and its one normal form. Titles, names, prompts
and descriptions pass through here on the page (app/core/model.py, app/core/storyboard.py), on the
server (app/core/recipe.py) and in a restored backup (app/backup/schema.py), so all three store
the same text.

Refused, with a message naming the field and the character: NUL and every other C0 control
but tab, line feed and carriage return; DEL; lone surrogates. UTF-8 cannot encode a lone
surrogate (an export would break later) and the controls are never typed on purpose.

Normalized, because they are invisible and only ever arrive by pasting:
- dropped: C1 controls (U+0080-U+009F, but U+0085, a line break), bidi controls (U+061C,
  U+200E/F, U+202A-U+202E, U+2066-U+2069), zero-width and other invisible characters
  (U+200B, U+2060-U+2064, U+206A-U+206F, U+FEFF, tag characters outside a subdivision flag
  such as England's); the joiners U+200C/U+200D too, except between two visible non-ASCII
  characters, where emoji sequences and scripts such as Persian or Devanagari need them;
- then NFC, and line breaks: multi-line text (`PROSE`) keeps tabs and turns CR LF, CR, NEL,
  U+2028 and U+2029 into LF; a single line (`LINE`) turns each of them, and tabs, into a
  space; the edges are stripped. The normal form is idempotent.

Capped: a `TextRule` counts the normal form's characters (`LINE` 200, `PROSE` 4000); `checked`
refuses text over it. The code points are listed here, not read from the Unicode database, so
CPython 3.11 (the server) and 3.14 (the page) agree; only NFC and which characters are
whitespace depend on the database.

    >>> refuse = ValueError
    >>> checked(" Moon\\u200b Heist\\r\\n2 ", "title", LINE, refuse)
    'Moon Heist 2'
    >>> checked("a fox\\r\\nin the snow\\u202e", "prompt", PROSE, refuse)
    'a fox\\nin the snow'
    >>> checked("a fox\\x00", "prompt", PROSE, refuse)
    Traceback (most recent call last):
    ...
    ValueError: prompt contains U+0000 (a control character) at character 6
    >>> checked_json({"seed": float("nan")}, "recipe", refuse)
    Traceback (most recent call last):
    ...
    ValueError: recipe.seed is nan; numbers must be finite
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

__all__ = ["Refuse", "TextRule", "LINE", "PROSE", "problem", "normal_form", "checked",
           "checked_json"]

Refuse = Callable[[str], Exception]  # the caller's error for a message: RecipeError, ...


@dataclass(frozen=True)
class TextRule:
    """How one kind of text is kept: on one line or several, and at most how long (counted in
    characters of the normal form)."""

    single_line: bool
    max_chars: int


LINE = TextRule(single_line=True, max_chars=200)     # titles, names, style, mood
PROSE = TextRule(single_line=False, max_chars=4000)  # descriptions, stories, prompts

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_INVISIBLE = ("\x80-\x84\x86-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
              "\u2066-\u206f\ufeff\U000e0001\U000e0020-\U000e007f")
_JOINERS = "\u200c\u200d"
_VISIBLE_NON_ASCII = rf"[^\x00-\x7f\s{_INVISIBLE}{_JOINERS}]"
_FLAG = "\U0001f3f4[\U000e0020-\U000e007e]{1,8}\U000e007f"  # 🏴 + tag letters + cancel tag
# A subdivision flag is kept whole (group 1); any other match is dropped. Lookarounds of one
# character: every match costs O(1).
_DROPPED = re.compile(rf"({_FLAG})|[{_INVISIBLE}]|(?<!{_VISIBLE_NON_ASCII})[{_JOINERS}]"
                      rf"|[{_JOINERS}](?!{_VISIBLE_NON_ASCII})")
_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
_LINE_BREAKS = re.compile("\r\n|[\t\n\r\x85\u2028\u2029]")


def problem(text: str) -> str | None:
    """'U+0000 (a control character) at character 12' for the first character no stored text
    may hold, or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    code = ord(found[0])
    what = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"U+{code:04X} ({what}) at character {found.start() + 1}"


def without_problems(text: str) -> str:
    """`text` with every character `problem` names replaced by U+FFFD: for text copied from a
    file as it is (another tool's metadata), which must be kept, not refused."""
    return _FORBIDDEN.sub("\ufffd", text)


def normal_form(text: str, single_line: bool) -> str:
    """`text` (free of `problem`s) in normal form; see the module docstring. NFC runs twice:
    dropping a character can let its neighbours compose."""
    visible = _DROPPED.sub(lambda match: match[1] or "", unicodedata.normalize("NFC", text))
    breaks = _LINE_BREAKS if single_line else _BREAKS
    return breaks.sub(" " if single_line else "\n", unicodedata.normalize("NFC", visible)).strip()


def checked(text: str, field: str, rule: TextRule, refuse: Refuse) -> str:
    """`text` in normal form, or `refuse(message)` raised: the message names `field` and the
    character that cannot be stored, or the length over `rule.max_chars`."""
    found = problem(text)
    if found:
        raise refuse(f"{field} contains {found}")
    clean = normal_form(text, rule.single_line)
    if len(clean) > rule.max_chars:
        raise refuse(f"{field} is {len(clean)} characters; the limit is {rule.max_chars}")
    return clean


def checked_json(value, field: str, refuse: Refuse):
    """A decoded JSON value (a stored recipe) with every string in multi-line normal form and
    every key checked; NaN and infinities refused. `field` names the place in messages
    ('recipe.scenes[2].sceneId'). The caller bounds the nesting (app/backup/manifest.py's depth check)."""
    if isinstance(value, str):
        found = problem(value)
        if found:
            raise refuse(f"{field} contains {found}")
        return normal_form(value, single_line=False)
    if isinstance(value, float) and not math.isfinite(value):
        raise refuse(f"{field} is {value}; numbers must be finite")
    if isinstance(value, list):
        return [checked_json(item, f"{field}[{i}]", refuse) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {_checked_key(key, field, refuse): checked_json(item, f"{field}.{key}", refuse)
                for key, item in value.items()}
    return value


def _checked_key(key, field: str, refuse: Refuse) -> str:
    found = problem(key)
    if found:
        raise refuse(f"{field} has a key that contains {found}")
    return key
