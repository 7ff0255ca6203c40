"""app/generation/connectivity.py and the header's indicator, against a real server.py that the test stops
and restarts: the state follows the server (not just navigator.onLine), subscribers hear every
change, and queued generations survive an offline reload and run once the server is back."""

from __future__ import annotations

import json
import textwrap

from conftest import run_python, wait_for_app_state
from offline_support import (boot_controlled, net_status, offline_app,  # noqa: F401
                             reload_into_ready, wait_for_net_status)

PRELUDE = """
import asyncio, json, js
from app.generation import connectivity
from app.generation.connectivity import OfflineQueue
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.startup import current_vault
vault = current_vault()
service = GenerationService(vault, ProxyClient())

def generate(item):
    return service.generate(item.project_id, item.kind, item.slot, item.request)
"""
QUEUE_KEY = "test.queue.reload"  # the tests' own queue; the app runs its own under the default key
# True once only the invalid request is left, and its failure has been recorded.
ONLY_FAILURE_LEFT_JS = """key => {
  const items = JSON.parse(localStorage.getItem(key) || "[]");
  return items.length === 1 && items[0].attempts === 1;
}"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def test_the_state_follows_the_server_and_subscribers_hear_each_change(offline_app):
    page = offline_app.open()
    assert wait_for_app_state(page) == "ready"
    wait_for_net_status(page, "Online")
    assert py(page, """
        heard = []
        stop_listening = connectivity.subscribe(heard.append)
        json.dumps(connectivity.is_server_reachable())
    """) is True

    offline_app.stop_server()
    assert py(page, "json.dumps([await connectivity.check(), connectivity.is_server_reachable()])") \
        == [False, False]
    assert net_status(page) == "Offline" and page.evaluate("navigator.onLine") is True
    offline_app.restart_server()
    assert py(page, "json.dumps(await connectivity.check())") is True
    assert net_status(page) == "Online"
    assert py(page, "stop_listening(); json.dumps(heard)") == [False, True]

    offline_app.stop_server()
    assert py(page, "json.dumps([await connectivity.check(), heard])") == [False, [False, True]]
    offline_app.restart_server()
    offline_app.context.set_offline(True)  # the browser's own event, no health check needed
    wait_for_net_status(page, "Offline")
    offline_app.context.set_offline(False)  # back online: the server is asked again
    wait_for_net_status(page, "Online")
    assert page.locator("#net-status").get_attribute("data-state") == "online"


def test_generations_queued_offline_survive_a_reload_and_run_when_the_server_returns(offline_app):
    page = boot_controlled(offline_app)
    offline_app.stop_server()
    queued = py(page, """
        project = await vault.create_project("Queued while offline")
        queue = OfflineQueue(generate, key="test.queue.reload")  # not the app's own queue
        assert not await connectivity.check()
        for request in ({"prompt": "a lighthouse", "seed": 1, "width": 256, "height": 144},
                        {"prompt": "a harbour", "seed": 2, "width": 256, "height": 144},
                        {"prompt": "too narrow", "width": 100}):
            queue.add(project.id, "scene", f"scene:{request.get('seed', 9)}", request)
        outcomes = await queue.run_pending()
        json.dumps({"project": project.id, "ran": len(outcomes),
                    "items": [[i.id, i.slot, i.attempts] for i in queue.items()]})
    """)
    assert queued["ran"] == 0
    assert [slot for _, slot, _ in queued["items"]] == ["scene:1", "scene:2", "scene:9"]

    offline_app.context.set_offline(True)
    reload_into_ready(page)  # served by the service worker; the queue is still there
    assert py(page, """
        queue = OfflineQueue(generate, key="test.queue.reload")
        sizes = []
        queue.on_change(lambda items: sizes.append(len(items)))
        queue.start()
        json.dumps([i.id for i in queue.items()])
    """) == [item_id for item_id, _, _ in queued["items"]]

    offline_app.restart_server()
    offline_app.context.set_offline(False)  # the online event -> health check -> the queue runs
    page.wait_for_function(ONLY_FAILURE_LEFT_JS, arg=QUEUE_KEY)
    result = py(page, f"""
        left = queue.items()
        assets = await vault.list_assets({queued["project"]!r})
        json.dumps({{"left": [[i.slot, i.attempts, i.error] for i in left], "sizes": sizes,
                    "slots": sorted(a.slot for a in assets),
                    "removed": queue.remove(left[0].id), "after": len(queue.items())}})
    """)
    [(slot, attempts, error)] = result["left"]
    assert (slot, attempts) == ("scene:9", 1) and "width" in error
    assert result["slots"] == ["scene:1", "scene:2"]
    assert result["sizes"][:3] == [2, 1, 1] and result["sizes"][-1] == 0
    assert result["removed"] is True and result["after"] == 0
    run_python(page, "queue.stop(); 0")


def test_two_queues_on_one_origin_run_each_item_once(ready_page):
    result = py(ready_page, """
        calls = []

        async def slow(item):
            calls.append(item.id)
            await asyncio.sleep(0.2)
            return item.id

        first, second = OfflineQueue(slow, key="test.queue"), OfflineQueue(slow, key="test.queue")
        ids = [first.add("p", "scene", f"scene:{n}", {"prompt": str(n)}).id for n in range(3)]
        runs = await asyncio.gather(first.run_pending(), second.run_pending())
        json.dumps({"ids": ids, "calls": calls, "runs": [[o.status for o in run] for run in runs],
                    "left": len(first.items())})
    """)
    assert result["calls"] == result["ids"]
    assert sorted(result["runs"], key=len) == [[], ["done", "done", "done"]]
    assert result["left"] == 0


def test_only_json_requests_can_be_queued(ready_page):
    result = py(ready_page, """
        queue = OfflineQueue(generate, key="test.queue.types")
        try:
            queue.add("p", "scene", "scene:1", ["not", "a", "dict"])
        except TypeError as exc:
            message = str(exc)
        json.dumps([message, queue.items()])
    """)
    assert result == ["Cannot queue a request of type list; use a dict", []]
