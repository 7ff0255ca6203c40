"""bench/videoquality.py: ffmpeg's SSIM/PSNR summaries are parsed exactly (with ffmpeg 5.1's own
lines, identical frames included), a log without them is an error that says so, and the ffmpeg
commands the render benchmark times are the ones its docstring states."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("bench_videoquality", ROOT / "bench" / "videoquality.py")
vq = importlib.util.module_from_spec(SPEC)
sys.modules[SPEC.name] = vq  # dataclasses look their module up there
SPEC.loader.exec_module(vq)

# Printed by Debian's ffmpeg 5.1.9 for testsrc against testsrc with noise=alls=20.
NOISY = """\
frame=    5 fps=0.0 q=-0.0 Lsize=N/A time=00:00:01.00 bitrate=N/A speed= 102x
[Parsed_psnr_5 @ 0x55eb06a37300] PSNR y:35.004309 u:38.416885 v:38.450963 average:35.876802 \
min:35.843869 max:35.909603
[Parsed_ssim_4 @ 0x55eb06a366c0] SSIM Y:0.944750 (12.576712) U:0.996896 (25.081172) \
V:0.998587 (28.498008) All:0.962414 (14.249756)
"""
IDENTICAL = """\
[Parsed_psnr_5 @ 0x555b2080ed80] PSNR y:inf u:inf v:inf average:inf min:inf max:inf
[Parsed_ssim_4 @ 0x555b2080e140] SSIM Y:1.000000 (inf) U:1.000000 (inf) V:1.000000 (inf) \
All:1.000000 (inf)
"""


def test_the_summary_lines_give_overall_and_luma_figures():
    assert vq.parse_quality(NOISY) == vq.Quality(ssim=0.962414, ssim_y=0.94475,
                                                 psnr=35.876802, psnr_y=35.004309)


def test_identical_frames_read_as_ssim_1_and_infinite_psnr():
    quality = vq.parse_quality(IDENTICAL)
    assert quality.ssim == quality.ssim_y == 1.0
    assert math.isinf(quality.psnr) and math.isinf(quality.psnr_y)


@pytest.mark.parametrize("log, missing", [
    (NOISY.split("[Parsed_ssim")[0], "SSIM"),
    ("\n".join(line for line in NOISY.splitlines() if "PSNR" not in line), "PSNR"),
    ("Error opening input file out.webm", "SSIM and PSNR"),
    (NOISY + NOISY, "SSIM and PSNR"),  # two comparisons in one log: which one is meant?
])
def test_a_log_without_exactly_one_summary_of_each_is_refused(log, missing):
    with pytest.raises(ValueError, match=f"printed {missing} summary lines"):
        vq.parse_quality(log)


def test_the_vp9_baseline_is_libvpx_vp9_in_real_time_mode_from_raw_frames():
    command = vq.vpx_command("vp9", "ref.yuv", (1280, 720), 30, 2_765_000, 60, 2, "out.webm")
    text = " ".join(command)
    assert "-f rawvideo -pix_fmt yuv420p -s 1280x720 -r 30 -i ref.yuv" in text
    assert ("-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 -threads 2 "
            "-b:v 2765000 -g 60 -f webm out.webm") in text


def test_the_vp8_baseline_is_libvpx_without_the_vp9_only_row_threading():
    text = " ".join(vq.vpx_command("vp8", "ref.yuv", (640, 360), 25, 576_000, 50, 4, "o.webm"))
    assert "-c:v libvpx -deadline realtime -cpu-used 8 -threads 4 -b:v 576000 -g 50" in text
    assert "row-mt" not in text


def test_an_unknown_codec_is_refused_by_name():
    with pytest.raises(ValueError, match="'av1' is not one of vp8, vp9"):
        vq.vpx_command("av1", "ref.yuv", (640, 360), 30, 1, 60, 2, "o.webm")


@pytest.mark.parametrize("matrix, full, expected", [
    ("bt709", True, "scale=out_color_matrix=bt709:out_range=full:"),
    ("smpte170m", False, "scale=out_color_matrix=smpte170m:out_range=limited:"),
])
def test_the_reference_is_converted_as_the_file_declares(matrix, full, expected):
    assert vq.colour_filter(matrix, full).startswith(expected)
    assert vq.colour_filter(matrix, full).endswith(",format=yuv420p")


def test_a_colour_matrix_that_is_not_a_name_cannot_inject_filters():
    with pytest.raises(ValueError, match="not an ffmpeg colour space name"):
        vq.colour_filter("bt709,drawtext=text=x", True)


def test_quality_compares_every_frame_without_converting_either_side():
    command = vq.quality_command("ours.webm", "ref.yuv", (1280, 720), 30)
    graph = command[command.index("-lavfi") + 1]
    assert "scale" not in graph and "select" not in graph
    assert graph.endswith("[a1][b1]ssim;[a2][b2]psnr")
    assert command[-3:] == ["-f", "null", "-"]
