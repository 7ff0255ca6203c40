"""ffmpeg for the render benchmark (bench/render.py): the command lines it runs, and the pure
parsing of what ffmpeg prints. The commands are built here so that the docstring of
bench/render.py, the unit tests and the run all state the same thing.

- `raw_command`: RGBA frames captured from the canvas -> raw yuv420p in the colour space the
  browser's encoder declares (`colour_filter`), the reference every encode is compared with.
- `vpx_command`: ffmpeg's libvpx (VP8) or libvpx-vp9 in real-time mode, encoding the raw
  reference frames to a WebM: the speed floor the render is judged against.
- `quality_command` + `parse_quality`: SSIM and PSNR of an encoded video against the raw
  reference, frame by frame over the whole video, with ffmpeg's `ssim` and `psnr` filters.

    >>> print(" ".join(vpx_command("vp9", "ref.yuv", (1280, 720), 30, 2_765_000, 60, 2, "out.webm")))
    ffmpeg -nostdin -hide_banner -loglevel info -y -f rawvideo -pix_fmt yuv420p -s 1280x720 -r 30 \
-i ref.yuv -an -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 -threads 2 -b:v 2765000 -g 60 -f webm out.webm
    >>> parse_quality("[Parsed_ssim_2 @ 0x1] SSIM Y:0.95 (13.0) U:0.97 (15.2) V:0.98 (16.9) All:0.96 (13.9)\\n"
    ...               "[Parsed_psnr_3 @ 0x2] PSNR y:36.5 u:41.0 v:42.2 average:37.8 min:35.1 max:40.0")
    Quality(ssim=0.96, ssim_y=0.95, psnr=37.8, psnr_y=36.5)
"""

from __future__ import annotations

import math
import re
import subprocess
import time
from dataclasses import dataclass

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
QUIET = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "info", "-y"]
ENCODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}
CPU_USED = 8  # libvpx's fastest real-time preset for VP9 (VP8 takes -16..16; 8 is as fast a setting)

SSIM_LINE = re.compile(r"\bSSIM Y:(?P<y>[\d.]+) \([^)]*\) U:[\d.]+ \([^)]*\) V:[\d.]+ \([^)]*\) "
                       r"All:(?P<all>[\d.]+)")
PSNR_LINE = re.compile(r"\bPSNR y:(?P<y>[\d.]+|inf) u:(?:[\d.]+|inf) v:(?:[\d.]+|inf) "
                       r"average:(?P<average>[\d.]+|inf)")


@dataclass(frozen=True)
class Quality:
    """SSIM (0..1, 1 = identical; `ssim` over Y, U and V as ffmpeg weighs them, `ssim_y` luma only)
    and PSNR in dB (`psnr` ffmpeg's average over the planes, `psnr_y` luma only)."""

    ssim: float
    ssim_y: float
    psnr: float
    psnr_y: float


def parse_quality(log: str) -> Quality:
    """The summary lines of ffmpeg's `ssim` and `psnr` filters in `log` (ffmpeg's stderr). Raises
    ValueError naming what is missing, and quoting the end of the log, when either is absent."""
    ssim, psnr = SSIM_LINE.findall(log), PSNR_LINE.findall(log)
    missing = [name for name, found in (("SSIM", ssim), ("PSNR", psnr)) if len(found) != 1]
    if missing:
        raise ValueError(f"ffmpeg printed {' and '.join(missing)} summary lines "
                         f"{[len(ssim), len(psnr)]} times, not once each; its log ended: {log[-400:]!r}")
    (ssim_y, ssim_all), (psnr_y, psnr_average) = ssim[0], psnr[0]
    return Quality(float(ssim_all), float(ssim_y), _decibels(psnr_average), _decibels(psnr_y))


def _decibels(text: str) -> float:
    return math.inf if text == "inf" else float(text)


def colour_filter(matrix: str, full_range: bool) -> str:
    """The scale filter that turns RGB into yuv420p the way a file tagged with this matrix
    (ffprobe's `color_space`: bt709, bt470bg, smpte170m...) and range is meant to be read."""
    if not re.fullmatch(r"[a-z0-9]+", matrix):
        raise ValueError(f"colour matrix {matrix!r} is not an ffmpeg colour space name")
    return (f"scale=out_color_matrix={matrix}:out_range={'full' if full_range else 'limited'}"
            f":flags=accurate_rnd+full_chroma_int,format=yuv420p")


def raw_command(rgba: str, size: tuple[int, int], fps: int, colours: str, out: str = "-") -> list[str]:
    """Raw RGBA frames -> raw yuv420p frames (to stdout by default), converted with `colours`."""
    return QUIET + ["-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{size[0]}x{size[1]}", "-r", str(fps),
                    "-i", rgba, "-vf", colours, "-f", "rawvideo", "-pix_fmt", "yuv420p", out]


def vpx_command(codec: str, raw: str, size: tuple[int, int], fps: int, bitrate: int,
                keyframe_frames: int, threads: int, out: str) -> list[str]:
    """ffmpeg encoding the raw yuv420p frames in `raw` with libvpx (`codec` vp8) or libvpx-vp9
    (vp9) in real-time mode at `bitrate` bit/s, a key frame every `keyframe_frames`, on
    `threads` threads, into the WebM `out`."""
    if codec not in ENCODERS:
        raise ValueError(f"codec {codec!r} is not one of {', '.join(ENCODERS)}")
    tuning = ["-row-mt", "1"] if codec == "vp9" else []
    return QUIET + ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{size[0]}x{size[1]}",
                    "-r", str(fps), "-i", raw, "-an",
                    "-c:v", ENCODERS[codec], "-deadline", "realtime", "-cpu-used", str(CPU_USED),
                    *tuning, "-threads", str(threads),
                    "-b:v", str(bitrate), "-g", str(keyframe_frames), "-f", "webm", out]


def quality_command(encoded: str, raw: str, size: tuple[int, int], fps: int) -> list[str]:
    """SSIM and PSNR of the video in `encoded` against the raw yuv420p reference `raw`, every
    frame, compared plane by plane as decoded (no colour conversion of either side)."""
    graph = ("[0:v]format=yuv420p,setpts=N/TB,split[a1][a2];"
             "[1:v]setpts=N/TB,split[b1][b2];[a1][b1]ssim;[a2][b2]psnr")
    return QUIET + ["-i", encoded, "-f", "rawvideo", "-pix_fmt", "yuv420p",
                    "-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", raw,
                    "-lavfi", graph, "-f", "null", "-"]


def run(command: list[str], stdout=subprocess.DEVNULL) -> tuple[float, str]:
    """(wall seconds, stderr) of `command`, its output going to the file `stdout`; raises
    RuntimeError with ffmpeg's last words on failure."""
    start = time.perf_counter()
    done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:8])}... failed ({done.returncode}): {done.stderr[-600:]}")
    return elapsed, done.stderr


def quality(encoded: str, raw: str, size: tuple[int, int], fps: int) -> Quality:
    return parse_quality(run(quality_command(encoded, raw, size, fps))[1])


def probe(path: str) -> dict:
    """The video stream of `path` as ffprobe sees it, with the frames counted (`nb_read_frames`)."""
    import json

    done = subprocess.run([FFPROBE, "-v", "error", "-select_streams", "v:0", "-count_frames",
                           "-show_streams", "-of", "json", path], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"ffprobe {path} failed: {done.stderr[-400:]}")
    return json.loads(done.stdout)["streams"][0]
