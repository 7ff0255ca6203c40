"""The local provider's narration (server-only): speech-like WAV audio whose length follows the text.

Owns the voice: every word becomes voiced syllables (a buzzy, vowel-coloured tone with a pitch
contour and a swell-and-fade envelope), words starting with a hiss or a stop get a short noise
burst, words are separated by short gaps and sentences by pauses, and pitch drifts down
through a sentence (up for a question). About 2.5 words per second, 16 kHz mono 16-bit, written
with the stdlib `wave` module. Only integer arithmetic (a Bhaskara sine table, SHA-256
noise), so the same text, voice and key give the same bytes everywhere. Work is per period of
the tone, not per sample: a period is built once and repeated.

    wav = narrate("Once upon a time.", voice="narrator", key=b"k" * 32)
"""

from __future__ import annotations

import hashlib
import io
import re
import wave
from array import array
from functools import lru_cache

from proxy.providers.canvas import Rand

RATE = 16_000
WORD_MS, GAP_MS, PAUSE_MS, EDGE_MS = 400, 80, 250, 200
VOICES = {"narrator": 120, "bright": 205, "deep": 85}
# Harmonic weights 1..6 per vowel: a crude stand-in for formants, enough to sound vowel-like.
VOWELS = {"a": (40, 30, 25, 15, 8, 4), "e": (45, 20, 10, 20, 15, 6), "i": (55, 10, 5, 8, 18, 12),
          "o": (50, 35, 15, 6, 3, 2), "u": (60, 25, 8, 3, 2, 1), "y": (55, 12, 6, 10, 16, 10)}
ENVELOPE = ((15, 90), (35, 230), (30, 180), (20, 70))  # (% of the syllable, level of 256)
HISS, STOPS = frozenset("sfzhcx"), frozenset("tpkbdgq")
SINE_HALF = 128  # table entries per half turn


def _bhaskara(k: int) -> int:
    """sin(pi * k / 128) * 32767 by Bhaskara I's rational approximation, integers only."""
    return 32767 * 16 * k * (SINE_HALF - k) // (5 * SINE_HALF * SINE_HALF - 4 * k * (SINE_HALF - k))


SINE = tuple(_bhaskara(k) for k in range(SINE_HALF)) + tuple(-_bhaskara(k) for k in range(SINE_HALF))
NOISE = array("h", (int.from_bytes(hashlib.sha256(i.to_bytes(4, "big")).digest()[j:j + 2], "big",
                                   signed=True) // 3 for i in range(200) for j in range(0, 32, 2)))


def narrate(text: str, voice: str, key: bytes) -> bytes:
    """WAV bytes saying `text` in `voice` (a name from VOICES); `key` varies the delivery."""
    samples = array("h")
    samples.extend(_silence(EDGE_MS))
    rand = Rand(key)
    base = VOICES[voice]
    for sentence in _sentences(text):
        _say_sentence(samples, sentence, base, rand)
    samples.extend(_silence(EDGE_MS))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def _sentences(text: str) -> list[tuple[list[str], str]]:
    """[(words, closing punctuation)]: 'Hi there. Who?' -> [(['hi', 'there'], '.'), (['who'], '?')]."""
    found = re.findall(r"([^.!?;:,]+)([.!?;:,]*)", text.lower())
    sentences = [(re.findall(r"[\w']+", words), end[:1]) for words, end in found]
    return [(words, end) for words, end in sentences if words] or [(["hm"], ".")]


def _say_sentence(samples: array, sentence: tuple[list[str], str], base: int, rand: Rand) -> None:
    words, end = sentence
    for i, word in enumerate(words):
        drift = i * 8 // max(1, len(words))  # pitch falls through the sentence ...
        last = i == len(words) - 1
        lift = 12 if last and end == "?" else (-10 if last else 0)  # ... and turns at its end
        pitch = base * (100 - drift + lift + rand.between(-6, 6)) // 100
        _say_word(samples, word, pitch, rand)
        samples.extend(_silence(GAP_MS))
    if end:
        samples.extend(_silence(PAUSE_MS))


def _say_word(samples: array, word: str, pitch: int, rand: Rand) -> None:
    voiced = (WORD_MS - GAP_MS) * RATE // 1000
    if word[0] in HISS or word[0] in STOPS:
        burst = voiced // (5 if word[0] in HISS else 14)
        offset = rand.below(len(NOISE) - burst)
        samples.extend(_scaled(NOISE[offset:offset + burst], 150 if word[0] in HISS else 220))
        voiced -= burst
    vowels = re.findall(r"[aeiouy]+", word) or ["a"]
    for syllable in vowels[:4]:
        _say_syllable(samples, syllable[0], pitch, voiced // min(4, len(vowels)), rand)
        pitch = pitch * rand.between(92, 106) // 100


def _say_syllable(samples: array, vowel: str, pitch: int, length: int, rand: Rand) -> None:
    rise = rand.between(-8, 8)
    for step, (share, level) in enumerate(ENVELOPE):
        period = _period(RATE // max(40, pitch * (100 + rise * step // 3) // 100), vowel)
        count = max(1, length * share // 100 // len(period))
        samples.extend(_scaled(period, level) * count)


@lru_cache(maxsize=512)
def _period(size: int, vowel: str) -> array:
    """One period of the vowel's tone, `size` samples long, at full level."""
    weights = VOWELS[vowel]
    total = sum(weights)
    return array("h", (sum(w * SINE[(h + 1) * i * 256 // size % 256] for h, w in enumerate(weights))
                       // total for i in range(size)))


def _scaled(wave_part: array, level: int) -> array:
    return array("h", (s * level >> 8 for s in wave_part))


def _silence(ms: int) -> array:
    return array("h", bytes(2 * (ms * RATE // 1000)))
