"""app/ui/parts/storage_stats.py under CPython: unbacked bytes are counted once per SHA-256, and the
storage charts' bars are ranked and scaled correctly."""

import pytest

from app.core.model import Asset
from app.ui.parts import storage_stats as ss


def asset(n: int, sha: str, size: int, backed_up_at=None, missing=False) -> Asset:
    return Asset(id=f"ast_{n}", project_id="prj", kind="scene", slot=f"scene:{n}", version=1,
                 current=True, sha256=sha, mime_type="image/png", size=size, source="generated",
                 created_at=n, backed_up_at=backed_up_at, missing=missing)


def test_unbacked_counts_shared_bytes_once_and_skips_backed_up_and_missing():
    assets = [asset(1, "a", 1000), asset(2, "a", 1000), asset(3, "b", 500),
              asset(4, "c", 700, backed_up_at=123), asset(5, "d", 900, missing=True)]
    assert ss.unbacked(assets) == ss.Unbacked(bytes=1500, files=3)
    assert ss.unbacked([]) == ss.Unbacked(0, 0)


@pytest.mark.parametrize("part, whole, expected", [
    (50, 200, 25.0), (0, 10, 0.0), (300, 200, 100.0), (None, 10, None), (5, 0, None),
    (5, None, None)])
def test_percent_is_clamped_and_unknown_when_figures_are(part, whole, expected):
    assert ss.percent(part, whole) == expected


def test_ranked_sorts_largest_first_with_names_and_folds_the_tail():
    values = {"p1": 10, "p2": 50, "p3": 30, "p4": 5, "p5": 1}
    slices = ss.ranked(values, {"p2": "Moon heist"}, limit=3)
    assert slices == [ss.Slice("Moon heist", 50), ss.Slice("p3", 30), ss.Slice("Other (3)", 16)]
    assert sum(s.value for s in slices) == sum(values.values())
    assert ss.ranked({"a": 1, "b": 1}) == [ss.Slice("a", 1), ss.Slice("b", 1)]


def test_bar_layout_scales_to_the_largest_value_and_stacks_rows():
    layout = ss.bar_layout([ss.Slice("scene", 1000), ss.Slice("audio", 250),
                            ss.Slice("tiny", 1), ss.Slice("none", 0)], width=400)
    widths = [bar.width for bar in layout.bars]
    assert widths == [400.0, 100.0, ss.MIN_BAR, 0.0]
    tops = [bar.bar_y for bar in layout.bars]
    assert tops == sorted(tops) and len(set(tops)) == 4
    assert all(bar.text_y < bar.bar_y for bar in layout.bars)
    assert layout.height == layout.bars[-1].bar_y + ss.BAR_HEIGHT


def test_an_empty_chart_has_no_bars_and_no_height():
    assert ss.bar_layout([]) == ss.BarLayout([], ss.CHART_WIDTH, 0)


def test_long_labels_are_clipped_with_an_ellipsis():
    assert ss.clip_label("Moon heist") == "Moon heist"
    clipped = ss.clip_label("A very long project title that keeps going on", limit=20)
    assert clipped.endswith("…") and len(clipped) <= 20


@pytest.mark.parametrize("share, text", [
    (None, "unknown"), (0, "0.00%"), (0.004, "<0.01%"), (0.034, "0.03%"), (41.26, "41.3%"),
    (100, "100.0%")])
def test_shares_keep_the_precision_small_figures_need(share, text):
    assert ss.format_share(share) == text


def test_plural_counts_nouns():
    assert [ss.plural(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
