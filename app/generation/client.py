"""Client of the generation proxy (browser): `GET /api/providers`, `POST /api/generate`, and the
jobs of slow generations (`/api/jobs`: submit, status, result, discard).

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

from app.core.errors import JobLost, ProviderError
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
        return await _generated(await self._fetch("/api/generate", options))

    # --- jobs: slow generations (clips) that outlive a request ------------------------------------
    async def submit_job(self, recipe: dict, image_data_url: str) -> str:
        """Start a job (`POST /api/jobs`) for a checked recipe and its input frame (a data URL);
        the server's job id."""
        body = json.dumps({**recipe, "image": image_data_url})
        response = await self._fetch("/api/jobs", {"method": "POST", "body": body,
                                                   "headers": {"Content-Type": "application/json"}})
        return str((await response.json()).to_py()["id"])

    async def job_status(self, job_id: str) -> dict:
        """`GET /api/jobs/<id>`: {"status", "progress", "recipe", "error"}; JobLost on 404."""
        response = await self._fetch(f"/api/jobs/{job_id}", {"method": "GET"}, job_id=job_id)
        return (await response.json()).to_py()

    async def job_result(self, job_id: str) -> Generated:
        """`GET /api/jobs/<id>/result`: the media and its effective recipe, like `generate`."""
        response = await self._fetch(f"/api/jobs/{job_id}/result", {"method": "GET"}, job_id=job_id)
        return await _generated(response)

    async def discard_job(self, job_id: str) -> None:
        """`DELETE /api/jobs/<id>`: cancel a running job, or let go of a stored job's result."""
        try:
            await self._fetch(f"/api/jobs/{job_id}", {"method": "DELETE"}, job_id=job_id)
        except JobLost:
            pass  # already gone: nothing to cancel or keep

    async def _fetch(self, path: str, options: dict, job_id: str | None = None):
        try:
            response = await js.fetch(self.base + path,
                                      to_js(options, dict_converter=js.Object.fromEntries))
        except JsException as exc:
            raise ProviderError("Cannot reach the SceneVault server, which generation needs "
                                f"({exc.message}). Start it with `make run`, then try again. "
                                "Your stored files are not affected.") from None
        if job_id is not None and int(response.status) == 404:
            raise JobLost(f"The server no longer knows job {job_id} (it was restarted, or the "
                          "result expired after an hour). Its recipe is kept: generate it again.")
        if not response.ok:
            raise ProviderError(await _error_message(response))
        return response


async def _generated(response) -> Generated:
    """The media, its real type and the recipe header of a successful generation answer."""
    header = response.headers.get(RECIPE_HEADER)
    if not header:
        raise ProviderError(f"The server answered without the {RECIPE_HEADER} header, so the "
                            "result cannot be reproduced. Nothing was stored. Try again.")
    mime_type = str(response.headers.get("Content-Type") or "").split(";")[0].strip()
    blob = await response.blob()
    return Generated(blob=blob, mime_type=mime_type, recipe=json.loads(header))


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

