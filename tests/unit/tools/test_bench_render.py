"""bench/render.py's pure parts: the issue-17 figures carry their goals into docs/benchmarks.md,
every figure it can report is explained in its docstring, and encoder variants get the bitrate
their bits-per-pixel say."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def render():
    """bench/render.py, imported the way bench/run.py does (bench/ on the path, for its siblings)."""
    saved = list(sys.path)
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        yield _load("render")
    finally:
        sys.path[:] = saved
        for sibling in ("harness", "export", "videoquality"):
            sys.modules.pop(sibling, None)


@pytest.fixture(scope="module")
def report():
    return _load("report")


def test_the_issue_figures_are_reported_with_their_goals(render, report):
    figures = render._goals({"render_vs_ffmpeg_720p": 0.61, "render_speed_vs_realtime_720p": 1.4,
                             "render_longest_task_ms_720p": 0, "render_peak_mem_60s_vs_12s": 1.1,
                             "render_ssim_720p": 0.97})
    lines = report.render_markdown({"render": json.loads(json.dumps(figures))}).splitlines()
    assert "| render_vs_ffmpeg_720p | 0.61 | >= 0.5 |" in lines
    assert "| render_speed_vs_realtime_720p | 1.4 | >= 1.0 |" in lines
    assert "| render_longest_task_ms_720p | 0 | <= 50 |" in lines
    assert "| render_peak_mem_60s_vs_12s | 1.1 | <= 1.3 |" in lines
    assert "| render_ssim_720p | 0.97 |  |" in lines


def test_every_figure_name_is_explained_in_the_docstring(render):
    source = (ROOT / "bench" / "render.py").read_text()
    named = {name for name in re.findall(r'"((?:render|ffmpeg)_[a-z0-9_]+)"', source)
             if not name.startswith("render_variant_")}
    assert "render_vs_ffmpeg_720p" in named and "render_peak_mem_60s_vs_12s" in named
    for figure in sorted(named | set(render.GOALS)):
        assert f"`{figure}`" in render.__doc__, f"bench/render.py reports {figure} without explaining it"
    for pattern in ("render_variant_<name>_speed", "`render_hw_encoder_vp8`", "`ffmpeg_vp9_ssim_720p`"):
        assert pattern in render.__doc__


def test_todays_settings_are_one_of_the_variants(render):
    assert render.VARIANTS["vp9_quality"] == {"codec": "vp9", "latencyMode": "quality", "keyFrameInterval": 2}
    worker = (ROOT / "static" / "js" / "render" / "worker.mjs").read_text()
    assert 'keyFrameInterval: 2, latencyMode: "quality"' in worker, (
        "static/js/render/worker.mjs changed its encoder options: update TODAY in bench/render.py")


def test_a_variant_bitrate_follows_its_bits_per_pixel(render):
    spec = {"settings": {"width": 1280, "height": 720, "fps": 30}}
    assert render._variant_options(spec, {"codec": "vp8", "bpp": 0.15}) == {"codec": "vp8",
                                                                            "bitrate": 4_147_000}
    assert render._variant_options(spec, {"codec": "vp9"}) == {"codec": "vp9"}


def test_the_comparison_table_has_a_line_per_variant(render):
    table = render.variant_table([("vp9_quality", 1.2, 0.4, 0.97043, 43.75, 3571),
                                  ("vp8_realtime", 2.5, 0.8, 0.955, 41.99, 2954)])
    lines = table.splitlines()
    assert lines[0].split() == ["variant", "x", "realtime", "/", "ffmpeg", "SSIM", "PSNR", "kbit/s"]
    assert lines[1].split() == ["vp9_quality", "1.20", "0.40", "0.9704", "43.75", "3571"]
    assert len(lines) == 3
