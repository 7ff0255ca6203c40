"""Clip providers (server-only): the small interface a slow, queue-based provider implements, and
the input frame a clip is made from.

Owns `ClipProvider` (a `Provider` whose kind is "clip": `submit` the frame and recipe, `poll`
the upstream's state, fetch the `result`, `cancel` upstream), the `ClipTicket` a submission
returns, the `ClipProgress` a poll returns, and `Frame`: the page's frame, taken only as a
`data:image/png|jpeg|webp;base64,...` URI whose bytes really are that type (magic bytes), at most
MAX_FRAME_BYTES once decoded. A refused frame is a RecipeError for the field "image".

Each call gets the deadline of one exchange; proxy/jobs.py drives them (slots, the job's own
deadline, pauses between polls, cancellation), so a provider never sleeps or loops itself.

    frame = Frame.from_data_uri("data:image/png;base64,iVBORw0KGgo...")
    ticket = provider.submit(recipe, frame, Deadline(60))
    while provider.poll(ticket, Deadline(60)).state not in ("done", "failed"): ...
    media = provider.result(ticket, recipe, Deadline(60))   # GeneratedMedia, video/mp4 or webm
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from app.core.errors import ProviderError, RecipeError
from app.core.recipe import Recipe
from proxy.providers.base import GeneratedMedia, Provider, sniff_media
from proxy.providers.transport import Deadline

MAX_FRAME_BYTES = 8 * 1024 * 1024
FRAME_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
_DATA_URI = re.compile(r"data:(image/(?:png|jpeg|webp));base64,")
STATES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class Frame:
    """The still a clip starts from: its bytes, their (checked) type and their SHA-256."""

    data: bytes = field(repr=False)
    mime_type: str
    sha256: str

    @classmethod
    def from_data_uri(cls, value: object) -> Frame:
        """The frame in a `data:image/...;base64,` URI, or RecipeError("image") saying why not."""
        if not isinstance(value, str):
            raise _refused("image must be a data:image/png, image/jpeg or image/webp base64 URI")
        match = _DATA_URI.match(value)
        if match is None:
            raise _refused(f"image must be a data:image/png, image/jpeg or image/webp base64 URI, "
                           f"not one starting {value[:30]!r}")
        payload = value[match.end():]
        if len(payload) > (MAX_FRAME_BYTES + 2) // 3 * 4:
            raise _refused(f"image is over the {MAX_FRAME_BYTES}-byte frame cap")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise _refused("image is not valid base64 after its data: prefix") from None
        if len(data) > MAX_FRAME_BYTES:
            raise _refused(f"image is over the {MAX_FRAME_BYTES}-byte frame cap")
        declared = match.group(1)
        try:
            found = sniff_media(data, "image", "the frame")
        except ProviderError:
            found = None
        if found != declared:
            raise _refused(f"image is labelled {declared} but its bytes are "
                           f"{found or 'not a known image format'}")
        return cls(data, declared, hashlib.sha256(data).hexdigest())

    @property
    def extension(self) -> str:
        return FRAME_TYPES[self.mime_type]

    def data_uri(self) -> str:
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def _refused(message: str) -> RecipeError:
    return RecipeError(message, "image")


@dataclass(frozen=True)
class ClipTicket:
    """What a submission returned: the upstream's id for it, and the URLs it named (if any)."""

    id: str
    status_url: str = ""
    response_url: str = ""
    cancel_url: str = ""


@dataclass(frozen=True)
class ClipProgress:
    """The upstream's state: queued, running, done or failed (with its reason), and how far along
    it is (0..1) when it says."""

    state: str
    fraction: float | None = None
    message: str = ""

    def __post_init__(self):
        if self.state not in STATES:
            raise ValueError(f"state {self.state!r} is not one of {', '.join(STATES)}")


class ClipProvider(Provider):
    """A provider of kind "clip". `generate` is not used: clips run as jobs (proxy/jobs.py)."""

    kinds: tuple[str, ...] = ("clip",)

    def check_clip(self, recipe: Recipe) -> None:
        """Refuse (RecipeError) a clip this model cannot make, before anything is sent."""

    def submit(self, recipe: Recipe, frame: Frame, deadline: Deadline) -> ClipTicket:
        raise NotImplementedError

    def poll(self, ticket: ClipTicket, deadline: Deadline) -> ClipProgress:
        raise NotImplementedError

    def result(self, ticket: ClipTicket, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        raise NotImplementedError

    def cancel(self, ticket: ClipTicket, deadline: Deadline) -> None:
        raise NotImplementedError

    def generate(self, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        raise ProviderError(f"{self.name} makes clips as jobs (POST /api/jobs), not in one request")
