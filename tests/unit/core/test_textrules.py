"""app/core/textrules.py: what is refused, what is dropped or rewritten, and that the normal form is
idempotent and free of everything the rules drop, for any Unicode text."""

import ast
import doctest
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import app.core.textrules as textrules
from app.core.textrules import LINE, PROSE, TextRule, checked, checked_json, normal_form, problem
from unicode_cases import DROPPED, ENGLAND, FAMILY, FORBIDDEN, TEXT

ROOT = Path(__file__).resolve().parents[3]

def refuse(message: str) -> Exception:
    return ValueError(message)


# --- refused --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, shown", [
    ("a fox\x00", "U+0000 (a control character) at character 6"),
    ("\x1b[31mred", "U+001B (a control character) at character 1"),
    ("del\x7f", "U+007F (a control character) at character 4"),
    ("\x0bvertical tab", "U+000B (a control character) at character 1"),
    ("half \ud83e of an emoji", "U+D83E (a lone surrogate) at character 6"),
    ("low \udc00", "U+DC00 (a lone surrogate) at character 5"),
])
def test_nul_other_controls_and_lone_surrogates_are_refused_naming_field_and_character(text, shown):
    assert problem(text) == shown
    for rule in (LINE, PROSE):
        with pytest.raises(ValueError) as caught:
            checked(text, "Project title", rule, refuse)
        assert str(caught.value) == f"Project title contains {shown}"


def test_the_refusal_never_quotes_the_text_it_refuses():
    with pytest.raises(ValueError) as caught:
        checked("secret \ud800 words", "prompt", PROSE, refuse)
    assert "secret" not in str(caught.value) and "\ud800" not in str(caught.value)


@pytest.mark.parametrize("text", ["tab\there", "two\nlines", "crlf\r\n", "雪の中の狐 🦊", ""])
def test_tab_newline_return_and_any_other_script_are_not_problems(text):
    assert problem(text) is None


def test_the_length_is_capped_after_normalizing():
    rule = TextRule(single_line=True, max_chars=5)
    assert checked("  a\u200bbcde  ", "title", rule, refuse) == "abcde"
    with pytest.raises(ValueError, match="title is 6 characters; the limit is 5"):
        checked("abcdef", "title", rule, refuse)


# --- normalized -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, line, prose", [
    ("  Moon Heist  ", "Moon Heist", "Moon Heist"),
    ("Moon\u200b Heist", "Moon Heist", "Moon Heist"),
    ("evil\u202etxt.exe\u202c", "eviltxt.exe", "eviltxt.exe"),
    ("\u2066iso\u2069 \u200eltr\u200f \u061calm", "iso ltr alm", "iso ltr alm"),
    ("\ufeffBOM\u2060word", "BOMword", "BOMword"),
    ("win\x92dows\x9b", "windows", "windows"),
    ("a\r\nb\rc\x85d\u2028e\u2029f", "a b c d e f", "a\nb\nc\nd\ne\nf"),
    ("col\tumn\nrow", "col umn row", "col\tumn\nrow"),
    ("Cafe\u0301", "Café", "Café"),
    ("\u212bngstr\u00f6m", "\u00c5ngstr\u00f6m", "\u00c5ngstr\u00f6m"),
    ("e\u200b\u0301", "\u00e9", "\u00e9"),  # dropping the space lets the accent compose
    ("a\u200db \u200dx", "ab x", "ab x"),
    (FAMILY, FAMILY, FAMILY),
    ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627"
     "\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
    (f"{ENGLAND} fans", f"{ENGLAND} fans", f"{ENGLAND} fans"),
    ("tag\U000e0041ged\U000e007f", "tagged", "tagged"),
])
def test_invisible_characters_are_dropped_then_nfc_and_line_breaks(text, line, prose):
    assert checked(text, "title", LINE, refuse) == line
    assert checked(text, "prompt", PROSE, refuse) == prose


@settings(max_examples=300, deadline=None)
@given(TEXT, st.booleans())
def test_the_normal_form_is_idempotent_nfc_and_holds_nothing_the_rules_drop(text, single_line):
    if FORBIDDEN & set(text):
        assert problem(text) is not None
        return
    assert problem(text) is None
    clean = normal_form(text, single_line)
    assert normal_form(clean, single_line) == clean
    assert unicodedata.is_normalized("NFC", clean) and clean == clean.strip()
    assert not DROPPED & set(clean) and problem(clean) is None
    assert "\r" not in clean and not {"\x85", "\u2028", "\u2029"} & set(clean)
    if single_line:
        assert "\n" not in clean and "\t" not in clean
    for i, ch in enumerate(clean):
        if ch in "\u200c\u200d":  # a joiner is kept only between visible non-ASCII characters
            assert 0 < i < len(clean) - 1 and not clean[i - 1].isascii() and \
                not clean[i + 1].isascii()


# --- JSON values (stored recipes) -----------------------------------------------------------------
def test_json_values_get_every_string_normalized_and_keys_checked():
    value = {"prompt": " a fox\u200b\r\n", "scenes": [{"id": "s1"}, "x\u202e"], "seed": 7,
             "steps": 1.5, "ok": True, "none": None}
    assert checked_json(value, "recipe", refuse) == {
        "prompt": "a fox", "scenes": [{"id": "s1"}, "x"], "seed": 7, "steps": 1.5, "ok": True,
        "none": None}
    with pytest.raises(ValueError, match=r"^recipe\.scenes\[1\]\.id contains U\+0000"):
        checked_json({"scenes": [{}, {"id": "\x00"}]}, "recipe", refuse)
    with pytest.raises(ValueError, match=r"^recipe has a key that contains U\+D800"):
        checked_json({"\ud800": 1}, "recipe", refuse)


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_json_values_refuse_nan_and_infinities_naming_the_place(number):
    with pytest.raises(ValueError, match=r"^recipe\.settings\.fps is (nan|inf|-inf); numbers must"):
        checked_json({"settings": {"fps": number}}, "recipe", refuse)


# --- the module -----------------------------------------------------------------------------------
def test_the_docstring_examples_hold():
    assert doctest.testmod(textrules).failed == 0


def test_textrules_is_pure_stdlib():
    tree = ast.parse((ROOT / "app/core/textrules.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "math", "re", "unicodedata", "dataclasses", "typing"}
