"""Other tools' metadata, end to end through the visible UI in a real Chromium: a ComfyUI PNG
chosen in a slot's file input, an A1111 JPEG dropped on a slot and an XMP-described WebP each
keep their recipe and their raw metadata; a PNG whose graph is hostile is stored without a
recipe and the notice says why; a backup carries all of it (sidecars included) and brings it
back as it was. JPEG and WebP are made by ffmpeg and described by exiftool, independent
writers; exiftool also reads the AI label in the PNGs SceneVault exports."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from conftest import AppPage, install_pagekit, is_loopback, run_python, wait_for_app_state

PRELUDE = """
import json, js
from app.startup import current_vault
from app.core import storyboard
vault = current_vault()
"""
COMFY_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 156680208700286, "steps": 20, "cfg": 8.0, "sampler_name": "euler",
        "scheduler": "normal", "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0],
        "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse in a storm, oil painting",
                                                     "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["4", 1]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
A1111_TEXT = ("a harbour at dawn, fishing boats\nNegative prompt: blurry\nSteps: 28, Sampler: "
              "DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 4242, Size: 64x48, "
              "Model: dreamshaper_8")
DROP_JS = """([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  return transfer;
}"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def exiftool(*args: str) -> str:
    if shutil.which("exiftool") is None:
        pytest.fail("exiftool is missing: `make test` installs it (libimage-exiftool-perl)")
    return subprocess.run(["exiftool", *args], check=True, capture_output=True, text=True).stdout


def ffmpeg_image(path: Path, colour: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={colour}:s=64x48",
                    "-frames:v", "1", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def studio(browser, server):
    """A fresh context on a project with three scenes, open in its workspace."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    recorder = AppPage(context, server.url)
    context.on("request", lambda r: None if is_loopback(r.url) else recorder.outside_requests.append(r.url))
    page = recorder.open()
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    project = py(page, """
        project = await vault.create_project("Found footage")
        for story in ("Storm", "Harbour", "Fog", "Noise"):
            project = storyboard.add_scene(project, story, "")
        await vault.save_project(project)
        json.dumps(project.id)
    """)
    page.evaluate("id => { location.hash = '#/project/' + id; }", project)
    page.get_by_role("heading", name="Found footage", level=1).wait_for()
    yield page, project
    context.close()
    assert recorder.outside_requests == [] and recorder.page_errors == []


def current_record(page, project_id: str, slot_number: int) -> dict:
    return py(page, f"""
        project = await vault.get_project({project_id!r})
        slot = storyboard.scene_slots(project.scenes[{slot_number - 1}])["frame"]
        [asset] = [a for a in await vault.versions(project.id, slot) if a.current]
        json.dumps(asset.to_record())
    """)


def test_a_comfyui_png_chosen_in_a_slot_keeps_its_recipe_and_its_graphs(studio):
    page, project = studio
    png = run_python(page, f"""
import base64, json, pagekit
from app.core import pngmeta
prompt = {json.dumps(json.dumps(COMFY_PROMPT))}
png = pngmeta.with_text(pagekit.png(64, 64), {{"prompt": prompt, "workflow": '{{"nodes": [], "links": []}}'}})
base64.b64encode(png).decode()""")
    page.get_by_label("Choose a file for Scene 1 frame").set_input_files(
        files=[{"name": "ComfyUI_00042_.png", "mimeType": "image/png", "buffer": base64.b64decode(png)}])
    page.get_by_text("Imported “ComfyUI_00042_.png” into Scene 1 frame with its recipe "
                     "(from ComfyUI).").wait_for()
    record = current_record(page, project, 1)
    assert record["recipe"] == {"kind": "image", "provider": "comfyui",
                                "prompt": "a lighthouse in a storm, oil painting",
                                "negative_prompt": "text, watermark", "seed": 156680208700286,
                                "steps": 20, "cfg_scale": 8.0, "sampler": "euler",
                                "model": "v1-5-pruned.safetensors", "width": 512, "height": 512}
    assert record["sourceMetadata"]["tool"] == "comfyui"
    assert json.loads(record["sourceMetadata"]["raw"]["prompt"]) == COMFY_PROMPT
    assert record["source"] == "imported"


def test_an_a1111_jpeg_dropped_on_a_slot_keeps_the_recipe_in_its_exif(studio, tmp_path):
    page, project = studio
    jpeg = ffmpeg_image(tmp_path / "harbour.jpg", "navy")
    exiftool("-q", "-overwrite_original", f"-UserComment={A1111_TEXT}", str(jpeg))
    transfer = page.evaluate_handle(DROP_JS, [base64.b64encode(jpeg.read_bytes()).decode(),
                                              "harbour.jpg", "image/jpeg"])
    page.get_by_role("region", name="Scene 2 frame", exact=True).dispatch_event(
        "drop", {"dataTransfer": transfer})
    page.get_by_text("Imported “harbour.jpg” into Scene 2 frame with its recipe "
                     "(from A1111 or Forge).").wait_for()
    record = current_record(page, project, 2)
    assert record["mimeType"] == "image/jpeg" and (record["width"], record["height"]) == (64, 48)
    assert record["recipe"] == {"kind": "image", "provider": "a1111",
                                "prompt": "a harbour at dawn, fishing boats",
                                "negative_prompt": "blurry", "steps": 28, "seed": 4242,
                                "cfg_scale": 6.5, "sampler": "DPM++ 2M", "width": 64,
                                "height": 48, "model": "dreamshaper_8"}
    assert record["sourceMetadata"]["raw"]["exif:UserComment"] == A1111_TEXT


def test_a_webp_described_in_xmp_keeps_its_description_as_the_prompt(studio, tmp_path):
    page, project = studio
    webp = ffmpeg_image(tmp_path / "fog.webp", "gray")
    exiftool("-q", "-overwrite_original", "-XMP-dc:Description=fog over the pier, 35mm",
             str(webp))
    page.get_by_label("Choose a file for Scene 3 frame").set_input_files(str(webp))
    page.get_by_text("Imported “fog.webp” into Scene 3 frame with its recipe (from its XMP "
                     "data).").wait_for()
    record = current_record(page, project, 3)
    assert record["mimeType"] == "image/webp"
    assert record["recipe"]["prompt"] == "fog over the pier, 35mm"
    assert record["sourceMetadata"]["tool"] == "xmp"
    assert "fog over the pier" in record["sourceMetadata"]["raw"]["xmp"]


def test_a_png_whose_graph_is_hostile_is_stored_without_a_recipe_and_says_why(studio):
    page, project = studio
    png = run_python(page, """
import base64, pagekit
from app.core import pngmeta
base64.b64encode(pngmeta.with_text(pagekit.png(32, 32), {"prompt": '{"a": ' * 20_000})).decode()""")
    page.get_by_label("Choose a file for Scene 4 frame").set_input_files(
        files=[{"name": "deep.png", "mimeType": "image/png", "buffer": base64.b64decode(png)}])
    notice = page.get_by_text("Imported “deep.png” into Scene 4 frame without a recipe: its "
                              "metadata could not be read")
    notice.wait_for()
    assert "nests deeper than 64 levels" in notice.inner_text()
    assert "The image itself is stored." in notice.inner_text()
    record = current_record(page, project, 4)
    assert "recipe" not in record and "sourceMetadata" not in record


def test_a_backup_carries_the_metadata_in_manifest_and_sidecars_and_brings_it_back(studio):
    page, project = studio
    exported = py(page, f"""
        import base64
        from app.backup import service as backups
        from app.store import media
        archive, name = await backups.export(vault, [{project!r}])  # marks them backed up
        before = sorted([a.to_record() for a in await vault.list_assets({project!r})], key=lambda r: r["id"])
        data = base64.b64encode(await media.blob_bytes(archive)).decode()
        await vault.delete_project({project!r})
        report = await backups.import_archive(vault, archive)
        after = sorted([a.to_record() for a in await vault.list_assets({project!r})], key=lambda r: r["id"])
        json.dumps({{"data": data, "same": before == after, "added": report.assets_added,
                    "tools": sorted((a.get("sourceMetadata") or {{}}).get("tool", "-") for a in after)}})
    """)
    assert exported["same"] is True and exported["added"] == 4
    assert exported["tools"] == ["-", "a1111", "comfyui", "xmp"]
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(exported["data"]))) as archive:
        manifest = json.loads(archive.read("scenevault.json"))
        cards = {a["path"]: json.loads(archive.read(a["path"] + ".json")) for a in manifest["assets"]}
    tools = {path.rsplit("/", 1)[1]: card["assets"][0].get("sourceMetadata", {}).get("tool")
             for path, card in cards.items()}
    assert sorted(tools.values(), key=str) == [None, "a1111", "comfyui", "xmp"]
    labels = sorted(card.get("digitalSourceType", "-").rsplit("/", 1)[-1] for card in cards.values())
    assert labels == ["-", "-", "trainedAlgorithmicMedia", "trainedAlgorithmicMedia"]


def test_an_exported_generated_png_carries_the_ai_label_exiftool_reads(studio, tmp_path):
    page, project = studio
    exported = py(page, f"""
        import base64
        from app.backup import service as backups
        from app.generation.service import GenerationService
        from app.generation.client import ProxyClient
        from app.store import media
        made = await GenerationService(vault, ProxyClient()).generate(
            {project!r}, "thumbnail", "thumbnail", {{"prompt": "a <storm> & \\"waves\\"", "seed": 9,
                                                   "width": 256, "height": 256}})
        archive, name = await backups.export(vault, [{project!r}])
        json.dumps({{"data": base64.b64encode(await media.blob_bytes(archive)).decode(),
                    "sha": made.sha256}})
    """)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(exported["data"]))) as archive:
        manifest = json.loads(archive.read("scenevault.json"))
        [thumb] = [a for a in manifest["assets"] if a["sha256"] == exported["sha"]]
        (tmp_path / "thumb.png").write_bytes(archive.read(thumb["path"]))
    [tags] = json.loads(exiftool("-j", "-G1", "-struct", str(tmp_path / "thumb.png")))
    assert tags["XMP-iptcExt:DigitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert tags["XMP-dc:Description"] == 'a <storm> & "waves"'
    assert tags["XMP-xmp:CreatorTool"].startswith("SceneVault (local/")
    assert "Seed: 9" in tags["PNG:Parameters"]


def test_a_backup_image_listed_without_a_recipe_gets_the_one_its_file_carries(studio):
    """An older or hand-made manifest lists an A1111 PNG with no recipe: import reads it."""
    page, project = studio
    result = py(page, f"""
        import pagekit
        from app.backup import service as backups
        from app.core import pngmeta
        png = pngmeta.with_text(pagekit.png(64, 48), {{"parameters": {A1111_TEXT!r}}})
        bare = await vault.put_asset({project!r}, "character", "character:old", png, "image/png",
                                     source="imported")  # stored as an older SceneVault did
        archive, name = await backups.export(vault, [{project!r}])
        await vault.delete_project({project!r})
        await backups.import_archive(vault, archive)
        back = await vault.get(bare.id)
        json.dumps({{"before": bare.recipe, "recipe": back.recipe,
                    "tool": back.source_metadata["tool"]}})
    """)
    assert result["before"] is None and result["tool"] == "a1111"
    assert result["recipe"]["prompt"] == "a harbour at dawn, fishing boats"
    assert result["recipe"]["seed"] == 4242 and result["recipe"]["cfg_scale"] == 6.5


def test_an_imported_file_stays_readable_after_the_original_is_deleted(studio, tmp_path):
    """Chromium's IndexedDB keeps a picked File as a reference to the file on disk; the import
    stores its own copy, so moving or deleting the original loses nothing."""
    page, project = studio
    original = ffmpeg_image(tmp_path / "keeper.png", "teal")
    data = original.read_bytes()
    page.get_by_label("Choose a file for Thumbnail").set_input_files(str(original))
    page.get_by_text("Imported “keeper.png” into Thumbnail").wait_for()
    original.unlink()
    page.reload()
    wait_for_app_state(page)
    install_pagekit(page)  # the page's file system is new after a reload
    stored = py(page, f"""
        import base64
        from app.store import media
        [thumb] = [a for a in await vault.versions({project!r}, "thumbnail") if a.current]
        json.dumps(base64.b64encode(await media.blob_bytes(await vault.get_blob(thumb.id))).decode())
    """)
    assert base64.b64decode(stored) == data


def test_a_backup_stays_readable_after_its_zip_is_deleted(studio, tmp_path):
    """A zip's stored entries are slices of the picked file; the import keeps its own copies."""
    page, project = studio
    exported = py(page, f"""
        import base64
        from app.backup import service as backups
        import pagekit
        from app.store import media
        await vault.put_asset({project!r}, "character", "character:zip", pagekit.png(48, 32),
                              "image/png", source="imported")
        archive, name = await backups.export(vault, [{project!r}])
        shas = sorted({{a.sha256 for a in await vault.list_assets({project!r})}})
        await vault.delete_project({project!r})
        await vault.empty_trash()
        json.dumps({{"data": base64.b64encode(await media.blob_bytes(archive)).decode(), "shas": shas}})
    """)
    archive = tmp_path / "found-footage.scenevault.zip"
    archive.write_bytes(base64.b64decode(exported["data"]))
    page.evaluate("location.hash = '#/'")
    page.get_by_label("Choose a backup to import").set_input_files(str(archive))
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Import").click()
    page.get_by_text("Imported").first.wait_for(timeout=60_000)
    archive.unlink()
    page.reload()
    wait_for_app_state(page)
    install_pagekit(page)  # the page's file system is new after a reload
    hashes = py(page, f"""
        from app.store import media
        json.dumps(sorted({{await media.sha256_hex(await vault.get_blob(a.id))
                            for a in await vault.list_assets({project!r})}}))
    """)
    assert hashes == exported["shas"] and len(hashes) >= 1
