"""The render controls of the workspace's Final video section (browser): size preset (following
the project's aspect ratio), transition, slow pan and the length of scenes without narration or
clip; before rendering, a list saying per scene what the video will use (its clip or its frame
image, narration or silence) and for how long, or what keeps a scene from rendering (refreshed
when the panel is built, when an option changes and when the pointer or focus comes to the
panel); a Render button, and while rendering a progress bar with the frame count and Cancel.

The work is app/render/encoder.py (imported on the first render); this module asks, shows progress and
reports. A cancelled or failed render stores nothing and says so.

    panel = RenderPanel(app, scope, project, on_rendered=final_card.render)
    section.append(panel.node)
"""

from __future__ import annotations

from app.core.errors import RenderCancelled, RenderError, SceneVaultError
from app.render.timeline import PRESETS, RenderSettings, frame_size
from app.ui.parts.dom import el, replace_children, run_soon

TRANSITION_CHOICES = (("crossfade", "Crossfade"), ("cut", "Cut"))


class RenderPanel:
    """Options, a Render button and, while busy, progress with Cancel."""

    def __init__(self, app, scope, project, on_rendered):
        self.app, self.scope, self.project, self.on_rendered = app, scope, project, on_rendered
        self.cancel_requested = False
        doc = app.document
        self.size = _select(doc, "Video size", [
            (str(p), "×".join(map(str, frame_size(project.aspect_ratio, p)))) for p in PRESETS])
        self.transition = _select(doc, "Transition", TRANSITION_CHOICES)
        self.pan = el(doc, "input", {"type": "checkbox", "checked": True, "name": "pan"})
        self.default_seconds = el(doc, "input", {"type": "number", "min": "0.5", "max": "600",
                                                 "step": "0.5", "value": "4", "name": "default-seconds",
                                                 "aria-label": "Seconds per scene without narration"})
        self.plan_list = el(doc, "ul", {"class": "render-plan small",
                                        "aria-label": "What each scene will use"})
        for control in (self.size, self.transition, self.pan, self.default_seconds):
            scope.on(control, "change", lambda event: self.refresh_plan())
        self.button = el(doc, "button", {"type": "button", "class": "primary"}, "Render video")
        scope.on(self.button, "click", lambda event: self.render())
        self.bar = el(doc, "progress", {"max": 1, "value": 0, "aria-label": "Render progress"})
        self.text = el(doc, "span", {"class": "muted small", "aria-live": "polite"})
        cancel = el(doc, "button", {"type": "button", "aria-label": "Cancel render"}, "Cancel")
        scope.on(cancel, "click", lambda event: self.cancel())
        self.progress = el(doc, "div", {"class": "render-progress", "hidden": True},
                           self.bar, self.text, cancel)
        self.node = el(
            doc, "section", {"class": "render-panel", "aria-label": "Render the final video"},
            el(doc, "p", {"class": "muted small"},
               "Renders the scenes in order into a WebM video: a scene's clip if it has one "
               "(fitted into the frame, its own sound under the narration), else its frame "
               "image, each for the longer of its narration and its clip (or the seconds "
               "below), with the narration underneath. It is made in this browser; nothing is "
               "uploaded."),
            el(doc, "div", {"class": "render-options"},
               _labelled(doc, "Size", self.size), _labelled(doc, "Transition", self.transition),
               el(doc, "label", {}, self.pan, " Slow pan"),
               _labelled(doc, "Seconds per scene without narration", self.default_seconds)),
            self.plan_list, el(doc, "div", {"class": "card-actions"}, self.button), self.progress)
        self._refreshing = self._stale = False
        for event in ("pointerenter", "focusin"):
            scope.on(self.node, event, lambda event: self.refresh_plan())
        run_soon(self.refresh_plan())

    async def refresh_plan(self) -> None:
        """Say per scene what the video will use and for how long (or what is missing)."""
        from app.render.encoder import Renderer

        if self._refreshing:  # the one in flight read the options before this change
            self._stale = True
            return
        self._refreshing = True
        try:
            while True:
                self._stale = False
                try:
                    lines = await Renderer(self.app.vault).summary(self.project.id, self.settings())
                except SceneVaultError as exc:
                    lines = [str(exc)]
                if not self._stale:
                    break
            replace_children(self.plan_list, *(el(self.app.document, "li", {}, line) for line in lines))
        finally:
            self._refreshing = False

    def settings(self) -> RenderSettings:
        """The chosen options as RenderSettings (RecipeError when a value is out of range)."""
        try:
            seconds = float(self.default_seconds.value)
        except ValueError:
            seconds = 0.0
        if not 0.5 <= seconds <= 600:
            raise RenderError("Seconds per scene without narration must be a number from 0.5 to "
                              "600; change it and render again.")
        default_ms = round(seconds * 1000)
        return RenderSettings.for_aspect(self.project.aspect_ratio, int(self.size.value),
                                         transition=self.transition.value,
                                         pan=bool(self.pan.checked), default_scene_ms=default_ms)

    def cancel(self) -> None:
        self.cancel_requested = True
        self.text.textContent = "Cancelling…"

    @property
    def cancelled(self) -> bool:  # read by the renderer before every frame
        return self.cancel_requested

    async def render(self) -> None:
        from app.render.encoder import Renderer

        self.cancel_requested = False
        self._busy(True)
        try:
            settings = self.settings()
            asset = await Renderer(self.app.vault).render(self.project.id, settings,
                                                          on_progress=self._update, cancel=self)
        except RenderCancelled as exc:
            self.app.info(str(exc))
            return
        except SceneVaultError as exc:
            self.app.alert(f"{exc}")
            return
        finally:
            self._busy(False)
        await self.app.stored_something()
        await self.refresh_plan()
        await self.on_rendered()  # the final card shows the new version before it is announced
        length = f"{asset.duration_ms / 1000:.1f} s" if asset.duration_ms else "the video"
        self.app.info(f"Rendered the final video ({length}, {asset.width}×{asset.height}); "
                      f"stored as version {asset.version}.")

    def _update(self, done: int, total: int) -> None:
        if self.cancel_requested:
            return
        self.bar.max = max(total, 1)
        self.bar.value = done
        self.text.textContent = f"Rendering frame {done} of {total}…"

    def _busy(self, busy: bool) -> None:
        self.button.disabled = busy
        self.progress.hidden = not busy
        self.node.setAttribute("data-state", "rendering" if busy else "idle")
        self.bar.value = 0
        self.text.textContent = "Preparing the images and narration…" if busy else ""


def _select(doc, name: str, choices):
    return el(doc, "select", {"aria-label": name},
              *(el(doc, "option", {"value": value}, text) for value, text in choices))


def _labelled(doc, text: str, control):
    return el(doc, "label", {}, f"{text} ", control)
