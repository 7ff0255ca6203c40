"""Previews that land while they are on screen (browser): a card shown before its waveform or
poster frame was made (app/store/preview_maker.py) swaps its placeholder for the picture in
place, without re-rendering, once the preview is stored.

`when_preview_lands(vault, scope, sha256, show)` subscribes to the vault's preview maker and
calls `show(url)` once, with an object URL that `scope` owns, or `show(None)` when no preview
can be made (the placeholder stays, neutral). Disposing `scope` unsubscribes.
`placeholder_state(vault, sha256)` is what a placeholder's `data-preview` says meanwhile:
"pending" while the maker has it queued or in hand, "none" otherwise.

    holder = el(doc, "div", {"class": "placeholder", "data-preview": placeholder_state(vault, sha)})
    when_preview_lands(vault, scope, sha, lambda url: holder.replaceWith(img(url)) if url
                       else holder.setAttribute("data-preview", "none"))
"""

from __future__ import annotations

from typing import Callable

from app.ui.parts.dom import Scope


def placeholder_state(vault, sha256: str) -> str:
    return "pending" if vault.preview_maker.is_pending(sha256) else "none"


def when_preview_lands(vault, scope: Scope, sha256: str, show: Callable[[str | None], None]) -> None:
    """Call `show(url_or_None)` once the preview of `sha256` lands (module docstring)."""
    def heard(landed: str, blob) -> None:
        if landed != sha256 or scope.disposed:
            return
        unsubscribe()
        show(None if blob is None else scope.url(blob))

    unsubscribe = vault.preview_maker.subscribe(heard)
    scope.defer(unsubscribe)
