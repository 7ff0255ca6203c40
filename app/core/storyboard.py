"""A project's structure (pure): its characters and its ordered scenes, and the slots they own.

Characters and scenes get short stable ids, so reordering scenes never moves their files: a
scene's frame lives in slot `scene:<id>`, its clip in `scene:<id>:clip`, its narration in
`scene:<id>:narration`; a character's image in `character:<id>`. Every function returns a new
`Project` (records are immutable) and checks its input.

    >>> from app.core.model import Project
    >>> project = add_scene(Project.create("Heist"), story="The vault door", prompt="a steel door")
    >>> [scene_slots(s)["frame"] for s in project.scenes] == [f"scene:{project.scenes[0]['id']}"]
    True
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from app.core import textrules
from app.core.errors import InvalidAsset
from app.core.model import Project, change_stamp

MAX_CHARACTERS = 50
MAX_SCENES = 200
# How each storyboard text is kept (app/core/textrules.py): a name is one line, the rest prose.
ITEM_TEXT_RULES = {"name": textrules.LINE, "description": textrules.PROSE,
                   "story": textrules.PROSE, "prompt": textrules.PROSE}


def _short_id(prefix: str, taken: set[str]) -> str:
    while True:
        candidate = prefix + secrets.token_hex(3)
        if candidate not in taken:
            return candidate


def _text(label: str, key: str, value, required: bool = False) -> str:
    """An item's text under `key` in normal form, or InvalidAsset naming it by `label`."""
    if not isinstance(value, str):
        raise InvalidAsset(f"{label} must be text, not {type(value).__name__}")
    text = textrules.checked(value, label, ITEM_TEXT_RULES[key], InvalidAsset)
    if required and not text:
        raise InvalidAsset(f"{label} is required")
    return text


def _touched(project: Project, **changes) -> Project:
    return replace(project, updated_at=change_stamp(project.updated_at), **changes)


def _index(items: list[dict], item_id: str, what: str) -> int:
    for position, item in enumerate(items):
        if item["id"] == item_id:
            return position
    raise InvalidAsset(f"No {what} with id {item_id!r} in this project")


def add_character(project: Project, name: str, description: str = "") -> Project:
    if len(project.characters) >= MAX_CHARACTERS:
        raise InvalidAsset(f"A project holds at most {MAX_CHARACTERS} characters")
    character = {"id": _short_id("c", {c["id"] for c in project.characters}),
                 "name": _text("Character name", "name", name, required=True),
                 "description": _text("Character description", "description", description)}
    return _touched(project, characters=[*project.characters, character])


def edit_character(project: Project, character_id: str, *, name: str | None = None,
                   description: str | None = None) -> Project:
    characters = [dict(c) for c in project.characters]
    character = characters[_index(characters, character_id, "character")]
    if name is not None:
        character["name"] = _text("Character name", "name", name, required=True)
    if description is not None:
        character["description"] = _text("Character description", "description", description)
    return _touched(project, characters=characters)


def remove_character(project: Project, character_id: str) -> Project:
    _index(project.characters, character_id, "character")
    return _touched(project, characters=[c for c in project.characters if c["id"] != character_id])


def add_scene(project: Project, story: str = "", prompt: str = "") -> Project:
    if len(project.scenes) >= MAX_SCENES:
        raise InvalidAsset(f"A project holds at most {MAX_SCENES} scenes")
    scene = {"id": _short_id("s", {s["id"] for s in project.scenes}),
             "story": _text("Scene story", "story", story),
             "prompt": _text("Frame prompt", "prompt", prompt)}
    return _touched(project, scenes=[*project.scenes, scene])


def edit_scene(project: Project, scene_id: str, *, story: str | None = None,
               prompt: str | None = None) -> Project:
    scenes = [dict(s) for s in project.scenes]
    scene = scenes[_index(scenes, scene_id, "scene")]
    if story is not None:
        scene["story"] = _text("Scene story", "story", story)
    if prompt is not None:
        scene["prompt"] = _text("Frame prompt", "prompt", prompt)
    return _touched(project, scenes=scenes)


def move_scene(project: Project, scene_id: str, offset: int) -> Project:
    """Move a scene `offset` places (negative: earlier), clamped to the list."""
    scenes = list(project.scenes)
    position = _index(scenes, scene_id, "scene")
    target = min(max(position + offset, 0), len(scenes) - 1)
    scenes.insert(target, scenes.pop(position))
    return _touched(project, scenes=scenes)


def remove_scene(project: Project, scene_id: str) -> Project:
    _index(project.scenes, scene_id, "scene")
    return _touched(project, scenes=[s for s in project.scenes if s["id"] != scene_id])


def scene_slots(scene: dict) -> dict[str, str]:
    """{"frame", "clip", "narration"} -> slot names for one scene."""
    base = f"scene:{scene['id']}"
    return {"frame": base, "clip": f"{base}:clip", "narration": f"{base}:narration"}


def character_slot(character: dict) -> str:
    return f"character:{character['id']}"


def scene_number(project: Project, scene_id: str) -> int:
    """1-based position of the scene (for labels and file names)."""
    return _index(project.scenes, scene_id, "scene") + 1
