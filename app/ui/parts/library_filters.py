"""Media library logic (pure): what a query asks for, the reference answer (which assets it
shows, in what order), how many pages a total fills, and which ones a shift-click selects. No DOM here; app/ui/views/library.py renders what this decides, and
tests/unit/ui/test_library_filters.py runs it under CPython.

A `Query` holds the filters (kind, project, provider, model, favorites only), the search and
the sort; `query.filters` is what the vault's index-served reads take
(app/store/library_index.py). Search is case-insensitive and every word must start a word of the
prompt or the model ("red fo" finds "A fox, red at dawn"; "ox" does not). Sorting is by creation
time, then id, so the order is stable.

    >>> query = Query(kind="scene", search="lighthouse", sort="oldest")
    >>> shown = apply(assets, query)          # filtered and sorted: what the vault's pages show
    >>> page_count(130)
    3
    >>> select_range([a.id for a in shown], anchor="ast_1", target="ast_9")
"""

from __future__ import annotations

from dataclasses import dataclass

from app.store.library_index import PAGE_SIZE, Filters, query_words, record_matches

SORTS = {"newest": "Newest first", "oldest": "Oldest first"}
FILTER_FIELDS = ("kind", "project_id", "provider", "model")
RECIPE_LABELS = (("prompt", "Prompt"), ("negative_prompt", "Negative prompt"),
                 ("provider", "Provider"), ("model", "Model"), ("seed", "Seed"),
                 ("width", "Width"), ("height", "Height"), ("steps", "Steps"),
                 ("voice", "Voice"), ("kind", "Generation kind"), ("version", "Recipe version"))


@dataclass(frozen=True)
class Query:
    """What the library shows. Empty strings mean "any"."""

    kind: str = ""
    project_id: str = ""
    provider: str = ""
    model: str = ""
    search: str = ""
    sort: str = "newest"
    favorite: bool = False

    def __post_init__(self):
        if self.sort not in SORTS:
            raise ValueError(f"Unknown sort {self.sort!r}; expected one of {', '.join(SORTS)}")

    @property
    def words(self) -> tuple[str, ...]:
        return query_words(self.search)

    @property
    def narrowed(self) -> bool:
        """True when any filter or search is set (the sort does not narrow)."""
        return (bool(self.words) or self.favorite
                or any(getattr(self, name) for name in FILTER_FIELDS))

    @property
    def filters(self) -> Filters:
        """The query as the vault's library reads take it."""
        return Filters(kind=self.kind, project_id=self.project_id, provider=self.provider,
                       model=self.model, favorite=self.favorite, search=self.search,
                       newest_first=self.sort == "newest")

    def matches(self, asset) -> bool:
        """The same answer the vault's index-served read gives for `asset`."""
        return record_matches(asset.to_record(), self.filters)

    def cleared(self) -> Query:
        """The same sort with every filter and the search removed."""
        return Query(sort=self.sort)


def recipe_value(asset, name: str) -> str:
    value = (asset.recipe or {}).get(name)
    return "" if value is None else str(value)


def provider_of(asset) -> str:
    return recipe_value(asset, "provider")


def model_of(asset) -> str:
    return recipe_value(asset, "model")


def prompt_of(asset) -> str:
    return recipe_value(asset, "prompt")


def apply(assets, query: Query) -> list:
    """The assets `query` matches, sorted by creation time (newest or oldest first): the
    reference the vault's index-served pages are tested against (it reads every asset; the
    app never calls it)."""
    shown = [asset for asset in assets if query.matches(asset)] if query.narrowed else list(assets)
    shown.sort(key=lambda a: (a.created_at, a.id), reverse=query.sort == "newest")
    return shown


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    """How many pages `total` items fill (at least 1, so "Page 1 of 1" when empty)."""
    return max(1, -(-total // size))


def select_range(ordered_ids: list[str], anchor: str | None, target: str) -> list[str]:
    """The ids from `anchor` to `target` inclusive, in display order (shift-click). Without a
    shown anchor, just the target."""
    if anchor not in ordered_ids or target not in ordered_ids:
        return [target]
    low, high = sorted((ordered_ids.index(anchor), ordered_ids.index(target)))
    return ordered_ids[low:high + 1]


def toggle_selection(selected: set[str], ordered_ids: list[str], anchor: str | None,
                     target: str, checked: bool, extend: bool) -> set[str]:
    """The new selection after a checkbox click: one item, or the range when `extend` (shift)."""
    chosen = select_range(ordered_ids, anchor, target) if extend else [target]
    return selected | set(chosen) if checked else selected - set(chosen)


def item_label(asset) -> str:
    """How the library names a version: 'scene:3 v2'."""
    return f"{asset.slot} v{asset.version}"


def format_duration(ms: int | None) -> str:
    """12_345 -> '0:12'; 3_723_000 -> '1:02:03'; None -> ''."""
    if ms is None:
        return ""
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def recipe_rows(recipe: dict | None) -> list[tuple[str, str]]:
    """(label, value) pairs for a recipe: the known fields in a readable order, then the rest."""
    if not recipe:
        return []
    known = dict(RECIPE_LABELS)
    rows = [(label, _text(recipe[name])) for name, label in RECIPE_LABELS
            if recipe.get(name) not in (None, "")]
    rows += [(name, _text(value)) for name, value in sorted(recipe.items())
             if name not in known and value not in (None, "")]
    return rows


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def deletable(assets, selected: set[str]) -> tuple[list[str], list[str]]:
    """Split the selection into (ids a bulk delete removes, favorite ids it keeps)."""
    chosen = [asset for asset in assets if asset.id in selected]
    return ([a.id for a in chosen if not a.favorite], [a.id for a in chosen if a.favorite])
