"""PNG text metadata (pure): read and write tEXt/zTXt/iTXt chunks, and the recipe inside an image.

Owns the PNG chunk walk (signature, lengths and every CRC checked; anything else raises
`PngError`), the A1111 "parameters" text (written by `format_parameters`, read back by
`parse_parameters`, including the Stable Diffusion web UI's own files), and `embed_recipe`,
which gives every PNG leaving the proxy that text, the full recipe JSON in an iTXt chunk keyed
`scenevault:recipe`, and an XMP packet (`XML:com.adobe.xmp`, built by app/core/metadata/xmp.py).
Every reader is linear in its input and every count and size is capped (MAX_*): a hostile file
is refused with PngError, fast. Stdlib only (zlib, struct, json, re).

    >>> png = embed_recipe(tiny_png(), {"kind": "image", "prompt": "a red fox", "seed": 7,
    ...                                 "width": 8, "height": 8, "steps": 20, "model": "m",
    ...                                 "provider": "local", "version": 1})
    >>> read_recipe(png)["seed"]
    7
    >>> parse_parameters(read_text(png)["parameters"]).settings["Size"]
    '8x8'
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from app.core.errors import PngError

__all__ = [
    "PNG_SIGNATURE", "PARAMETERS_KEY", "RECIPE_KEY", "XMP_KEY", "Chunk", "Parameters",
    "iter_chunks", "read_text", "with_text", "format_parameters", "parse_parameters", "embed_recipe",
    "read_recipe", "tiny_png",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PARAMETERS_KEY = "parameters"
RECIPE_KEY = "scenevault:recipe"
XMP_KEY = "XML:com.adobe.xmp"
TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")
MAX_CHUNK_BYTES = 2**31 - 1
MAX_CHUNKS = 1 << 16         # a 512 MiB image in libpng's 8 KiB IDAT chunks
MAX_TEXT_CHUNKS = 256        # a real image carries a handful
MAX_INFLATED_TEXT = 1 << 20  # all compressed text in one PNG may not inflate past 1 MiB
MAX_PARAMETERS_CHARS = 1 << 16  # A1111 infotext: prompts of a few KB, a settings line
MAX_SETTINGS = 256              # A1111 writes about 20 `key: value` pairs, extensions more
MAX_NUMBER_DIGITS = 20          # Steps and Seed: a 64-bit seed has 20 digits
MAX_RECIPE_CHARS = 1 << 16   # SceneVault's recipe JSON: two prompts of 4,000 characters at most
MAX_RECIPE_DEPTH = 8         # it is one flat object; json.loads must never recurse deep
NEGATIVE_PREFIX = "Negative prompt:"
# A quoted value, backslash escaping any character. Possessive (Python 3.11+): no backtracking.
_QUOTED = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
# A JSON string, to its closing quote or the end; possessive, so linear even when it never closes.
_JSON_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_NUMBER = re.compile(rf"\s*(\d{{1,{MAX_NUMBER_DIGITS}}})\s*")
_DECIMAL = re.compile(r"(\d{1,10}(?:\.\d{1,10})?)")  # CFG scale: 7, 4.5 (stripped first)
_SIZE = re.compile(rf"\s*(\d{{1,{MAX_NUMBER_DIGITS}}})x(\d{{1,{MAX_NUMBER_DIGITS}}})\s*")


@dataclass(frozen=True)
class Chunk:
    """One chunk: its 4-letter type and where it sits in the file (offsets of the whole chunk)."""

    type: bytes
    start: int
    end: int
    data: memoryview


@dataclass(frozen=True)
class Parameters:
    """A1111's "parameters" text, split: prompt, negative prompt, and the settings line."""

    prompt: str
    negative_prompt: str = ""
    settings: dict[str, str] = field(default_factory=dict)

    def to_recipe_fields(self) -> dict[str, Any]:
        """The recipe fields the settings line carries: Steps, Seed, Size, Model, `CFG scale`
        (a float) and Sampler (its name only: A1111 1.9 and later write the scheduler apart, as
        `Schedule type`, which is not a recipe field)."""
        fields: dict[str, Any] = {"prompt": self.prompt, "negative_prompt": self.negative_prompt}
        for key, name in (("Steps", "steps"), ("Seed", "seed")):
            number = _NUMBER.fullmatch(self.settings.get(key, ""))
            if number:
                fields[name] = int(number[1])
        size = _SIZE.fullmatch(self.settings.get("Size", ""))
        if size:
            fields["width"], fields["height"] = int(size[1]), int(size[2])
        if self.settings.get("Model"):
            fields["model"] = self.settings["Model"]
        cfg_scale = _DECIMAL.fullmatch(self.settings.get("CFG scale", "").strip())
        if cfg_scale:
            fields["cfg_scale"] = float(cfg_scale[1])
        if self.settings.get("Sampler", "").strip():
            fields["sampler"] = self.settings["Sampler"].strip()
        return fields


# --- reading ------------------------------------------------------------------------------------
def iter_chunks(png: bytes) -> Iterator[Chunk]:
    """Every chunk up to and including IEND, each CRC checked, at most MAX_CHUNKS of them.
    Raises PngError on anything odd."""
    view = memoryview(png)
    if bytes(view[:8]) != PNG_SIGNATURE:
        raise PngError("not a PNG: the file does not start with the PNG signature")
    offset = 8
    for count in range(MAX_CHUNKS):
        chunk = _chunk_at(view, offset)
        if count == 0 and chunk.type != b"IHDR":
            raise PngError(f"the first PNG chunk must be IHDR, not {chunk.type!r}")
        yield chunk
        if chunk.type == b"IEND":
            return
        offset = chunk.end
    raise PngError(f"the PNG has more than {MAX_CHUNKS:,} chunks before IEND")


def _chunk_at(view: memoryview, offset: int) -> Chunk:
    if offset + 12 > len(view):
        raise PngError(f"the PNG is truncated at byte {offset} (no IEND chunk)")
    length, kind = struct.unpack_from(">I4s", view, offset)
    end = offset + 12 + length
    if length > MAX_CHUNK_BYTES or end > len(view):
        raise PngError(f"the PNG chunk {kind!r} at byte {offset} runs past the end of the file")
    if not kind.isalpha():
        raise PngError(f"the PNG has a chunk with an invalid type {kind!r} at byte {offset}")
    (stored_crc,) = struct.unpack_from(">I", view, end - 4)
    if zlib.crc32(view[offset + 4:end - 4]) != stored_crc:
        raise PngError(f"the PNG chunk {kind.decode()} at byte {offset} fails its CRC check")
    return Chunk(kind, offset, end, view[offset + 8:end - 4])


def read_text(png: bytes) -> dict[str, str]:
    """Every text chunk's keyword and text (tEXt and zTXt are Latin-1, iTXt is UTF-8): at most
    MAX_TEXT_CHUNKS of them, their compressed text inflating to MAX_INFLATED_TEXT in all."""
    texts: dict[str, str] = {}
    budget = _InflateBudget()
    chunks = (chunk for chunk in iter_chunks(png) if chunk.type in TEXT_TYPES)
    for count, chunk in enumerate(chunks, 1):
        if count > MAX_TEXT_CHUNKS:
            raise PngError(f"the PNG has more than {MAX_TEXT_CHUNKS} text chunks")
        keyword, text = _decode_text(chunk, budget)
        texts[keyword] = text
    return texts


@dataclass
class _InflateBudget:
    """What compressed text in one PNG may still inflate to."""

    left: int = MAX_INFLATED_TEXT


def _decode_text(chunk: Chunk, budget: _InflateBudget) -> tuple[str, str]:
    data = bytes(chunk.data)
    keyword, sep, rest = data.partition(b"\0")
    if not sep or not 1 <= len(keyword) <= 79:
        raise PngError(f"the {chunk.type.decode()} chunk at byte {chunk.start} has no valid keyword")
    if chunk.type == b"tEXt":
        return keyword.decode("latin-1"), rest.decode("latin-1")
    if chunk.type == b"zTXt":
        return keyword.decode("latin-1"), _inflate(rest[1:], chunk, budget).decode("latin-1")
    return keyword.decode("latin-1"), _decode_itxt(rest, chunk, budget)


def _decode_itxt(rest: bytes, chunk: Chunk, budget: _InflateBudget) -> str:
    if len(rest) < 2:
        raise PngError(f"the iTXt chunk at byte {chunk.start} is truncated")
    compressed = rest[0] == 1
    _language, _, rest = rest[2:].partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    raw = _inflate(text, chunk, budget) if compressed else text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PngError(f"the iTXt chunk at byte {chunk.start} is not UTF-8") from None


def _inflate(data: bytes, chunk: Chunk, budget: _InflateBudget) -> bytes:
    """The chunk's zlib stream inflated, never past what the budget has left."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, budget.left + 1)
    except zlib.error as exc:
        raise PngError(f"the compressed text at byte {chunk.start} does not inflate: {exc}") from None
    if len(out) > budget.left:
        raise PngError(f"the compressed text at byte {chunk.start} inflates past "
                       f"{MAX_INFLATED_TEXT} bytes (all text chunks together)")
    if not inflater.eof:
        raise PngError(f"the compressed text at byte {chunk.start} is truncated")
    budget.left -= len(out)
    return out


# --- writing ------------------------------------------------------------------------------------
def with_text(png: bytes, entries: Mapping[str, str]) -> bytes:
    """`png` with a text chunk per entry, right after IHDR; older chunks with those keywords go.

    Text that Latin-1 can hold goes in tEXt (what A1111 and most readers expect), the rest in
    iTXt (UTF-8)."""
    return _replace_text(png, {keyword: _text_chunk(keyword, text) for keyword, text in entries.items()})


def embed_recipe(png: bytes, recipe: Mapping[str, Any]) -> bytes:
    """`png` carrying A1111's `parameters` text, the full recipe JSON (iTXt, UTF-8) and an XMP
    packet (uncompressed iTXt keyed `XML:com.adobe.xmp`, as Adobe and exiftool read it) that marks
    the image as made by a trained model (app/core/metadata/xmp.py)."""
    from app.core.metadata.xmp import build_packet, creator_tool_for
    recipe_json = json.dumps(dict(recipe), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    packet = build_packet(recipe, creator_tool_for(recipe))
    return _replace_text(png, {
        PARAMETERS_KEY: _text_chunk(PARAMETERS_KEY, format_parameters(recipe)),
        RECIPE_KEY: _itxt_chunk(_keyword_bytes(RECIPE_KEY), recipe_json),
        XMP_KEY: _itxt_chunk(_keyword_bytes(XMP_KEY), packet),
    })


def _replace_text(png: bytes, new_chunks: Mapping[str, bytes]) -> bytes:
    """One pass: IHDR, the new text chunks, then every old chunk but text under those keywords."""
    chunks = list(iter_chunks(png))
    view = memoryview(png)
    kept = [view[c.start:c.end] for c in chunks[1:]
            if c.type not in TEXT_TYPES or _keyword(c) not in new_chunks]
    return b"".join([PNG_SIGNATURE, view[chunks[0].start:chunks[0].end], *new_chunks.values(), *kept])


def _keyword(chunk: Chunk) -> str:
    return bytes(chunk.data[:80]).partition(b"\0")[0].decode("latin-1")


def _keyword_bytes(keyword: str) -> bytes:
    try:
        key = keyword.encode("latin-1")
    except UnicodeEncodeError:
        raise PngError(f"the PNG keyword {keyword!r} is not Latin-1") from None
    if not 1 <= len(key) <= 79 or b"\0" in key or key != key.strip():
        raise PngError(f"the PNG keyword {keyword!r} must be 1-79 characters with no edge spaces")
    return key


def _text_chunk(keyword: str, text: str) -> bytes:
    key = _keyword_bytes(keyword)
    try:
        return _chunk(b"tEXt", key + b"\0" + text.encode("latin-1"))
    except UnicodeEncodeError:
        return _itxt_chunk(key, text)


def _itxt_chunk(key: bytes, text: str) -> bytes:
    """Uncompressed iTXt: keyword, NUL, flag 0, method 0, empty language and translated keyword."""
    return _chunk(b"iTXt", key + b"\0\0\0\0\0" + text.encode("utf-8"))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def read_recipe(png: bytes) -> dict[str, Any] | None:
    """The recipe JSON SceneVault stored in the image, or None when it has none."""
    text = read_text(png).get(RECIPE_KEY)
    if text is None:
        return None
    if len(text) > MAX_RECIPE_CHARS:
        raise PngError(f"the {RECIPE_KEY} chunk has {len(text):,} characters; the limit is "
                       f"{MAX_RECIPE_CHARS:,}")
    if _json_nesting(text) > MAX_RECIPE_DEPTH:
        raise PngError(f"the {RECIPE_KEY} chunk nests deeper than {MAX_RECIPE_DEPTH} levels")
    try:
        value = json.loads(text)
    except ValueError:
        raise PngError(f"the {RECIPE_KEY} chunk is not JSON") from None
    if not isinstance(value, dict):
        raise PngError(f"the {RECIPE_KEY} chunk is not a JSON object")
    return value


def _json_nesting(text: str) -> int:
    """How many brackets JSON `text` holds open at most, strings left out: what bounds how deep
    json.loads recurses (Pyodide's stack gives out long before Python's recursion limit)."""
    depth = deepest = 0
    for char in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


# --- A1111 "parameters" text --------------------------------------------------------------------
def format_parameters(recipe: Mapping[str, Any]) -> str:
    """A1111's infotext: the prompt, `Negative prompt: ...`, then `Steps: .., Seed: .., ...`."""
    settings = {"Steps": recipe.get("steps"), "Seed": recipe.get("seed"),
                "Size": _size_text(recipe), "Model": recipe.get("model"),
                "Provider": recipe.get("provider"), "Voice": recipe.get("voice"),
                "Recipe version": recipe.get("version")}
    line = ", ".join(f"{key}: {_quote(str(value))}" for key, value in settings.items()
                     if value is not None)
    negative = recipe.get("negative_prompt") or ""
    return f"{recipe['prompt']}\n{NEGATIVE_PREFIX} {negative}\n{line}"


def _size_text(recipe: Mapping[str, Any]) -> str | None:
    width, height = recipe.get("width"), recipe.get("height")
    return f"{width}x{height}" if width and height else None


def _quote(value: str) -> str:
    """A1111's quoting: values with a comma, colon or newline become JSON strings."""
    if "," not in value and "\n" not in value and ":" not in value and not value.startswith('"'):
        return value
    return json.dumps(value, ensure_ascii=False)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_parameters(text: str) -> Parameters:
    """Split A1111's infotext the way A1111 does: the last line holds the settings when it has
    at least three `key: value` pairs; `Negative prompt:` starts the negative prompt. Text
    over MAX_PARAMETERS_CHARS, or a line of more than MAX_SETTINGS pairs, raises PngError."""
    if len(text) > MAX_PARAMETERS_CHARS:
        raise PngError(f"the {PARAMETERS_KEY} text has {len(text):,} characters; the limit is "
                       f"{MAX_PARAMETERS_CHARS:,}")
    *lines, last = text.strip().split("\n")
    settings = read_settings(last)
    if len(settings) < 3:
        lines.append(last)
        settings = []
    prompt: list[str] = []
    negative: list[str] = []
    for raw in lines:
        line = raw.strip()
        if line.startswith(NEGATIVE_PREFIX) and not negative:
            negative.append(line[len(NEGATIVE_PREFIX):].strip())
        elif negative:
            negative.append(line)
        else:
            prompt.append(line)
    return Parameters("\n".join(prompt), "\n".join(negative),
                      {key.strip(): _unquote(value.strip()) for key, value in settings})


def read_settings(line: str) -> list[tuple[str, str]]:
    r"""The `key: value` pairs of a settings line, exactly those A1111's pattern finds with
    `findall` (`\s*([\w ]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`, modules/infotext_utils.py),
    in one forward pass instead of that regex's cubic backtracking.

    A key is the run of word characters and spaces right before a colon, leading spaces left
    out; a value is a quoted string that a comma or the end follows, else everything up to the
    next comma. Raises PngError past MAX_SETTINGS pairs."""
    pairs: list[tuple[str, str]] = []
    cursor = 0
    while (colon := line.find(":", cursor)) >= 0:
        key = _key_before(line, cursor, colon)
        if key is None:
            cursor = colon + 1
            continue
        if len(pairs) == MAX_SETTINGS:
            raise PngError(f"the {PARAMETERS_KEY} settings line has more than {MAX_SETTINGS} "
                           "`key: value` pairs")
        value, cursor = _value_after(line, colon + 1)
        pairs.append((key, value))
    return pairs


def _key_before(line: str, start: int, colon: int) -> str | None:
    """The key ending at `colon`, at or after `start`: at least one word character or space,
    whitespace before it left out; None when the colon has no key."""
    pos = colon
    while pos > start and (line[pos - 1].isalnum() or line[pos - 1] in "_ "):
        pos -= 1
    if pos == colon:
        return None
    return line[pos:colon].lstrip() or " "  # all spaces: the pattern keeps the last one


def _value_after(line: str, start: int) -> tuple[str, int]:
    """The value after a key's colon, and where the next pair may start (past the comma)."""
    pos = start
    while pos < len(line) and line[pos].isspace():
        pos += 1
    quoted = _QUOTED.match(line, pos)
    if quoted and quoted.end() > pos + 2:  # A1111's quoted values are not empty
        end = quoted.end()
        if end == len(line) or line[end] == ",":
            return line[pos:end], end + 1
    comma = line.find(",", pos)
    end = len(line) if comma < 0 else comma
    return line[pos:end], end + 1


def tiny_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    """A small solid-colour PNG (zlib), for examples and tests."""
    row = b"\0" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(row * height))
            + _chunk(b"IEND", b""))
