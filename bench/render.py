"""Benchmark `render`: the app's final-video render (Python walks the timeline, one await per
frame) against a bare-JS render of the same video with the same Mediabunny, in the same page.

The project: 3 scenes, each a grainy 1024x576 PNG (gradient, soft shapes, seeded noise; drawn
with OffscreenCanvas in the page) with a speech-like 16 kHz WAV narration of about 4 s (made in
the page too), 16:9, default settings (30 fps, 600 ms crossfades, pan, VP9 + Opus, bitrate from
the frame size): about 12 s of video.

- `render_vs_bare_mediabunny_{360p,720p}`: wall time of `Renderer.encode(plan)` (the media read
  from the vault, images decoded, narration mixed in an OfflineAudioContext, then every frame's
  layers computed in Python, drawn and encoded, one await each, and the WebM finalized), divided
  by a bare-JS loop in one `page.evaluate` doing the same work: it imports the same vendored
  Mediabunny file, checks the codecs, decodes the same Blobs, mixes the same narration at the
  same cues, computes the same crossfade/pan layers in JS (checked against `plan.layers` for
  every frame before timing), draws them the same way on an OffscreenCanvas of the same size,
  and encodes with the same codecs, bitrates and frame count (CanvasSource + AudioBufferSource)
  into a BufferTarget. Medians of `runs` alternating runs after one warm-up of each. Lower is
  better; 1.0 means driving the render from Python costs nothing.
- `render_speed_vs_realtime_{360p,720p}` (informational): the video's duration divided by our
  median render time: how many times faster than real time. Higher is better.
- `render_longest_task_ms_720p` (informational): the longest main-thread task (a
  PerformanceObserver on "longtask", set up before the runs and read after each) overlapping
  our 720p render, median over the runs; 0 means none reached the 50 ms long-task threshold.
  Lower is better: the page stays responsive (Cancel works) while it renders.
  `bare_longest_task_ms_720p` is the same for the bare-JS loop, for context (its awaits that
  resolve at once continue as microtasks, so it runs several frames per task).

    figures = render.run(session, runs=3)
    figures["render_vs_bare_mediabunny_720p"], figures["render_speed_vs_realtime_720p"]
"""

from __future__ import annotations

import json

from harness import median

SIZES = (360, 720)
SCENE_MS = (4000, 4200, 3800)  # narration lengths: the scenes last as long
IMAGE_SIDE = (1024, 576)
LAYER_TOLERANCE = 1e-3

MAKE_MEDIA_JS = """async ([sceneMs, [width, height]]) => {
  const seeded = (seed) => {
    let state = seed * 2654435761 >>> 0;
    return () => { state = (state + 0x6D2B79F5) >>> 0; let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  };
  const picture = async (seed) => {
    const random = seeded(seed);
    const canvas = new OffscreenCanvas(width, height), ctx = canvas.getContext("2d");
    const sky = ctx.createLinearGradient(0, 0, width, height);
    sky.addColorStop(0, `hsl(${seed * 97 % 360} 60% 65%)`);
    sky.addColorStop(1, `hsl(${(seed * 97 + 140) % 360} 45% 25%)`);
    ctx.fillStyle = sky;
    ctx.fillRect(0, 0, width, height);
    for (let i = 0; i < 40; i++) {
      ctx.fillStyle = `hsl(${(seed * 13 + i * 29) % 360} 65% 50% / 0.45)`;
      ctx.beginPath();
      ctx.arc(random() * width, random() * height, 20 + random() * 140, 0, 2 * Math.PI);
      ctx.fill();
    }
    const image = ctx.getImageData(0, 0, width, height), px = image.data;
    for (let i = 0; i < px.length; i += 4) {
      const grain = (random() - 0.5) * 18;
      px[i] += grain; px[i + 1] += grain; px[i + 2] += grain;
    }
    ctx.putImageData(image, 0, 0);
    return canvas.convertToBlob({ type: "image/png" });
  };
  // Speech-like narration: 16 kHz mono 16-bit, buzzy syllables with a swell-and-fade envelope,
  // gaps between words, silence at both ends.
  const narration = (ms, seed) => {
    const rate = 16000, count = Math.round(ms * rate / 1000), random = seeded(seed + 100);
    const samples = new Int16Array(count);
    const edge = 0.2 * rate, syllable = 0.3 * rate, gap = 0.08 * rate;
    let phase = 0;
    for (let at = edge; at + syllable < count - edge; at += syllable + gap) {
      const pitch = 100 + random() * 60;
      for (let i = 0; i < syllable; i++) {
        const envelope = Math.sin(Math.PI * i / syllable);
        phase += 2 * Math.PI * pitch / rate;
        let value = 0;
        for (let h = 1; h <= 6; h++) value += Math.sin(h * phase) / h;
        samples[at + i] = Math.round(9000 * envelope * value + (random() - 0.5) * 600);
      }
    }
    const bytes = new ArrayBuffer(44 + 2 * count), view = new DataView(bytes);
    const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
    text(0, "RIFF"); view.setUint32(4, 36 + 2 * count, true); text(8, "WAVE");
    text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true);
    view.setUint16(22, 1, true); view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true);
    view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, "data"); view.setUint32(40, 2 * count, true);
    new Int16Array(bytes, 44).set(samples);
    return new Blob([bytes], { type: "audio/wav" });
  };
  window.benchImages = await Promise.all(sceneMs.map((_, i) => picture(i + 1)));
  window.benchVoices = sceneMs.map((ms, i) => narration(ms, i + 1));
  return window.benchImages.map((blob) => blob.size);
}"""

# The bare-JS render and its timeline arithmetic (app/render/timeline.py's RenderPlan.layers, ported),
# plus the long-task observer.
SETUP_JS = """() => {
  const PAN_ZOOM = 0.08;
  const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;

  // [scene, alpha, scale, shiftX, shiftY, ...] for one frame, bottom layer first.
  function layersAt(spec, frame) {
    const s = spec.settings, scenes = spec.scenes, n = scenes.length;
    const end = (i) => scenes[i][0] + scenes[i][1];
    const transition = (b) => (s.transition === "cut" || !(0 < b && b < n)) ? 0
      : Math.min(s.transitionMs, scenes[b - 1][1], scenes[b][1]);
    const layer = (index, alpha, time) => {
      if (!s.pan) return [index, alpha, 1, 0, 0];
      const begin = scenes[index][0] - transition(index) / 2;
      const finish = end(index) + transition(index + 1) / 2;
      const progress = Math.min(1, Math.max(0, (time - begin) / (finish - begin)));
      const growth = index % 2 === 0 ? progress : 1 - progress;
      const scale = 1 + PAN_ZOOM * growth;
      const direction = index % 4 < 2 ? 1 : -1;
      return [index, alpha, round(scale, 5), round(direction * (progress - 0.5) * (scale - 1), 5), 0];
    };
    const time = frame * 1000 / s.fps;
    let index = scenes.findIndex((_, i) => time < end(i));
    if (index < 0) index = n - 1;
    const intoNext = transition(index + 1) / 2, fromPrevious = transition(index) / 2;
    let bottom, progress;
    if (intoNext && time >= end(index) - intoNext) {
      bottom = index; progress = (time - end(index) + intoNext) / (2 * intoNext);
    } else if (fromPrevious && time < scenes[index][0] + fromPrevious) {
      bottom = index - 1; progress = (time - scenes[index][0] + fromPrevious) / (2 * fromPrevious);
    } else {
      return layer(index, 1, time);
    }
    const layers = layer(bottom, 1, time);
    if (progress > 0) layers.push(...layer(bottom + 1, round(Math.min(1, progress), 4), time));
    return layers;
  }

  function draw(context, bitmaps, layers, width, height) {
    context.globalAlpha = 1;
    context.fillStyle = "#000";
    context.fillRect(0, 0, width, height);
    for (let i = 0; i < layers.length; i += 5) {
      const bitmap = bitmaps[layers[i]];
      const cover = Math.max(width / bitmap.width, height / bitmap.height) * layers[i + 2];
      const w = bitmap.width * cover, h = bitmap.height * cover;
      context.globalAlpha = layers[i + 1];
      context.drawImage(bitmap, (width - w) / 2 + layers[i + 3] * width,
                        (height - h) / 2 + layers[i + 4] * height, w, h);
    }
  }

  async function bare(spec) {
    const s = spec.settings, sampleRate = spec.sampleRate, totalSeconds = spec.totalMs / 1000;
    const start = performance.now();
    const mb = await import(new URL(spec.module, document.baseURI).href);
    const frameSize = { width: s.width, height: s.height, bitrate: s.videoBitrate };
    if (!(await mb.canEncodeVideo(s.videoCodec, frameSize)))
      throw new Error(`cannot encode ${s.videoCodec}`);
    if (!(await mb.canEncodeAudio(s.audioCodec, { numberOfChannels: 2, sampleRate })))
      throw new Error(`cannot encode ${s.audioCodec}`);
    const bitmaps = await Promise.all(window.benchImages.map((blob) => createImageBitmap(blob)));
    const mixer = new OfflineAudioContext(2, Math.max(1, Math.ceil(totalSeconds * sampleRate)), sampleRate);
    const voices = await Promise.all(window.benchVoices.map(
      async (blob) => mixer.decodeAudioData(await blob.arrayBuffer())));
    voices.forEach((buffer, i) => {
      const source = mixer.createBufferSource();
      source.buffer = buffer;
      source.connect(mixer.destination);
      source.start(spec.cues[i]);
    });
    const audio = await mixer.startRendering();
    const canvas = new OffscreenCanvas(s.width, s.height);
    const context = canvas.getContext("2d", { alpha: false });
    context.imageSmoothingQuality = "high";
    const output = new mb.Output({ format: new mb.WebMOutputFormat(), target: new mb.BufferTarget() });
    const video = new mb.CanvasSource(canvas, { codec: s.videoCodec, bitrate: s.videoBitrate,
                                                keyFrameInterval: 2, latencyMode: "quality" });
    output.addVideoTrack(video, { frameRate: s.fps });
    const sound = new mb.AudioBufferSource({ codec: s.audioCodec, bitrate: s.audioBitrate });
    output.addAudioTrack(sound);
    await output.start();
    await sound.add(audio);
    sound.close();
    for (let frame = 0; frame < spec.frames; frame++) {
      draw(context, bitmaps, layersAt(spec, frame), s.width, s.height);
      await video.add(frame / s.fps, 1 / s.fps);
    }
    video.close();
    await output.finalize();
    bitmaps.forEach((bitmap) => bitmap.close());
    const blob = new Blob([output.target.buffer], { type: "video/webm" });
    return [start, performance.now(), blob.size];
  }

  const longTasks = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longTasks.push([entry.startTime, entry.duration]);
  });
  observer.observe({ entryTypes: ["longtask"] });
  // The longest task overlapping [start, end] (0: none over the 50 ms threshold).
  function longestTask([start, end]) {
    for (const entry of observer.takeRecords()) longTasks.push([entry.startTime, entry.duration]);
    return Math.max(0, ...longTasks.filter(([at, ms]) => at < end && at + ms > start).map(([, ms]) => ms));
  }

  window.benchRender = { layersAt, bare, longestTask };
}"""

PY_SETUP = """
import json, js
from app.core import storyboard
from app.render.encoder import MEDIABUNNY, Renderer
from app.render.timeline import AUDIO_SAMPLE_RATE, RenderSettings
from app.startup import current_vault

vault = current_vault()
renderer = Renderer(vault)
plans = {}

async def make_project():
    project = await vault.create_project("Render bench", aspect_ratio="16:9")
    for n in range(js.window.benchImages.length):
        project = storyboard.add_scene(project, f"Scene {n + 1}", "a grainy picture")
    await vault.save_project(project)
    for n, scene in enumerate(project.scenes):
        slots = storyboard.scene_slots(scene)
        await vault.put_asset(project.id, "scene", slots["frame"], js.window.benchImages[n],
                              "image/png", source="imported")
        await vault.put_asset(project.id, "audio", slots["narration"], js.window.benchVoices[n],
                              "audio/wav", source="imported")
    return project.id

async def make_plan(project_id, short_side):
    # The plan, and what the bare-JS render needs to make the same video (its layers too, to check).
    plan = await renderer.plan(project_id, RenderSettings.for_aspect("16:9", short_side))
    plans[short_side] = plan
    assert [s.narration is not None for s in plan.scenes] == [True] * len(plan.scenes)
    return json.dumps({
        "module": MEDIABUNNY, "settings": plan.settings.to_dict(), "sampleRate": AUDIO_SAMPLE_RATE,
        "frames": plan.frame_count,
        "totalMs": plan.total_ms, "scenes": [[s.start_ms, s.duration_ms] for s in plan.scenes],
        "cues": [start / 1000 for _, start in plan.audio_cues()],
        "layers": [[n for layer in plan.layers(frame) for n in (layer.scene, layer.alpha, layer.scale,
                                                                 layer.shift_x, layer.shift_y)]
                   for frame in range(plan.frame_count)]})

async def encode_once(short_side):
    start = js.performance.now()
    blob = await renderer.encode(plans[short_side])
    return json.dumps([start, js.performance.now(), blob.size])
0
"""


def _py(page, code: str):
    return page.evaluate("code => window.sceneVault.runPython(code)", code)


def _check_layers(page, spec: dict) -> None:
    """The bare render's JS arithmetic draws what `plan.layers` says, frame for frame."""
    js_layers = page.evaluate("spec => Array.from({ length: spec.frames }, "
                              "(_, frame) => window.benchRender.layersAt(spec, frame))", spec)
    for frame, (ours, theirs) in enumerate(zip(spec["layers"], js_layers, strict=True)):
        if len(ours) != len(theirs) or any(abs(a - b) > LAYER_TOLERANCE for a, b in zip(ours, theirs)):
            raise AssertionError(f"frame {frame}: plan.layers {ours} != bare JS {theirs}")


def _ours(page, short_side: int) -> tuple[float, float, float, int]:
    start, end, size = json.loads(_py(page, f"await encode_once({short_side})"))
    return start, end, end - start, size


def _bare(page, spec: dict) -> tuple[float, float, float, int]:
    start, end, size = page.evaluate("spec => window.benchRender.bare(spec)", spec)
    return start, end, end - start, size


def _longest_task(page, start: float, end: float) -> float:
    page.wait_for_timeout(200)  # let the observer deliver the last entries
    return float(page.evaluate("span => window.benchRender.longestTask(span)", [start, end]))


def run(session, runs: int = 3) -> dict[str, float]:
    page = session.context.new_page()
    page.goto(session.base_url + "/")
    page.wait_for_function("document.documentElement.dataset.appState === 'ready'", timeout=60_000)
    page.evaluate(MAKE_MEDIA_JS, [list(SCENE_MS), list(IMAGE_SIDE)])
    page.evaluate(SETUP_JS)
    _py(page, PY_SETUP)
    project_id = _py(page, "await make_project()")
    specs = {side: json.loads(_py(page, f"await make_plan({project_id!r}, {side})")) for side in SIZES}
    for spec in specs.values():
        _check_layers(page, spec)
    for spec in specs.values():
        del spec["layers"]
    _ours(page, SIZES[0])  # warm-up: loads Mediabunny, builds the JS half, warms the encoders
    _bare(page, specs[SIZES[0]])
    figures: dict[str, float] = {"runs": runs}
    for side in SIZES:
        spec = specs[side]
        ours, bare, our_tasks, bare_tasks, sizes = [], [], [], [], []
        for i in range(runs):
            for who in (("ours", "bare") if i % 2 == 0 else ("bare", "ours")):
                if who == "ours":
                    start, end, elapsed, size = _ours(page, side)
                    ours.append(elapsed)
                    our_tasks.append(_longest_task(page, start, end))
                    sizes.append(size)
                else:
                    start, end, elapsed, size = _bare(page, spec)
                    bare.append(elapsed)
                    bare_tasks.append(_longest_task(page, start, end))
        ours_ms, bare_ms = median(ours), median(bare)
        figures |= {
            f"render_vs_bare_mediabunny_{side}p": round(ours_ms / bare_ms, 3),
            f"render_speed_vs_realtime_{side}p": round(spec["totalMs"] / ours_ms, 2),
            f"render_ms_median_{side}p": round(ours_ms, 1),
            f"bare_ms_median_{side}p": round(bare_ms, 1),
            f"frames_{side}p": spec["frames"],
            f"render_kb_{side}p": round(median(sizes) / 1024, 1),
        }
        if side == 720:
            figures["render_longest_task_ms_720p"] = round(median(our_tasks), 1)
            figures["bare_longest_task_ms_720p"] = round(median(bare_tasks), 1)
    figures["video_s"] = round(specs[SIZES[0]]["totalMs"] / 1000, 2)
    _py(page, f"await vault.delete_project({project_id!r})")
    page.close()
    print(json.dumps(figures, indent=1))
    return figures
