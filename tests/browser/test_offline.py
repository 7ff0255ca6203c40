"""Offline first, in a real Chromium: the service worker boots the app with the server stopped and
the browser offline, stored media still decodes and plays, a backup exports and a video renders,
a new version waits until the user reloads and never mixes with the old one, and Chromium
considers the app installable.

Each test runs its own server.py on a private copy of the app (with its own precache list, as
`make setup` writes it), so it can stop, change and restart it without touching the work tree.
Every test fails if a request leaves loopback, online or offline.
"""

from __future__ import annotations

import json
import textwrap
import zipfile

from conftest import CHROMIUM, CHROMIUM_ARGS, run_python, start_server, wait_for_app_state
from offline_support import (SW_TIMEOUT_MS, boot_controlled, copy_app, net_status,
                             offline_app, reload_into_ready, wait_for_net_status,  # noqa: F401
                             watch_requests)
from tools.precache import build_precache, write_precache

MARKER = "\nimport js as _js\n_js.document.documentElement.dataset.shellRevision = 'second'\n"

PRELUDE = """
import json, js
from app.store import media
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.startup import current_vault
vault = current_vault()
"""

DECODE_IMAGE_JS = """async (url) => {
  const img = new Image();
  img.src = url;
  await img.decode();
  return img.naturalWidth;
}"""

AUDIO_DURATION_JS = """(url) => new Promise((resolve, reject) => {
  const audio = new Audio();
  audio.preload = "metadata";
  audio.onloadedmetadata = () => resolve(audio.duration);
  audio.onerror = () => reject(new Error("audio did not load: " + (audio.error && audio.error.message)));
  audio.src = url;
})"""

INSTALL_OUTCOME_JS = """async () => {
  const registration = await navigator.serviceWorker.getRegistration();
  await registration.update();
  const worker = registration.installing;
  if (!worker) return registration.waiting ? "waiting" : "no update";
  await new Promise((done) => worker.addEventListener("statechange", () => {
    if (worker.state === "installed" || worker.state === "redundant") done();
  }));
  return worker.state;
}"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def test_generated_media_opens_offline_with_the_server_stopped(offline_app):
    page = boot_controlled(offline_app)
    made = py(page, """
        project = await vault.create_project("Night train")
        service = GenerationService(vault, ProxyClient())
        images = [await service.generate(project.id, "scene", f"scene:{n}",
                                         {"prompt": prompt, "seed": n, "width": 320, "height": 192})
                  for n, prompt in ((1, "a night train on a viaduct"), (2, "a station in the rain"))]
        narration = await service.generate(project.id, "audio", "scene:1:narration",
                                           {"prompt": "The train crossed the valley at midnight."})
        json.dumps({"project": project.id, "images": [a.id for a in images], "audio": narration.id})
    """)
    assert net_status(page) == "Online"

    offline_app.stop_server()
    offline_app.context.set_offline(True)
    wait_for_net_status(page, "Offline")
    responses = []
    page.on("response", lambda response: responses.append(response))
    reload_into_ready(page)

    assert net_status(page) == "Offline"
    assert page.get_by_text("Night train").first.is_visible()
    shell = [r for r in responses if r.url.startswith(offline_app.url) and "/api/" not in r.url]
    assert len(shell) > 20 and all(r.from_service_worker and r.ok for r in shell), \
        [r.url for r in shell if not r.from_service_worker]
    urls = py(page, f"""
        blobs = [await vault.get_blob(i) for i in {made["images"] + [made["audio"]]!r}]
        json.dumps([media.object_url(blob) for blob in blobs])
    """)
    assert [page.evaluate(DECODE_IMAGE_JS, url) for url in urls[:2]] == [320, 320]
    assert page.evaluate(AUDIO_DURATION_JS, urls[2]) > 1.0

    # Export works offline too: the backup is built in the page from the stored Blobs.
    page.evaluate("location.hash = '#/'")
    page.evaluate("window.showSaveFilePicker = undefined")  # the download path (no save picker)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export Night train").click()
    with zipfile.ZipFile(download.value.path()) as archive:
        manifest = json.loads(archive.read("scenevault.json"))
        assert len(manifest["assets"]) == 3 and len(archive.namelist()) == 1 + 3 + 3  # sidecars

    # And so does rendering a video: the encoder library comes from the service worker's cache.
    rendered = py(page, f"""
        from app.render.encoder import Renderer
        from app.render.timeline import NarrationInput, RenderSettings, SceneInput, plan_render
        images = [await vault.get(i) for i in {made["images"]!r}]
        voice = await vault.get({made["audio"]!r})
        plan = plan_render([SceneInput("1", images[0].id, images[0].sha256,
                                       NarrationInput(voice.id, voice.sha256, voice.duration_ms)),
                            SceneInput("2", images[1].id, images[1].sha256)],
                           RenderSettings.for_aspect("16:9", 360, default_scene_ms=1000))
        video = await Renderer(vault).encode(plan)
        info = await media.inspect(video, "video/webm")
        json.dumps({{"expected": plan.total_ms, "duration": info.duration_ms, "width": info.width}})
    """)
    assert rendered["width"] == 640
    assert abs(rendered["duration"] - rendered["expected"]) <= 0.1 * rendered["expected"]


def test_a_new_version_waits_for_reload_and_keeps_the_data(offline_app):
    page = boot_controlled(offline_app)
    first_cache = page.evaluate("caches.keys()")
    made = py(page, """
        project = await vault.create_project("Before the update")
        asset = await GenerationService(vault, ProxyClient()).generate(
            project.id, "thumbnail", "thumbnail", {"prompt": "a poster", "seed": 3,
                                                   "width": 256, "height": 256})
        json.dumps({"project": project.id, "asset": asset.id})
    """)
    offline_app.stop_server()
    assert page.evaluate("SceneVaultNet.check()") is False
    main_py = offline_app.root / "app" / "main.py"
    main_py.write_text(main_py.read_text() + MARKER)  # a changed shell file ...
    write_precache(offline_app.root)  # ... listed again, as `make setup` does
    offline_app.restart_server()
    assert page.evaluate("SceneVaultNet.check()") is True  # back: look for a new version

    notice = page.locator("#update-notice")
    notice.get_by_text("A new version is ready: reload").wait_for(timeout=SW_TIMEOUT_MS)
    assert page.evaluate("document.documentElement.dataset.shellRevision") is None
    assert run_python(page, "6 * 7") == 42  # the open tab keeps working on the old version
    other_tab = offline_app.open()  # opened now, it too gets the old version and the notice
    assert wait_for_app_state(other_tab) == "ready"
    other_tab.locator("#update-notice").get_by_text("A new version is ready").wait_for()
    with page.expect_navigation():
        notice.get_by_role("button", name="Reload").click()
    assert wait_for_app_state(page) == "ready"
    other_tab.locator("#update-notice").get_by_text("updated in another tab").wait_for()
    assert other_tab.evaluate("document.documentElement.dataset.shellRevision") is None
    assert run_python(other_tab, "6 * 7") == 42  # not reloaded under the user

    assert page.evaluate("document.documentElement.dataset.shellRevision") == "second"
    assert MARKER in page.evaluate("fetch('app/main.py').then(r => r.text())")
    caches = page.evaluate("caches.keys()")
    assert caches == [build_precache(offline_app.root).cache] and caches != first_cache
    url = py(page, f"""
        projects = [p.id for p in await vault.list_projects()]
        assert {made["project"]!r} in projects, projects
        json.dumps(media.object_url(await vault.get_blob({made["asset"]!r})))
    """)
    assert page.evaluate(DECODE_IMAGE_JS, url) == 256


def test_an_edited_module_reaches_a_returning_user_in_a_new_archive_and_boots_offline(offline_app):
    """app/core/version.py lives in the app archive (static/app.zip), not in a file of its own:
    editing it makes a new archive, so a new cache, which the open tab gets on reload and then
    boots from with the server gone."""
    page = boot_controlled(offline_app)
    first_cache = page.evaluate("caches.keys()")
    offline_app.stop_server()
    assert page.evaluate("SceneVaultNet.check()") is False  # gone: its return means "look again"
    version = offline_app.root / "app" / "core" / "version.py"
    version.write_text(version.read_text().replace('__version__ = "', '__version__ = "9.9.9-', 1))
    write_precache(offline_app.root)  # rebuilds the archive from app/, lists it: `make setup`
    offline_app.restart_server()
    assert page.evaluate("SceneVaultNet.check()") is True
    notice = page.locator("#update-notice")
    notice.get_by_text("A new version is ready: reload").wait_for(timeout=SW_TIMEOUT_MS)
    with page.expect_navigation():
        notice.get_by_role("button", name="Reload").click()
    assert wait_for_app_state(page) == "ready"
    assert page.locator("#app-version").inner_text().startswith("9.9.9-")
    assert page.evaluate("caches.keys()") == [build_precache(offline_app.root).cache] != first_cache

    offline_app.stop_server()
    offline_app.context.set_offline(True)
    reload_into_ready(page)
    assert page.locator("#app-version").inner_text().startswith("9.9.9-")


def test_files_that_do_not_match_the_list_never_replace_the_version_in_use(offline_app):
    page = boot_controlled(offline_app)
    first_cache = page.evaluate("caches.keys()")
    offline_app.stop_server()
    main_py = offline_app.root / "app" / "main.py"
    main_py.write_text(main_py.read_text() + MARKER)
    write_precache(offline_app.root)
    main_py.write_text(main_py.read_text() + "# edited again after make setup\n")
    offline_app.restart_server()

    assert page.evaluate(INSTALL_OUTCOME_JS) == "redundant"
    assert page.evaluate("caches.keys()") == first_cache
    assert page.locator("#update-notice").count() == 0
    reload_into_ready(page)
    assert page.evaluate("document.documentElement.dataset.shellRevision") is None


def test_chromium_considers_the_app_installable(browser, tmp_path):
    root = copy_app(tmp_path / "app")
    running = start_server(root, tmp_path / "server.log", "--quiet")
    outside: list[str] = []
    context = browser.browser_type.launch_persistent_context(
        tmp_path / "profile", executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        watch_requests(context, outside)
        page = context.new_page()
        page.goto(running.url)
        assert wait_for_app_state(page) == "ready"
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=SW_TIMEOUT_MS)
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["url"] == running.url + "static/manifest.webmanifest"
        assert manifest["errors"] == []
        assert cdp.send("Page.getInstallabilityErrors") == {"installabilityErrors": []}
    finally:
        context.close()
        running.stop()
    assert outside == [], "requests left the machine"
