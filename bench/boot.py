"""Benchmark `boot`: warm start-up of the app, with its service worker in place, against a bare
`loadPyodide()` page, and offline (server gone) against online.

The app is served from a private copy of the shell with a current precache list (as `make setup`
writes it), by a server this benchmark can stop, so the work tree's own files never matter. One
load installs the service worker; from then on both pages load the same vendored Pyodide
through it, in the same persistent browser profile, after one warm-up load each.

- `boot_ready_vs_bare_pyodide`: navigation to `data-app-state="ready"`, over the bare page's
  `loadPyodide()` + `import sys`. Alternating runs. Goal <= 1.15 (issue 18).
- The breakdown of the online app boots, printed and kept as `boot_*_ms` figures (medians):
  each step of the boot's timeline (`SceneVaultBoot.marks`: PyScript's progress steps, then the
  app's own "main.py started", "app imported", "vault opened", "ready") as the time since the
  step before, and the app files PyScript fetched into Pyodide's file system (how many, the sum
  of their fetch times, and the span from the first request to the last byte).
- `boot_app_after_pyodide_ms`: the app's own work once Pyodide is loaded (from PyScript's
  "Loaded interpreter" to "ready", median), the part of the boot the app's code decides; and
  `boot_ready_vs_bare_pyodide_paired`, the median of each run's app/bare ratio (each pair ran
  back to back), which a load burst on the shared machine moves less than the ratio of medians.
- `boot_offline_vs_online_warm`: the same app boot with the server stopped (the worker serves
  everything, and the server's open connections are dropped too) over a warm online boot; the
  server comes back on the same port afterwards, and the two boots swap order every run.
  Goal <= 1.1.

    figures = boot.run(session, runs=7)
    figures["boot_ready_vs_bare_pyodide"], figures["boot_offline_vs_online_warm"]
"""

import shutil
import socket
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from harness import ROOT, median

from proxy.config import ServerConfig  # harness put ROOT on sys.path
from proxy.connections import SceneVaultServer
from tools.precache import write_precache

APP_READY = "window.SceneVaultBoot && window.SceneVaultBoot.readyAt"
BARE_READY = "window.bareReadyAt"
TIMEOUT_MS = 60_000
PAGES = "bench/pages"


def time_to_ready(page, url: str, ready_expression: str) -> float:
    """Milliseconds from navigation start to the page's own 'ready' timestamp."""
    page.goto(url)
    page.wait_for_function(f"({ready_expression}) || document.documentElement.dataset.appState === 'error'",
                           timeout=TIMEOUT_MS)
    value = page.evaluate(ready_expression)
    if not value:
        raise RuntimeError(f"{url} did not boot: {page.locator('body').inner_text()[:300]}")
    return float(value)


BREAKDOWN = """(() => {
  const marks = Object.entries(window.SceneVaultBoot.marks).sort((a, b) => a[1] - b[1]);
  const files = performance.getEntriesByType("resource").filter((entry) => {
    const url = new URL(entry.name);
    return url.origin === location.origin &&
      /^\\/(app\\/|static\\/vendor\\/wheels\\/|static\\/app\\.)/.test(url.pathname);
  });
  return {
    marks,
    files: files.length,
    files_sum: files.reduce((sum, entry) => sum + entry.duration, 0),
    files_span: files.length ? Math.max(...files.map((e) => e.responseEnd)) -
                               Math.min(...files.map((e) => e.startTime)) : 0,
  };
})()"""


def breakdown(page) -> dict[str, float]:
    """One boot's timeline (step -> ms since the step before) and its app files' fetches."""
    seen = page.evaluate(BREAKDOWN)
    steps, before = {}, 0.0
    for step, at in seen["marks"]:
        steps[step] = at - before
        before = at
    return {**steps, "files fetched": seen["files"], "files fetch time (sum)": seen["files_sum"],
            "files fetch span": seen["files_span"]}


def summarize(breakdowns: list[dict[str, float]]) -> dict[str, float]:
    """The median of each step over the runs, in the first run's order; printed as a table."""
    names = list(breakdowns[0])
    summary = {name: median([b[name] for b in breakdowns if name in b]) for name in names}
    width = max(map(len, names))
    print("boot breakdown (online, warm; medians; each step since the one before):")
    for name in names:
        unit = "" if name == "files fetched" else " ms"
        print(f"  {name:<{width}}  {summary[name]:8.1f}{unit}")
    return summary


# The steps after Pyodide itself is loaded: the app's own start-up (with "ready").
AFTER_INTERPRETER = ("Loading files", "Loaded files", "Loading JS modules", "Loaded JS modules",
                     "Loaded Pyodide", "main.py started", "app imported", "vault opened")


def figure_name(step: str) -> str:
    return "boot_" + "_".join(step.lower().replace("(", "").replace(")", "").replace(".", "_").split())


def copy_shell(destination: Path) -> Path:
    """The app's shell and the benchmark pages, with a precache list of exactly these files."""
    for name in ("server.py", "index.html", "pyscript.toml", "requirements-browser.txt"):
        shutil.copy2(ROOT / name, destination / name)
    shutil.copytree(ROOT / "app", destination / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "static", destination / "static",
                    ignore=shutil.ignore_patterns("precache.js", ".*"))
    shutil.copytree(ROOT / PAGES, destination / PAGES)
    write_precache(destination)
    return destination


class ClosingServer(SceneVaultServer):
    """server.py's server that can also drop its open keep-alive connections when it stops."""

    def __init__(self, config: ServerConfig):
        super().__init__(config)
        self.connections: set[socket.socket] = set()

    def process_request(self, request, client_address):
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.connections.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        for connection in list(self.connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler


class StoppableServer:
    """The app copy's server, in this process on one fixed port; it can go away and come back."""

    def __init__(self, root: Path):
        self.root, self.port = root, 0
        self.start()
        self.port = self.httpd.server_address[1]
        self.url = self.httpd.url.rstrip("/")

    def start(self) -> None:
        config = ServerConfig(root=self.root, port=self.port, quiet=True,
                                     extra_static_dirs=(PAGES,))
        self.httpd = ClosingServer(config)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.stop()


@contextmanager
def private_app():
    with tempfile.TemporaryDirectory() as folder:
        running = StoppableServer(copy_shell(Path(folder)))
        try:
            yield running
        finally:
            running.stop()


def install_worker(page, url: str) -> None:
    time_to_ready(page, url, APP_READY)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=TIMEOUT_MS)


def offline_boot(page, app: StoppableServer) -> float:
    app.stop()
    try:
        return time_to_ready(page, app.url + "/", APP_READY)
    finally:
        app.start()


def app_boot(page, app: StoppableServer, offline: bool, breakdowns: list) -> float:
    if offline:
        return offline_boot(page, app)
    ready = time_to_ready(page, app.url + "/", APP_READY)
    breakdowns.append(breakdown(page))
    return ready


def run(session, runs: int = 7) -> dict[str, float]:
    page = session.context.new_page()
    times: dict[str, list[float]] = {"online": [], "offline": [], "bare": []}
    breakdowns: list[dict[str, float]] = []
    with private_app() as app:
        app_url, bare_url = app.url + "/", app.url + "/bench/pages/bare-pyodide.html"
        install_worker(page, app_url)
        time_to_ready(page, app_url, APP_READY)  # warm-up: fill the code caches
        time_to_ready(page, bare_url, BARE_READY)
        offline_boot(page, app)
        for run_index in range(runs):  # the app's two boots swap places: neither always goes first
            for mode in ("online", "offline")[::1 if run_index % 2 == 0 else -1]:
                times[mode].append(app_boot(page, app, mode == "offline", breakdowns))
            times["bare"].append(time_to_ready(page, bare_url, BARE_READY))
    page.close()
    app_ms, offline_ms, bare_ms = (median(times[mode]) for mode in ("online", "offline", "bare"))
    summary = summarize(breakdowns)
    after_pyodide = median([b["ready"] + sum(v for k, v in b.items() if k in AFTER_INTERPRETER)
                            for b in breakdowns])
    paired = median([app / bare for app, bare in zip(times["online"], times["bare"])])
    print(f"  bare loadPyodide() + import sys: {bare_ms:.1f} ms; app ready: {app_ms:.1f} ms")
    print(f"  the app's own work once Pyodide is loaded ('Loaded interpreter' to 'ready'): "
          f"{after_pyodide:.1f} ms")
    print("  runs (app online / bare, ms): " + ", ".join(
        f"{app:.0f}/{bare:.0f}" for app, bare in zip(times["online"], times["bare"])))
    print(f"  median of each run's app/bare: {paired:.3f}")
    return {
        "boot_app_after_pyodide_ms": round(after_pyodide, 1),
        "boot_ready_vs_bare_pyodide_paired": round(paired, 3),
        **{figure_name(name): round(value, 1) for name, value in summary.items()},
        "boot_ready_vs_bare_pyodide": round(app_ms / bare_ms, 3),
        "boot_offline_vs_online_warm": round(offline_ms / app_ms, 3),
        "app_ready_ms_median": round(app_ms, 1),
        "app_offline_ready_ms_median": round(offline_ms, 1),
        "bare_pyodide_ms_median": round(bare_ms, 1),
        "runs": runs,
    }
