"""Benchmark `boot`: warm start-up of the app against a bare `loadPyodide()` page.

Both pages load the same vendored Pyodide from the same server in the same persistent browser
profile (warm HTTP cache after one warm-up load each). Runs alternate app/bare to spread drift.

    figures = boot.run(session, runs=7)
    figures["boot_ready_vs_bare_pyodide"]   # goal: <= 1.3
"""

from harness import median

APP_READY = "window.SceneVaultBoot && window.SceneVaultBoot.readyAt"
BARE_READY = "window.bareReadyAt"
TIMEOUT_MS = 60_000


def time_to_ready(page, url: str, ready_expression: str) -> float:
    """Milliseconds from navigation start to the page's own 'ready' timestamp."""
    page.goto(url)
    page.wait_for_function(f"({ready_expression}) || document.documentElement.dataset.appState === 'error'",
                           timeout=TIMEOUT_MS)
    value = page.evaluate(ready_expression)
    if not value:
        raise RuntimeError(f"{url} did not boot: {page.locator('body').inner_text()[:300]}")
    return float(value)


def run(session, runs: int = 7) -> dict[str, float]:
    page = session.context.new_page()
    app_url = session.base_url + "/"
    bare_url = session.base_url + "/bench/pages/bare-pyodide.html"
    time_to_ready(page, app_url, APP_READY)  # warm-up: fill the HTTP and code caches
    time_to_ready(page, bare_url, BARE_READY)
    app_times, bare_times = [], []
    for _ in range(runs):
        app_times.append(time_to_ready(page, app_url, APP_READY))
        bare_times.append(time_to_ready(page, bare_url, BARE_READY))
    page.close()
    app_ms, bare_ms = median(app_times), median(bare_times)
    return {
        "boot_ready_vs_bare_pyodide": round(app_ms / bare_ms, 3),
        "app_ready_ms_median": round(app_ms, 1),
        "bare_pyodide_ms_median": round(bare_ms, 1),
        "runs": runs,
    }
