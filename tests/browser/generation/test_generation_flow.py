"""Generation from the page through the real server.py and its local provider: the result is
stored with its recipe, regenerated bit for bit after its media is lost, and shown. Failures
reach the user as messages and store nothing; the page never freezes."""

import json
import textwrap

import pytest

from conftest import EVICT_JS, run_python, vault_state

PRELUDE = """
import json, js, pagekit
from app.store import media
from app.core import pngmeta
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.startup import current_vault
vault = current_vault()
service = GenerationService(vault, ProxyClient())
"""

SHOW_JS = """async (url) => {
  const img = document.createElement("img");
  img.alt = "regenerated";
  document.body.append(img);
  img.src = url;
  await img.decode();
  return [img.naturalWidth, img.naturalHeight];
}"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def test_generated_image_is_stored_with_its_recipe_in_the_vault_and_in_the_png(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Generate")
        stages = []
        asset = await service.generate(project.id, "scene", "scene:1",
                                       {"prompt": "a lighthouse at dusk", "seed": 42,
                                        "width": 512, "height": 288}, on_progress=stages.append)
        png = await media.blob_bytes(await vault.get_blob(asset.id))
        out = {"asset": pagekit.view(asset), "stages": stages,
               "embedded": pngmeta.read_recipe(png), "sha": pagekit.sha256(png)}
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    asset = result["asset"]
    assert result["stages"] == ["queued", "generating", "saving", "done"]
    assert asset["mime_type"] == "image/png" and (asset["width"], asset["height"]) == (512, 288)
    assert asset["recipe"]["seed"] == 42 and asset["recipe"]["provider"] == "local"
    assert asset["recipe"]["prompt"] == "a lighthouse at dusk"
    assert result["embedded"]["seed"] == 42 and result["sha"] == asset["sha256"]
    assert asset["source"] == "generated" and asset["current"] is True


def test_the_server_picks_and_reports_a_seed_when_none_is_given(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Seedless")
        asset = await service.generate(project.id, "thumbnail", "thumbnail",
                                       {"prompt": "poster", "width": 256, "height": 256})
        await vault.delete_project(project.id)
        json.dumps(asset.recipe)
    """)
    assert isinstance(result["seed"], int) and 0 <= result["seed"] < 2**32


def test_lost_media_is_regenerated_bit_for_bit_and_shows(vault_page):
    made = py(vault_page, """
        project = await vault.create_project("Regenerate")
        asset = await service.generate(project.id, "character", "character:hero",
                                       {"prompt": "a knight with a red cape", "seed": 7,
                                        "width": 320, "height": 480})
        json.dumps({"project": project.id, "asset": asset.id, "sha": asset.sha256})
    """)
    vault_page.evaluate(EVICT_JS, made["sha"])
    result = py(vault_page, f"""
        missing = [a.id for a in await vault.missing({made["project"]!r})]
        lost = await pagekit.error_of(vault.get_blob({made["asset"]!r}))
        outcomes = await service.regenerate_missing({made["project"]!r})
        blob = await vault.get_blob({made["asset"]!r})
        json.dumps({{"missing": missing, "lost": lost["type"],
                    "outcomes": [[o.asset_id, o.status] for o in outcomes],
                    "sha": await media.sha256_hex(blob), "url": media.object_url(blob),
                    "after": len(await vault.missing({made["project"]!r}))}})
    """)
    assert result["missing"] == [made["asset"]] and result["lost"] == "MissingBlob"
    assert result["outcomes"] == [[made["asset"], "restored (identical)"]]
    assert result["sha"] == made["sha"] and result["after"] == 0
    assert vault_page.evaluate(SHOW_JS, result["url"]) == [320, 480]
    vault_page.evaluate("url => URL.revokeObjectURL(url)", result["url"])
    py(vault_page, f"await vault.delete_project({made['project']!r}); '0'")


def test_different_bytes_are_stored_as_a_rerolled_new_version(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Reroll")
        recipe = {"kind": "image", "prompt": "a red fox", "provider": "local", "model": "scenevault-sketch-1",
                  "seed": 5, "width": 64, "height": 64, "steps": 30, "version": 1}
        gone = await vault.add_missing(project.id, "scene", "scene:2", sha256="0" * 64,
                                       mime_type="image/png", size=100, recipe=recipe)
        first = await service.regenerate_missing(project.id)
        second = await service.regenerate_missing(project.id)
        slot = [(a.version, a.current, a.replaces) for a in await vault.versions(project.id, "scene:2")]
        await vault.delete_project(project.id)
        json.dumps({"first": [(o.status, o.message) for o in first], "second": len(second),
                    "slot": slot, "gone": gone.id})
    """)
    assert result["first"][0][0] == "re-rolled" and "new version (v2)" in result["first"][0][1]
    assert result["second"] == 0  # not re-rolled again on the next pass
    assert result["slot"] == [[1, False, None], [2, True, result["gone"]]]


def test_narration_audio_is_generated_and_stored_with_its_duration(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Narration")
        asset = await service.generate(project.id, "audio", "scene:1:narration",
                                       {"prompt": "Once upon a time, in a harbour town, a lighthouse keeper waited."})
        await vault.delete_project(project.id)
        json.dumps(pagekit.view(asset))
    """)
    assert result["mime_type"] == "audio/wav" and result["duration_ms"] > 1000


def test_invalid_request_is_refused_before_it_leaves_the_page(vault_page):
    before = vault_state(vault_page)["counts"]
    requests = []
    vault_page.on("request", lambda r: requests.append(r.url) if "/api/generate" in r.url else None)
    result = py(vault_page, """
        project = await vault.create_project("Invalid")
        error = await pagekit.error_of(service.generate(project.id, "scene", "scene:1",
                                                        {"prompt": "x", "width": 100}))
        await vault.delete_project(project.id)
        json.dumps(error)
    """)
    assert result["type"] == "RecipeError" and "width" in result["message"]
    assert requests == [] and vault_state(vault_page)["counts"] == before


@pytest.mark.parametrize("status, code, fragment", [
    (504, "provider_timeout", "pick another provider"),
    (502, "provider_failed", "pick another provider"),
    (429, "too_many_requests", "Wait for one to finish"),
])
def test_provider_failures_reach_the_user_and_store_nothing(vault_page, status, code, fragment):
    body = json.dumps({"error": {"code": code, "message": f"Simulated {code}"}})
    vault_page.route("**/api/generate", lambda route: route.fulfill(
        status=status, content_type="application/json", body=body))
    before = vault_state(vault_page)["counts"]
    try:
        result = py(vault_page, """
            project = await vault.create_project("Failing")
            stages = []
            error = await pagekit.error_of(service.generate(project.id, "scene", "scene:1",
                                                            {"prompt": "x"}, on_progress=stages.append))
            left = len(await vault.list_assets(project.id))
            await vault.delete_project(project.id)
            json.dumps({"error": error, "stages": stages, "left": left})
        """)
    finally:
        vault_page.unroute("**/api/generate")
    assert result["error"]["type"] == "ProviderError"
    assert f"Simulated {code}" in result["error"]["message"] and fragment in result["error"]["message"]
    assert result["stages"][-1] == "failed" and result["left"] == 0
    assert vault_state(vault_page)["counts"] == before


def test_the_page_never_freezes_during_a_generation(vault_page):
    vault_page.evaluate("""() => {
        window.longTasks = [];
        new PerformanceObserver((list) => {
            for (const entry of list.getEntries()) window.longTasks.push(entry.duration);
        }).observe({ type: "longtask" });
    }""")
    result = py(vault_page, """
        project = await vault.create_project("Smooth")
        asset = await service.generate(project.id, "scene", "scene:1",
                                       {"prompt": "a wide valley at noon", "seed": 3,
                                        "width": 1024, "height": 576})
        await vault.delete_project(project.id)
        json.dumps(asset.width)
    """)
    assert result == 1024
    long_tasks = vault_page.evaluate("window.longTasks")
    assert all(duration < 200 for duration in long_tasks), long_tasks
