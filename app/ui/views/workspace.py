"""Project workspace view (browser): the structure of an AI video project — its thumbnail, its
characters, its ordered scenes (story, frame prompt, frame image, clip, narration) and the
final video — each file in a slot card (app/ui/parts/slots.py) — with the render controls
(app/ui/parts/render_panel.py) that make the final video from the scenes.

Scenes can be added, edited, reordered and removed; characters added, edited and removed (a
removed scene or character goes to the trash with its files, in one transaction, with Undo).
"Generate all empty" fills every empty slot that can be generated, one after another; a scene's
clip is made once its frame exists (frames come first in the walk). "Copy share link" puts the
project's recipes in a link (app/ui/parts/share_panel.py).

    await workspace.render(app, scope, container, project_id="prj_...")
"""

from __future__ import annotations

from app.core import storyboard
from app.core.errors import NotFound
from app.ui.parts.dialogs import Field, confirm_dialog, form_dialog
from app.ui.parts.dom import el, replace_children
from app.ui.parts.regenerate import regenerate_all
from app.ui.parts.render_panel import RenderPanel
from app.ui.parts.share_panel import SharePanel
from app.ui.parts.slots import CHARACTER_SIZE, SlotCard, SlotSpec
from app.ui.parts.undo import files, offer_undo


async def render(app, scope, container, project_id: str) -> None:
    doc = app.document
    try:
        project = await app.vault.get_project(project_id)
    except NotFound:
        replace_children(container, el(doc, "h1", {}, "Project not found"),
                         el(doc, "p", {}, "It may have been deleted. "),
                         el(doc, "a", {"href": "#/"}, "Back to projects"))
        return
    cards: list[SlotCard] = []

    async def card(spec: SlotSpec):
        slot_card = SlotCard(app, project, spec)
        scope.defer(slot_card.dispose)
        cards.append(slot_card)
        return await slot_card.render()

    share = SharePanel(app, scope, project)
    header = _header(app, scope, project, cards, share.button)
    thumb = await card(SlotSpec("thumbnail", "thumbnail", "Thumbnail",
                                prompt=_thumbnail_prompt(project)))
    characters = [await _character(app, scope, project, c, card) for c in project.characters]
    scenes = [await _scene(app, scope, project, s, n, card) for n, s in enumerate(project.scenes, 1)]
    final = await card(SlotSpec("video", "final", "Final video"))
    renderer = RenderPanel(app, scope, project, on_rendered=cards[-1].render)
    replace_children(
        container, header, share.node,
        _section(doc, "Thumbnail", thumb),
        _section(doc, "Characters", *characters, _add_button(app, scope, "Add character",
                                                                 lambda: _add_character(app, project))),
        _section(doc, "Scenes", el(doc, "ol", {"class": "scene-list"}, *scenes),
                 _add_button(app, scope, "Add scene", lambda: _add_scene(app, project))),
        _section(doc, "Final video", renderer.node, final))


def _thumbnail_prompt(project) -> str:
    details = ", ".join(p for p in (project.style, project.mood) if p)
    return f"{project.title}: {project.description}" + (f" ({details})" if details else "")


def _section(doc, title: str, *children):
    heading_id = "h-" + title.lower().replace(" ", "-")
    return el(doc, "section", {"class": "workspace-section", "aria-labelledby": heading_id},
              el(doc, "h2", {"id": heading_id}, title), *children)


def _add_button(app, scope, text: str, action):
    button = el(app.document, "button", {"type": "button"}, text)
    scope.on(button, "click", lambda event: action())
    return button


def _header(app, scope, project, cards, share_button):
    doc = app.document
    edit = _add_button(app, scope, "Edit details", lambda: _edit_details(app, project))
    fill = el(doc, "button", {"type": "button", "class": "primary"}, "Generate all empty")
    scope.on(fill, "click", lambda event: _generate_all(app, cards, fill))
    restore = el(doc, "button", {"type": "button"}, "Regenerate all missing")
    scope.on(restore, "click", lambda event: _regenerate_missing(app, project, restore))
    facts = " · ".join(p for p in (project.style, project.mood, project.aspect_ratio) if p)
    return el(doc, "div", {"class": "view-header workspace-header"},
              el(doc, "div", {}, el(doc, "a", {"href": "#/", "class": "muted small"}, "← Projects"),
                 el(doc, "h1", {}, project.title),
                 el(doc, "p", {"class": "muted"}, project.description or "No description"),
                 el(doc, "p", {"class": "muted small"}, facts)),
              el(doc, "div", {"class": "card-actions"}, edit, share_button, restore, fill))


async def _generate_all(app, cards: list[SlotCard], button) -> None:
    empty = []
    for slot_card in cards:
        if slot_card.spec.generatable and not await app.vault.versions(slot_card.project.id,
                                                                       slot_card.spec.slot):
            empty.append(slot_card)
    button.disabled = True
    made, waiting = 0, []
    try:
        for done, slot_card in enumerate(empty, 1):
            if slot_card.spec.kind == "clip" and not await slot_card.frame_ready():
                waiting.append(slot_card.spec.label)  # a clip is made from its scene's frame
                continue
            button.textContent = f"Generating {done} of {len(empty)}…"
            await slot_card.generate({})
            made += 1
    finally:
        button.disabled = False
        button.textContent = "Generate all empty"
    note = f" Waiting for a frame: {', '.join(waiting)}." if waiting else ""
    app.info((f"Generated {made} files." if made else "Every slot already has a file.") + note)


async def _regenerate_missing(app, project, button) -> None:
    """Regenerate every missing file of the project from its recipe, with progress."""
    if await regenerate_all(app, project.id, button) is not None:
        app.refresh()


async def _character(app, scope, project, character, card):
    doc = app.document
    name = character["name"]
    edit = _add_button(app, scope, "Edit", lambda: _edit_character(app, project, character))
    edit.setAttribute("aria-label", f"Edit character {name}")
    remove = _add_button(app, scope, "Remove", lambda: _remove_character(app, project, character))
    remove.setAttribute("aria-label", f"Remove character {name}")
    image = await card(SlotSpec("character", storyboard.character_slot(character),
                                f"{name} image", prompt=f"{name}: {character['description']}",
                                size=CHARACTER_SIZE))
    return el(doc, "article", {"class": "character", "aria-label": f"Character {name}"},
              el(doc, "h3", {}, name),
              el(doc, "p", {"class": "muted"}, character["description"] or "No description"),
              el(doc, "div", {"class": "card-actions"}, edit, remove), image)


async def _scene(app, scope, project, scene, number: int, card):
    doc = app.document
    slots = storyboard.scene_slots(scene)
    label = f"Scene {number}"
    buttons = []
    for text, name, action in (
            ("Edit", f"Edit {label}", lambda: _edit_scene(app, project, scene)),
            ("↑", f"Move {label} up", lambda: _move_scene(app, project, scene, -1)),
            ("↓", f"Move {label} down", lambda: _move_scene(app, project, scene, 1)),
            ("Remove", f"Remove {label}", lambda: _remove_scene(app, project, scene, label))):
        button = _add_button(app, scope, text, action)
        button.setAttribute("aria-label", name)
        buttons.append(button)
    frame = await card(SlotSpec("scene", slots["frame"], f"{label} frame",
                                prompt=scene["prompt"] or scene["story"]))
    clip = await card(SlotSpec("clip", slots["clip"], f"{label} clip",
                               prompt=f"slow camera move: {scene['prompt'] or scene['story']}"))
    narration = await card(SlotSpec("audio", slots["narration"], f"{label} narration",
                                    prompt=scene["story"] or scene["prompt"]))
    return el(doc, "li", {"class": "scene", "data-scene-id": scene["id"]},
              el(doc, "h3", {}, label),
              el(doc, "p", {}, el(doc, "strong", {}, "Story: "), scene["story"] or "—"),
              el(doc, "p", {}, el(doc, "strong", {}, "Frame prompt: "), scene["prompt"] or "—"),
              el(doc, "div", {"class": "card-actions"}, *buttons),
              el(doc, "div", {"class": "slot-row"}, frame, clip, narration))


async def _save(app, project) -> None:
    await app.vault.save_project(project)
    app.refresh()


async def _edit_details(app, project) -> None:
    values = await form_dialog(app.document, "Edit project details", [
        Field("title", "Title", project.title, required=True),
        Field("description", "Description", project.description, kind="textarea"),
        Field("style", "Style", project.style), Field("mood", "Mood", project.mood),
    ], submit="Save")
    if values is not None:
        await app.vault.update_project(project.id, **values)
        app.refresh()


async def _add_character(app, project) -> None:
    values = await form_dialog(app.document, "Add character", [
        Field("name", "Name", required=True), Field("description", "Description", kind="textarea"),
    ], submit="Add character")
    if values is not None:
        await _save(app, storyboard.add_character(project, values["name"], values["description"]))


async def _edit_character(app, project, character) -> None:
    values = await form_dialog(app.document, f"Edit {character['name']}", [
        Field("name", "Name", character["name"], required=True),
        Field("description", "Description", character["description"], kind="textarea"),
    ], submit="Save")
    if values is not None:
        await _save(app, storyboard.edit_character(project, character["id"], **values))


async def _remove_character(app, project, character) -> None:
    slot = storyboard.character_slot(character)
    if await confirm_dialog(app.document, f"Remove {character['name']}?",
                            "The character and every version of its image move to the trash: "
                            "Undo, or restore them from Trash.", "Remove character"):
        entry = {"list": "characters", "index": project.characters.index(character),
                 "value": character}
        moved = await app.vault.trash_slots(
            project.id, [slot], label=f"{character['name']} in {project.title}",
            project=storyboard.remove_character(project, character["id"]), entry=entry)
        offer_undo(app, f"Moved {character['name']} to the trash ({files(moved.assets_moved)}).",
                   moved)
        app.refresh()


async def _add_scene(app, project) -> None:
    values = await form_dialog(app.document, "Add scene", [
        Field("story", "Story", kind="textarea"), Field("prompt", "Frame prompt", kind="textarea"),
    ], submit="Add scene")
    if values is not None:
        await _save(app, storyboard.add_scene(project, values["story"], values["prompt"]))


async def _edit_scene(app, project, scene) -> None:
    values = await form_dialog(app.document, "Edit scene", [
        Field("story", "Story", scene["story"], kind="textarea"),
        Field("prompt", "Frame prompt", scene["prompt"], kind="textarea"),
    ], submit="Save")
    if values is not None:
        await _save(app, storyboard.edit_scene(project, scene["id"], **values))


async def _move_scene(app, project, scene, offset: int) -> None:
    await _save(app, storyboard.move_scene(project, scene["id"], offset))


async def _remove_scene(app, project, scene, label: str) -> None:
    if await confirm_dialog(app.document, f"Remove {label}?",
                            "The scene and every version of its frame, clip and narration move "
                            "to the trash: Undo, or restore them from Trash.", "Remove scene"):
        entry = {"list": "scenes", "index": project.scenes.index(scene), "value": scene}
        moved = await app.vault.trash_slots(
            project.id, list(storyboard.scene_slots(scene).values()),
            label=f"{label} of {project.title}",
            project=storyboard.remove_scene(project, scene["id"]), entry=entry)
        offer_undo(app, f"Moved {label} to the trash ({files(moved.assets_moved)}).", moved)
        app.refresh()
