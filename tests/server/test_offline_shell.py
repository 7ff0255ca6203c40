"""server.py and the installable, offline shell: the service worker may control the whole app
(`Service-Worker-Allowed: /`), the manifest has its MIME type and what Chromium needs to call the
app installable, and every icon it lists is a real PNG of the size it claims."""

import http.client
import json
import struct
from pathlib import Path
from urllib.parse import urljoin

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "/static/manifest.webmanifest"
PNG_ICONS = [icon for icon in json.loads((ROOT / MANIFEST.lstrip("/")).read_text())["icons"]
             if icon["type"] == "image/png"]


def get(server, path, connection=None):
    conn = connection or http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if connection is None:
        conn.close()
    return response.status, response.headers, body


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_worker_may_control_the_whole_app(server):
    status, headers, body = get(server, "/static/sw.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript"
    assert headers["Service-Worker-Allowed"] == "/"
    assert b"skip-waiting" in body


def test_only_the_worker_gets_the_root_scope_even_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        assert get(server, "/static/sw.js", conn)[1]["Service-Worker-Allowed"] == "/"
        for path in ("/static/js/offline.js", "/api/health", "/nope"):
            assert "Service-Worker-Allowed" not in get(server, path, conn)[1], path
    finally:
        conn.close()


def test_the_manifest_is_served_as_a_web_app_manifest(server):
    status, headers, body = get(server, MANIFEST)
    assert status == 200 and headers["Content-Type"] == "application/manifest+json"
    manifest = json.loads(body)
    base = server.url + MANIFEST.lstrip("/")
    assert manifest["name"] == "SceneVault" and manifest["short_name"]
    assert manifest["display"] == "standalone"
    assert urljoin(base, manifest["start_url"]) == server.url
    assert urljoin(base, manifest["scope"]) == server.url
    assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith("#")


def test_the_manifest_offers_192_and_512_pixel_png_icons():
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in PNG_ICONS}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


@pytest.mark.parametrize("icon", PNG_ICONS, ids=lambda icon: icon["src"])
def test_every_png_icon_is_the_size_it_claims(server, icon):
    status, headers, body = get(server, "/static/" + icon["src"])
    assert status == 200 and headers["Content-Type"] == "image/png"
    width, height = png_size(body)
    assert f"{width}x{height}" == icon["sizes"]


def test_the_page_links_the_manifest_and_the_offline_script(server):
    html = get(server, "/")[2].decode()
    assert '<link rel="manifest" href="static/manifest.webmanifest">' in html
    assert '<script src="static/js/offline.js" defer></script>' in html
    assert '<meta name="theme-color"' in html
