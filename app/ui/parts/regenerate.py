""""Regenerate all missing" (browser): remake every missing file of a project from its recipe,
one after another, with the count on the button that started it and a notice of the outcome.
The work is app/generation/service.py `regenerate_missing`; the workspace's button and the
shared-project page (app/ui/views/share.py) both run it.

    outcomes = await regenerate_all(app, project.id, button)   # None when nothing is missing
"""

from __future__ import annotations


async def regenerate_all(app, project_id: str, button) -> list | None:
    """Regenerate the project's missing files; the button shows 'Regenerating 2 of 5…' and
    gets its text back afterwards. None (and a notice) when nothing is missing."""
    missing = await app.vault.missing(project_id)
    if not missing:
        app.info("Nothing is missing: every file of this project is on this device.")
        return None
    idle_text = str(button.textContent)
    button.disabled = True
    seen: list[str] = []

    def progress(asset_id: str, status: str) -> None:
        if status == "generating":
            seen.append(asset_id)
            button.textContent = f"Regenerating {len(seen)} of {len(missing)}…"

    try:
        outcomes = await app.generation.regenerate_missing(project_id, on_progress=progress)
    finally:
        button.disabled = False
        button.textContent = idle_text
    identical = sum(o.status == "restored (identical)" for o in outcomes)
    rerolled = sum(o.status == "re-rolled" for o in outcomes)
    failed = [o.message for o in outcomes if o.status in ("failed", "no recipe")]
    app.info(f"Regenerated {len(outcomes)} files: {identical} identical to the originals, "
             f"{rerolled} re-rolled as new versions.")
    if failed:
        app.alert(" ".join(failed))
    return outcomes
