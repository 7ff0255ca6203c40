"""Slot cards (browser): one place in a project (a thumbnail, a character image, a scene frame,
clip or narration, the final video) with its current version and everything the user can do
with it: generate or regenerate with progress, regenerate when missing, open the history,
download, see or reuse the recipe, and import a file (picker or drag and drop).

What a card shows: an image slot its stored preview; a narration its waveform (the preview
app/store/media.py drew) above an <audio controls> player; a clip or the final video a
<video controls> with the stored poster frame. A waveform or poster still being made in the
background (app/store/preview_maker.py) appears in place when it lands, without a re-render;
one that cannot be made leaves a neutral placeholder. Each card owns a Scope for its object
URLs (media and previews alike) and handlers and re-renders alone when its slot changes,
revoking and releasing the old ones.

    spec = SlotSpec("scene", "scene:s1a2b3", "Scene 1 frame", prompt="a harbour at dawn")
    card = SlotCard(app, project, spec)
    container.append(await card.render())
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.core.errors import MissingBlob, SceneVaultError
from app.store.slot_import import import_into_slot
from app.ui.parts import history
from app.ui.parts.dialogs import Field, form_dialog
from app.ui.parts.dom import Scope, el, format_bytes, replace_children
from app.ui.parts.download import save
from app.ui.parts.preview_watch import placeholder_state, when_preview_lands

SIZE_BY_ASPECT = {"16:9": (1024, 576), "9:16": (576, 1024), "1:1": (768, 768),
                  "4:3": (1024, 768), "21:9": (1344, 576)}
CHARACTER_SIZE = (768, 1024)
ACCEPT = {"image": "image/png,image/jpeg,image/webp,image/gif",
          "audio": "audio/*", "video": "video/mp4,video/webm"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif",
              "audio/wav": "wav", "audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/flac": "flac",
              "audio/mp4": "m4a", "audio/webm": "weba", "video/mp4": "mp4", "video/webm": "webm"}


@dataclass(frozen=True)
class SlotSpec:
    """What a slot holds and how to generate it; `prompt` is the default request text."""

    kind: str
    slot: str
    label: str
    prompt: str = ""
    size: tuple[int, int] | None = None

    @property
    def family(self) -> str:
        return {"clip": "video", "video": "video", "audio": "audio"}.get(self.kind, "image")

    @property
    def generatable(self) -> bool:
        return self.kind in ("thumbnail", "character", "scene", "audio", "clip")

    @property
    def needs_server(self) -> bool:
        """A clip is made in the page from its frame (the local motion clip): no server."""
        return self.kind != "clip"


class SlotCard:
    """The card of one slot; `render()` returns its element, re-rendered in place on change."""

    def __init__(self, app, project, spec: SlotSpec):
        self.app, self.project, self.spec = app, project, spec
        self.scope = Scope()
        self.node = el(app.document, "section", {"class": "slot", "data-slot": spec.slot,
                                                 "aria-label": spec.label})
        self.status = el(app.document, "p", {"class": "slot-status", "aria-live": "polite"})
        self.busy = False
        self._renders = 0  # renders started: only the newest may change the card

    async def render(self):
        """(Re)build the card from the vault's current state of the slot. Everything is read
        first and the card changes in one step, so its status, media, job note and actions
        always describe the same moment; a render overtaken by a newer one changes nothing."""
        self._renders += 1
        mine = self._renders
        self.scope.dispose()
        self.scope = Scope()
        versions = await self.app.vault.versions(self.project.id, self.spec.slot)
        current = next((v for v in versions if v.current), None)
        missing_ids = {a.id for a in await self.app.vault.missing(self.project.id)} if current else set()
        view = await self._media(current, current is not None and current.id in missing_ids)
        jobs = ([j for j in await self.app.vault.pending_jobs(self.project.id)
                 if j.slot == self.spec.slot] if self.spec.kind == "clip" else [])
        if mine != self._renders:
            return self.node
        self.status.textContent = _describe(current, len(versions))
        replace_children(self.node, el(self.app.document, "h4", {}, self.spec.label), view,
                         self.status, *(self._job_note(job) for job in jobs),
                         self._actions(current, versions))
        self.node.setAttribute("data-job", jobs[-1].state if jobs else "none")
        self._accept_drops()
        return self.node

    def _job_note(self, job):
        """A server job of this slot: running (it survives a reload), or lost/failed with its
        recipe kept, to generate again in one click or dismiss."""
        doc = self.app.document
        if job.state == "running":
            return el(doc, "p", {"class": "job-note", "role": "status"},
                      f"Generating on the server with {job.recipe.get('provider')} (it keeps "
                      "running if you reload or close this tab).")
        again = self._button("Generate again", f"Generate {self.spec.label} again",
                             lambda event: self._retry_job(job), primary=True)
        dismiss = self._button("Dismiss", f"Dismiss the failed job of {self.spec.label}",
                               lambda event: self._dismiss_job(job))
        return el(doc, "div", {"class": "job-note notice-error", "role": "alert"},
                  el(doc, "p", {}, job.message or "The clip job did not finish."), again, dismiss)

    async def _retry_job(self, job) -> None:
        request = {k: job.recipe[k] for k in ("prompt", "seed", "seconds", "provider", "model")
                   if k in job.recipe}
        await self.app.vault.drop_job(job.id)
        await self.generate(request)

    async def _dismiss_job(self, job) -> None:
        await self.app.vault.drop_job(job.id)
        await self.render()

    def dispose(self) -> None:
        self.scope.dispose()

    # --- the media area -------------------------------------------------------------------------
    async def _media(self, current, missing: bool):
        if current is None:
            return el(self.app.document, "div", {"class": "slot-media placeholder"}, "Empty")
        if missing:
            return self._missing(current)
        if self.spec.family == "image":
            return await self._image(current)
        try:
            blob = await self.app.vault.get_blob(current.id)
        except MissingBlob:
            return self._missing(current)
        preview = await self.app.vault.get_preview(current.id)
        show = self._audio if self.spec.family == "audio" else self._video
        return show(current, blob, preview)

    async def _image(self, current):
        preview = await self.app.vault.get_preview(current.id)
        if preview is None:
            return self._missing(current)
        return el(self.app.document, "img", {"class": "slot-media", "src": self.scope.url(preview),
                                             "alt": self._name(current)})

    def _audio(self, current, blob, waveform):
        """The narration's waveform (its stored preview; a placeholder until it lands) over its
        player."""
        doc = self.app.document
        alt = f"Waveform of {self._name(current)}"
        if waveform is not None:
            picture = el(doc, "img", {"class": "slot-waveform", "src": self.scope.url(waveform),
                                      "alt": alt})
        else:
            picture = el(doc, "div", {"class": "slot-waveform placeholder", "data-preview":
                                      placeholder_state(self.app.vault, current.sha256)})
            when_preview_lands(self.app.vault, self.scope, current.sha256, lambda url: (
                picture.replaceWith(el(doc, "img", {"class": "slot-waveform", "src": url,
                                                    "alt": alt}))
                if url else picture.setAttribute("data-preview", "none")))
        player = el(doc, "audio", {"class": "slot-media", "controls": True, "preload": "metadata",
                                   "src": self.scope.url(blob), "aria-label": self._name(current)})
        return el(doc, "div", {"class": "slot-audio"}, picture, player)

    def _video(self, current, blob, poster):
        """The clip's player, showing its stored poster frame until it plays (set when it
        lands, if it is still being made)."""
        video = el(self.app.document, "video", {
            "class": "slot-media", "controls": True, "preload": "metadata",
            "src": self.scope.url(blob), "aria-label": self._name(current),
            "poster": None if poster is None else self.scope.url(poster),
            "data-preview": "ready" if poster is not None else placeholder_state(
                self.app.vault, current.sha256)})
        if poster is None:
            when_preview_lands(self.app.vault, self.scope, current.sha256, lambda url: (
                video.setAttribute("poster", url) if url else None,
                video.setAttribute("data-preview", "ready" if url else "none")))
        return video

    def _name(self, current) -> str:
        return f"{self.spec.label}, version {current.version}"

    def _missing(self, current):
        doc = self.app.document
        button = el(doc, "button", {"type": "button", "class": "primary",
                                    "aria-label": f"Regenerate missing {self.spec.label}",
                                    "disabled": not current.recipe}, "Regenerate")
        self.scope.on(button, "click", lambda event: self._regenerate_missing(current))
        note = ("Regenerate it from its recipe." if current.recipe else
                "It has no recipe; restore it from a backup.")
        return el(doc, "div", {"class": "slot-media placeholder missing", "data-missing": "true"},
                  el(doc, "strong", {}, "Missing"),
                  el(doc, "span", {}, f"This file is not on this device. {note}"), button)

    # --- actions ----------------------------------------------------------------------------
    def _actions(self, current, versions):
        doc, label = self.app.document, self.spec.label
        buttons = []
        if self.spec.generatable and self.spec.needs_server and not self.app.server_reachable():
            buttons.append(el(doc, "p", {"class": "offline-note"}, self.app.connectivity.OFFLINE_MESSAGE))
            buttons.append(self._button("Queue for later", f"Queue {label} for later",
                                        lambda event: self.queue_for_later()))
        elif self.spec.generatable:
            buttons.append(self._button("Regenerate" if current else "Generate",
                                        f"{'Regenerate' if current else 'Generate'} {label}",
                                        lambda event: self.generate({}), primary=True))
            buttons.append(self._button("Options…", f"Generation options for {label}",
                                        lambda event: self.generate_with_options(None)))
        if versions:
            buttons.append(self._button(f"History ({len(versions)})", f"History of {label}",
                                        lambda event: history.open_history(self, versions)))
        if current is not None:
            buttons.append(self._button("Download", f"Download {label}",
                                        lambda event: self.download(current)))
            if current.recipe:
                buttons.append(self._button("Recipe", f"Recipe of {label}",
                                            lambda event: history.open_recipe(self, current)))
        picker = el(doc, "input", {"type": "file", "class": "visually-hidden",
                                   "accept": ACCEPT[self.spec.family],
                                   "aria-label": f"Choose a file for {label}"})
        self.scope.on(picker, "change", lambda event: self._import_picked(picker))
        buttons.append(self._button("Import file", f"Import file into {label}",
                                    lambda event: picker.click()))
        return el(doc, "div", {"class": "slot-actions"}, *buttons, picker)

    def _button(self, text: str, name: str, handler, primary: bool = False):
        button = el(self.app.document, "button", {"type": "button", "aria-label": name,
                                                  "class": "primary" if primary else None,
                                                  "disabled": self.busy}, text)
        self.scope.on(button, "click", handler)
        return button

    def _progress(self, stage: str) -> None:
        words = {"queued": "Queued…", "generating": "Generating…", "saving": "Saving…",
                 "done": "Done", "failed": "Failed"}
        self.status.textContent = words.get(stage, stage)
        self.node.setAttribute("data-state", stage)

    async def generate(self, overrides: dict) -> None:
        """Generate with the slot's default request, changed by `overrides`."""
        request = self.default_request() | {k: v for k, v in overrides.items() if v not in ("", None)}
        self._set_busy(True)
        try:
            await self.app.generation.generate(self.project.id, self.spec.kind, self.spec.slot,
                                               request, on_progress=self._progress)
        finally:
            self._set_busy(False)
        await self.app.stored_something()
        await self.render()

    def queue_for_later(self) -> None:
        """Offline: keep the default request and run it when the server is back."""
        self.app.queue.add(self.project.id, self.spec.kind, self.spec.slot, self.default_request())
        self.app.info(f"{self.spec.label} is queued; it will be generated when the server is back.")

    async def frame_ready(self) -> bool:
        """For a clip: whether its scene has a current frame to make it from."""
        frame_slot = self.spec.slot.rpartition(":")[0]
        return any(v.current for v in await self.app.vault.versions(self.project.id, frame_slot))

    def default_request(self) -> dict:
        prompt = self.spec.prompt.strip() or self.spec.label
        if self.spec.kind in ("audio", "clip"):
            return {"prompt": prompt}
        width, height = self.spec.size or SIZE_BY_ASPECT.get(self.project.aspect_ratio, (1024, 576))
        return {"prompt": prompt, "width": width, "height": height}

    async def generate_with_options(self, recipe: dict | None) -> None:
        """The generation form, filled from the defaults or from a recipe to reuse."""
        base = {**self.default_request(), **(recipe or {})}
        if self.spec.kind == "clip":
            await self._clip_options(base)
            return
        fields = [Field("prompt", "Prompt", str(base.get("prompt", "")), kind="textarea",
                        required=True), Field("seed", "Seed (empty: random)", str(base.get("seed", "")))]
        if self.spec.kind != "audio":
            fields += [Field("negative_prompt", "Negative prompt", str(base.get("negative_prompt", ""))),
                       Field("width", "Width", str(base.get("width", ""))),
                       Field("height", "Height", str(base.get("height", "")))]
        catalog = await self.app.generation.client.catalog()
        names = tuple(p.name for p in catalog.providers if p.configured)
        fields.append(Field("provider", "Provider", str(base.get("provider", catalog.default)),
                            kind="select", options=names))
        values = await form_dialog(self.app.document, f"Generate {self.spec.label}", fields,
                                   submit="Generate")
        if values is not None:
            await self.generate(_numbers(values))

    async def _clip_options(self, base: dict) -> None:
        """The clip form: motion prompt, seed, seconds, provider and model."""
        from app.generation.clips import clip_catalog

        server = await self.app.generation.client.catalog() if self.app.server_reachable() else None
        catalog = clip_catalog(server)
        fields = [Field("prompt", "Motion prompt", str(base.get("prompt", "")), kind="textarea",
                        required=True),
                  Field("seed", "Seed (empty: random)", str(base.get("seed", ""))),
                  Field("seconds", "Seconds (1-10)", str(base.get("seconds", 5))),
                  Field("provider", "Provider", str(base.get("provider", catalog.default)),
                        kind="select", options=tuple(p.name for p in catalog.providers)),
                  Field("model", "Model (empty: the provider's first: "
                        + "; ".join(f"{p.name}: {', '.join(p.models.get('clip', ()))}"
                                    for p in catalog.providers) + ")",
                        str(base.get("model", "")))]
        values = await form_dialog(self.app.document, f"Generate {self.spec.label}", fields,
                                   submit="Generate")
        if values is not None:
            await self.generate(_numbers(values))

    async def _regenerate_missing(self, asset) -> None:
        self._set_busy(True)
        self._progress("generating")
        try:
            outcome = await self.app.generation.regenerate_asset(asset)
        finally:
            self._set_busy(False)
        (self.app.alert if outcome.status in ("failed", "no recipe") else self.app.info)(outcome.message)
        await self.render()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for button in self.node.querySelectorAll(".slot-actions button"):
            button.disabled = busy

    async def download(self, asset) -> None:
        blob = await self.app.vault.get_blob(asset.id)
        save(blob, f"{_slug(self.project.title)}-{asset.slot.replace(':', '-')}-v{asset.version}."
                   f"{EXTENSIONS.get(asset.mime_type, 'bin')}")

    # --- import -----------------------------------------------------------------------------
    async def _import_picked(self, picker) -> None:
        files = picker.files
        if files.length:
            await self.import_file(files.item(0))
        picker.value = ""

    def _accept_drops(self) -> None:
        self.scope.on(self.node, "dragover", lambda event: event.preventDefault())

        def dropped(event):
            event.preventDefault()
            files = event.dataTransfer.files if event.dataTransfer else None
            if files and files.length:
                return self.import_file(files.item(0))

        self.scope.on(self.node, "drop", dropped)

    async def import_file(self, file) -> None:
        """Store a user's file in this slot (app/store/slot_import.py); a refusal (by its bytes, or
        by the vault: undecodable, no room) is shown as an alert and stores nothing."""
        try:
            imported = await import_into_slot(self.app.vault, self.project.id, self.spec.kind,
                                              self.spec.slot, file)
        except SceneVaultError as exc:
            self.app.alert(f"“{file.name}” was refused: {exc}")
            return
        self.app.info(_imported_text(file.name, self.spec.label, imported))
        await self.app.stored_something()
        await self.render()


def _imported_text(name: str, label: str, imported) -> str:
    """'Imported “castle.png” into Thumbnail with its recipe (from ComfyUI).'"""
    text = f"Imported “{name}” into {label}"
    if imported.metadata_problem:
        return (f"{text} without a recipe: its metadata could not be read "
                f"({imported.metadata_problem}). The image itself is stored.")
    if not imported.has_recipe:
        return text + "."
    tool = TOOL_NAMES.get(imported.tool, imported.tool)
    return text + (" with its recipe." if imported.tool == "scenevault"
                   else f" with its recipe (from {tool}).")


TOOL_NAMES = {"a1111": "A1111 or Forge", "comfyui": "ComfyUI", "invokeai": "InvokeAI",
              "novelai": "NovelAI", "exif": "its EXIF data", "xmp": "its XMP data"}


def _describe(current, count: int) -> str:
    if current is None:
        return "No file yet"
    parts = [f"v{current.version} of {count}"]
    if current.width and current.height:
        parts.append(f"{current.width}×{current.height}")
    if current.duration_ms:
        parts.append(f"{current.duration_ms / 1000:.1f} s")
    parts.append(format_bytes(current.size))
    return " · ".join(parts)


def _numbers(values: dict) -> dict:
    out = dict(values)
    for name in ("seed", "width", "height", "seconds"):
        if out.get(name, "").strip().isdigit():
            out[name] = int(out[name])
        else:
            out.pop(name, None)
    return out


def _slug(text: str) -> str:
    cleaned = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(filter(None, cleaned.split("-")))[:60] or "project"


def recipe_text(recipe: dict) -> str:
    return json.dumps(recipe, indent=2, sort_keys=True)
