"""The share-link format (pure): a project's recipe-only manifest, compressed (and, when a
passphrase is given, sealed with AES-GCM in the page), carried in the URL fragment, which the
browser never sends to any server. This module owns the framing, the caps and every refusal;
the sealing itself is WebCrypto (static/js/bridge/sharecrypt.mjs, driven by
app/backup/share.py), and the manifest inside is checked by app/backup/manifest.py.

    <app URL>#/share/<payload>
    payload   = <version> "." <flag> "." <data>          e.g. 1.p.eNqrVkrLz1eyUkpKLFKqBQA...
    version   = 1                                        (decimal; higher = a newer SceneVault)
    flag      = "p" plain | "e" encrypted
    data      = base64url, no padding, of
        p:  zlib(manifest JSON)                          (RFC 1950: DEFLATE + Adler-32)
        e:  salt (16) | iv (12) | AES-256-GCM(zlib(manifest JSON)) with its 16-byte tag last
            key = PBKDF2-HMAC-SHA-256(NFC passphrase as UTF-8, salt, 600,000 iterations)

Caps, checked before anything is allocated: the fragment (`#` excluded) is at most 32 KiB of
text, so the decoded data is at most 24 KiB; the manifest inflates to at most 1 MiB (zlib
stops there: `decompressobj().decompress(data, max_length)`).

    >>> payload = encode_link(b'{"format": "scenevault-backup"}')
    >>> payload[:4]
    '1.p.'
    >>> decode_link(payload).manifest
    b'{"format": "scenevault-backup"}'
    >>> decode_link("#/share/" + payload).encrypted
    False
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import unicodedata
import zlib
from dataclasses import dataclass

from app.core.errors import ShareLinkError

__all__ = ["ROUTE", "VERSION", "PLAIN", "ENCRYPTED", "MAX_FRAGMENT_CHARS", "MAX_MANIFEST_BYTES",
           "PBKDF2_ITERATIONS", "SALT_BYTES", "IV_BYTES", "TAG_BYTES", "Sealed", "ShareLink",
           "deflate", "inflate", "encode_link", "encode_sealed", "decode_link", "new_seal",
           "normalize_passphrase", "payload_of", "link_url"]

ROUTE = "#/share/"
VERSION = 1
PLAIN, ENCRYPTED = "p", "e"
MAX_FRAGMENT_CHARS = 32 * 1024        # chat apps and mail clients cut longer links
MAX_MANIFEST_BYTES = 1 << 20          # what one project's recipes inflate to, at most
PBKDF2_ITERATIONS = 600_000           # OWASP's figure for PBKDF2-HMAC-SHA-256 (2023)
SALT_BYTES, IV_BYTES, TAG_BYTES = 16, 12, 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_DIGITS = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True)
class Sealed:
    """An encrypted payload's parts: the PBKDF2 salt, the AES-GCM IV, and the ciphertext with
    its 16-byte tag at the end (as WebCrypto returns it)."""

    salt: bytes
    iv: bytes
    ciphertext: bytes

    def to_bytes(self) -> bytes:
        return self.salt + self.iv + self.ciphertext

    @classmethod
    def from_bytes(cls, data: bytes) -> Sealed:
        if len(data) < SALT_BYTES + IV_BYTES + TAG_BYTES + 1:
            raise _corrupted(f"its encrypted data is {len(data)} bytes, too short to hold a salt, "
                             "an IV and a tag")
        return cls(data[:SALT_BYTES], data[SALT_BYTES:SALT_BYTES + IV_BYTES],
                   data[SALT_BYTES + IV_BYTES:])


@dataclass(frozen=True)
class ShareLink:
    """A decoded link: `manifest` (the JSON bytes, not yet checked) when plain, `sealed` when
    encrypted (inflate what the page decrypts with `inflate`)."""

    version: int
    encrypted: bool
    manifest: bytes | None = None
    sealed: Sealed | None = None


# --- compression --------------------------------------------------------------------------------
def deflate(data: bytes) -> bytes:
    """zlib (RFC 1950) at the best compression: the Adler-32 trailer catches corruption."""
    return zlib.compress(data, 9)


def inflate(data: bytes, max_bytes: int = MAX_MANIFEST_BYTES) -> bytes:
    """Inflate zlib data, refusing output over `max_bytes` before allocating more than that,
    a stream that is truncated, damaged, or followed by anything."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise _corrupted(f"its compressed data is damaged ({exc})") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise ShareLinkError(f"This link's contents inflate to more than {max_bytes:,} bytes; a "
                             "real project's recipes are far smaller. It was not opened.",
                             "link_too_large")
    if not inflater.eof:
        raise _corrupted("its compressed data ends early (the link was cut short)")
    if inflater.unused_data:
        raise _corrupted("something follows its compressed data")
    return out


# --- encoding -----------------------------------------------------------------------------------
def encode_link(manifest: bytes) -> str:
    """The plain payload for `manifest` (JSON bytes). Raises ShareLinkError `link_too_long`
    when the link would pass the cap."""
    return _framed(PLAIN, deflate(manifest))


def encode_sealed(sealed: Sealed) -> str:
    """The encrypted payload for what the page sealed (see `new_seal`)."""
    if len(sealed.salt) != SALT_BYTES or len(sealed.iv) != IV_BYTES:
        raise ValueError(f"a seal needs a {SALT_BYTES}-byte salt and a {IV_BYTES}-byte IV")
    return _framed(ENCRYPTED, sealed.to_bytes())


def new_seal() -> tuple[bytes, bytes]:
    """A fresh random (salt, iv) for one link: never reuse an IV with the same key."""
    return secrets.token_bytes(SALT_BYTES), secrets.token_bytes(IV_BYTES)


def normalize_passphrase(passphrase: str) -> str:
    """NFC, so the same passphrase typed on another system derives the same key."""
    return unicodedata.normalize("NFC", passphrase)


def _framed(flag: str, data: bytes) -> str:
    payload = f"{VERSION}.{flag}.{base64.urlsafe_b64encode(data).decode('ascii').rstrip('=')}"
    size = len(ROUTE) - 1 + len(payload)
    if size > MAX_FRAGMENT_CHARS:
        raise ShareLinkError(f"This project's recipes make a link of {size / 1024:.1f} KB, over "
                             f"the {MAX_FRAGMENT_CHARS // 1024} KB a share link may hold (chat "
                             "apps cut longer links). Share a backup file instead: Export "
                             "recipes only, on the Projects page.", "link_too_long")
    return payload


# --- decoding -----------------------------------------------------------------------------------
def payload_of(fragment: str) -> str:
    """The payload of a fragment or whole link ('...#/share/1.p.xyz' -> '1.p.xyz'); the text
    itself when it holds no share route."""
    index = fragment.find(ROUTE)
    return fragment[index + len(ROUTE):] if index >= 0 else fragment.lstrip("#")


def link_url(base: str, payload: str) -> str:
    """The link to share: the app's address (its own fragment dropped) and the payload."""
    return f"{base.split('#', 1)[0]}{ROUTE}{payload}"


def decode_link(fragment: str) -> ShareLink:
    """Check and decode a payload (or a fragment or link holding one): the length cap, the
    version, the flag, base64url, then the framing; a plain link is inflated (capped).
    Raises ShareLinkError naming what is wrong; the manifest inside is NOT checked here."""
    payload = payload_of(fragment.strip())
    if len(ROUTE) - 1 + len(payload) > MAX_FRAGMENT_CHARS:
        raise ShareLinkError(f"This link is {len(payload) / 1024:.1f} KB long, over the "
                             f"{MAX_FRAGMENT_CHARS // 1024} KB a SceneVault share link may be. It "
                             "was not opened; ask for a backup file instead.", "link_too_long")
    parts = payload.split(".", 2)
    if len(parts) != 3 or not _DIGITS.fullmatch(parts[0]):
        raise _corrupted("it does not start with a format version (like “1.p.”); it may have "
                         "been cut short")
    version = int(parts[0])
    if version > VERSION:
        raise ShareLinkError(f"This link was made by a newer SceneVault (link format {version}; "
                             f"this one reads format {VERSION}). Update SceneVault to open it.",
                             "link_newer")
    if version != VERSION:
        raise _corrupted(f"its format version {version} does not exist")
    flag, text = parts[1], parts[2]
    if flag not in (PLAIN, ENCRYPTED):
        raise _corrupted(f"its kind {flag[:8]!r} is neither plain ('p') nor encrypted ('e')")
    data = _unbase64(text)
    if flag == ENCRYPTED:
        return ShareLink(version, True, sealed=Sealed.from_bytes(data))
    return ShareLink(version, False, manifest=inflate(data))


def _unbase64(text: str) -> bytes:
    if not text:
        raise _corrupted("it carries no data")
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise _corrupted("its data is not base64url text (a character was changed or lost)")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _corrupted(f"its data is not base64url ({exc})") from None


def _corrupted(why: str) -> ShareLinkError:
    return ShareLinkError(f"This share link is damaged: {why}. Nothing was imported; ask for the "
                          "link again, copied whole.", "link_corrupted")
