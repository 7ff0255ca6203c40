"""The page shell's fixed parts (browser): the footer version, and the notice bar for messages
that need a reload (another tab upgraded the vault).

    shell.show_version(js.document, "0.1.0")
    shell.show_notice(js.document, "SceneVault was updated in another tab. Reload.")
"""

import js
from pyodide.ffi import create_proxy

from app.ui.parts.dom import el


def show_version(document, version: str) -> None:
    document.getElementById("app-version").textContent = version


def show_notice(document, message: str) -> None:
    """A persistent role=alert bar at the top of the page with `message` and a Reload button."""
    reload_button = el(document, "button", {"type": "button", "class": "notice-action"}, "Reload")
    reload_button.addEventListener("click", create_proxy(lambda _event: js.location.reload()))
    notice = el(document, "div", {"class": "notice notice-error", "role": "alert", "id": "notice"},
                el(document, "span", {}, message), reload_button)
    existing = document.getElementById("notice")
    if existing:
        existing.replaceWith(notice)
    else:
        document.getElementById("notices").append(notice)
