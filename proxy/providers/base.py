"""The one small interface every provider implements (server-only), and what it returns.

Owns `Provider` (name, kinds, whether it is deterministic, models per kind, voices, whether it
is configured, and `generate(recipe, deadline) -> GeneratedMedia`), `GeneratedMedia` (bytes,
their real MIME type, and the *effective* recipe: the seed actually used, say), and
`sniff_media`, which trusts the bytes over any label: an answer that is not a known image, audio
or (for clips) video format is a `ProviderError`. Clips are MP4 (an ISO `ftyp` box whose brand is
not a still-image one) or WebM (EBML with the doc type `webm`).

    class Echo(Provider):
        name, kinds = "echo", ("image",)
        def models(self): return {"image": ("echo-1",)}
        def generate(self, recipe, deadline): return GeneratedMedia(PNG, "image/png", recipe)
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from app.core.errors import ProviderError
from proxy.providers.transport import Deadline
from app.core.recipe import Recipe, ProviderSpec


@dataclass(frozen=True)
class GeneratedMedia:
    """What a provider made: the bytes, their MIME type, and the recipe that really made them."""

    data: bytes
    mime_type: str
    recipe: Recipe


class Provider:
    """Base of every provider. Subclasses set `name` and `kinds`, and implement `models` and
    `generate`; the service calls `generate` in a worker thread with the generation's deadline."""

    name: str = ""
    kinds: tuple[str, ...] = ()
    deterministic: bool = False
    voices: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return True

    @property
    def listed(self) -> bool:
        """Whether GET /api/providers shows it (a clip-only provider is shown once configured)."""
        return True

    def models(self) -> dict[str, tuple[str, ...]]:
        raise NotImplementedError

    def spec(self) -> ProviderSpec:
        """How the catalog (GET /api/providers) and recipe validation see this provider."""
        return ProviderSpec(self.name, self.kinds, self.deterministic, self.models(),
                            self.voices, self.configured)

    def generate(self, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        raise NotImplementedError


MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "image"),
    (b"\xff\xd8\xff", "image/jpeg", "image"),
    (b"GIF87a", "image/gif", "image"),
    (b"GIF89a", "image/gif", "image"),
    (b"ID3", "audio/mpeg", "audio"),
    (b"OggS", "audio/ogg", "audio"),
    (b"fLaC", "audio/flac", "audio"),
)


# ISO base media brands of still images (AVIF, HEIF): an `ftyp` box with one is not a clip.
STILL_BRANDS = frozenset({b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx",
                          b"mif1", b"msf1"})
EBML = b"\x1a\x45\xdf\xa3"
WEBM_DOCTYPE = b"\x42\x82\x84webm"  # EBML DocType element, 4 bytes long, "webm"


def sniff_media(data: bytes, kind: str, what: str) -> str:
    """The MIME type the bytes really have, if it is a format of `kind`; else ProviderError."""
    if kind == "clip":
        return _sniff_video(bytes(data[:64]), len(data), what)
    head = bytes(data[:16])
    found = next((mime for magic, mime, k in MAGIC if head.startswith(magic) and k == kind), None)
    if found is None and head[:4] == b"RIFF":
        riff = {b"WEBP": ("image/webp", "image"), b"WAVE": ("audio/wav", "audio")}.get(head[8:12])
        found = riff[0] if riff and riff[1] == kind else None
    if found is None and kind == "audio" and len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        found = "audio/mpeg"  # an MPEG audio frame without an ID3 tag
    if found is None:
        raise ProviderError(f"{what} answered {len(data)} bytes that are not a known {kind} format")
    return found


def _sniff_video(head: bytes, size: int, what: str) -> str:
    if head[4:8] == b"ftyp" and head[8:12] not in STILL_BRANDS and head[8:12] != b"qt  ":
        return "video/mp4"
    if head.startswith(EBML) and WEBM_DOCTYPE in head:
        return "video/webm"
    raise ProviderError(f"{what} answered {size} bytes that are not an MP4 or WebM video")


def decode_base64(text: object, what: str) -> bytes:
    """Base64 from a provider's JSON (a data: URL prefix is tolerated); else ProviderError."""
    if not isinstance(text, str) or not text:
        raise ProviderError(f"{what} answered without image data")
    payload = text.split(",", 1)[1] if text.startswith("data:") else text
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(f"{what} answered image data that is not base64") from None
