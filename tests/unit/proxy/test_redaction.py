"""Keys stay out of messages and the log (proxy/providers/redaction.py): every spelling of a key is
masked before an upstream's text is cut, the result is one line, and the service's traceback log
holds no spelling either."""

import base64
import json
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, strategies as st

from app.core.errors import ProviderError
from proxy.providers import ProviderSettings
from proxy.providers.base import Provider
from proxy.providers.redaction import QUOTE_CHARS, quote_upstream, redact, scrub, single_line
from proxy.providers.runner import ProviderRunner
from proxy.providers.transport import HttpReply, Target, failure

KEY = 'sk-live/AbC+dEf GhI&jKl"mNo\\pQr~0123456789'  # "/", "+", " ", "&", '"' and "\" spell apart
NEWLINE_KEY = "sk-live-0123456789\nabcdefghijklmnop"
TARGET = Target("http", "127.0.0.1", 9, "/")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SPELLINGS = {
    "raw": lambda k: k,
    "quote": lambda k: quote(k),
    "quote-safe-none": lambda k: quote(k, safe=""),
    "quote-plus": lambda k: quote_plus(k),
    "quote-lower-hex": lambda k: quote(k, safe="").replace("%2F", "%2f").replace("%2B", "%2b"),
    "basic-user-key": lambda k: b64(f"user:{k}"),
    "basic-any-user": lambda k: b64(f"someone-else:{k}"),
    "basic-colon-key": lambda k: b64(f":{k}"),
    "basic-key-colon": lambda k: b64(f"{k}:"),
    "base64-urlsafe": lambda k: base64.urlsafe_b64encode(f"ab:{k}".encode()).decode(),
    "json": lambda k: json.dumps(k)[1:-1],
    "json-slash": lambda k: json.dumps(k)[1:-1].replace("/", "\\/"),
    "repr": lambda k: repr(k)[1:-1],
    "repr-bytes": lambda k: repr(k.encode())[2:-1],
}


def reply(body: bytes, status: int = 401) -> HttpReply:
    return HttpReply(status, {}, body, TARGET)


def message_for(body: bytes, key: str = KEY) -> str:
    return str(failure(reply(body), "openai", hide=(key,)))


@pytest.mark.parametrize("key", [KEY, NEWLINE_KEY], ids=["special-chars", "newline"])
@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_of_a_key_is_masked_in_a_failure_message(spelling, key):
    spelled = spelling(key)
    message = message_for(f'{{"error": "bad credentials {spelled}", "code": 401}}'.encode(), key)
    assert spelled not in message and key not in message
    assert "***" in message and "bad credentials" in message and "401" in message


KEY_ONLY = {name: spell for name, spell in SPELLINGS.items()
            if name not in ("basic-user-key", "basic-any-user", "base64-urlsafe")}  # no user name


@pytest.mark.parametrize("spelling", KEY_ONLY.values(), ids=KEY_ONLY.keys())
def test_no_long_piece_of_any_spelling_survives(spelling):
    spelled = spelling(KEY)
    masked = redact(f"a {spelled} b", (KEY,))
    assert not any(spelled[i:i + 8] in masked for i in range(len(spelled) - 7))


@pytest.mark.parametrize("before", [QUOTE_CHARS - 30, QUOTE_CHARS - 7, QUOTE_CHARS - 3, QUOTE_CHARS - 1])
def test_a_key_across_the_quoting_cut_leaves_no_prefix(before):
    body = b"x" * before + KEY.encode() + b" and more"
    message = message_for(body)
    shown = QUOTE_CHARS - before  # how much of the key a cut-then-redact would have shown
    assert KEY[:min(shown, len(KEY))] not in message.split("HTTP 401: ", 1)[1].lstrip("x")
    assert len(message.split("HTTP 401: ", 1)[1]) <= QUOTE_CHARS


def test_a_key_spelled_just_past_the_cut_is_not_quoted_at_all():
    message = message_for(b"y" * QUOTE_CHARS + quote(KEY).encode())
    assert "%2F" not in message and message.endswith("y")


def test_a_key_with_a_newline_is_masked_and_the_message_is_one_line():
    message = message_for(f"rejected {NEWLINE_KEY}; also {NEWLINE_KEY.split(chr(10))[0]}".encode(),
                          NEWLINE_KEY)
    assert "\n" not in message and "0123456789" not in message and "abcdefgh" not in message


def test_an_upstream_body_with_line_breaks_and_escapes_becomes_one_line():
    message = message_for(b"line one\r\nFAKE LOG LINE\x1b[31m red\x00\t\xe2\x80\xa8end")
    assert message == "openai answered HTTP 401: line one  FAKE LOG LINE [31m red   end"


def test_a_long_piece_of_a_key_is_masked_and_other_text_kept():
    text = redact(f"hint {KEY[5:17]}, first {KEY[:8]}, last {KEY[-8:]}; other words stay", (KEY, ""))
    assert text == "hint ***, first ***, last ***; other words stay"


def test_a_short_secret_is_masked_only_whole():
    assert redact("a short pw and p", ("pw",)) == "a short *** and p"


def test_scrub_masks_and_flattens():
    assert scrub(f"one\n{KEY}\rtwo", (KEY,)) == "one *** two"
    assert single_line("a\u2028b\x85c") == "a b c"


def test_a_huge_error_body_is_quoted_quickly_and_briefly():
    message = message_for(b"z" * (50 << 20))
    assert len(message) < QUOTE_CHARS + 40


@given(prefix=st.binary(max_size=7), suffix=st.binary(max_size=4))
def test_base64_of_a_key_after_any_prefix_keeps_only_its_neighbours_bits(prefix, suffix):
    """Only the characters mixing in a neighbour's bits (and the neighbours') may remain."""
    encoded = base64.b64encode(prefix + KEY.encode() + suffix).decode()
    masked = redact(encoded, (KEY,))
    assert "***" in masked
    assert len(masked) - 3 <= 4 * (len(prefix) + len(suffix)) // 3 + 8


# --- the service's log ------------------------------------------------------------------------
class Broken(Provider):
    name, kinds = "broken", ("image",)

    def models(self):
        return {"image": ("m",)}

    def generate(self, recipe, deadline):
        """A bug whose traceback quotes keys: a KeyError raised while handling http.client's
        ValueError for a header value with a line break (which that message quotes as repr)."""
        try:
            raise ValueError(f"Invalid header value {('Bearer ' + NEWLINE_KEY).encode()!r}")
        except ValueError:
            raise KeyError(" ".join(spelling(KEY) for spelling in SPELLINGS.values()))


def test_an_unexpected_traceback_is_logged_without_any_spelling_of_a_key(capsys):
    settings = ProviderSettings(default="broken", openai_api_key=KEY, fal_key=NEWLINE_KEY)
    svc = ProviderRunner(settings, {"broken": Broken()})
    with pytest.raises(ProviderError, match="KeyError"):
        svc.generate({"kind": "image", "prompt": "p", "width": 64, "height": 64})
    logged = capsys.readouterr().err
    assert "KeyError" in logged and "Invalid header value" in logged  # the chained cause is kept
    for key in (KEY, NEWLINE_KEY):
        for spelling in SPELLINGS.values():
            assert spelling(key) not in logged
    assert all(line.startswith("provider broken") for line in logged.splitlines())


def test_a_provider_error_message_is_scrubbed_before_it_leaves_the_service():
    class Leaky(Broken):
        def generate(self, recipe, deadline):
            raise ProviderError(f"fal reported the request as {quote_plus(KEY)}\nX-Forged: 1")
    svc = ProviderRunner(ProviderSettings(default="broken", fal_key=KEY), {"broken": Leaky()})
    with pytest.raises(ProviderError) as caught:
        svc.generate({"kind": "image", "prompt": "p", "width": 64, "height": 64})
    assert str(caught.value) == "fal reported the request as *** X-Forged: 1"


def test_quote_upstream_of_nothing_is_empty():
    assert quote_upstream(b"", (KEY,)) == "" and quote_upstream(b"\r\n", ()) == ""
