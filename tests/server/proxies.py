"""Fixtures for the generation tests: provider stand-ins and server.py processes pointed at them.

Import the fixtures into a test module (`from proxies import proxy, standins, fresh  # noqa`).
`standins` runs one stand-in per API plus a CDN on 127.0.0.1 and a forbidden host on 127.0.0.2
(it must never be hit); `proxy` is a real server.py child configured, through SCENEVAULT_*
variables, to use them all; `fresh` resets every stand-in's routes and records before a test.

    def test_x(proxy, fresh):
        status, headers, body = post_generate(proxy, {"kind": "image", "prompt": "fox"})
"""

from __future__ import annotations

import http.client
import json
from types import SimpleNamespace

import pytest
from conftest import ROOT, RunningServer, start_server
from standins import StandIn, a1111_routes, cdn_routes, fal_routes, openai_routes

OPENAI_KEY = "sk-test-OPENAI-5e1f0c0ffee0123456789"
FAL_KEY = "fal-test-KEY-9a8b7c6d5e4f3a2b1c0d"
TIMEOUT_S = 2


def provider_env(standins: SimpleNamespace, **overrides: str) -> dict[str, str]:
    """SCENEVAULT_* settings that point every provider at its stand-in."""
    return {
        "SCENEVAULT_OPENAI_BASE_URL": standins.openai.url,
        "SCENEVAULT_OPENAI_API_KEY": OPENAI_KEY,
        "SCENEVAULT_A1111_URL": standins.a1111.url,
        "SCENEVAULT_A1111_MODELS": "sd_xl_base_1.0",
        "SCENEVAULT_FAL_BASE_URL": standins.fal.url,
        "SCENEVAULT_FAL_KEY": FAL_KEY,
        "SCENEVAULT_FAL_DOWNLOAD_HOSTS": f"127.0.0.1:{standins.cdn.server_address[1]}",
        "SCENEVAULT_PROVIDER_TIMEOUT_S": str(TIMEOUT_S),
        "SCENEVAULT_MAX_MEDIA_BYTES": str(3 * 1024 * 1024),
        "SCENEVAULT_MAX_CONCURRENT": "8",
        **overrides,
    }


@pytest.fixture(scope="module")
def standins():
    with StandIn() as openai, StandIn() as a1111, StandIn() as fal, StandIn() as cdn, \
            StandIn("127.0.0.2") as forbidden:
        yield SimpleNamespace(openai=openai, a1111=a1111, fal=fal, cdn=cdn, forbidden=forbidden)


@pytest.fixture
def fresh(standins):
    """Every stand-in back to its documented behaviour, with nothing recorded."""
    cdn_url = f"{standins.cdn.url}/files/result.png"
    defaults = {"openai": openai_routes(), "a1111": a1111_routes(), "cdn": cdn_routes(),
                "fal": fal_routes(standins.fal, lambda: cdn_url), "forbidden": cdn_routes()}
    for name, routes in defaults.items():
        standin = getattr(standins, name)
        standin.reset()
        standin.routes.clear()
        standin.routes.update(routes)
    yield standins
    for name in defaults:
        getattr(standins, name).release.set()


@pytest.fixture(scope="module")
def proxy(standins, tmp_path_factory) -> RunningServer:
    """server.py with every provider configured against the stand-ins (logging every request)."""
    running = start_server(ROOT, tmp_path_factory.mktemp("proxy") / "server.log",
                           env=provider_env(standins))
    yield running
    running.stop()


def post_generate(server: RunningServer, body, timeout: float = 30) -> tuple[int, http.client.HTTPMessage, bytes]:
    """POST /api/generate; return status, headers and the raw body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("POST", "/api/generate", body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def error_of(status: int, headers, body: bytes, expected_status: int, code: str) -> str:
    """Assert a JSON error with this status and code; return its message."""
    assert status == expected_status, body[:300]
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == code, error
    return error["message"]


def recipe_of(headers) -> dict:
    header = headers["X-SceneVault-Recipe"]
    assert header.isascii()
    return json.loads(header)
