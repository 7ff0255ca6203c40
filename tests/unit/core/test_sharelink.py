"""app/core/sharelink.py under CPython: the link format round-trips, its framing is what the
docstring says, and every refusal (too long, damaged base64, deflate or framing, a newer
version, a bomb) has its own code and message, before anything large is allocated. The
encryption is WebCrypto in the page (tests/browser/ui/test_share_link.py); here a fake cipher
stands in, to test the framing around it."""

import base64
import hashlib
import hmac
import os
import zlib

import pytest

from app.core import sharelink
from app.core.errors import BackupError, ShareLinkError
from app.core.sharelink import (ENCRYPTED, MAX_FRAGMENT_CHARS, MAX_MANIFEST_BYTES, PLAIN, Sealed,
                                ShareLink, decode_link, encode_link, encode_sealed, inflate)

MANIFEST = b'{"format":"scenevault-backup","version":1,"projects":[{"title":"Moon Heist"}]}'


def code_of(payload: str) -> ShareLinkError:
    with pytest.raises(ShareLinkError) as caught:
        decode_link(payload)
    return caught.value


def plain(data: bytes) -> str:
    return "1.p." + base64.urlsafe_b64encode(data).decode().rstrip("=")


class FakeCipher:
    """AES-GCM's shape without AES: a SHA-256 key stream and a 16-byte HMAC tag at the end."""

    @staticmethod
    def _stream(passphrase: str, salt: bytes, iv: bytes, size: int) -> bytes:
        key = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, 1)
        blocks = (hashlib.sha256(key + iv + n.to_bytes(4, "big")).digest()
                  for n in range(size // 32 + 1))
        return b"".join(blocks)[:size], key

    def seal(self, plain_bytes: bytes, passphrase: str, salt: bytes, iv: bytes) -> bytes:
        stream, key = self._stream(passphrase, salt, iv, len(plain_bytes))
        body = bytes(a ^ b for a, b in zip(plain_bytes, stream))
        return body + hmac.new(key, iv + body, "sha256").digest()[:16]

    def open(self, sealed: bytes, passphrase: str, salt: bytes, iv: bytes) -> bytes:
        body, tag = sealed[:-16], sealed[-16:]
        stream, key = self._stream(passphrase, salt, iv, len(body))
        if not hmac.compare_digest(tag, hmac.new(key, iv + body, "sha256").digest()[:16]):
            raise ValueError("OperationError")
        return bytes(a ^ b for a, b in zip(body, stream))


# --- the format ---------------------------------------------------------------------------------
def test_a_plain_link_round_trips_and_reads_as_the_docstring_says():
    payload = encode_link(MANIFEST)
    version, flag, data = payload.split(".", 2)
    assert (version, flag) == ("1", PLAIN)
    assert set(data) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert zlib.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))) == MANIFEST
    assert decode_link(payload) == ShareLink(1, False, manifest=MANIFEST)


@pytest.mark.parametrize("wrap", [lambda p: p, lambda p: "#/share/" + p,
                                  lambda p: "http://127.0.0.1:8000/#/share/" + p,
                                  lambda p: "  " + p + "\n"])
def test_a_payload_decodes_alone_in_its_fragment_or_in_the_whole_link(wrap):
    assert decode_link(wrap(encode_link(MANIFEST))).manifest == MANIFEST


def test_link_url_drops_the_apps_own_fragment():
    assert sharelink.link_url("http://h:8/#/project/prj_1", "1.p.xyz") == "http://h:8/#/share/1.p.xyz"
    assert sharelink.payload_of("http://h:8/#/share/1.p.xyz") == "1.p.xyz"


def test_an_encrypted_link_frames_salt_iv_and_ciphertext_around_the_cipher():
    cipher = FakeCipher()
    salt, iv = sharelink.new_seal()
    assert (len(salt), len(iv)) == (sharelink.SALT_BYTES, sharelink.IV_BYTES) == (16, 12)
    sealed_bytes = cipher.seal(sharelink.deflate(MANIFEST), "pässword", salt, iv)
    payload = encode_sealed(Sealed(salt, iv, sealed_bytes))
    assert payload.startswith(f"1.{ENCRYPTED}.") and b"Moon" not in payload.encode()
    link = decode_link(payload)
    assert link.encrypted and link.manifest is None
    assert link.sealed == Sealed(salt, iv, sealed_bytes)
    raw = base64.urlsafe_b64decode(payload[4:] + "=" * (-len(payload[4:]) % 4))
    assert raw == salt + iv + sealed_bytes  # the layout the docstring draws
    assert inflate(cipher.open(link.sealed.ciphertext, "pässword", salt, iv)) == MANIFEST
    with pytest.raises(ValueError):
        cipher.open(link.sealed.ciphertext, "password", salt, iv)


def test_each_link_gets_a_fresh_salt_and_iv_and_the_key_parameters_are_strong():
    assert len({sharelink.new_seal() for _ in range(50)}) == 50
    assert sharelink.PBKDF2_ITERATIONS >= 600_000 and sharelink.TAG_BYTES == 16


def test_a_passphrase_is_normalised_so_any_keyboard_derives_the_same_key():
    assert sharelink.normalize_passphrase("cafe\u0301") == sharelink.normalize_passphrase("caf\u00e9")


def test_a_seal_needs_a_whole_salt_and_iv():
    with pytest.raises(ValueError):
        encode_sealed(Sealed(b"short", b"i" * 12, b"c" * 32))


def test_share_link_errors_are_backup_errors_with_a_code():
    error = code_of("")
    assert isinstance(error, BackupError) and error.code == "link_corrupted"


# --- the caps -----------------------------------------------------------------------------------
def test_making_a_link_over_the_cap_is_refused_with_a_backup_file_suggested():
    with pytest.raises(ShareLinkError) as caught:
        encode_link(os.urandom(25_000))  # incompressible: 33,334 characters of base64
    assert caught.value.code == "link_too_long"
    assert "32 KB" in str(caught.value) and "backup file" in str(caught.value)


def test_the_cap_counts_the_whole_fragment():
    room = MAX_FRAGMENT_CHARS - len("/share/")
    assert len(plain(b"")) < room
    assert code_of("1.p." + "A" * (room - 4 + 1)).code == "link_too_long"
    assert code_of("1.p." + "A" * (room - 4)).code != "link_too_long"


def test_an_overlong_link_is_refused_before_it_is_decoded():
    error = code_of("1.p." + "!" * (MAX_FRAGMENT_CHARS * 8))
    assert error.code == "link_too_long" and "32 KB" in str(error)


def test_a_deflate_bomb_stops_at_the_cap_without_inflating_the_rest(monkeypatch):
    bomb = zlib.compress(b"\0" * (64 << 20), 9)  # 64 MiB of zeros in ~64 KB: over the cap
    small_bomb = zlib.compress(b"{" * (MAX_MANIFEST_BYTES + 1), 9)
    outputs = []
    real = zlib.decompressobj

    class Recording:
        def __init__(self):
            self.inner = real()

        def decompress(self, data, max_length=0):
            assert 0 < max_length <= MAX_MANIFEST_BYTES + 1
            out = self.inner.decompress(data, max_length)
            outputs.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(sharelink.zlib, "decompressobj", Recording)
    for data in (bomb[:20_000], small_bomb):
        with pytest.raises(ShareLinkError) as caught:
            inflate(data)
        assert caught.value.code == "link_too_large"
    assert max(outputs) <= MAX_MANIFEST_BYTES + 1
    assert code_of(plain(small_bomb)).code == "link_too_large"


def test_a_manifest_at_the_cap_inflates():
    assert len(inflate(zlib.compress(b" " * MAX_MANIFEST_BYTES))) == MAX_MANIFEST_BYTES


# --- damaged and newer links --------------------------------------------------------------------
@pytest.mark.parametrize("payload, words", [
    ("", "format version"),
    ("garbage", "format version"),
    ("x.p.AAAA", "format version"),
    ("1.p", "format version"),
    ("0.p.AAAA", "version 0 does not exist"),
    ("1.z.AAAA", "neither plain"),
    ("1.p.", "carries no data"),
    ("1.p.ab+c", "not base64url"),
    ("1.p.ab/c", "not base64url"),
    ("1.p.abc=", "not base64url"),
    ("1.p.abcde", "not base64url"),                      # 5 characters: no byte string
    (plain(b"not zlib at all"), "compressed data is damaged"),
    (plain(zlib.compress(MANIFEST)[:-3]), "ends early"),
    (plain(zlib.compress(MANIFEST) + b"more"), "follows its compressed data"),
    (plain(zlib.compress(MANIFEST)[:-1] + b"\0"), "compressed data is damaged"),  # Adler-32
    ("1.e." + plain(b"x" * 44)[4:], "too short"),
])
def test_a_damaged_link_is_refused_naming_the_damage(payload, words):
    error = code_of(payload)
    assert error.code == "link_corrupted" and words in str(error)
    assert "Nothing was imported" in str(error)


@pytest.mark.parametrize("version", ["2", "17", "999999"])
def test_a_link_from_a_newer_scenevault_asks_for_an_update(version):
    error = code_of(f"{version}.x.anything-at-all")
    assert error.code == "link_newer"
    assert "made by a newer SceneVault" in str(error) and "Update SceneVault" in str(error)


def test_random_text_is_always_refused_with_a_share_link_error():
    for seed in range(200):
        text = base64.urlsafe_b64encode(os.urandom(seed * 7)).decode()
        for candidate in (text, "1.p." + text, "1.e." + text, "1.p." + text[:-1]):
            try:
                decode_link(candidate)
            except ShareLinkError:
                continue
            assert candidate.startswith("1.e.")  # well-framed: only the passphrase can tell
