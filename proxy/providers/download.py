"""Fetching a provider's result URL safely (server-only): the SSRF rules in one place.

A temporary result URL comes from the provider's answer, so it is untrusted. `fetch_result`
fetches it only when:
- the scheme is http or https (file:, data:, ftp:, gopher: ... are refused), and the URL parses
  strictly (`transport.parse_target`: no userinfo, a plain host, a port of ASCII digits);
- its host and port are in the allowlist (`SCENEVAULT_FAL_DOWNLOAD_HOSTS`, parsed as strictly):
  an entry without a port allows only the scheme's default port;
- the address it connects to is public (`is_public`), unless the allowlist names that IP address
  literally: an allowlisted *name* that resolves to a private, loopback or link-local address is
  refused (DNS rebinding), and the checked address is the one connected to. An IPv6 address that
  carries an IPv4 address is judged by what it carries (`embedded_ipv4`):

      ::ffff:a.b.c.d  ::ffff:0:a.b.c.d  ::a.b.c.d   mapped, translated, compatible: last 32 bits
      64:ff9b::/96, 64:ff9b:1::/48                  NAT64 (the local-use /48 as a /96): last 32
      2002::/16                                     6to4: bits 16-48
      2001::/32                                     Teredo: refused, whatever it carries (no
                                                    server a provider names sits behind one);
- every redirect stays on the same host and port, and is checked again (at most 3);
- the body stays under the size cap while it streams, and the whole fetch (name lookup
  included) within the generation's deadline.
No credentials are sent with it: provider keys go only to the provider's own base URL.

    policy = DownloadPolicy.parse("fal.media, v3.fal.media, 127.0.0.1:9000")
    reply = fetch_result(url, policy, deadline=Deadline(60), max_bytes=50 << 20)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urljoin

from app.core.errors import ProviderError
from proxy.providers.transport import (DEFAULT_PORTS, Deadline, HttpReply, Target, is_ip, parse_target,
                                      request, resolve, split_host_port)

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
    try:
        return split_host_port(entry.strip())
    except ValueError as exc:
        raise ValueError(f"download host {entry.strip()!r} is not 'host' or 'host:port': {exc}") from None


def fetch_result(url: str, policy: DownloadPolicy, *, deadline: Deadline, max_bytes: int) -> HttpReply:
    """GET a provider's result URL under the rules above; a refusal is a ProviderError."""
    current = url
    first = parse_target(url)
    for _ in range(MAX_REDIRECTS + 1):
        target = parse_target(current)
        if (target.host, target.port) != (first.host, first.port):
            raise ProviderError(f"the result URL redirected from {first.origin} to another host "
                                f"({target.origin}); refused")
        address = vetted_address(target, policy, deadline)
        reply = request("GET", current, deadline=deadline, max_bytes=max_bytes,
                        headers={"Accept": "image/*, audio/*, video/*"}, connect_ip=address)
        if reply.status not in REDIRECTS:
            return reply
        if not reply.header("location"):
            raise ProviderError(f"{target.origin} redirected without a Location")
        current = urljoin(current, reply.header("location"))
    raise ProviderError(f"the result URL redirected more than {MAX_REDIRECTS} times")


def vetted_address(target: Target, policy: DownloadPolicy, deadline: Deadline) -> str:
    """The IP address to connect to for `target`, or a ProviderError saying why not."""
    if not policy.allows(target):
        raise ProviderError(f"the result URL's host {target.origin} is not an allowed download "
                            f"host ({policy.describe()}); set SCENEVAULT_FAL_DOWNLOAD_HOSTS")
    if is_ip(target.host):
        return target.host  # the allowlist names this address itself: the operator chose it
    try:
        addresses = [info[4][0] for info in resolve(target.host, target.port, deadline)]
    except OSError:
        raise ProviderError(f"the result URL's host {target.host} does not resolve") from None
    for address in addresses:
        if not is_public(address):
            raise ProviderError(f"the result URL's host {target.host} resolves to {address}, a "
                                "private, loopback or link-local address; refused")
    return addresses[0]


IPV4_IN_LAST_32 = tuple(ipaddress.ip_network(net) for net in (
    "::ffff:0:0/96",    # IPv4-mapped
    "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
    "::/96",            # IPv4-compatible (deprecated); also :: and ::1, judged as 0.0.0.x
    "64:ff9b::/96",     # NAT64, well-known prefix
    "64:ff9b:1::/48",   # NAT64, local-use prefix, taken as used with a /96
))
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")


def is_public(address: str) -> bool:
    """True for a globally routable unicast address; an IPv6 address that carries an IPv4 address
    is judged by the IPv4 address, and a Teredo address is never public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in TEREDO:
            return False
        carried = embedded_ipv4(ip)
        ip = carried if carried is not None else ip
    return ip.is_global and not ip.is_multicast


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address `ip` carries (mapped, translated, compatible, NAT64, 6to4), or None."""
    if any(ip in net for net in IPV4_IN_LAST_32):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in SIX_TO_FOUR:
        return ipaddress.IPv4Address(int(ip) >> 80 & 0xFFFFFFFF)
    return None

