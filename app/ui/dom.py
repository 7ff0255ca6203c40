"""Tiny DOM builder (browser): create elements with attributes and children from Python.

Text always goes in as text nodes, never as HTML, so user data cannot inject markup.

    from app.ui.dom import el
    card = el(document, "section", {"class": "card"}, el(document, "h2", {}, "Title"))
"""


def el(document, tag: str, attrs: dict | None = None, *children):
    """Return a new `tag` element with `attrs` set and `children` (elements or str) appended."""
    node = document.createElement(tag)
    for name, value in (attrs or {}).items():
        if value is True:
            node.setAttribute(name, "")
        elif value not in (None, False):
            node.setAttribute(name, str(value))
    for child in children:
        node.append(document.createTextNode(child) if isinstance(child, str) else child)
    return node


def replace_children(node, *children) -> None:
    """Swap `node`'s content for `children` in one DOM operation."""
    node.replaceChildren(*children)
