"""Real media for the slot-card tests, made and measured OUTSIDE the page (CPython):

- `make_clips(directory)` encodes short test-pattern clips with Debian's ffmpeg (WebM: VP8 and
  Opus; MP4: H.264 and AAC; a header-less "live" WebM; a sound-only WebM; a PNG still) and
  measures them with ffprobe, so the expected width, height and duration never come from the
  code under test. A missing ffmpeg is an error, not a skip.
- `preview_stats(page, sha256)` reads a preview straight from IndexedDB (plain JS, not the
  vault's code), decodes it and sums up its pixels.

    clips = make_clips(tmp_path)
    clips["webm"].duration_ms       # 2008, from ffprobe
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

FFMPEG, FFPROBE = "/usr/bin/ffmpeg", "/usr/bin/ffprobe"
# name -> (file, MIME type, test pattern size, seconds, codec arguments)
RECIPES = {
    "webm": ("clip.webm", "video/webm", "480x270", 2,
             ["-c:v", "libvpx", "-b:v", "600k", "-c:a", "libopus"]),
    "mp4": ("clip.mp4", "video/mp4", "240x320", 3,
            ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
             "-movflags", "+faststart"]),
    # a recorder-style WebM: no duration in its header, so the browser reports Infinity
    "webm-live": ("live.webm", "video/webm", "320x240", 2,
                  ["-an", "-c:v", "libvpx", "-b:v", "400k", "-live", "1", "-f", "webm"]),
    "sound-only": ("voice.webm", "video/webm", None, 2, ["-c:a", "libopus"]),
}
STILL = "still.png"  # one test-pattern frame as a PNG


@dataclass(frozen=True)
class Clip:
    """A media file on disk and what ffprobe says about it."""

    path: Path
    mime_type: str
    width: int | None
    height: int | None
    duration_ms: int

    def as_upload(self, name: str | None = None, mime_type: str | None = None) -> dict:
        """The file as Playwright's `set_input_files` takes it (renamed and relabelled if asked)."""
        return {"name": name or self.path.name, "mimeType": mime_type or self.mime_type,
                "buffer": self.path.read_bytes()}


def make_clips(directory: Path) -> dict[str, Clip]:
    """Encode every clip of RECIPES into `directory` and probe it."""
    for tool in (FFMPEG, FFPROBE):
        if not Path(tool).exists():
            raise RuntimeError(f"{tool} is missing: install Debian's ffmpeg (`make test` does)")
    clips = {name: _encode(directory, *recipe) for name, recipe in RECIPES.items()}
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=64x48", "-frames:v", "1", str(directory / STILL)], check=True)
    clips["still"] = Clip(directory / STILL, "image/png", 64, 48, 0)
    return clips


def _encode(directory: Path, file: str, mime_type: str, size: str | None, seconds: int,
            codecs: list[str]) -> Clip:
    path = directory / file
    pattern = f"testsrc=size={size}:rate=25:duration={seconds}"
    picture = ["-f", "lavfi", "-i", pattern] if size else []
    sound = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *picture, *sound,
                    *codecs, "-shortest", str(path)], check=True)
    return _probe(path, mime_type)


def _probe(path: Path, mime_type: str) -> Clip:
    out = subprocess.run([FFPROBE, "-v", "error", "-of", "json", "-show_entries",
                          "format=duration:stream=codec_type,width,height", str(path)],
                         check=True, capture_output=True, text=True).stdout
    probed = json.loads(out)
    video = next((s for s in probed["streams"] if s["codec_type"] == "video"), {})
    seconds = probed["format"].get("duration") or _last_packet_end(path)
    return Clip(path, mime_type, video.get("width"), video.get("height"),
                round(float(seconds) * 1000))


def _last_packet_end(path: Path) -> float:
    """The end of the last packet, for files whose header states no duration."""
    out = subprocess.run([FFPROBE, "-v", "error", "-show_entries", "packet=pts_time,duration_time",
                          "-of", "csv=p=0", str(path)], check=True, capture_output=True,
                         text=True).stdout
    return max(sum(map(float, line.split(",")[:2])) for line in out.split() if line)


# Reads previews[sha256] with plain IndexedDB, decodes it, and measures its pixels: size,
# type, distinct colours (4 bits per channel), luminance spread, and how many columns have
# more than 4 px that differ from the top-left (background) pixel.
PREVIEW_STATS_JS = """async (sha) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("scenevault");
                                              r.onsuccess = () => ok(r.result); r.onerror = no; });
  const entry = await new Promise((ok, no) => {
    const r = db.transaction("previews").objectStore("previews").get(sha);
    r.onsuccess = () => ok(r.result); r.onerror = no; });
  db.close();
  if (!entry) return null;
  const bitmap = await createImageBitmap(entry.blob);
  const { width, height } = bitmap;
  const context = new OffscreenCanvas(width, height).getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const px = context.getImageData(0, 0, width, height).data;
  const colors = new Set(), lit = new Array(width).fill(0);
  let sum = 0, squares = 0;
  for (let i = 0; i < px.length; i += 4) {
    const [r, g, b] = [px[i], px[i + 1], px[i + 2]];
    colors.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
    const luma = 0.299 * r + 0.587 * g + 0.114 * b;
    sum += luma; squares += luma * luma;
    const far = Math.abs(r - px[0]) + Math.abs(g - px[1]) + Math.abs(b - px[2]) > 48;
    if (far) lit[(i / 4) % width] += 1;
  }
  const n = width * height, mean = sum / n;
  return { type: entry.blob.type, width, height, colors: colors.size,
           spread: Math.sqrt(Math.max(0, squares / n - mean * mean)),
           litColumns: lit.filter((count) => count > 4).length };
}"""


def preview_stats(page, sha256: str) -> dict | None:
    """What the stored preview of `sha256` looks like (None when there is none)."""
    return page.evaluate(PREVIEW_STATS_JS, sha256)


def ffprobe(path) -> dict:
    """ffprobe's JSON (format and streams) of a media file: measured outside the page."""
    out = subprocess.run([FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json",
                          str(path)], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def movie_tags(probe: dict) -> dict[str, str]:
    """The file's Matroska tags of target 50 (MOVIE), by name, from `ffprobe`'s JSON. ffprobe
    prints a tag whose target names its type as "MOVIE/NAME" (Mediabunny writes TargetType
    MOVIE), beside the muxer's own lower-case `encoder`; only the MOVIE ones are kept here."""
    tags = probe["format"].get("tags", {})
    return {name.removeprefix("MOVIE/"): text for name, text in tags.items()
            if name.startswith("MOVIE/")}
