"""Clips for the final-cut tests, made and measured OUTSIDE the page with Debian's ffmpeg (the
tools of tests/browser/clipkit.py): solid-colour clips at odd frame rates and sizes, a rotated
MP4, a truncated WebM, a sound-only WebM; and readers of a rendered WebM: the colour of a pixel
at a time, the loudness of a stretch of its sound, and where each stream's last packet ends.

    clips = make_cut_clips(tmp_path)
    clips["red"].path                                   # 320x240, 2 s, VP8 + Opus (a 440 Hz tone)
    pixel(path, 2.5, (320, 180))                        # (254, 0, 0), decoded by ffmpeg
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from clipkit import FFMPEG, FFPROBE

VP8 = ["-c:v", "libvpx", "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8"]
# name -> (file, colour (lavfi), size, frame rate, seconds, tone?, codec arguments)
CLIPS = {
    "red": ("red.webm", "0xff0000", "320x240", "25", 2, True, VP8 + ["-c:a", "libopus"]),
    "green7": ("green7.webm", "0x00ff00", "240x240", "7", 1.5, True, VP8 + ["-c:a", "libopus"]),
    "cyan5994": ("cyan.webm", "0x00ffff", "320x180", "60000/1001", 1, False, VP8),
    "magenta4k": ("magenta4k.webm", "0xff00ff", "3840x2160", "5", 1, False, VP8),
    "long": ("long.webm", "0xffff00", "320x180", "25", 4, False, VP8),
}


@dataclass(frozen=True)
class CutClip:
    path: Path
    mime_type: str

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def make_cut_clips(directory: Path) -> dict[str, CutClip]:
    """Every clip of CLIPS, plus "rotated" (an H.264 MP4 of 320x160, red over blue, whose
    display matrix turns it upright to 160x320), "truncated" (the first half of "long") and
    "sound-only" (a 2 s Opus WebM)."""
    made = {name: _solid(directory, *recipe) for name, recipe in CLIPS.items()}
    plain, rotated = directory / "plain.mp4", directory / "rotated.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=red:size=320x80:rate=25:duration=1,pad=320:160:0:0:blue",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(plain))
    _ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    made["rotated"] = CutClip(rotated, "video/mp4")
    data = made["long"].data
    truncated = directory / "truncated.webm"
    truncated.write_bytes(data[:len(data) // 2])
    made["truncated"] = CutClip(truncated, "video/webm")
    sound = directory / "sound.webm"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:duration=2", "-c:a", "libopus", str(sound))
    made["sound-only"] = CutClip(sound, "video/webm")
    return made


def _solid(directory: Path, file: str, colour: str, size: str, rate: str, seconds: float,
           tone: bool, codecs: list[str]) -> CutClip:
    path = directory / file
    sound = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"] if tone else []
    _ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:size={size}:rate={rate}:duration={seconds}",
            *sound, *codecs, *(["-shortest"] if tone else []), str(path))
    return CutClip(path, "video/webm")


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   timeout=300)


def frame_rgb(path: Path, seconds: float) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of the frame shown at `seconds`, decoded by ffmpeg (which
    applies rotation metadata)."""
    stream = json.loads(subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json",
         str(path)], check=True, capture_output=True, text=True).stdout)["streams"][0]
    width, height = stream["width"], stream["height"]
    if any(abs(int(side.get("rotation", 0))) % 180 == 90 for side in stream.get("side_data_list", [])):
        width, height = height, width  # ffmpeg turns it upright
    data = subprocess.run([FFMPEG, "-v", "error", "-ss", f"{seconds:.3f}", "-i", str(path),
                           "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                          check=True, capture_output=True, timeout=60).stdout
    return width, height, data


def pixel(path: Path, seconds: float, at: tuple[int, int]) -> tuple[int, int, int]:
    width, _, data = frame_rgb(path, seconds)
    start = (at[1] * width + at[0]) * 3
    return tuple(data[start:start + 3])


def loudness(path: Path, start: float, seconds: float) -> float:
    """The RMS level (full scale 1.0) of the sound from `start` for `seconds`, mixed to mono."""
    import array

    raw = subprocess.run([FFMPEG, "-v", "error", "-ss", f"{start:.3f}", "-t", f"{seconds:.3f}",
                          "-i", str(path), "-vn", "-ac", "1", "-ar", "8000", "-f", "f32le", "-"],
                         check=True, capture_output=True, timeout=60).stdout
    samples = array.array("f", raw)
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5


def stream_ends(path: Path) -> dict[str, float]:
    """{"video": s, "audio": s}: where each stream's last packet ends (pts + duration)."""
    out = subprocess.run([FFPROBE, "-v", "error", "-show_entries",
                          "packet=stream_index,pts_time,duration_time:stream=index,codec_type",
                          "-of", "json", str(path)], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    probed = json.loads(out)
    kinds = {s["index"]: s["codec_type"] for s in probed["streams"]}
    ends: dict[str, float] = {}
    for packet in probed["packets"]:
        end = float(packet["pts_time"]) + float(packet.get("duration_time") or 0)
        kind = kinds[packet["stream_index"]]
        ends[kind] = max(ends.get(kind, 0.0), end)
    return ends
