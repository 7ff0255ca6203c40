"""The media library's index fields and query plans (pure): what an asset record carries so that
IndexedDB indexes can answer the library's filters, sort and search, and which index a query
reads. app/store/library_query.py runs the plans; app/store/writes.py (and every other path that
writes an asset record) stores `indexed(record)`, in the same transaction as the record itself.

Index fields on an asset record (schema version 4, app/store/schema.py):
- `terms`: the sorted, distinct search terms of its recipe's prompt and model (`terms_of`);
  the multiEntry index `terms` maps each term to the records that hold it.
- `starred`: 1 on favorites and absent otherwise (a boolean is no IndexedDB key), so the
  sparse index `starred_created` holds only favorites.

Search semantics: the search text is cut into words by the same rules as the terms, and a
record matches when EVERY word is the start (a prefix) of one of its terms: "light dusk" finds
"A lighthouse at dusk"; "house" does not (words are matched from their start, not inside).
Terms are runs of letters, marks and digits, lower-cased after NFKC normalisation (final
sigma folded to sigma); each Han, Hiragana or Katakana character is a term of its own, since
those scripts write no spaces. A term keeps at most `MAX_TERM_CHARS` characters and a record at
most `MAX_TERMS` terms (the first ones of its prompt, then its model).

    >>> terms_of("A lighthouse at dusk, 4K", "sdxl-turbo")
    ['4k', 'a', 'at', 'dusk', 'lighthouse', 'sdxl', 'turbo']
    >>> indexed({"id": "ast_1", "favorite": True, "recipe": {"prompt": "Moon"}})["starred"]
    1
    >>> matches_words(["lighthouse", "dusk"], ("light", "du"))
    True
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_TERM_CHARS = 64
MAX_TERMS = 256
PAGE_SIZE = 60
# A search whose rarest word starts at most this many terms reads those records and checks
# them (exact total); a commoner one walks the date order and checks records as it goes.
TOKEN_ROUTE_MAX = 2_000
# Code point ranges whose characters are each a term (scripts written without spaces).
IDEOGRAPHIC = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
               (0x20000, 0x2FA1F))


def _ideographic(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in IDEOGRAPHIC)


def _word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LMN"


def words_of(text: str) -> list[str]:
    """`text` cut into lower-cased words, in order (repeats kept): the tokenizer."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("ς", "σ")
    words: list[str] = []
    current: list[str] = []
    for ch in folded:
        if _word_char(ch) and not _ideographic(ch):
            current.append(ch)
            continue
        if current:
            words.append("".join(current)[:MAX_TERM_CHARS])
            current = []
        if _ideographic(ch):
            words.append(ch)
    if current:
        words.append("".join(current)[:MAX_TERM_CHARS])
    return words


def terms_of(prompt: str = "", model: str = "") -> list[str]:
    """The sorted, distinct terms a record is found by: its prompt's words, then its model's,
    the first MAX_TERMS distinct ones."""
    seen: dict[str, None] = {}
    for word in words_of(prompt) + words_of(model):
        if len(seen) >= MAX_TERMS:
            break
        seen.setdefault(word)
    return sorted(seen)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def index_fields(prompt: str, model: str, favorite: bool) -> dict:
    """{terms, starred?}: the index fields of a record with this prompt, model and star."""
    fields: dict = {"terms": terms_of(prompt, model)}
    if favorite:
        fields["starred"] = 1
    return fields


def indexed(record: dict) -> dict:
    """`record` (an asset record, camelCase) with its index fields set from its own content."""
    recipe = record.get("recipe") or {}
    out = {key: value for key, value in record.items() if key not in ("terms", "starred")}
    out.update(index_fields(_text(recipe.get("prompt")), _text(recipe.get("model")),
                            bool(record.get("favorite"))))
    return out


def query_words(search: str) -> tuple[str, ...]:
    """The distinct words of a search, longest first (the likeliest to be rare)."""
    return tuple(sorted(dict.fromkeys(words_of(search)), key=lambda w: (-len(w), w)))


def matches_words(terms, words) -> bool:
    """True when every word starts one of `terms` (the search rule in the module docstring)."""
    return all(any(term.startswith(word) for term in terms) for word in words)


@dataclass(frozen=True)
class Filters:
    """What the library shows: empty strings mean "any"; `favorite` means favorites only."""

    kind: str = ""
    project_id: str = ""
    provider: str = ""
    model: str = ""
    favorite: bool = False
    search: str = ""
    newest_first: bool = True


def plan(filters: Filters) -> dict:
    """The IndexedDB plan of a query, as plain data for static/js/bridge/library.mjs:
    `index` (a compound index whose key ends in createdAt, id), `prefix` (the key values before
    createdAt), `check` (the filters the index does not answer, checked on each record),
    `words` (search words) and `direction`. Every index range is date-ordered, so pages are
    keyset pages: the next starts after the last key shown."""
    check: dict = {}
    if filters.favorite:
        index, prefix = "starred_created", [1]
        check = {k: v for k, v in (("kind", filters.kind), ("projectId", filters.project_id),
                                   ("provider", filters.provider), ("model", filters.model)) if v}
    elif filters.project_id and filters.kind:
        index, prefix = "project_kind_created", [filters.project_id, filters.kind]
        check = {k: v for k, v in (("provider", filters.provider), ("model", filters.model)) if v}
    elif filters.model:
        index, prefix = "model_created", [filters.model]
        check = {k: v for k, v in (("kind", filters.kind), ("projectId", filters.project_id),
                                   ("provider", filters.provider)) if v}
    elif filters.project_id:
        index, prefix = "project_created", [filters.project_id]
        check = {"provider": filters.provider} if filters.provider else {}
    elif filters.provider:
        index, prefix = "provider_created", [filters.provider]
        check = {"kind": filters.kind} if filters.kind else {}
    elif filters.kind:
        index, prefix = "kind_created", [filters.kind]
    else:
        index, prefix = "created", []
    every = {k: v for k, v in (("kind", filters.kind), ("projectId", filters.project_id),
                               ("provider", filters.provider), ("model", filters.model),
                               ("starred", 1 if filters.favorite else 0)) if v}
    return {"index": index, "prefix": prefix, "check": check, "all": every,
            "words": list(query_words(filters.search)),
            "direction": "prev" if filters.newest_first else "next",
            "tokenRouteMax": TOKEN_ROUTE_MAX}


def record_matches(record: dict, filters: Filters) -> bool:
    """The same answer as the plan, for one record (the selection kept across a filter change,
    and the unit tests' reference)."""
    recipe = record.get("recipe") or {}
    fields = {"kind": record.get("kind"), "projectId": record.get("projectId"),
              "provider": recipe.get("provider"), "model": recipe.get("model")}
    wanted = {"kind": filters.kind, "projectId": filters.project_id,
              "provider": filters.provider, "model": filters.model}
    if any(value and fields[name] != value for name, value in wanted.items()):
        return False
    if filters.favorite and not record.get("favorite"):
        return False
    terms = record.get("terms")
    if terms is None:
        terms = indexed(record)["terms"]
    return matches_words(terms, query_words(filters.search))
