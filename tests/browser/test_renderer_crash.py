"""The tab survives Chromium's sampling heap profiler (issue 13's renderer crash).

Chromium turns its in-process sampling heap profiler on for a random share of browser sessions
(feature HeapProfilerReporting). For each sampled allocation it walks the stack by frame
pointers up to the thread's stack end. Pyodide, when the browser has WebAssembly stack switching
(JSPI), runs Python on secondary stacks that V8 allocates; a walk that starts there scans past the
secondary stack's top into a guard page, and the renderer dies with SIGSEGV (SEGV_ACCERR) at a
page-aligned address. Every crash dump this suite collected had that signature and the same
instruction (the profiler's stack scan). static/js/boot.js therefore hides JSPI from Pyodide.

This test starts a second Chromium with the profiler forced on and sampling about every 1000 bytes,
boots the app, and drives Python through the UI and through JS interop. Before the fix, the tab
died during boot or the first Python work in 4 runs out of 5 at this rate; the autouse
`chromium_never_crashes` fixture also fails the test on any new crash dump.
"""

import subprocess

from conftest import CHROMIUM, CHROMIUM_ARGS, run_python, wait_for_app_state

HEAP_PROFILER_ON = ("--enable-features=HeapProfilerReporting:stable-probability/1.0/"
                    "nonstable-probability/1.0/renderer-sampling-rate-bytes/1000")
INTEROP_WORK = """
import js
from pyodide.ffi import to_js
total = 0
for i in range(5000):
    node = js.document.createElement("span")
    node.textContent = str(i) * (i % 40)
    total += to_js([i, {"n": str(i)}]).length
total
"""


def profiled_renderers() -> list[int]:
    """Renderers running the heap profiler, descended from the browser given HEAP_PROFILER_ON
    (feature parameters reach children through shared memory, not their command lines). `-ww`:
    ps cuts lines to $COLUMNS otherwise, and pytest sets it."""
    rows = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True,
                          text=True).stdout.splitlines()
    processes = {int(pid): (int(ppid), args) for pid, ppid, args in
                 (row.split(None, 2) for row in rows if len(row.split(None, 2)) == 3)}

    def ancestors(pid: int):
        while pid in processes:
            pid = processes[pid][0]
            yield processes.get(pid, (0, ""))[1]

    return [pid for pid, (_, args) in processes.items() if "--type=renderer" in args
            and "--subproc-heap-profiling" in args
            and any(HEAP_PROFILER_ON in parent for parent in ancestors(pid))]


def test_the_tab_survives_the_sampling_heap_profiler(browser, server):
    profiled = browser.browser_type.launch(executable_path=CHROMIUM,
                                           args=[*CHROMIUM_ARGS, HEAP_PROFILER_ON])
    try:
        page = profiled.new_context().new_page()
        crashed = []
        page.on("crash", lambda _page: crashed.append("renderer crashed"))
        page.goto(server.url)
        assert wait_for_app_state(page, timeout_ms=120_000) == "ready"  # sampling slows boot
        assert profiled_renderers(), "the heap profiler did not start in the renderers"
        assert page.evaluate("'Suspending' in WebAssembly || 'Suspender' in WebAssembly") is False
        page.get_by_role("button", name="New project").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Title").fill("Profiled")
        dialog.get_by_role("button", name="Create project").click()
        page.get_by_role("heading", name="Profiled", level=1).wait_for()
        page.get_by_role("region", name="Thumbnail", exact=True).get_by_role(
            "button", name="Generate Thumbnail").click()
        page.locator("section.slot[data-slot='thumbnail'] img.slot-media").wait_for(timeout=60_000)
        for _ in range(3):
            assert run_python(page, INTEROP_WORK) == sum(2 for _ in range(5000))
        assert crashed == []
    finally:
        profiled.close()
