"""Every parser of untrusted text is linear with capped counts (issue 13, item 4): each hostile
input of tests/unit/hostile_corpus.py gets its expected answer (parsed, or the project's own
error) in well under MAX_SECONDS, and the linear rewrites answer as the old code did."""

import json

import pytest
from hypothesis import given, strategies as st

from app.backup.manifest import check_depth, slugify, unique_slugs
from app.core.errors import BackupError
from app.core.model import Project
from hostile_corpus import CASES, run_case

MAX_SECONDS = 2.0  # the old parsers took 10 s and more on the worst of these


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_input_gets_its_answer_fast(case):
    answer, seconds = run_case(case)
    assert answer == case.expected
    assert seconds < MAX_SECONDS, f"{case.name} took {seconds:.2f} s"


# --- the rewrites answer as before -------------------------------------------------------------
json_values = st.recursive(st.none() | st.integers() | st.text(alphabet='[]{}"\\ a'),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(alphabet='[]{}"\\a', max_size=3), inner,
                                             max_size=3),
                           max_leaves=12)


def nesting(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    return 0


@given(json_values, st.integers(min_value=1, max_value=6))
def test_check_depth_passes_json_up_to_the_cap_and_refuses_it_deeper(value, cap):
    text = json.dumps(value)
    if nesting(value) <= cap:
        check_depth(text, cap)
    else:
        with pytest.raises(BackupError) as caught:
            check_depth(text, cap)
        assert caught.value.code == "json_too_deep"


@pytest.mark.parametrize("text", ['["never closed ]', '{"a": "b}', "[[]", "[]]", "[}", '["\\"]'])
def test_check_depth_refuses_brackets_that_do_not_pair_or_strings_that_run_on(text):
    with pytest.raises(BackupError, match="do not pair") as caught:
        check_depth(text, 32)
    assert caught.value.code == "invalid_manifest"


def first_free_slugs(titles: list[str]) -> list[str]:
    """The obvious (quadratic) rule: a slug taken already gets the first free -2, -3 ..."""
    taken, slugs = set(), []
    for title in titles:
        base = slug = slugify(title)
        n = 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        slugs.append(slug)
    return slugs


@given(st.lists(st.sampled_from(["Moon", "Moon 2", "moon-2", "Moon 3", "Moon 2 2", "Moon-2-2",
                                 "???", "project", "Project 2"]), max_size=30))
def test_unique_slugs_hand_out_the_first_free_number(titles):
    projects = [Project(id=f"prj_{n}", title=title, created_at=1, updated_at=1)
                for n, title in enumerate(titles)]
    assert list(unique_slugs(projects).values()) == first_free_slugs(titles)


def test_the_number_patterns_of_metadata_are_linear_even_when_searched():
    """The recipe-number patterns hold no `\\s*` around their digits (callers strip first), so no
    way of applying them to 64 KB of hostile text backtracks: even `search`, which a later change
    might use, stays fast."""
    import re
    import time

    from app.core import pngmeta
    from app.core.metadata import jsontext

    texts = [" " * 65_536, "1" * 65_536, "1." * 32_768, "-" * 65_536, " " * 65_535 + "."]
    for pattern in (jsontext._DIGITS, jsontext._DECIMAL, pngmeta._DECIMAL):
        assert isinstance(pattern, re.Pattern) and r"\s" not in pattern.pattern
        started = time.perf_counter()
        for text in texts:
            pattern.fullmatch(text), pattern.search(text)
        assert time.perf_counter() - started < 2.0, pattern.pattern
    assert jsontext.as_whole_number(" 42 ", 100) == 42 and jsontext.as_finite_number(" -4.5 ") == -4.5
