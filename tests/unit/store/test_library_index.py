"""app/store/library_index.py under CPython: the tokenizer, the index fields every asset record
carries, the search rule (every word starts a term) and which index a query reads."""

import pytest

from app.store import library_index as li
from app.store.library_index import Filters


@pytest.mark.parametrize("prompt, model, expected", [
    ("A lighthouse at dusk, 4K", "", ["4k", "a", "at", "dusk", "lighthouse"]),
    ("red, RED, red!", "", ["red"]),
    ("", "sdxl-turbo_v2", ["sdxl", "turbo", "v2"]),
    ("ΟΔΟΣ", "", ["οδοσ"]),                       # final sigma folds to sigma
    ("ＡＢＣ ﬁne", "", ["abc", "fine"]),           # NFKC: full-width letters, ligatures
    ("東京の夜景 neon", "", ["neon", "の", "京", "夜", "景", "東"]),  # one term per ideograph
    ("हिन्दी भाषा", "", ["भाषा", "हिन्दी"]),        # marks stay inside their word
    ("rocket🚀launch", "", ["launch", "rocket"]),
])
def test_terms_are_normalised_lower_case_words(prompt, model, expected):
    assert li.terms_of(prompt, model) == expected


def test_terms_are_capped_in_length_and_number():
    assert li.terms_of("x" * 100) == ["x" * li.MAX_TERM_CHARS]
    many = " ".join(f"w{n}" for n in range(li.MAX_TERMS + 50))
    terms = li.terms_of(many, "model")
    assert len(terms) == li.MAX_TERMS and "model" not in terms and "w0" in terms


def test_indexed_sets_terms_and_starred_from_the_record_itself():
    record = {"id": "ast_1", "favorite": True, "terms": ["stale"], "starred": 1,
              "recipe": {"prompt": "Moon heist", "model": "flux", "seed": 3}}
    assert li.indexed(record) == {**record, "terms": ["flux", "heist", "moon"], "starred": 1}
    plain = li.indexed({**record, "favorite": False})
    assert "starred" not in plain and plain["terms"] == ["flux", "heist", "moon"]
    assert li.indexed({"id": "ast_2"})["terms"] == []
    assert li.indexed({"id": "ast_3", "recipe": {"prompt": 42, "model": None}})["terms"] == []


@pytest.mark.parametrize("search, found", [
    ("light dusk", True), ("LIGHT", True), ("house", False), ("dusk night", False),
    ("", True), ("flu", True), ("  ", True),
])
def test_every_search_word_must_start_a_term(search, found):
    terms = li.terms_of("A lighthouse at dusk", "flux")
    assert li.matches_words(terms, li.query_words(search)) is found


def test_query_words_are_distinct_and_longest_first():
    assert li.query_words("a Moon moon harbor") == ("harbor", "moon", "a")


@pytest.mark.parametrize("filters, index, prefix, check", [
    (Filters(), "created", [], {}),
    (Filters(kind="scene"), "kind_created", ["scene"], {}),
    (Filters(project_id="p"), "project_created", ["p"], {}),
    (Filters(project_id="p", kind="audio"), "project_kind_created", ["p", "audio"], {}),
    (Filters(provider="fal"), "provider_created", ["fal"], {}),
    (Filters(model="flux", provider="fal"), "model_created", ["flux"], {"provider": "fal"}),
    (Filters(favorite=True, kind="scene"), "starred_created", [1], {"kind": "scene"}),
    (Filters(project_id="p", provider="fal"), "project_created", ["p"], {"provider": "fal"}),
])
def test_plan_reads_the_narrowest_date_ordered_index(filters, index, prefix, check):
    made = li.plan(filters)
    assert (made["index"], made["prefix"], made["check"]) == (index, prefix, check)
    assert made["direction"] == "prev"


def test_plan_carries_every_filter_and_the_search_words():
    made = li.plan(Filters(kind="scene", favorite=True, search="Red fox", newest_first=False))
    assert made["all"] == {"kind": "scene", "starred": 1}
    assert made["words"] == ["fox", "red"] and made["direction"] == "next"


def test_record_matches_agrees_with_the_plan_filters():
    record = li.indexed({"id": "ast_1", "kind": "scene", "projectId": "p", "favorite": False,
                         "recipe": {"prompt": "red fox", "provider": "fal", "model": "flux"}})
    assert li.record_matches(record, Filters(kind="scene", search="fo"))
    assert not li.record_matches(record, Filters(favorite=True))
    assert not li.record_matches(record, Filters(model="sdxl"))
    assert li.record_matches(record, Filters(project_id="p", provider="fal", model="flux"))
