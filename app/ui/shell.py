"""The app shell's content (browser): the projects list (or its empty state), the footer
version, and the notice bar for messages that need the user (another tab upgraded the vault).

    shell.render(js.document, version="0.1.0", projects=[])
    shell.show_notice(js.document, "SceneVault was updated in another tab. Reload.")
"""

from datetime import datetime, timezone

from app.ui.dom import el, replace_children

EMPTY_TITLE = "No projects yet"
EMPTY_TEXT = (
    "Projects you create appear here, with their thumbnails, characters, scenes, clips and "
    "narration. Every file stays in this browser's storage on this device: nothing is uploaded."
)


def render(document, version: str, projects: list) -> None:
    """Fill the view with the projects (or the empty state) and show the version."""
    document.getElementById("app-version").textContent = version
    body = _project_list(document, projects) if projects else _empty_state(document)
    replace_children(document.getElementById("view"), _header(document), body)


def show_notice(document, message: str) -> None:
    """A persistent bar at the top of the page with `message` and a Reload button."""
    reload_button = el(document, "button", {"type": "button", "class": "notice-action"}, "Reload")
    reload_button.addEventListener("click", _reload_proxy())
    notice = el(document, "div", {"class": "notice", "role": "alert", "id": "notice"},
                el(document, "span", {}, message), reload_button)
    existing = document.getElementById("notice")
    if existing:
        existing.replaceWith(notice)
    else:
        document.getElementById("notices").append(notice)


def _reload_proxy():
    import js
    from pyodide.ffi import create_proxy

    return create_proxy(lambda _event: js.location.reload())


def _header(document):
    return el(document, "div", {"class": "view-header"}, el(document, "h1", {}, "Projects"))


def _empty_state(document):
    icon = el(document, "img", {"src": "static/icons/icon.svg", "alt": "", "width": 56,
                                "height": 56, "class": "empty-state-icon"})
    return el(document, "section", {"class": "empty-state", "data-testid": "empty-projects"},
              icon, el(document, "h2", {}, EMPTY_TITLE), el(document, "p", {}, EMPTY_TEXT))


def _project_list(document, projects: list):
    cards = [_project_card(document, project) for project in projects]
    return el(document, "ul", {"class": "project-list", "aria-label": "Projects"}, *cards)


def _project_card(document, project):
    changed = datetime.fromtimestamp(project.updated_at / 1000, tz=timezone.utc)
    return el(document, "li", {"class": "project-card", "data-project-id": project.id},
              el(document, "h2", {}, project.title),
              el(document, "p", {"class": "muted"}, project.description or "No description"),
              el(document, "p", {"class": "muted small"},
                 f"Last change {changed:%Y-%m-%d %H:%M} UTC"))
