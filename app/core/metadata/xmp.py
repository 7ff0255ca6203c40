"""XMP packets (pure): read the few properties SceneVault uses from one, safely, and build the
packet SceneVault writes into its own PNGs.

Reading (`read_packet`): a packet of at most MAX_PACKET_BYTES (UTF-8, or UTF-16 with a BOM) is
first scanned, in one linear pass, for `<!DOCTYPE` and `<!ENTITY`; any such declaration is
refused with MetadataError before a parser sees the text, so entity expansion ("billion laughs")
and external entities (`SYSTEM "file:///etc/passwd"`) are never processed. Then the stdlib's
expat parser (`xml.etree.ElementTree`, also in Pyodide) builds the tree through a builder that
refuses more than MAX_ELEMENTS elements or nesting deeper than MAX_DEPTH. Read: dc:description
(the x-default item of its rdf:Alt), xmp:CreatorTool, Iptc4xmpExt:DigitalSourceType and
SceneVault's `sv:recipe` (the recipe JSON, namespace SV_NS), each as an attribute of an
rdf:Description or as a property element.

Writing (`build_packet`): DigitalSourceType trainedAlgorithmicMedia (IPTC: made by a trained
model), the prompt as dc:description, the generator as xmp:CreatorTool and the recipe JSON
(ASCII-escaped, so any Unicode round-trips) as sv:recipe, all XML-escaped; a character XML 1.0
cannot hold (a C0 control, a lone surrogate) becomes U+FFFD in the description only.

    >>> packet = build_packet({"prompt": "a <red> fox & \\"friends\\"", "seed": 7}, "SceneVault")
    >>> found = read_packet(packet.encode())
    >>> (found.description, found.creator_tool, found.recipe["seed"])
    ('a <red> fox & "friends"', 'SceneVault', 7)
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Mapping

from app.core.errors import MetadataError
from app.core.metadata.jsontext import load_json

__all__ = ["MAX_PACKET_BYTES", "MAX_ELEMENTS", "MAX_DEPTH", "MAX_RECIPE_CHARS", "SV_NS",
           "TRAINED_ALGORITHMIC_MEDIA", "XmpFields", "read_packet", "build_packet",
           "creator_tool_for"]

MAX_PACKET_BYTES = 1 << 20  # a camera or editor packet is a few KB; Photoshop's history can grow
MAX_ELEMENTS = 50_000       # a 1 MiB packet of real properties has fewer than 20,000
MAX_DEPTH = 64              # XMP nests about 8 deep
MAX_RECIPE_CHARS = 1 << 16  # as pngmeta: two prompts of 4,000 characters at most
MAX_RECIPE_DEPTH = 8        # one flat object; json.loads must never recurse deep
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC_NS = "http://purl.org/dc/elements/1.1/"
XMP_NS = "http://ns.adobe.com/xap/1.0/"
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
SV_NS = "https://scenevault.app/ns/1.0/"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XML_LANG = f"{{{XML_NS}}}lang"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROPERTIES = {"description": f"{{{DC_NS}}}description", "creator_tool": f"{{{XMP_NS}}}CreatorTool",
              "digital_source_type": f"{{{IPTC_EXT_NS}}}DigitalSourceType",
              "recipe": f"{{{SV_NS}}}recipe"}
CONTAINERS = tuple(f"{{{RDF_NS}}}{name}" for name in ("Alt", "Seq", "Bag"))
# Every character XML 1.0 cannot hold; a single character class, so no backtracking.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class XmpFields:
    """What a packet says: its text, and each property SceneVault reads (None when absent)."""

    text: str
    description: str | None = None
    creator_tool: str | None = None
    digital_source_type: str | None = None
    recipe: dict | None = None


# --- reading ------------------------------------------------------------------------------------
def read_packet(packet: bytes) -> XmpFields:
    """The properties of an XMP packet; MetadataError when it is too big, declares a DOCTYPE or
    ENTITY, is not well-formed, or breaks the element caps."""
    text = _decode(packet)
    _refuse_declarations(text)
    builder = _CappedBuilder()
    parser = ET.XMLParser(target=builder)
    try:
        parser.feed(text)
        root = parser.close()
    except ET.ParseError as exc:
        raise MetadataError(f"the XMP packet is not well-formed XML: {exc}") from None
    found = _properties(root)
    recipe = found.pop("recipe", None)
    return XmpFields(text, **found, recipe=None if recipe is None else _recipe_json(recipe))


def _decode(packet: bytes) -> str:
    if len(packet) > MAX_PACKET_BYTES:
        raise MetadataError(f"the XMP packet has {len(packet):,} bytes; the limit is "
                            f"{MAX_PACKET_BYTES:,}")
    codec = "utf-16" if packet[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return packet.decode(codec).rstrip("\0")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"the XMP packet is not {codec.upper()[:6]}: bad byte at "
                            f"{exc.start}") from None


def _refuse_declarations(text: str) -> None:
    """Refuse `<!DOCTYPE` and `<!ENTITY` (any case) anywhere: one pass with str.find."""
    start = text.find("<!")
    while start >= 0:
        head = text[start + 2:start + 9].upper()
        for name in ("DOCTYPE", "ENTITY"):
            if head.startswith(name):
                raise MetadataError(f"the XMP packet has a <!{name} declaration at character "
                                    f"{start}; XMP may not declare a DTD or entities, which "
                                    "could expand without bound or read other files")
        start = text.find("<!", start + 2)


class _CappedBuilder:
    """An ElementTree builder that refuses more than MAX_ELEMENTS elements or MAX_DEPTH levels."""

    def __init__(self) -> None:
        self._builder = ET.TreeBuilder()
        self._count = 0
        self._depth = 0

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        self._count += 1
        self._depth += 1
        if self._count > MAX_ELEMENTS:
            raise MetadataError(f"the XMP packet has more than {MAX_ELEMENTS:,} elements")
        if self._depth > MAX_DEPTH:
            raise MetadataError(f"the XMP packet nests elements deeper than {MAX_DEPTH} levels")
        return self._builder.start(tag, attrs)

    def end(self, tag: str) -> ET.Element:
        self._depth -= 1
        return self._builder.end(tag)

    def data(self, text: str) -> None:
        self._builder.data(text)

    def close(self) -> ET.Element:
        return self._builder.close()


def _properties(root: ET.Element) -> dict[str, str]:
    """Each wanted property, from the first rdf:Description that has it (attribute or element)."""
    found: dict[str, str] = {}
    for description in root.iter(f"{{{RDF_NS}}}Description"):
        for name, tag in PROPERTIES.items():
            if name in found:
                continue
            if tag in description.attrib:
                found[name] = description.attrib[tag]
                continue
            element = description.find(tag)
            if element is not None:
                found[name] = _value(element)
    return found


def _value(element: ET.Element) -> str:
    """A property element's value: rdf:resource, the x-default (else first) item of an
    rdf:Alt/Seq/Bag, or its text."""
    resource = element.get(f"{{{RDF_NS}}}resource")
    if resource is not None:
        return resource
    for container in (child for child in element if child.tag in CONTAINERS):
        items = container.findall(f"{{{RDF_NS}}}li")
        default = [item for item in items if item.get(XML_LANG) == "x-default"]
        chosen = (default or items or [None])[0]
        return "" if chosen is None else chosen.text or ""
    return element.text or ""


def _recipe_json(text: str) -> dict:
    """The sv:recipe JSON object, with its size and nesting checked before json.loads."""
    if len(text) > MAX_RECIPE_CHARS:
        raise MetadataError(f"the XMP sv:recipe has {len(text):,} characters; the limit is "
                            f"{MAX_RECIPE_CHARS:,}")
    value = load_json(text, "the XMP sv:recipe", MAX_RECIPE_DEPTH)
    if not isinstance(value, dict):
        raise MetadataError(f"the XMP sv:recipe is a JSON {type(value).__name__}, not an object")
    return value


# --- writing ------------------------------------------------------------------------------------
def creator_tool_for(recipe: Mapping[str, Any]) -> str:
    """xmp:CreatorTool for a recipe: "SceneVault (provider/model)", or less when they are unset."""
    parts = "/".join(str(recipe[key]) for key in ("provider", "model") if recipe.get(key))
    return f"SceneVault ({parts})" if parts else "SceneVault"


def build_packet(recipe: Mapping[str, Any], creator_tool: str) -> str:
    """An XMP packet marking the image as made by a trained model, with its prompt, generator
    and the full recipe JSON."""
    recipe_json = json.dumps(dict(recipe), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    prompt = recipe.get("prompt")
    description = ("   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">"
                   f"{_escape(str(prompt))}</rdf:li></rdf:Alt></dc:description>\n"
                   if prompt else "")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
        f'  <rdf:Description rdf:about="" xmlns:dc="{DC_NS}" xmlns:xmp="{XMP_NS}"\n'
        f'    xmlns:Iptc4xmpExt="{IPTC_EXT_NS}" xmlns:sv="{SV_NS}">\n'
        f"   <Iptc4xmpExt:DigitalSourceType>{TRAINED_ALGORITHMIC_MEDIA}"
        "</Iptc4xmpExt:DigitalSourceType>\n"
        f"{description}"
        f"   <xmp:CreatorTool>{_escape(creator_tool)}</xmp:CreatorTool>\n"
        f"   <sv:recipe>{_escape(recipe_json)}</sv:recipe>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def _escape(text: str) -> str:
    """Element text: &, < and > escaped, CR kept as a reference (parsers turn a raw CR into
    LF), and characters XML cannot hold replaced by U+FFFD."""
    clean = _NOT_XML_CHAR.sub("\ufffd", text)
    return (clean.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))
