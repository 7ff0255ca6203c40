"""Unicode that text rules must handle (shared by the text-rule and backup-manifest tests): the
characters the rules single out, a hypothesis strategy that meets them often, and the sets the
normal form refuses or drops."""

from hypothesis import strategies as st

ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
# Everything the rules single out, so that generated text meets each rule often.
TRICKY = ["\x00", "\x01", "\x1b", "\x7f", "\ud800", "\udfff", "\ud83e", "\x80", "\x85", "\x9f",
          "\u061c", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e",
          "\u2060", "\u2066", "\u2069", "\ufeff", "\U000e0041", "\r", "\r\n", "\n", "\t",
          "\u2028", "\u2029", " ", "\xa0", "e\u0301", "\u0301", "\u212b", "\u1100\u1161",
          ENGLAND, FAMILY, "\u0645\u06cc", "fox", "狐"]
TEXT = st.lists(st.one_of(st.sampled_from(TRICKY), st.characters()), max_size=12).map("".join)
FORBIDDEN = {chr(c) for c in [*range(0x20), 0x7F, *range(0xD800, 0xE000)]} - set("\t\n\r")
DROPPED = {chr(c) for c in [*range(0x80, 0xA0), 0x061C, 0x200B, 0x200E, 0x200F,
                            *range(0x202A, 0x202F), *range(0x2060, 0x2065),
                            *range(0x2066, 0x2070), 0xFEFF]} - {"\x85"}
