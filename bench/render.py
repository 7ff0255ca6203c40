"""Benchmark `render`: the app's final-video render at 720p, judged against ffmpeg's libvpx on the
same frames in the same run, with its quality, its memory against the video's length, how long
it blocks the page, and a comparison of encoder settings to choose the render's defaults.

The project: 3 scenes, each a grainy 1024x576 PNG (gradient, soft shapes, seeded noise; drawn
in the page) with a speech-like 16 kHz WAV narration of about 4 s, 16:9, default settings
(30 fps, 600 ms crossfades, pan, VP9 + Opus, 0.1 bit per pixel): 12 s, 360 frames at 1280x720.
A second project of 15 such scenes lasts 60 s (memory only). Every render goes through the public
API: `Renderer(vault).render(project_id, RenderSettings.for_aspect("16:9", 720))`, which plans,
renders and stores the video as the project's `final` (what the user waits for).

The reference frames: the bench draws every frame of the video on an OffscreenCanvas exactly as
the app does (bench/pages/render-bench.mjs: the timeline arithmetic is checked against
`plan.layers` for every frame before anything runs), reads each back raw (getImageData) and
downloads them 60 at a time; ffmpeg turns them once into raw yuv420p with the colour matrix and range that
the browser's encoder writes into the WebM (ffprobe's `color_space`/`color_range` of our render;
BT.709 full range in Chromium 156). These are the source frames, before any encoder touched them.

Speed (median of `runs` runs, ours and ffmpeg interleaved, order alternating, after a warm-up):
- `render_speed_vs_realtime_720p` (goal >= 1.0): the video's 12 s divided by the wall time of
  `Renderer.render` (decoding the images, mixing and encoding the narration, drawing and encoding
  every frame, storing the WebM).
- `ffmpeg_vp9_speed_vs_realtime_720p`, `ffmpeg_vp8_speed_vs_realtime_720p`: the same for ffmpeg
  encoding the raw reference frames (the yuv file is read from the page cache; only the encode is
  timed, as the wall time of the process), at the render's bitrate and key frame interval, on
  as many threads as the machine has cores (`os.cpu_count()`). Exactly:
      ffmpeg -nostdin -hide_banner -loglevel info -y -f rawvideo -pix_fmt yuv420p -s 1280x720
        -r 30 -i ref.yuv -an -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1
        -threads <cores> -b:v 2765000 -g 60 -f webm out.webm
  and for VP8 the same with `-c:v libvpx` and without `-row-mt 1` (bench/videoquality.py).
- `render_vs_ffmpeg_720p` (goal >= 0.5): our speed divided by ffmpeg libvpx-vp9's.
- `render_ms_median_720p`: the median render time itself, in ms.

Quality (ffmpeg's `ssim` and `psnr` filters over all 360 frames against the raw reference,
yuv420p plane by plane; the encoded frame count is checked first):
- `render_ssim_720p`, `render_psnr_720p`: our render (SSIM over Y, U, V as ffmpeg weighs them,
  PSNR its average in dB); `ffmpeg_vp9_ssim_720p`, `ffmpeg_vp8_ssim_720p` and their `_psnr`.
- `render_kbps_720p`, `ffmpeg_vp9_kbps_720p`, `ffmpeg_vp8_kbps_720p`: what each file holds per
  second of video (ours includes its 96 kbit/s Opus track), for judging quality at its size.

Responsiveness (same runs as the speed):
- `render_longest_task_ms_720p` (goal <= 50): the longest main-thread task of the page
  (Long Tasks API: a PerformanceObserver on "longtask" with `buffered: true`, in the page that
  renders, started before the runs) overlapping the render's [start, end], both read with
  `performance.now()` in Python inside the same `runPython` call as the render; median over the
  runs. 0 means no task reached the API's 50 ms threshold. On a loaded machine the OS takes the
  CPU away in the middle of tasks, which makes them long: this figure moves with the load.
- `render_longtask_control_ms`: the same measurement of a deliberate 120 ms busy loop run the
  same way (Python in `runPython`, timestamps around it): it reads about 120 when the
  measurement works. (A loop run directly by Playwright's `page.evaluate` is NOT a task the API
  sees: the render must run as page tasks, which `runPython`'s coroutine steps are.)

Memory (export's method: bench/export.py `measure`, the peak rise of VmRSS summed over every
Chromium process of this run, sampled every 20 ms, over the resting level after a forced GC):
- `render_peak_mem_60s_vs_12s` (goal <= 1.3): the rise while rendering the 60 s project divided
  by the rise while rendering the 12 s one; `render_peak_mem_mb_12s`, `render_peak_mem_mb_60s`.

Encoder settings (issue 17 item 4): the same frames drawn and encoded straight with Mediabunny's
CanvasSource in the page (no audio, no Python, bitmaps decoded before the clock starts) under
each entry of VARIANTS, median of `variant_runs` runs in alternating order, the first run's WebM
checked for its frame count and compared with the reference:
- `render_variant_<name>_speed` (video s / wall s), `_vs_ffmpeg` (÷ ffmpeg vp9's speed),
  `_ssim`, `_psnr`, `_kbps` (the video's bitrate as written). <name> is
  <codec>_<latencyMode>[_kf<seconds>][_bpp<bits per pixel>]; `vp9_quality` is today's settings.
- `render_draw_only_speed_720p`: drawing every frame and wrapping it in a VideoFrame, no
  encoder: the ceiling any encoder setting can reach with this compositing.
- `render_hw_encoder_vp8`, `render_hw_encoder_vp9`: 1 when the browser offers a
  `prefer-hardware` encoder at this size (0 in headless Chromium with --disable-gpu, so the
  hardware preference cannot be measured here).

`runs` and `variant_runs` default to BENCH_RENDER_RUNS (3) and BENCH_RENDER_VARIANT_RUNS (2).
A run (BENCH_RENDER_RUNS=1, BENCH_RENDER_VARIANT_RUNS=2) took 4 minutes on 2 cores at a load
average of about 5, most of it the variants and the 60 s render; 43 minutes at a load of 25.

    figures = render.run(session, runs=3, variant_runs=2)
    figures["render_vs_ffmpeg_720p"]["value"], figures["render_variant_vp8_realtime_ssim"]
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import export as memory  # bench/export.py: peak RSS of the browser's processes
import videoquality as vq
from harness import median

SIDE = 720
SCENE_MS = (4000, 4200, 3800)  # the narrations; scenes last as long: 12 s
LONG_REPEATS = 5  # the 60 s project: the three scenes five times over
IMAGE_SIDE = (1024, 576)
CAPTURE_BATCH = 60  # reference frames read back and downloaded at a time (221 MB of RGBA at 720p)
BUSY_MS = 120
LAYER_TOLERANCE = 1e-3
GOALS = {"render_longest_task_ms_720p": "<= 50", "render_speed_vs_realtime_720p": ">= 1.0",
         "render_vs_ffmpeg_720p": ">= 0.5", "render_peak_mem_60s_vs_12s": "<= 1.3",
         "render_longtask_control_ms": f">= {BUSY_MS} (control)"}
TODAY = {"codec": "vp9", "latencyMode": "quality", "keyFrameInterval": 2}  # static/js/render/worker.mjs
VARIANTS = {  # name -> CanvasSource options; bitrate 0.1 bit/pixel/frame unless `bpp` says
    "vp9_quality": TODAY,
    "vp9_realtime": {"codec": "vp9", "latencyMode": "realtime", "keyFrameInterval": 2},
    "vp8_quality": {"codec": "vp8", "latencyMode": "quality", "keyFrameInterval": 2},
    "vp8_realtime": {"codec": "vp8", "latencyMode": "realtime", "keyFrameInterval": 2},
    "vp9_quality_kf5": {"codec": "vp9", "latencyMode": "quality", "keyFrameInterval": 5},
    "vp9_quality_bpp0.07": {"codec": "vp9", "latencyMode": "quality", "keyFrameInterval": 2,
                            "bpp": 0.07},
}
KIT = "/bench/pages/render-bench.mjs"

PY_SETUP = """
import json, js
from app.core import storyboard
from app.render.encoder import MEDIABUNNY, Renderer
from app.render.timeline import RenderSettings
from app.startup import current_vault

vault = current_vault()
renderer = Renderer(vault)

async def make_project(title, scenes):
    # scenes: [image index, voice index] per scene
    project = await vault.create_project(title, aspect_ratio="16:9")
    for n in range(len(scenes)):
        project = storyboard.add_scene(project, f"Scene {n + 1}", "a grainy picture")
    await vault.save_project(project)
    for scene, (image, voice) in zip(project.scenes, scenes):
        slots = storyboard.scene_slots(scene)
        await vault.put_asset(project.id, "scene", slots["frame"], js.window.benchImages[image],
                              "image/png", source="imported")
        await vault.put_asset(project.id, "audio", slots["narration"], js.window.benchVoices[voice],
                              "audio/wav", source="imported")
    return project.id

async def make_spec(project_id, side, images):
    plan = await renderer.plan(project_id, RenderSettings.for_aspect("16:9", side))
    assert all(s.narration is not None for s in plan.scenes)
    return json.dumps({
        "module": MEDIABUNNY, "settings": plan.settings.to_dict(), "frames": plan.frame_count,
        "totalMs": plan.total_ms, "scenes": [[s.start_ms, s.duration_ms] for s in plan.scenes],
        "images": images,
        "layers": [[n for layer in plan.layers(frame) for n in (layer.scene, layer.alpha, layer.scale,
                                                                 layer.shift_x, layer.shift_y)]
                   for frame in range(plan.frame_count)]})

async def render_once(project_id, side, keep):
    start = js.performance.now()
    asset = await renderer.render(project_id, RenderSettings.for_aspect("16:9", side))
    end = js.performance.now()
    if keep:
        js.window.benchVideo = await vault.get_blob(asset.id)
    return json.dumps([start, end, asset.size])

def busy(ms):
    start = js.performance.now()
    while js.performance.now() - start < ms:
        pass
    return json.dumps([start, js.performance.now()])
0
"""


@contextmanager
def _phase(name: str):
    """Prints how long a phase of the benchmark took (to keep a run within a few minutes)."""
    start = time.perf_counter()
    yield
    print(f"  render bench: {name} took {time.perf_counter() - start:.1f} s", flush=True)


def _py(page, code: str):
    return page.evaluate("code => window.sceneVault.runPython(code)", code)


def _kit(page, call: str, *args):
    """`window.benchKit.<call>(...args)` in the page (bench/pages/render-bench.mjs)."""
    return page.evaluate(f"args => window.benchKit.{call}(...args)", list(args))


def _open_page(session):
    page = session.context.new_page()
    page.goto(session.base_url + "/")
    page.wait_for_function("document.documentElement.dataset.appState === 'ready'", timeout=60_000)
    page.evaluate(f"async () => {{ window.benchKit = await import({KIT!r}); }}")
    return page


def _spec(page, project_id: str, images: list[int]) -> dict:
    """What the page needs to draw the video, after checking its arithmetic against the plan's."""
    spec = json.loads(_py(page, f"await make_spec({project_id!r}, {SIDE}, {images!r})"))
    theirs = _kit(page, "allLayers", spec)
    for frame, (ours, js_layers) in enumerate(zip(spec.pop("layers"), theirs, strict=True)):
        if len(ours) != len(js_layers) or any(abs(a - b) > LAYER_TOLERANCE for a, b in zip(ours, js_layers)):
            raise AssertionError(f"frame {frame}: plan.layers {ours} != the bench's drawing {js_layers}")
    return spec


def _download(page, expression: str):
    """The Playwright download of the Blob `expression` evaluates to in the page."""
    with page.expect_download(timeout=300_000) as info:
        page.evaluate(f"async () => window.benchKit.download(await ({expression}), 'bench.bin')")
    return info.value


def _reference(page, spec: dict, colours: str, raw: Path) -> Path:
    """The video's frames, read back raw (RGBA) from the canvas a batch at a time, each batch
    converted by ffmpeg with `colours` and appended to the raw yuv420p file `raw`."""
    size, fps = _size(spec), spec["settings"]["fps"]
    with raw.open("wb") as whole:
        for first in range(0, spec["frames"], CAPTURE_BATCH):
            last = min(first + CAPTURE_BATCH, spec["frames"])
            part = _download(page, f"window.benchKit.referenceFrames({json.dumps(spec)}, {first}, {last})")
            rgba = part.path()
            if rgba.stat().st_size != (last - first) * size[0] * size[1] * 4:
                raise AssertionError(f"reference frames {first}-{last}: {rgba.stat().st_size} bytes")
            vq.run(vq.raw_command(str(rgba), size, fps, colours), stdout=whole)
            part.delete()
    return raw


def _save_video(page, path: Path) -> Path:
    """window.benchVideo (the last render or variant) as a file."""
    import base64

    path.write_bytes(base64.b64decode(page.evaluate("() => window.benchKit.base64(window.benchVideo)")))
    return path


def _colours(video: Path) -> str:
    """The RGB -> yuv420p conversion the browser's encoder declares in the WebM it wrote
    (untagged: BT.601 limited range, what players assume)."""
    stream = vq.probe(str(video))
    matrix = stream.get("color_space") or "smpte170m"
    return vq.colour_filter(matrix, stream.get("color_range") == "pc")


def _checked_quality(video: Path, raw: Path, spec: dict) -> vq.Quality:
    """SSIM/PSNR of `video` against the raw reference, after checking it has every frame."""
    frames = int(vq.probe(str(video)).get("nb_read_frames", 0))
    if frames != spec["frames"]:
        raise AssertionError(f"{video.name} has {frames} frames, not {spec['frames']} (frames dropped?)")
    return vq.quality(str(video), str(raw), _size(spec), spec["settings"]["fps"])


def _size(spec: dict) -> tuple[int, int]:
    return spec["settings"]["width"], spec["settings"]["height"]


def _ours(page, project_id: str, keep: bool = False) -> tuple[float, float]:
    """(seconds the render took, its longest main-thread task in ms)."""
    start, end, _size_bytes = json.loads(_py(page, f"await render_once({project_id!r}, {SIDE}, {keep})"))
    page.wait_for_timeout(200)  # let the observer deliver the last entries
    return (end - start) / 1000, float(_kit(page, "longestTask", start, end))


def _ffmpeg(codec: str, raw: Path, spec: dict, out: Path) -> float:
    s = spec["settings"]
    command = vq.vpx_command(codec, str(raw), _size(spec), s["fps"], s["videoBitrate"],
                             s["fps"] * TODAY["keyFrameInterval"], os.cpu_count() or 1, str(out))
    return vq.run(command)[0]


def _variant_options(spec: dict, variant: dict) -> dict:
    options = {k: v for k, v in variant.items() if k != "bpp"}
    if "bpp" in variant:
        s = spec["settings"]
        options["bitrate"] = round(s["width"] * s["height"] * s["fps"] * variant["bpp"], -3)
    return options


def _goals(figures: dict) -> dict:
    """The figures with a goal as {"value", "goal"}, as bench/report.py shows them."""
    return {name: {"value": value, "goal": GOALS[name]} if name in GOALS else value
            for name, value in figures.items()}


RUNS = int(os.environ.get("BENCH_RENDER_RUNS", "3"))
VARIANT_RUNS = int(os.environ.get("BENCH_RENDER_VARIANT_RUNS", "2"))


def run(session, runs: int = RUNS, variant_runs: int = VARIANT_RUNS) -> dict:
    page = _open_page(session)
    cdp = session.context.new_cdp_session(page)
    long_scenes = list(SCENE_MS) * LONG_REPEATS
    _kit(page, "makeMedia", len(SCENE_MS), long_scenes, *IMAGE_SIDE)
    _kit(page, "watchLongTasks")
    _py(page, PY_SETUP)
    short = [[i, i] for i in range(len(SCENE_MS))]
    long = [[i % len(SCENE_MS), i] for i in range(len(long_scenes))]
    short_id = _py(page, f"await make_project('Render bench 12 s', {short!r})")
    long_id = _py(page, f"await make_project('Render bench 60 s', {long!r})")
    spec = _spec(page, short_id, [image for image, _ in short])
    video_s = spec["totalMs"] / 1000
    figures: dict = {"runs": runs, "variant_runs": variant_runs, "video_s": video_s,
                     "frames_720p": spec["frames"], "cores": os.cpu_count() or 1}
    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp:
        work = Path(tmp)
        with _phase("warm-up render"):
            _ours(page, short_id, keep=True)  # Mediabunny, the encoders; its WebM tells the colours
            colours = _colours(_save_video(page, work / "warm.webm"))
        with _phase("reference frames"):
            raw = _reference(page, spec, colours, work / "reference.yuv")
        with _phase("ours against ffmpeg"):
            figures |= _speed(page, spec, short_id, raw, work, runs)
        with _phase("encoder variants"):
            figures |= _variants(page, spec, raw, work, variant_runs,
                                 figures["ffmpeg_vp9_speed_vs_realtime_720p"])
    with _phase("memory"):
        figures |= _memory(page, cdp, short_id, long_id)
    for project_id in (short_id, long_id):
        _py(page, f"await vault.delete_project({project_id!r}); 0")
    page.close()
    print(json.dumps(figures, indent=1))
    return _goals(figures)


def _speed(page, spec: dict, project_id: str, raw: Path, work: Path, runs: int) -> dict:
    """Our render against ffmpeg's VP9 and VP8, interleaved; quality; the long-task control."""
    video_s = spec["totalMs"] / 1000
    times: dict[str, list[float]] = {"ours": [], "vp9": [], "vp8": []}
    tasks = []
    for i in range(runs):
        for who in (("ours", "vp9", "vp8") if i % 2 == 0 else ("vp8", "vp9", "ours")):
            if who == "ours":
                elapsed, longest = _ours(page, project_id, keep=i == runs - 1)
                tasks.append(longest)
            else:
                elapsed = _ffmpeg(who, raw, spec, work / f"ffmpeg-{who}.webm")
            times[who].append(elapsed)
    control = _control(page)
    ours = _checked_quality(_save_video(page, work / "ours.webm"), raw, spec)
    speed = {who: video_s / median(values) for who, values in times.items()}
    figures = {
        "render_speed_vs_realtime_720p": round(speed["ours"], 3),
        "render_vs_ffmpeg_720p": round(speed["ours"] / speed["vp9"], 3),
        "ffmpeg_vp9_speed_vs_realtime_720p": round(speed["vp9"], 3),
        "ffmpeg_vp8_speed_vs_realtime_720p": round(speed["vp8"], 3),
        "render_ms_median_720p": round(1000 * median(times["ours"]), 1),
        "render_longest_task_ms_720p": round(median(tasks), 1),
        "render_longtask_control_ms": round(control, 1),
        "render_ssim_720p": round(ours.ssim, 5), "render_psnr_720p": round(ours.psnr, 2),
        "render_kbps_720p": _kbps(work / "ours.webm", video_s),
    }
    for codec in ("vp9", "vp8"):
        quality = _checked_quality(work / f"ffmpeg-{codec}.webm", raw, spec)
        figures[f"ffmpeg_{codec}_ssim_720p"] = round(quality.ssim, 5)
        figures[f"ffmpeg_{codec}_psnr_720p"] = round(quality.psnr, 2)
        figures[f"ffmpeg_{codec}_kbps_720p"] = _kbps(work / f"ffmpeg-{codec}.webm", video_s)
    return figures


def _control(page) -> float:
    """The longest task the observer reports around a deliberate BUSY_MS busy loop in Python."""
    start, end = json.loads(_py(page, f"busy({BUSY_MS})"))
    page.wait_for_timeout(200)
    return float(_kit(page, "longestTask", start, end))


def _kbps(path: Path, seconds: float) -> float:
    return round(path.stat().st_size * 8 / 1000 / seconds, 1)


def _variants(page, spec: dict, raw: Path, work: Path, runs: int, ffmpeg_vp9_speed: float) -> dict:
    """Each encoder setting on the same frames: speed, quality, bitrate; the table printed."""
    video_s = spec["totalMs"] / 1000
    figures = {f"render_hw_encoder_{codec}": int(bool(_kit(page, "canEncode", spec, codec,
                                                          {"hardwareAcceleration": "prefer-hardware"})))
               for codec in ("vp8", "vp9")}
    figures["render_draw_only_speed_720p"] = round(video_s / (_kit(page, "drawOnly", spec) / 1000), 3)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    rows = []
    for i in range(runs):
        for name in (list(VARIANTS) if i % 2 == 0 else list(reversed(VARIANTS))):
            result = _kit(page, "encodeVariant", spec, _variant_options(spec, VARIANTS[name]))
            times[name].append(result["ms"] / 1000)
            if len(times[name]) == 1:
                quality = _checked_quality(_save_video(page, work / f"variant-{name}.webm"), raw, spec)
                figures[f"render_variant_{name}_ssim"] = round(quality.ssim, 5)
                figures[f"render_variant_{name}_psnr"] = round(quality.psnr, 2)
                figures[f"render_variant_{name}_kbps"] = _kbps(work / f"variant-{name}.webm", video_s)
    for name, values in times.items():
        speed = video_s / statistics.median(values)
        figures[f"render_variant_{name}_speed"] = round(speed, 3)
        figures[f"render_variant_{name}_vs_ffmpeg"] = round(speed / ffmpeg_vp9_speed, 3)
        rows.append((name, speed, speed / ffmpeg_vp9_speed, figures[f"render_variant_{name}_ssim"],
                     figures[f"render_variant_{name}_psnr"], figures[f"render_variant_{name}_kbps"]))
    print(variant_table(rows))
    return figures


def variant_table(rows) -> str:
    """The encoder settings compared, one line each: name, speed, ÷ ffmpeg vp9, SSIM, PSNR, kbit/s."""
    lines = [f"{'variant':<22} {'x realtime':>10} {'/ ffmpeg':>8} {'SSIM':>8} {'PSNR':>6} {'kbit/s':>7}"]
    lines += [f"{name:<22} {speed:>10.2f} {ratio:>8.2f} {ssim:>8.4f} {psnr:>6.2f} {kbps:>7.0f}"
              for name, speed, ratio, ssim, psnr, kbps in rows]
    return "\n".join(lines)


def _memory(page, cdp, short_id: str, long_id: str) -> dict:
    """Peak RSS rise of the browser while rendering 12 s and 60 s of 720p (export's method)."""
    _, short = memory.measure(page, cdp, lambda: _ours(page, short_id))
    _, long = memory.measure(page, cdp, lambda: _ours(page, long_id))
    return {"render_peak_mem_60s_vs_12s": round(long / short, 3),
            "render_peak_mem_mb_12s": round(short / 2**20, 1),
            "render_peak_mem_mb_60s": round(long / 2**20, 1)}
