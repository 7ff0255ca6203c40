"""Test helpers that run INSIDE the page's Pyodide (installed by the `vault_page` fixture as the
module `pagekit`): media builders, and JSON-friendly views of vault results.

    import pagekit
    data = pagekit.wav_bytes(5 * 1024 * 1024)
"""

import dataclasses
import hashlib
import io
import os
import struct
import wave
import zlib


def png(width: int, height: int, rgb=(200, 40, 40), noise: bool = False) -> bytes:
    """A valid RGB PNG; `noise` makes it incompressible (stored with zlib level 0)."""
    row = bytes(rgb) * width
    rows = [b"\x00" + (os.urandom(width * 3) if noise else row) for _ in range(height)]
    body = zlib.compress(b"".join(rows), 0 if noise else 6)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def wav_bytes(total_size: int, rate: int = 8000) -> bytes:
    """A valid 8-bit mono WAV of exactly `total_size` bytes, filled with random samples."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(os.urandom(total_size - 44))
    data = buffer.getvalue()
    assert len(data) == total_size, len(data)
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def view(value):
    """Dataclasses (and lists of them) as plain dicts for json.dumps."""
    if isinstance(value, list):
        return [view(item) for item in value]
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


async def error_of(awaitable) -> dict:
    """Await and return {"type", "message"} of the exception it raises ({"type": None} if none)."""
    try:
        await awaitable
    except Exception as exc:
        return {"type": type(exc).__name__, "message": str(exc)}
    return {"type": None, "message": ""}
