"""Running a generation (server-only): validate, cap concurrency, enforce the deadline, label.

Owns the path from a request body to media that may leave the proxy:
1. `app.core.recipe.validate_request` checks the body against the catalog (clips are refused here:
   they are jobs, proxy/jobs.py); a missing seed is chosen here (`secrets`), so the effective
   recipe always has one;
2. a non-blocking semaphore (`slots`, shared with the clip jobs) admits at most `max_concurrent`
   generations (else ProviderBusy);
3. the provider runs in a worker thread with one `transport.Deadline` of `timeout_s`, which
   bounds its whole exchange with the upstream (the transport's watchdog cuts a socket at the
   deadline, so a provider blocked in I/O returns then). The caller waits for the worker at most
   until the deadline plus GRACE_S (else ProviderTimeout);
4. the bytes are sniffed (not trusted by label), the effective recipe is re-validated, and every
   PNG gets its A1111 `parameters` text and `scenevault:recipe` iTXt (`app.core.pngmeta`).

The slot is the caller's: taken before the worker starts and given back when the caller stops
waiting, on every path (an answer, a ProviderError, a timeout, an unexpected exception, a thread
that cannot start), so no later than the deadline plus GRACE_S. A worker stuck past that outside
the transport (a provider bug) is logged and left to end in its daemon thread, its answer
dropped; it no longer holds a slot. Anything unexpected a provider raises becomes a
ProviderError, and every message and log line is scrubbed of keys (`redaction`) and kept to one
line.

    service = ProviderRunner(settings)
    media = service.generate({"kind": "image", "prompt": "a fox"})
    media.mime_type, media.recipe.seed
"""

from __future__ import annotations

import sys
import threading
import traceback
from concurrent.futures import Future
from typing import Iterable

from app.core.errors import (PngError, ProviderBusy, ProviderError, ProviderTimeout, RecipeError,
                        SceneVaultError)
from app.core.pngmeta import embed_recipe
from proxy.providers import ProviderSettings, build_providers
from proxy.providers.base import GeneratedMedia, Provider, sniff_media
from proxy.providers.redaction import redact, scrub
from proxy.providers.transport import Deadline
from app.core.recipe import Catalog, Recipe, validate_request, with_chosen_seed

GRACE_S = 0.5


class ProviderRunner:
    """The providers, the concurrency cap and the deadline: what POST /api/generate runs."""

    def __init__(self, settings: ProviderSettings, providers: dict[str, Provider] | None = None):
        self.settings = settings
        self.providers = providers if providers is not None else build_providers(settings)
        self.slots = threading.BoundedSemaphore(settings.max_concurrent)

    def catalog(self, default: str | None = None) -> Catalog:
        """The listed providers (GET /api/providers); `default` replaces the configured default."""
        return Catalog(default or self.settings.default,
                       tuple(p.spec() for p in self.providers.values() if p.listed))

    def generate(self, body: dict) -> GeneratedMedia:
        """Media for a request body. Raises RecipeError (bad input), ProviderBusy, ProviderTimeout
        or ProviderError."""
        if isinstance(body, dict) and body.get("kind") == "clip":
            raise RecipeError("a clip takes minutes: start it with POST /api/jobs (with its frame), "
                              "not POST /api/generate", "kind")
        recipe = with_chosen_seed(validate_request(body, self.catalog()))
        media = self._run(self.providers[recipe.provider], recipe)
        return finish(media, recipe.provider, self.settings.max_media_bytes)

    def _run(self, provider: Provider, recipe: Recipe) -> GeneratedMedia:
        if not self.slots.acquire(blocking=False):
            raise ProviderBusy(f"{self.settings.max_concurrent} generations are already running; "
                               "try again in a moment")
        try:
            return self._wait_for(provider, recipe, Deadline(self.settings.timeout_s))
        except ProviderError as exc:
            raise type(exc)(scrub(str(exc), self.settings.secrets)) from None
        finally:
            self.slots.release()

    def _wait_for(self, provider: Provider, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        future: Future = Future()
        worker = threading.Thread(target=self._work, args=(provider, recipe, deadline, future),
                                  daemon=True, name=f"generate-{provider.name}")
        try:
            worker.start()
        except RuntimeError:
            raise ProviderError("the server could not start a generation thread") from None
        try:
            return future.result(timeout=deadline.left + GRACE_S)
        except TimeoutError:
            self.log(provider, f"is still running {GRACE_S:g} s after its {deadline.seconds:g} s "
                                "deadline; its slot is freed and its answer will be dropped")
            raise ProviderTimeout(f"The {provider.name} provider did not answer within "
                                  f"{deadline.seconds:g} s") from None

    def _work(self, provider: Provider, recipe: Recipe, deadline: Deadline, future: Future) -> None:
        try:
            future.set_result(provider.generate(recipe, deadline))
        except SceneVaultError as exc:
            future.set_exception(exc)
        except Exception as exc:  # a provider's bug or an answer it did not expect: 502, logged
            self.log_unexpected(provider, exc)
            future.set_exception(ProviderError(f"{provider.name} failed unexpectedly "
                                               f"({type(exc).__name__})"))

    def log_unexpected(self, provider: Provider, exc: Exception) -> None:
        """The traceback, keys masked in every spelling, each line flattened and prefixed."""
        text = redact("".join(traceback.format_exception(exc)), self.settings.secrets)
        self.log(provider, f"raised {type(exc).__name__}:", text.splitlines())

    def log(self, provider: Provider, headline: str, lines: Iterable[str] = ()) -> None:
        prefix = f"provider {provider.name}"
        shown = [f"{prefix} {headline}", *(f"{prefix} | {line}" for line in lines)]
        print("\n".join(scrub(line, self.settings.secrets) for line in shown),
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
