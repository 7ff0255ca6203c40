"""app/ui/parts/library_filters.py under CPython: filters, prompt search, sort, pagination and
shift-range selection decide what the media library shows."""

import ast
from pathlib import Path

import pytest

from app.core.model import Asset
from app.ui.parts import library_filters as lf
from app.ui.parts.library_filters import Query

ROOT = Path(__file__).resolve().parents[3]


def asset(n: int, kind="scene", project="prj_a", provider="local", model="sketch",
          prompt="a red fox", favorite=False, recipe=True, **extra) -> Asset:
    slot = {"scene": f"scene:{n}", "character": f"character:c{n}",
            "audio": f"scene:{n}:narration"}[kind]
    return Asset(id=f"ast_{n:04d}", project_id=project, kind=kind, slot=slot, version=1,
                 current=True, sha256=f"{n:064x}", mime_type="image/png", size=100 * n,
                 source="generated", created_at=1_000 + n, favorite=favorite,
                 recipe={"prompt": prompt, "provider": provider, "model": model, "seed": n}
                 if recipe else None, **extra)


LIBRARY = [
    asset(1, prompt="A lighthouse at dusk"),
    asset(2, kind="character", project="prj_b", prompt="Two knights, red banners"),
    asset(3, kind="audio", provider="openai", model="tts-1", prompt="Once upon a time"),
    asset(4, provider="a1111", model="current", prompt="Red desert at NIGHT"),
    asset(5, recipe=False),
    asset(6, recipe=False, favorite=True),
]


def ids(assets) -> list[str]:
    return [a.id for a in assets]


def test_no_filter_shows_everything_newest_first():
    assert ids(lf.apply(LIBRARY, Query())) == ["ast_0006", "ast_0005", "ast_0004", "ast_0003",
                                               "ast_0002", "ast_0001"]


def test_oldest_first_reverses_the_order():
    assert ids(lf.apply(LIBRARY, Query(sort="oldest")))[:2] == ["ast_0001", "ast_0002"]


def test_equal_times_sort_by_id_so_pages_are_stable():
    twins = [asset(8), asset(7)]
    twins = [Asset(**{**a.__dict__, "created_at": 5}) for a in twins]
    assert ids(lf.apply(twins, Query(sort="oldest"))) == ["ast_0007", "ast_0008"]


@pytest.mark.parametrize("query, expected", [
    (Query(kind="character"), ["ast_0002"]),
    (Query(project_id="prj_b"), ["ast_0002"]),
    (Query(provider="openai"), ["ast_0003"]),
    (Query(model="current"), ["ast_0004"]),
    (Query(kind="scene", provider="local"), ["ast_0001"]),
    (Query(search="red"), ["ast_0004", "ast_0002"]),
    (Query(search="  DESERT   red "), ["ast_0004"]),
    (Query(search="night"), ["ast_0004"]),  # words match from their start: not "knights"
    (Query(search="knig ban"), ["ast_0002"]),
    (Query(search="tts"), ["ast_0003"]),  # the model is searched too
    (Query(favorite=True), ["ast_0006"]),
    (Query(search="lighthouse", kind="audio"), []),
])
def test_filters_and_search_narrow_the_list(query, expected):
    assert ids(lf.apply(LIBRARY, query)) == expected


def test_search_skips_assets_without_a_recipe():
    assert "ast_0005" not in ids(lf.apply(LIBRARY, Query(search="a")))


def test_unknown_sort_is_refused_with_its_name():
    with pytest.raises(ValueError, match="'sideways'"):
        Query(sort="sideways")


def test_cleared_query_keeps_only_the_sort():
    query = Query(kind="scene", search="fox", sort="oldest")
    assert query.narrowed and not query.cleared().narrowed
    assert query.cleared().sort == "oldest"


def test_shift_range_selects_between_anchor_and_target_in_either_direction():
    ordered = ["a", "b", "c", "d", "e"]
    assert lf.select_range(ordered, "b", "d") == ["b", "c", "d"]
    assert lf.select_range(ordered, "e", "c") == ["c", "d", "e"]
    assert lf.select_range(ordered, None, "c") == ["c"]
    assert lf.select_range(ordered, "hidden", "c") == ["c"]


def test_toggle_selection_adds_or_removes_a_range_or_one():
    ordered = ["a", "b", "c", "d"]
    picked = lf.toggle_selection(set(), ordered, "a", "c", checked=True, extend=True)
    assert picked == {"a", "b", "c"}
    assert lf.toggle_selection(picked, ordered, "c", "b", checked=False, extend=True) == {"a"}
    assert lf.toggle_selection(picked, ordered, "a", "d", checked=True, extend=False) == \
        {"a", "b", "c", "d"}


def test_deletable_keeps_favorites_out_of_a_bulk_delete():
    library = [asset(1, favorite=True), asset(2), asset(3)]
    doomed, kept = lf.deletable(library, {"ast_0001", "ast_0002"})
    assert (doomed, kept) == (["ast_0002"], ["ast_0001"])


def test_item_label_and_duration_format():
    assert lf.item_label(asset(3)) == "scene:3 v1"
    assert [lf.format_duration(ms) for ms in (None, 0, 12_345, 61_000, 3_723_000)] == \
        ["", "0:00", "0:12", "1:01", "1:02:03"]


def test_recipe_rows_put_known_fields_first_then_the_rest():
    rows = lf.recipe_rows({"seed": 7, "prompt": "fox", "extra": True, "negative_prompt": "",
                           "provider": "local", "zeta": None})
    assert rows == [("Prompt", "fox"), ("Provider", "local"), ("Seed", "7"), ("extra", "yes")]
    assert lf.recipe_rows(None) == []


@pytest.mark.parametrize("module", ["app/ui/parts/library_filters.py", "app/ui/parts/storage_stats.py"])
def test_view_logic_modules_stay_pure(module):
    tree = ast.parse((ROOT / module).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"js", "pyodide", "pyodide_js", "pyscript"}


@pytest.mark.parametrize("total, pages", [(0, 1), (1, 1), (60, 1), (61, 2), (10_000, 167)])
def test_page_count_of_a_total(total, pages):
    assert lf.page_count(total) == pages
