"""The workspace while the server is unreachable: generation controls give way to an
explanation and "Queue for later"; the queue is listed, and it runs when the server is back."""

import json

from conftest import open_route, run_python
from offline_support import boot_controlled, offline_app  # noqa: F401  (fixture)

SETUP = """
import json
from app.core import storyboard
from app.startup import current_vault
vault = current_vault()
project = storyboard.add_scene(await vault.create_project("Train ride"), story="A tunnel", prompt="a tunnel")
await vault.save_project(project)
json.dumps(project.id)
"""
CHECK = "from app.generation import connectivity\nstr(await connectivity.check())"


def test_generation_waits_in_a_queue_while_the_server_is_away(offline_app):  # noqa: F811
    page = boot_controlled(offline_app)
    project_id = json.loads(run_python(page, SETUP))
    open_route(page, f"#/project/{project_id}")
    frame = page.get_by_role("region", name="Scene 1 frame", exact=True)
    frame.get_by_role("button", name="Generate Scene 1 frame").wait_for()

    offline_app.stop_server()
    assert run_python(page, CHECK) == "False"
    frame.get_by_role("button", name="Queue Scene 1 frame for later").wait_for()
    assert frame.get_by_role("button", name="Generate Scene 1 frame").count() == 0
    assert "Generation needs the SceneVault server" in frame.inner_text()
    frame.get_by_role("button", name="Queue Scene 1 frame for later").click()
    queue = page.get_by_role("region", name="Queued generations")
    queue.get_by_text("Queued generations (1)").wait_for()

    offline_app.restart_server()
    assert run_python(page, CHECK) == "True"
    queue.wait_for(state="detached", timeout=60_000)
    open_route(page, "#/")
    open_route(page, f"#/project/{project_id}")
    frame.locator("img.slot-media").wait_for(timeout=30_000)
