"""Client of the generation proxy (browser): `GET /api/providers` and `POST /api/generate`.

It uses the browser's asynchronous `fetch`, so the page never freezes while a provider works:
pyodide-http's synchronous XHR would block the main thread for the whole generation. The
media comes back as a JS Blob and goes to the vault as it is; only the recipe header is read
into Python. Every failure becomes a `ProviderError` whose message says what happened and what
to do.

    client = ProxyClient()
    catalog = await client.catalog()
    result = await client.generate({"kind": "image", "prompt": "a lighthouse at dusk"})
    result.blob, result.mime_type, result.recipe          # Blob, "image/png", {"seed": ...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import js
from pyodide.ffi import JsException, to_js

from app.core.errors import ProviderError
from app.core.recipe import Catalog, validate_request

RECIPE_HEADER = "X-SceneVault-Recipe"
ADVICE = {
    400: "Check the highlighted field and try again.",
    413: "Shorten the prompt and try again.",
    429: "Several generations are already running. Wait for one to finish, then try again.",
    502: "Try again, or pick another provider.",
    504: "Try again, or pick another provider.",
}


@dataclass(frozen=True)
class Generated:
    """One result: the media as a JS Blob, its real MIME type, and the effective recipe."""

    blob: object
    mime_type: str
    recipe: dict


class ProxyClient:
    """Talks to server.py's /api/*. `base` is the page's origin unless a test says otherwise."""

    def __init__(self, base: str = ""):
        self.base = base
        self._catalog: Catalog | None = None

    async def catalog(self, refresh: bool = False) -> Catalog:
        """The providers the server offers (cached after the first call)."""
        if self._catalog is None or refresh:
            response = await self._fetch("/api/providers", {"method": "GET"})
            self._catalog = Catalog.from_dict((await response.json()).to_py())
        return self._catalog

    async def generate(self, request: dict) -> Generated:
        """Check `request` with the shared rules, then generate through the proxy."""
        recipe = validate_request(request, await self.catalog())
        body = json.dumps(recipe.to_dict())
        options = {"method": "POST", "body": body,
                   "headers": {"Content-Type": "application/json"}}
        response = await self._fetch("/api/generate", options)
        header = response.headers.get(RECIPE_HEADER)
        if not header:
            raise ProviderError(f"The server answered without the {RECIPE_HEADER} header, so the "
                                "result cannot be reproduced. Nothing was stored. Try again.")
        mime_type = str(response.headers.get("Content-Type") or "").split(";")[0].strip()
        blob = await response.blob()
        return Generated(blob=blob, mime_type=mime_type, recipe=json.loads(header))

    async def _fetch(self, path: str, options: dict):
        try:
            response = await js.fetch(self.base + path,
                                      to_js(options, dict_converter=js.Object.fromEntries))
        except JsException as exc:
            raise ProviderError("Cannot reach the SceneVault server, which generation needs "
                                f"({exc.message}). Start it with `make run`, then try again. "
                                "Your stored files are not affected.") from None
        if not response.ok:
            raise ProviderError(await _error_message(response))
        return response


async def _error_message(response) -> str:
    """A person-readable message from the server's JSON error, with what to do next."""
    status = int(response.status)
    try:
        error = json.loads(await response.text())["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError, JsException):
        message = f"The server answered HTTP {status}"
    advice = ADVICE.get(status, "Try again; if it keeps failing, restart the server.")
    message = message.rstrip(".")
    return f"{message[:1].upper()}{message[1:]}. {advice}"

