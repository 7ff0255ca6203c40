"""The request guards (server-only, pure): strict Host and framing, and JSON bodies.

Host is parsed strictly (`parse_host`: a name or an IP literal, a port of digits only, no
userinfo), against DNS rebinding; framing is checked as h11 does it (`request_body_length`,
`check_header_block`): Content-Length is plain ASCII digits and appears at most once,
Transfer-Encoding is refused, and a head the parser could misread is refused. API bodies are
JSON objects no deeper than MAX_JSON_DEPTH (`json_too_deep`, one linear scan), with NaN and
Infinity refused. Every refusal is a `RequestRefused(status, code, message)`.

    parse_host("127.0.0.1:8000")        # ("127.0.0.1", 8000)
    parse_host("user@127.0.0.1")        # None: refused
"""

from __future__ import annotations

import email.errors
import ipaddress
import json
import re
import sys

MAX_JSON_DEPTH = 64  # deeper API bodies are refused before json.loads could recurse
MAX_HEAD_BYTES = 64 * 1024  # request line and headers together; more is 431
ERROR_CODES = {
    400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    408: "request_timeout", 411: "length_required", 413: "body_too_large", 414: "uri_too_long",
    415: "unsupported_media_type", 429: "too_many_requests", 431: "headers_too_large",
    500: "internal_error", 501: "not_implemented", 502: "provider_failed",
    503: "server_busy", 504: "provider_timeout", 505: "http_version_not_supported",
}


class RequestRefused(Exception):
    """A request the server turns down: carries the HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_HOST_RE = re.compile(r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?))"
                      r"(?::(?P<port>[0-9]{1,5}))?")
_DIGITS = re.compile(r"[0-9]+")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# What email's parser records when a line in the head is not a header (it drops such lines).
_HEAD_DEFECTS = (email.errors.MissingHeaderBodySeparatorDefect, email.errors.InvalidHeaderDefect,
                 email.errors.FirstHeaderLineIsContinuationDefect)


def normalize_hostname(host: str) -> str:
    """'LocalHost.' -> 'localhost', '[::1]' -> '::1'."""
    return host.strip().strip("[]").rstrip(".").lower()


def parse_host(value: str) -> tuple[str, int | None] | None:
    """A Host header (or an origin's host part) as (lowercased name, port or None), or None when
    it is anything but a DNS name, IPv4 address or [IPv6] literal with an optional 1-5 digit port:
    'LocalHost:8000' -> ('localhost', 8000); 'user@127.0.0.1', '::1', '[localhost]', 'a:+1' -> None.
    """
    match = _HOST_RE.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port <= 65535:
        return None
    if match["ip6"] is None:
        return match["name"].lower(), port
    try:
        return str(ipaddress.IPv6Address(match["ip6"])), port
    except ValueError:
        return None


def origin_of(host: tuple[str, int | None]) -> str:
    """The origin a browser sends for a page served under this Host: ('::1', 80) -> 'http://[::1]'."""
    name, port = host
    shown = f"[{name}]" if ":" in name else name
    return f"http://{shown}" + (f":{port}" if port not in (None, 80) else "")


def request_body_length(headers) -> int | None:
    """The body's length from its one Content-Length, or None when there is none.

    Refuses (400 bad_framing) any framing that two parsers could read differently: a
    Transfer-Encoding of any value, a repeated Content-Length, or one that is not plain ASCII
    digits ('+5', '-0', '0x10', '1_0', '٣').
    """
    if headers.get_all("Transfer-Encoding"):
        raise RequestRefused(400, "bad_framing",
                             "Transfer-Encoding is not supported; send a Content-Length")
    lengths = headers.get_all("Content-Length") or []
    if len(lengths) > 1:
        raise RequestRefused(400, "bad_framing", f"Content-Length appears {len(lengths)} times")
    if not lengths:
        return None
    value = lengths[0].strip(" \t")
    if not _DIGITS.fullmatch(value):
        raise RequestRefused(400, "bad_framing",
                             f"Content-Length {lengths[0]!r} is not a whole number of bytes")
    return int(value) if len(value) < 19 else sys.maxsize


def check_header_block(headers) -> None:
    """Refuse (400 bad_header) a head with a line that is not a header, a folded or malformed
    header, or control characters: what one parser skips, another may read."""
    if any(isinstance(defect, _HEAD_DEFECTS) for defect in headers.defects):
        raise RequestRefused(400, "bad_header", "The request head has a line that is not a header")
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise RequestRefused(400, "bad_header", f"The header {name!r} is malformed")


def bad_charset(params: str) -> bool:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return True
    return False


# A string (an unrolled loop: runs of plain characters between escapes, linear and fast on a
# frame's megabytes of base64), or a bracket.
_JSON_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[{\]}]', re.DOTALL)


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than `limit`; one linear scan, no recursion."""
    depth = 0
    for match in _JSON_NESTING.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def parse_json_object(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
        if json_too_deep(text):
            raise ValueError(f"it nests deeper than {MAX_JSON_DEPTH} levels")
        value = json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RequestRefused(400, "bad_json", f"The body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RequestRefused(400, "bad_json",
                             f"The body must be a JSON object, not {type(value).__name__}")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")
