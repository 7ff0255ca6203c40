"""Importing a file into a slot (app/store/slot_import.py) and the DOM layer's scopes (app/ui/parts/dom.py)
in a real Chromium: the service decides by bytes and stores once; a child scope's object URLs
die with it or with its parent."""

import json
import textwrap

from conftest import run_python, vault_state

PRELUDE = """
import json, js, pagekit
from app.store import media
from app.core import pngmeta
from app.store.slot_import import import_into_slot
from app.startup import current_vault
vault = current_vault()

def file_of(data, name, label):
    return js.File.new([media.to_blob(data, label)], name, js.JSON.parse(json.dumps({"type": label})))
"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def test_a_png_keeps_its_a1111_recipe_and_its_label_is_ignored(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Imports")
        png = pngmeta.with_text(pagekit.png(64, 64), {"parameters":
            "a castle on a cliff\\nNegative prompt: blurry\\nSteps: 20, Seed: 7, Size: 64x64"})
        imported = await import_into_slot(vault, project.id, "scene", "scene:1",
                                          file_of(png, "castle.jpg", "image/jpeg"))
        stored = await vault.get(imported.asset.id)
        await vault.delete_project(project.id)
        json.dumps({"has_recipe": imported.has_recipe, "mime": stored.mime_type,
                    "source": stored.source, "recipe": stored.recipe})
    """)
    assert result["has_recipe"] is True and result["mime"] == "image/png"
    assert result["source"] == "imported"
    assert result["recipe"]["prompt"] == "a castle on a cliff" and result["recipe"]["seed"] == 7


def test_a_file_that_does_not_fit_the_slot_is_refused_and_nothing_is_stored(vault_page):
    before = vault_state(vault_page)["counts"]
    result = py(vault_page, """
        project = await vault.create_project("Refusals")
        wav = file_of(pagekit.wav_bytes(2000), "frame.png", "image/png")
        text = file_of(b"just words, not media", "frame.png", "image/png")
        out = {"wav": await pagekit.error_of(import_into_slot(vault, project.id, "scene", "scene:1", wav)),
               "text": await pagekit.error_of(import_into_slot(vault, project.id, "scene", "scene:1", text)),
               "versions": len(await vault.versions(project.id, "scene:1"))}
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    assert result["wav"]["type"] == "InvalidAsset" and result["text"]["type"] == "InvalidAsset"
    assert result["versions"] == 0
    assert vault_state(vault_page)["counts"] == before


def test_a_child_scope_revokes_its_urls_alone_or_with_its_parent(vault_page):
    result = py(vault_page, """
        from app.ui.parts.dom import Scope

        async def alive(url):  # a revoked object URL no longer decodes
            image = js.document.createElement("img")
            image.src = url
            try:
                await image.decode()
                return True
            except Exception:
                return False

        blob = media.to_blob(pagekit.png(8, 8), "image/png")
        parent = Scope()
        first, second = parent.child(), parent.child()
        own, a, b = parent.url(blob), first.url(blob), second.url(blob)
        first.dispose()
        after_child = [await alive(own), await alive(a), await alive(b)]
        parent.dispose()
        after_parent = [await alive(own), await alive(b), second.disposed]
        json.dumps({"after_child": after_child, "after_parent": after_parent})
    """)
    assert result["after_child"] == [True, False, True]
    assert result["after_parent"] == [False, False, True]
