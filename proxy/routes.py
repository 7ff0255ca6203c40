"""The JSON API (server-only): `GET /api/health`, `GET /api/providers`, `POST /api/generate`.

Each route takes the handler (and the parsed body for POST) and returns (status, JSON) or the
generated media; generation faults map to HTTP here (400, 429, 502, 504). Generation itself is
proxy/providers/runner.py.

    API_ROUTES["/api/generate"]["POST"](handler, {"kind": "image", "prompt": "a fox"})
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.errors import ProviderBusy, ProviderError, ProviderTimeout, RecipeError
from app.core.version import __version__
from proxy.guards import RequestRefused
from proxy.providers.base import GeneratedMedia

if TYPE_CHECKING:
    from proxy.handler import SceneVaultHandler

# Generation failures -> (status, error code); the first matching class wins.
GENERATION_FAULTS = ((RecipeError, 400, None), (ProviderBusy, 429, "too_many_requests"),
                     (ProviderTimeout, 504, "provider_timeout"), (ProviderError, 502, "provider_failed"))


def handle_health(handler: SceneVaultHandler) -> tuple[int, dict]:
    return 200, {"ok": True, "version": __version__}


def handle_providers(handler: SceneVaultHandler) -> tuple[int, dict]:
    return 200, handler.server.generation.catalog().to_dict()


def handle_generate(handler: SceneVaultHandler, body: dict) -> GeneratedMedia:
    """Run one generation (proxy/providers/runner.py); its faults become JSON errors."""
    try:
        return handler.server.generation.generate(body)
    except (RecipeError, ProviderError) as exc:
        status, code = next((s, c) for kind, s, c in GENERATION_FAULTS if isinstance(exc, kind))
        raise RequestRefused(status, code or exc.code, str(exc)) from None


API_ROUTES = {
    "/api/health": {"GET": handle_health},
    "/api/providers": {"GET": handle_providers},
    "/api/generate": {"POST": handle_generate},
}
