"""The SSRF rules for provider result URLs (proxy/providers/download.py) and the transport's strict
URL and media checks, without sockets except loopback name resolution. Nothing here connects to
the addresses it classifies."""

import re
import time

import pytest

from app.core.errors import ProviderError, ProviderTimeout
from proxy.providers.base import decode_base64, sniff_media
from proxy.providers.download import DownloadPolicy, is_public, vetted_address
from proxy.providers.transport import Deadline, parse_target


@pytest.mark.parametrize("text, hosts", [
    ("fal.media", {("fal.media", None)}),
    (" Fal.Media. , v3.fal.media:8443 ", {("fal.media", None), ("v3.fal.media", 8443)}),
    ("127.0.0.1:9000,[::1]:8080,[::1]", {("127.0.0.1", 9000), ("::1", 8080), ("::1", None)}),
    ("", set()),
])
def test_the_allowlist_parses_hosts_with_optional_ports(text, hosts):
    assert DownloadPolicy.parse(text).hosts == hosts


@pytest.mark.parametrize("entry", ["fal.media:https", "http://fal.media", "fal.media/files",
                                   "user@fal.media", ":443", "fal.media:+443", "fal.media:4_43",
                                   "fal.media: 443", "fal.media:\u0664\u0664\u0663", "fal.media:\u00b2",
                                   "fal.media:0", "fal.media:65536", "fal.media:", "[::1]junk",
                                   "[::1]:", "[::1", "::1", "[fal.media]:443", "fal media", "fal.me\ndia"])
def test_a_malformed_allowlist_entry_is_refused_by_name(entry):
    with pytest.raises(ValueError, match=re.escape(f"download host {entry.strip()!r}")):
        DownloadPolicy.parse(entry)


@pytest.mark.parametrize("url, allowed", [
    ("https://fal.media/files/a.png", True),
    ("https://fal.media:443/files/a.png", True),
    ("http://fal.media/files/a.png", True),
    ("https://fal.media:8443/files/a.png", False),  # no port listed: only the default port
    ("https://evil.fal.media/files/a.png", False),
    ("https://fal.media.evil.example/a.png", False),
    ("http://127.0.0.1:9000/a.png", True),
    ("http://127.0.0.1:9001/a.png", False),
    ("http://127.0.0.2:9000/a.png", False),
])
def test_the_allowlist_matches_host_and_port_exactly(url, allowed):
    policy = DownloadPolicy.parse("fal.media, 127.0.0.1:9000")
    assert policy.allows(parse_target(url)) is allowed


def test_a_host_off_the_allowlist_is_refused_before_any_lookup():
    with pytest.raises(ProviderError, match="SCENEVAULT_FAL_DOWNLOAD_HOSTS"):
        vetted_address(parse_target("http://127.0.0.2:9000/x"), DownloadPolicy.parse("127.0.0.1:9000"),
                       Deadline(5))


def test_an_allowlisted_ip_literal_is_trusted_as_written():
    assert vetted_address(parse_target("http://127.0.0.1:9000/x"),
                          DownloadPolicy.parse("127.0.0.1:9000"), Deadline(5)) == "127.0.0.1"


def test_an_allowlisted_name_that_resolves_to_loopback_is_refused():
    with pytest.raises(ProviderError, match="loopback"):
        vetted_address(parse_target("http://localhost:9000/x"), DownloadPolicy.parse("localhost:9000"),
                       Deadline(5))


# Classification only: these strings are checked with `ipaddress`, nothing connects to them.
@pytest.mark.parametrize("address, public", [
    ("127.0.0.1", False), ("127.0.0.2", False), ("10.1.2.3", False), ("172.16.0.1", False),
    ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False),
    ("224.0.0.1", False), ("::1", False), ("fe80::1", False), ("fc00::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False),
    ("8.8.8.8", True), ("1.1.1.1", True), ("2606:4700:4700::1111", True), ("::ffff:8.8.8.8", True),
])
def test_private_loopback_and_link_local_addresses_are_not_public(address, public):
    assert is_public(address) is public


# IPv6 addresses that carry an IPv4 address are judged by the one they carry.
@pytest.mark.parametrize("address, public", [
    ("64:ff9b::127.0.0.1", False), ("64:ff9b::10.0.0.1", False),  # NAT64, well-known /96
    ("64:ff9b::169.254.169.254", False), ("64:ff9b::192.168.0.1", False), ("64:ff9b::8.8.8.8", True),
    ("64:ff9b:1::127.0.0.1", False), ("64:ff9b:1::10.0.0.1", False),  # NAT64, local-use /48
    ("64:ff9b:1:abcd::a9fe:a9fe", False), ("64:ff9b:1::8.8.8.8", True),
    ("2002:7f00:1::1", False), ("2002:a00:1::", False), ("2002:a9fe:a9fe:1::1", False),  # 6to4
    ("2002:c0a8:101::1", False), ("2002:6440:1::1", False), ("2002:808:808::1", True),
    ("::127.0.0.1", False), ("::10.0.0.1", False), ("::169.254.169.254", False),  # IPv4-compatible
    ("::8.8.8.8", True), ("::", False),
    ("::ffff:0:10.0.0.1", False), ("::ffff:0:127.0.0.1", False), ("::ffff:0:8.8.8.8", True),  # SIIT
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo: client 10.0.0.1 (inverted) ...
    ("2001:0:a00:1::f7f7:f7f7", False),               # ... server 10.0.0.1 ...
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", False),  # ... or both public: Teredo is refused
    ("2001:4860:4860::8888", True),  # 2001::/16 outside Teredo's /32 is ordinary
])
def test_an_ipv6_address_is_judged_by_the_ipv4_address_it_carries(address, public):
    assert is_public(address) is public


@pytest.mark.parametrize("url, fragment", [
    ("http://fal.media:+80/a.png", "port '+80'"), ("http://fal.media:8_0/a.png", "port '8_0'"),
    ("http://fal.media:0/a.png", "port '0'"), ("http://fal.media:/a.png", "port ''"),
    ("http://fal.media:\u0668\u0660/a.png", "non-ASCII"), ("http://fal.me dia/a.png", "space"),
    ("http://fal.me\tdia/a.png", "control"), ("http://fal.media\r\n/a.png", "control"),
    ("http://fal.media/a.png\n", "control"), ("http://[::1]x/a.png", "[IPv6 address]"),
    ("http://fal_media!/a.png", "'fal_media!' is not a plain host name"),
    ("http://" + "a" * 64 + ".example/a.png", "is not a plain host name"),
])
def test_urls_are_parsed_strictly_naming_the_bad_part(url, fragment):
    with pytest.raises(ProviderError, match=re.escape(fragment)):
        parse_target(url)


@pytest.mark.parametrize("url, fragment", [
    ("file:///etc/passwd", "file URL"), ("ftp://fal.media/a.png", "ftp URL"),
    ("gopher://fal.media/", "gopher URL"), ("data:image/png;base64,AAAA", "data URL"),
    ("//fal.media/a.png", "schemeless"), ("http://user:pw@fal.media/a.png", "plain host"),
    ("http://fal.media:99999/a.png", "cannot be parsed"), ("http:///a.png", "plain host"),
])
def test_only_plain_http_and_https_urls_are_accepted(url, fragment):
    with pytest.raises(ProviderError, match=fragment):
        parse_target(url)


def test_targets_carry_the_default_port_and_the_query():
    target = parse_target("https://Fal.Media./files/a.png?sig=1")
    assert (target.host, target.port, target.path, target.origin) == \
        ("fal.media", 443, "/files/a.png?sig=1", "https://fal.media:443")


def test_the_deadline_raises_once_spent():
    deadline = Deadline(0.05)
    assert 0 < deadline.remaining() <= 0.05
    time.sleep(0.06)
    with pytest.raises(ProviderTimeout, match="0.05 s"):
        deadline.remaining()


@pytest.mark.parametrize("data, kind, mime", [
    (b"\x89PNG\r\n\x1a\n....", "image", "image/png"), (b"\xff\xd8\xff\xe0JFIF", "image", "image/jpeg"),
    (b"RIFF\0\0\0\0WEBPVP8 ", "image", "image/webp"), (b"RIFF\0\0\0\0WAVEfmt ", "audio", "audio/wav"),
    (b"ID3\x04\0\0", "audio", "audio/mpeg"), (b"\xff\xfb\x90\x00", "audio", "audio/mpeg"),
    (b"OggS\0\x02", "audio", "audio/ogg"), (b"fLaC\0\0", "audio", "audio/flac"),
])
def test_media_types_come_from_the_bytes(data, kind, mime):
    assert sniff_media(data, kind, "p") == mime


@pytest.mark.parametrize("data, kind", [
    (b"RIFF\0\0\0\0WAVEfmt ", "image"), (b"\x89PNG\r\n\x1a\n", "audio"), (b"<svg xmlns=...>", "image"),
    (b"<html>", "audio"), (b"", "image"),
])
def test_bytes_of_the_wrong_kind_or_no_known_format_are_refused(data, kind):
    with pytest.raises(ProviderError, match=f"not a known {kind} format"):
        sniff_media(data, kind, "p")


def test_base64_answers_are_decoded_strictly():
    assert decode_base64("aGk=", "p") == b"hi"
    assert decode_base64("data:image/png;base64,aGk=", "p") == b"hi"
    for bad in ("a!b", None, "", 5):
        with pytest.raises(ProviderError):
            decode_base64(bad, "p")


def test_https_to_a_plain_http_server_fails_as_a_provider_error():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from proxy.providers.transport import request

    plain = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ProviderError, match="could not be reached or broke off"):
            request("GET", f"https://127.0.0.1:{plain.server_address[1]}/x", deadline=Deadline(5),
                    max_bytes=1000)
    finally:
        plain.shutdown()
        plain.server_close()
