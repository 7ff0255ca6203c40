"""Fetching a provider's result URL safely (server-only): the SSRF rules in one place.

A temporary result URL comes from the provider's answer, so it is untrusted. `fetch_result`
fetches it only when:
- the scheme is http or https (file:, data:, ftp:, gopher: ... are refused);
- its host and port are in the allowlist (`SCENEVAULT_FAL_DOWNLOAD_HOSTS`): an entry without a
  port allows only the scheme's default port;
- the address it connects to is public, unless the allowlist names that IP address literally:
  an allowlisted *name* that resolves to a private, loopback or link-local address is refused
  (DNS rebinding), and the checked address is the one connected to;
- every redirect stays on the same host and port, and is checked again (at most 3);
- the body stays under the size cap while it streams.
No credentials are sent with it: provider keys go only to the provider's own base URL.

    policy = DownloadPolicy.parse("fal.media, v3.fal.media, 127.0.0.1:9000")
    reply = fetch_result(url, policy, deadline=Deadline(60), max_bytes=50 << 20)
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin

from app.errors import ProviderError
from app.providers.transport import DEFAULT_PORTS, Deadline, HttpReply, Target, parse_target, request

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class DownloadPolicy:
    """The hosts (with optional ports) result URLs may be fetched from."""

    hosts: frozenset[tuple[str, int | None]]

    @classmethod
    def parse(cls, text: str) -> DownloadPolicy:
        """'a.example, b.example:8443, 127.0.0.1:9000, [::1]:80' -> a policy."""
        return cls(frozenset(_parse_entry(entry) for entry in text.split(",") if entry.strip()))

    def allows(self, target: Target) -> bool:
        default = target.port == DEFAULT_PORTS[target.scheme]
        return (target.host, target.port) in self.hosts or (default and (target.host, None) in self.hosts)

    def describe(self) -> str:
        return ", ".join(sorted(f"{h}:{p}" if p else h for h, p in self.hosts)) or "no hosts"


def _parse_entry(entry: str) -> tuple[str, int | None]:
    text = entry.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if not host or (port and not port.isdigit()) or "/" in host or "@" in host:
        raise ValueError(f"download host {entry.strip()!r} is not 'host' or 'host:port'")
    return host.rstrip("."), int(port) if port else None


def fetch_result(url: str, policy: DownloadPolicy, *, deadline: Deadline, max_bytes: int) -> HttpReply:
    """GET a provider's result URL under the rules above; a refusal is a ProviderError."""
    current = url
    first = parse_target(url)
    for _ in range(MAX_REDIRECTS + 1):
        target = parse_target(current)
        if (target.host, target.port) != (first.host, first.port):
            raise ProviderError(f"the result URL redirected from {first.origin} to another host "
                                f"({target.origin}); refused")
        address = vetted_address(target, policy)
        reply = request("GET", current, deadline=deadline, max_bytes=max_bytes,
                        headers={"Accept": "image/*, audio/*"}, connect_ip=address)
        if reply.status not in REDIRECTS:
            return reply
        if not reply.header("location"):
            raise ProviderError(f"{target.origin} redirected without a Location")
        current = urljoin(current, reply.header("location"))
    raise ProviderError(f"the result URL redirected more than {MAX_REDIRECTS} times")


def vetted_address(target: Target, policy: DownloadPolicy) -> str:
    """The IP address to connect to for `target`, or a ProviderError saying why not."""
    if not policy.allows(target):
        raise ProviderError(f"the result URL's host {target.origin} is not an allowed download "
                            f"host ({policy.describe()}); set SCENEVAULT_FAL_DOWNLOAD_HOSTS")
    literal = _ip_or_none(target.host)
    if literal is not None:
        return str(literal)  # the allowlist names this address itself: the operator chose it
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError:
        raise ProviderError(f"the result URL's host {target.host} does not resolve") from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        if not is_public(address):
            raise ProviderError(f"the result URL's host {target.host} resolves to {address}, a "
                                "private, loopback or link-local address; refused")
    return addresses[0]


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _ip_or_none(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
