"""Share links, driven like a user: "Copy share link" in a project's workspace (the clipboard is
granted, and the link is also read from its text field), the link opened in a FRESH browser
context (its own IndexedDB), the summary, "Import as a copy", "Regenerate all", and every
regenerated file's SHA-256, computed from the stored bytes, equal to the original's (the local
provider is deterministic). Then the encrypted variant (a wrong passphrase says so and stores
nothing), and damaged, newer-version and too-long links, each refused with its own message
while nothing is stored.

Two contexts for the whole module (boot is slow): the sender and the receiver."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from playwright.sync_api import expect

from app.core import sharelink
from conftest import AppPage, is_loopback, run_python, vault_state, wait_for_app_state

TITLE = "Share Run"
SETUP = f"""
import json
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.core import storyboard
from app.startup import current_vault
vault = current_vault()
service = GenerationService(vault, ProxyClient())
project = await vault.create_project({TITLE!r}, description="A harbour at dusk")
project = storyboard.add_scene(project, "The boat leaves.", "a boat leaving a pier")
project = storyboard.add_scene(project, "The lighthouse blinks.", "a lighthouse at night")
await vault.save_project(project)
first, second = (s["id"] for s in project.scenes)
size = {{"width": 256, "height": 144}}
await service.generate(project.id, "thumbnail", "thumbnail", {{"prompt": "harbour at dusk", "seed": 11, **size}})
await service.generate(project.id, "scene", f"scene:{{first}}", {{"prompt": "a boat leaving a pier", "seed": 12, **size}})
await service.generate(project.id, "scene", f"scene:{{first}}", {{"prompt": "a boat leaving a pier, fog", "seed": 13, **size}})
await service.generate(project.id, "scene", f"scene:{{second}}", {{"prompt": "a lighthouse at night", "seed": 14, **size}})
project.id
"""
# Every asset of the projects titled like `title`: (slot, version) -> [recorded sha256, the
# sha256 of the bytes actually stored (None when missing)].
STORED = """
import json
from app.core.errors import MissingBlob
from app.store import media
from app.startup import current_vault
vault = current_vault()
found = {}
for project in await vault.list_projects():
    if project.title != TITLE:
        continue
    for asset in await vault.list_assets(project.id):
        try:
            actual = await media.sha256_hex(await vault.get_blob(asset.id))
        except MissingBlob:
            actual = None
        found[f"{asset.slot} v{asset.version}"] = [asset.sha256, actual]
json.dumps(found)
"""


def stored(page, title: str) -> dict:
    return json.loads(run_python(page, f"TITLE = {title!r}\n" + STORED))


def open_context(browser, server, clipboard: bool = False):
    context = browser.new_context()
    if clipboard:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url.rstrip("/"))
    recorder = AppPage(context, server.url)
    context.on("request", lambda r: None if is_loopback(r.url) else recorder.outside_requests.append(r.url))
    return recorder


@pytest.fixture(scope="module")
def sender(browser, server):
    recorder = open_context(browser, server, clipboard=True)
    page = recorder.open()
    assert wait_for_app_state(page) == "ready"
    project_id = run_python(page, SETUP)
    page.evaluate("id => { location.hash = '#/project/' + id; }", project_id)
    page.get_by_role("heading", name=TITLE, level=1).wait_for()
    yield page
    recorder.context.close()
    assert recorder.outside_requests == [] and recorder.page_errors == []


@pytest.fixture(scope="module")
def receiver(browser, server):
    recorder = open_context(browser, server)
    yield recorder
    recorder.context.close()
    assert recorder.outside_requests == [] and recorder.page_errors == []


def receiving(receiver):
    """The receiver's one page: the first test opens it on the link itself (a cold boot)."""
    if not receiver.context.pages:
        page = receiver.open()
        assert wait_for_app_state(page) == "ready"
    return receiver.context.pages[0]


def make_link(page, passphrase: str = "") -> str:
    region = page.get_by_role("region", name="Share link")
    previous = region.get_by_label("Share link").input_value() if region.count() else ""
    page.get_by_role("button", name="Copy share link").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Passphrase").fill(passphrase)
    dialog.get_by_role("button", name="Make link").click()
    expect(region.get_by_label("Share link")).not_to_have_value(previous or "-", timeout=30_000)
    expect(region.get_by_role("status")).to_have_text("Copied the share link to the clipboard.",
                                                      timeout=30_000)
    link = region.get_by_label("Share link").input_value()
    assert page.evaluate("navigator.clipboard.readText()") == link
    return link


def go(page, link: str) -> None:
    page.evaluate("url => { location.href = url; }", link)


def test_a_link_opens_in_a_fresh_browser_imports_as_a_copy_and_regenerates_bit_for_bit(
        sender, receiver, server):
    original = stored(sender, TITLE)
    assert len(original) == 4 and all(recorded == actual for recorded, actual in original.values())
    link = make_link(sender)
    assert link.startswith(server.url.rstrip("/") + "/#/share/1.p.")
    assert len(link) - link.index("#") - 1 <= sharelink.MAX_FRAGMENT_CHARS

    assert not receiver.context.pages
    page = receiver.open("/" + link[link.index("#"):])  # a new context: an empty IndexedDB
    assert wait_for_app_state(page) == "ready"
    expect(page.get_by_role("heading", name=f"Shared project: {TITLE}")).to_be_visible()
    summary = page.locator("#view")
    expect(summary).to_contain_text("4 files (3 scene, 1 thumbnail), 2 scenes")
    for text in ("The boat leaves.", "a lighthouse at night", "harbour at dusk",
                 "a boat leaving a pier, fog"):
        expect(summary).to_contain_text(text)
    assert vault_state(page)["counts"]["assets"] == 0  # nothing stored before the user says so

    page.get_by_role("button", name="Import as a copy").click()
    expect(page.get_by_role("heading", name=f"Imported: {TITLE} (copy)")).to_be_visible(timeout=30_000)
    assert "/share/" not in page.evaluate("location.href")  # the payload left the history entry
    assert stored(page, f"{TITLE} (copy)") == {key: [sha, None] for key, (sha, _) in original.items()}

    page.get_by_role("button", name="Regenerate all").click()
    expect(page.get_by_text("Regenerated 4 files: 4 identical to the originals")).to_be_visible(
        timeout=120_000)
    expect(page.get_by_role("heading", name=f"{TITLE} (copy)", level=1)).to_be_visible()
    assert stored(page, f"{TITLE} (copy)") == original
    assert vault_state(page)["problems"] == []


def test_an_encrypted_link_needs_its_passphrase_and_a_wrong_one_stores_nothing(
        sender, receiver):
    link = make_link(sender, passphrase="correct horse battery")
    assert "#/share/1.e." in link and "boat" not in link
    page = receiving(receiver)
    before = vault_state(page)["counts"]
    go(page, link)
    page.get_by_label("Passphrase").fill("wrong horse")
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("#view").get_by_role("alert")).to_contain_text("The passphrase does not open this link",
                                                      timeout=30_000)
    assert vault_state(page)["counts"] == before

    page.get_by_label("Passphrase").fill("correct horse battery")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name=f"Shared project: {TITLE}")).to_be_visible(timeout=30_000)
    expect(page.locator("#view")).to_contain_text("An encrypted share link")
    page.get_by_role("button", name="Import as a copy").click()
    expect(page.get_by_role("heading", name=f"Imported: {TITLE} (copy)")).to_be_visible(timeout=30_000)
    assert vault_state(page)["counts"]["projects"] == before["projects"] + 1


def _plain(data: bytes) -> str:
    return "1.p." + base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("payload, message", [
    ("1.p.eNq!!notbase64", "is not base64url"),
    (_plain(zlib.compress(b'{"format": "scenevault-backup"}')[:-6]), "ends early"),
    (_plain(b"\x78\x9c" + b"\xff" * 40), "compressed data is damaged"),
    (sharelink.encode_link(b"this is not JSON"), "it is not JSON"),
    (sharelink.encode_link(b'{"format": "scenevault-backup", "version": 2}'),
     "made by a newer SceneVault"),
    ("2.p.eNqrVkrLz1eyUkpKLFKqBQA", "This link was made by a newer SceneVault (link format 2"),
    ("1.p." + "A" * sharelink.MAX_FRAGMENT_CHARS, "over the 32 KB a SceneVault share link may be"),
], ids=["bad-base64", "cut-short", "bad-deflate", "bad-json", "newer-manifest", "newer-link",
        "too-long"])
def test_a_damaged_newer_or_too_long_link_says_so_and_stores_nothing(receiver, payload, message):
    page = receiving(receiver)
    before = vault_state(page)["counts"]
    go(page, page.evaluate("location.origin") + "/#/share/" + payload)
    alert = page.locator("#view").get_by_role("alert")
    expect(alert).to_contain_text(message)
    expect(page.get_by_role("button", name="Import as a copy")).to_have_count(0)
    assert vault_state(page)["counts"] == before


def test_a_link_with_an_altered_ciphertext_is_refused_like_a_wrong_passphrase(receiver):
    page = receiving(receiver)
    before = vault_state(page)["counts"]
    sealed = sharelink.Sealed(b"s" * 16, b"i" * 12, b"\x00" * 48)  # no passphrase makes this tag
    go(page, page.evaluate("location.origin") + "/#/share/" + sharelink.encode_sealed(sealed))
    page.get_by_label("Passphrase").fill("anything")
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("#view").get_by_role("alert")).to_contain_text("or the link was altered", timeout=30_000)
    assert vault_state(page)["counts"] == before


BIG = """
import secrets
from app.core import storyboard
from app.startup import current_vault
vault = current_vault()
project = await vault.create_project("Too Big To Link")
for n in range(16):  # 64,000 characters of random prompts: ~48 KB once compressed
    project = storyboard.add_scene(project, f"Scene {n}", secrets.token_urlsafe(3000)[:4000])
await vault.save_project(project)
project.id
"""


def test_a_project_too_big_for_a_link_is_refused_with_a_backup_file_suggested(sender):
    project_id = run_python(sender, BIG)
    sender.evaluate("id => { location.hash = '#/project/' + id; }", project_id)
    sender.get_by_role("heading", name="Too Big To Link", level=1).wait_for()
    sender.get_by_role("button", name="Copy share link").click()
    sender.get_by_role("dialog").get_by_role("button", name="Make link").click()
    alert = sender.locator("#notices").get_by_role("alert")
    expect(alert).to_contain_text("over the 32 KB a share link may hold", timeout=30_000)
    expect(alert).to_contain_text("Export recipes only")
    expect(sender.get_by_role("region", name="Share link")).to_have_count(0)
