"""The app shell's content (browser): the dashboard's empty state and the footer version.

    shell.render(js.document, version="0.1.0")
"""

from app.ui.dom import el, replace_children

EMPTY_TITLE = "No projects yet"
EMPTY_TEXT = (
    "Projects you create appear here, with their thumbnails, characters, scenes, clips and "
    "narration. Every file stays in this browser's storage on this device: nothing is uploaded."
)


def render(document, version: str) -> None:
    """Fill the view with the (empty) dashboard and show the version in the footer."""
    document.getElementById("app-version").textContent = version
    view = document.getElementById("view")
    replace_children(view, _header(document), _empty_state(document))


def _header(document):
    return el(document, "div", {"class": "view-header"}, el(document, "h1", {}, "Projects"))


def _empty_state(document):
    icon = el(document, "img", {"src": "static/icons/icon.svg", "alt": "", "width": 56,
                                "height": 56, "class": "empty-state-icon"})
    return el(document, "section", {"class": "empty-state", "data-testid": "empty-projects"},
              icon, el(document, "h2", {}, EMPTY_TITLE), el(document, "p", {}, EMPTY_TEXT))
