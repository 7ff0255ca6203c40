"""Storage panel figures (pure): how many bytes are not backed up yet, the share of the quota in
use, and the geometry of the bar charts that app/ui/views/storage.py draws as inline SVG. No DOM
here; tests/unit/ui/test_storage_stats.py runs it under CPython.

Bytes are counted once per SHA-256, as the vault stores them: two versions with identical
bytes take the space of one.

    >>> unbacked(assets)                          # Unbacked(bytes=1_234_567, files=12)
    >>> slices = ranked({"scene": 900, "audio": 100}, limit=6)
    >>> layout = bar_layout(slices)               # BarLayout(bars=[Bar(...), ...], height=88)
"""

from __future__ import annotations

from dataclasses import dataclass

CHART_WIDTH = 320      # SVG user units; at most 380 px wide on screen, so text stays 13-18 px
LABEL_LINE = 20        # the label/value line above each bar
BAR_HEIGHT = 14
ROW_GAP = 12
MIN_BAR = 2            # a non-zero value never vanishes


@dataclass(frozen=True)
class Unbacked:
    """Bytes (each stored blob once) and files (records) not in any backup yet."""

    bytes: int
    files: int


def unbacked(assets, in_folder: frozenset[str] | set[str] = frozenset()) -> Unbacked:
    """Stored assets in no backup: `backed_up_at` is None and their project is not wholly in the
    folder backup (`in_folder`: project ids, app/core/backup_log.py's `folder_covers`). Bytes
    once per SHA-256, and not at all when a backed-up asset holds the same bytes."""
    sizes: dict[str, int] = {}
    kept: set[str] = set()
    files = 0
    for asset in assets:
        if asset.missing:
            continue
        if asset.backed_up_at is None and asset.project_id not in in_folder:
            files += 1
            sizes[asset.sha256] = asset.size
        else:
            kept.add(asset.sha256)
    return Unbacked(sum(size for sha, size in sizes.items() if sha not in kept), files)


def percent(part: int | None, whole: int | None) -> float | None:
    """`part` as a percentage of `whole` (0-100), or None when either is unknown."""
    if part is None or not whole:
        return None
    return max(0.0, min(100.0, 100.0 * part / whole))


def clip_label(label: str, limit: int = 24) -> str:
    """`label` cut to `limit` characters with an ellipsis, so it fits beside its value."""
    return label if len(label) <= limit else label[:limit - 1].rstrip() + "…"


def format_share(share: float | None) -> str:
    """A percentage with the precision small shares need: 0.034 -> '0.03%', 41.26 -> '41.3%'."""
    if share is None:
        return "unknown"
    if 0 < share < 0.01:
        return "<0.01%"
    return f"{share:.2f}%" if share < 1 else f"{share:.1f}%"


def plural(count: int, noun: str) -> str:
    """'1 file', '3 files'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Slice:
    label: str
    value: int


def ranked(values: dict[str, int], names: dict[str, str] | None = None, limit: int = 6,
           other: str = "Other") -> list[Slice]:
    """Largest first, labelled through `names`; past `limit`, the rest becomes one slice
    'Other (n)'. Ties keep a stable order by label."""
    named = [Slice((names or {}).get(key, key), value) for key, value in values.items()]
    named.sort(key=lambda s: (-s.value, s.label))
    if len(named) <= limit:
        return named
    head, rest = named[:limit - 1], named[limit - 1:]
    return head + [Slice(f"{other} ({len(rest)})", sum(s.value for s in rest))]


@dataclass(frozen=True)
class Bar:
    """One row: the label line's baseline `text_y`, the bar's top `bar_y` and `width`."""

    label: str
    value: int
    text_y: int
    bar_y: int
    width: float


@dataclass(frozen=True)
class BarLayout:
    bars: list[Bar]
    width: int
    height: int


def bar_layout(slices: list[Slice], width: int = CHART_WIDTH) -> BarLayout:
    """Horizontal bars scaled to the largest value, one row per slice, top to bottom."""
    largest = max((s.value for s in slices), default=0)
    row = LABEL_LINE + BAR_HEIGHT + ROW_GAP
    bars = []
    for index, item in enumerate(slices):
        top = index * row
        scaled = width * item.value / largest if largest else 0.0
        bars.append(Bar(item.label, item.value, top + LABEL_LINE - 6, top + LABEL_LINE,
                        round(max(scaled, MIN_BAR if item.value else 0.0), 1)))
    return BarLayout(bars, width, max(row * len(slices) - ROW_GAP, 0))
