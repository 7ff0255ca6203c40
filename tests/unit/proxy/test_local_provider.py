"""The `local` provider: deterministic PNG scenes that follow prompt and seed, WAV narration whose
length follows the text, and fast enough (a 1024x576 image in well under a second)."""

import hashlib
import io
import statistics
import struct
import time
import wave
import zlib

import pytest

from proxy.providers.local import LocalProvider
from proxy.providers.transport import Deadline
from app.core.recipe import Catalog, validate_request, with_chosen_seed

PROVIDER = LocalProvider()
CATALOG = Catalog("local", (PROVIDER.spec(),))
# The same on CPython 3.11, 3.12, 3.13 and Pyodide 3.14 (wasm32). Changing them means every vault's
# local images and narration stop regenerating bit-identically: give a changed renderer a new
# model name instead of editing the hashes.
GOLDEN_IMAGE_SHA256 = "27a0d72b4bb1f976b5bc7933bb63bac110cc0d41fe23960d082ef7010d929276"
GOLDEN_AUDIO_SHA256 = "2654303a21bf70fc5eb6938e15e226c94258eb3a64fa88132fd08554bda040b6"


def generate(**fields):
    recipe = with_chosen_seed(validate_request({"kind": "image", "seed": 1, **fields}, CATALOG))
    return PROVIDER.generate(recipe, Deadline(30))


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """A small stdlib PNG decoder (8-bit RGB, every filter type): width, height, RGB rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        assert struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])[0] == zlib.crc32(kind + body)
        header = struct.unpack(">IIBBBBB", body) if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert (depth, colour, interlace) == (8, 2, 0)
    raw, stride = zlib.decompress(idat), 3 * width
    rows, previous = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous)
        rows.append(bytes(row))
        previous = row
    return width, height, rows


def unfilter(kind: int, row: bytearray, up: bytes) -> bytearray:
    if kind == 0:
        return row
    for i in range(len(row)):
        a, b, c = (row[i - 3] if i >= 3 else 0), up[i], (up[i - 3] if i >= 3 else 0)
        p = a + b - c
        paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)
        row[i] = (row[i] + (0, a, b, (a + b) // 2, paeth)[kind]) & 0xFF
    return row


def pixels(rows: list[bytes]) -> list[bytes]:
    return [row[i:i + 3] for row in rows for i in range(0, len(row), 3)]


def difference(one: bytes, other: bytes) -> float:
    """The share of pixels that differ between two same-sized PNGs."""
    a, b = pixels(decode_png(one)[2]), pixels(decode_png(other)[2])
    return sum(x != y for x, y in zip(a, b)) / len(a)


def luminance(rows: list[bytes], top: int, bottom: int) -> float:
    values = [row[i] * 3 + row[i + 1] * 6 + row[i + 2] for row in rows[top:bottom] for i in range(0, len(row), 3)]
    return sum(values) / len(values) / 10


def test_the_same_recipe_gives_the_same_bytes():
    assert generate(prompt="a lighthouse at dusk").data == generate(prompt="a lighthouse at dusk").data


def test_the_output_matches_the_recorded_hashes_on_every_machine():
    image = generate(prompt="two knights at sunset in the desert", width=256, height=144, seed=7)
    audio = PROVIDER.generate(with_chosen_seed(validate_request(
        {"kind": "audio", "prompt": "Once upon a time, by the sea.", "seed": 7}, CATALOG)), Deadline(30))
    assert hashlib.sha256(image.data).hexdigest() == GOLDEN_IMAGE_SHA256
    assert hashlib.sha256(audio.data).hexdigest() == GOLDEN_AUDIO_SHA256


@pytest.mark.parametrize("width, height", [(1024, 576), (64, 64), (2048, 64), (64, 2048), (512, 512)])
def test_images_decode_to_the_requested_size(width, height):
    media = generate(prompt="a knight in a forest", width=width, height=height)
    assert media.mime_type == "image/png"
    w, h, rows = decode_png(media.data)
    assert (w, h, len(rows)) == (width, height, height)


def test_different_prompts_give_visibly_different_pictures():
    desert = generate(prompt="a caravan in the desert at noon").data
    city = generate(prompt="a detective in a rainy city at night").data
    assert difference(desert, city) > 0.6


def test_a_different_seed_rearranges_the_same_scene():
    assert difference(generate(prompt="a castle by a lake", seed=1).data,
                      generate(prompt="a castle by a lake", seed=2).data) > 0.1


def test_unknown_words_still_change_the_palette():
    assert difference(generate(prompt="quarterly tax report").data,
                      generate(prompt="grandmother's recipe book").data) > 0.3


def test_night_skies_are_darker_than_day_skies():
    night = decode_png(generate(prompt="a village at night").data)[2]
    day = decode_png(generate(prompt="a village at noon").data)[2]
    assert luminance(night, 0, 150) < luminance(day, 0, 150) / 2


def test_pictures_are_shapes_not_noise():
    _, _, rows = decode_png(generate(prompt="two hikers on a snowy mountain road").data)
    runs = [sum(1 for i in range(3, len(row), 3) if row[i:i + 3] != row[i - 3:i]) + 1 for row in rows]
    assert 1024 / statistics.mean(runs) > 16  # long runs of one colour: areas, not speckle
    assert len(set(pixels(rows))) < 4000


def test_a_1024x576_image_takes_under_a_second(capsys):
    times = []
    for seed in (1, 2, 3):
        start = time.perf_counter()
        generate(prompt="a lonely robot in a cyberpunk city at night, road", seed=seed)
        times.append(time.perf_counter() - start)
    with capsys.disabled():
        print(f"\nlocal 1024x576 image: median {statistics.median(times) * 1000:.1f} ms "
              f"(runs: {', '.join(f'{t * 1000:.0f}' for t in times)} ms)")
    assert statistics.median(times) < 1.0


def narrate(prompt: str, **fields) -> bytes:
    recipe = with_chosen_seed(validate_request({"kind": "audio", "prompt": prompt, "seed": 3, **fields},
                                               CATALOG))
    media = PROVIDER.generate(recipe, Deadline(30))
    assert media.mime_type == "audio/wav"
    return media.data


def read_wav(data: bytes) -> tuple[float, bytes]:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        frames = wav.readframes(wav.getnframes())
        return wav.getnframes() / wav.getframerate(), frames


def test_narration_is_a_valid_wav_whose_length_follows_the_text():
    durations = {n: read_wav(narrate(" ".join(["word"] * n)))[0] for n in (5, 20, 80)}
    for words, seconds in durations.items():
        assert words / 2.5 * 0.8 < seconds < words / 2.5 * 1.25 + 1.0, (words, seconds)
    assert durations[5] < durations[20] < durations[80]


def test_narration_is_not_silent_and_is_deterministic():
    data = narrate("The quick brown fox jumps over the lazy dog.")
    assert data == narrate("The quick brown fox jumps over the lazy dog.")
    _, frames = read_wav(data)
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    assert max(abs(s) for s in samples) > 5000


def test_voices_and_seeds_change_the_narration():
    text = "Hello there, traveller."
    assert narrate(text, voice="deep") != narrate(text, voice="bright")
    assert narrate(text, seed=1) != narrate(text, seed=2)


def test_the_provider_describes_itself():
    spec = PROVIDER.spec()
    assert (spec.name, spec.kinds, spec.deterministic, spec.configured) == ("local", ("image", "audio"), True, True)
    assert spec.voices and all(spec.models[kind] for kind in spec.kinds)
