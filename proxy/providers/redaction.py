"""Keeping keys out of messages and the log (server-only): redact first, then cut, then flatten.

Owns `redact` (every spelling of a secret, and every long piece of one, becomes `***`),
`single_line` (CR, LF and the other control characters become spaces, so a quoted text cannot
forge a log line), `scrub` (both) and `quote_upstream`, the only way an upstream's own words
get into a message. A secret is looked for as it might come back from an upstream or a
traceback:

    raw                   sk-a/b+c d
    URL-encoded           sk-a%2Fb%2Bc%20d, sk-a/b%2Bc%20d, sk-a%2Fb%2Bc+d (either hex case)
    Basic auth base64     base64 of 'user:<key>', ':<key>' or '<key>:' (any user name: the
                          characters that depend on the key alone are matched, for each of the
                          three alignments, in both base64 alphabets)
    JSON-escaped, repr    sk-a\\/b..., and a key's \\n, \\" or \\xe9 as JSON or repr() write them

and in pieces: any 8 characters in a row of any spelling of a secret of 12 or more.

    quote_upstream(b'{"error": "bad key sk-live-0123456789abcdef"}', ("sk-live-0123456789abcdef",))
    # '{"error": "bad key ***"}'
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from urllib.parse import quote, quote_plus

QUOTE_CHARS = 300  # how much of an upstream's error body a message quotes
PIECE = 8  # the shortest run of a secret's characters that is masked on its own
LONG_SECRET = 12  # secrets at least this long are also masked piece by piece
MASK = "***"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
_COVERED = re.compile(rb"\x01+")


def quote_upstream(body: bytes, hide: tuple[str, ...], limit: int = QUOTE_CHARS) -> str:
    """The start of an upstream's body for a message: redacted *before* it is cut (a key across
    the cut would otherwise leave its first characters), then cut, then made one line."""
    head = body[:4 * (limit + _longest(tuple(hide)))].decode("utf-8", "replace")
    return single_line(redact(head, hide)[:limit]).strip()


def scrub(text: str, hide: tuple[str, ...]) -> str:
    """`text` redacted and on one line: what may go into a message or the log."""
    return single_line(redact(text, hide))


def single_line(text: str) -> str:
    """`text` with CR, LF, tabs and every other control character replaced by a space."""
    return _CONTROL.sub(" ", text)


def redact(text: str, hide: tuple[str, ...]) -> str:
    """`text` with every spelling of every secret in `hide`, and any long piece of one, masked."""
    covered = bytearray(len(text))
    for piece in _pieces(tuple(hide)):
        start = text.find(piece)
        while start >= 0:
            covered[start:start + len(piece)] = b"\x01" * len(piece)
            start = text.find(piece, start + 1)
    return _mask(text, bytes(covered))


def _mask(text: str, covered: bytes) -> str:
    parts, shown = [], 0
    for run in _COVERED.finditer(covered):
        parts += [text[shown:run.start()], MASK]
        shown = run.end()
    return "".join(parts) + text[shown:]


@lru_cache(maxsize=16)
def _pieces(hide: tuple[str, ...]) -> frozenset[str]:
    pieces = set()
    for secret in filter(None, hide):
        for spelled in spellings(secret):
            pieces.add(spelled)
            if len(secret) >= LONG_SECRET:
                pieces.update(spelled[i:i + PIECE] for i in range(len(spelled) - PIECE + 1))
    return frozenset(pieces)


def _longest(hide: tuple[str, ...]) -> int:
    return max(map(len, _pieces(hide)), default=0)


def spellings(secret: str) -> set[str]:
    """Every form of `secret` that redaction looks for (see the module docstring)."""
    forms = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             repr(secret)[1:-1], repr(secret.encode())[2:-1],
             repr(secret.encode("latin-1", "replace"))[2:-1]}
    forms |= {form.replace("/", "\\/") for form in forms}
    forms |= {_PERCENT.sub(lambda hexed: hexed.group().lower(), form) for form in forms}
    forms |= _base64_forms(secret.encode())
    return {form for form in forms if form}


def _base64_forms(secret: bytes) -> set[str]:
    """Base64 of ':key', 'key:' and 'key', and, for a key after any prefix, the characters that
    depend on the key's bits alone (the first and last few mix in their neighbours' bits)."""
    whole = {base64.b64encode(b":" + secret), base64.b64encode(secret + b":"), base64.b64encode(secret)}
    forms = {form.decode() for form in whole}
    for offset in range(3):
        padded = b"\0" * offset + secret + b"\0" * (-(offset + len(secret)) % 3)
        lead, trail = (0, 2, 3)[offset], (0, 3, 2)[(offset + len(secret)) % 3]
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(padded).decode()[lead:]
            forms.add(core[:len(core) - trail])
    return {form for form in forms if len(form) >= PIECE}
