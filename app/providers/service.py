"""Running a generation (server-only): validate, cap concurrency, enforce the deadline, label.

Owns the path from a request body to media that may leave the proxy:
1. `app.recipe.validate_request` checks the body against the catalog; a missing seed is chosen
   here (`secrets`), so the effective recipe always has one;
2. a non-blocking semaphore admits at most `max_concurrent` generations (else ProviderBusy);
3. the provider runs in a worker thread that holds the slot until it really ends; the caller
   waits at most `timeout_s` plus a short grace (else ProviderTimeout), and the provider's own
   I/O gives up at `timeout_s` (`transport.Deadline`);
4. the bytes are sniffed (not trusted by label), the effective recipe is re-validated, and every
   PNG gets its A1111 `parameters` text and `scenevault:recipe` iTXt (`app.pngmeta`).
Anything unexpected a provider raises becomes a ProviderError; nothing here logs a key.

    service = GenerationService(settings)
    media = service.generate({"kind": "image", "prompt": "a fox"})
    media.mime_type, media.recipe.seed
"""

from __future__ import annotations

import sys
import threading
import traceback
from concurrent.futures import Future

from app.errors import (PngError, ProviderBusy, ProviderError, ProviderTimeout, RecipeError,
                        SceneVaultError)
from app.pngmeta import embed_recipe
from app.providers import ProviderSettings, build_providers
from app.providers.base import GeneratedMedia, Provider, sniff_media
from app.providers.transport import Deadline, redact
from app.recipe import Catalog, Recipe, validate_request, with_chosen_seed

GRACE_S = 0.5


class GenerationService:
    """The providers, the concurrency cap and the deadline: what POST /api/generate runs."""

    def __init__(self, settings: ProviderSettings, providers: dict[str, Provider] | None = None):
        self.settings = settings
        self.providers = providers if providers is not None else build_providers(settings)
        self._slots = threading.BoundedSemaphore(settings.max_concurrent)

    def catalog(self) -> Catalog:
        return Catalog(self.settings.default, tuple(p.spec() for p in self.providers.values()))

    def generate(self, body: dict) -> GeneratedMedia:
        """Media for a request body. Raises RecipeError (bad input), ProviderBusy, ProviderTimeout
        or ProviderError."""
        recipe = with_chosen_seed(validate_request(body, self.catalog()))
        media = self._run(self.providers[recipe.provider], recipe)
        return finish(media, recipe.provider, self.settings.max_media_bytes)

    def _run(self, provider: Provider, recipe: Recipe) -> GeneratedMedia:
        if not self._slots.acquire(blocking=False):
            raise ProviderBusy(f"{self.settings.max_concurrent} generations are already running; "
                               "try again in a moment")
        future: Future = Future()
        worker = threading.Thread(target=self._work, args=(provider, recipe, future), daemon=True,
                                  name=f"generate-{provider.name}")
        try:
            worker.start()
        except RuntimeError:
            self._slots.release()
            raise ProviderError("the server could not start a generation thread") from None
        try:
            return future.result(timeout=self.settings.timeout_s + GRACE_S)
        except TimeoutError:
            raise ProviderTimeout(f"The {provider.name} provider did not answer within "
                                  f"{self.settings.timeout_s:g} s") from None

    def _work(self, provider: Provider, recipe: Recipe, future: Future) -> None:
        try:
            future.set_result(provider.generate(recipe, Deadline(self.settings.timeout_s)))
        except SceneVaultError as exc:
            future.set_exception(exc)
        except Exception as exc:  # a provider's bug or an answer it did not expect: 502, logged
            self._log_unexpected(provider, exc)
            future.set_exception(ProviderError(f"{provider.name} failed unexpectedly "
                                               f"({type(exc).__name__})"))
        finally:
            self._slots.release()

    def _log_unexpected(self, provider: Provider, exc: Exception) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        print(f"provider {provider.name} raised:\n{redact(text, self.settings.secrets)}",
              file=sys.stderr, flush=True)


def finish(media: GeneratedMedia, what: str, max_bytes: int) -> GeneratedMedia:
    """Check the size, the bytes' real type and the effective recipe; label a PNG with its recipe."""
    if len(media.data) > max_bytes:
        raise ProviderError(f"{what} answered {len(media.data)} bytes, over the {max_bytes}-byte cap")
    mime_type = sniff_media(media.data, media.recipe.kind, what)
    try:
        recipe = Recipe.from_dict(media.recipe.to_dict())
    except RecipeError as exc:
        raise ProviderError(f"{what} answered with an invalid recipe: {exc}") from None
    data = media.data
    if mime_type == "image/png":
        try:
            data = embed_recipe(data, recipe.to_dict())
        except PngError as exc:
            raise ProviderError(f"{what} answered a broken PNG: {exc}") from None
    return GeneratedMedia(data, mime_type, recipe)
