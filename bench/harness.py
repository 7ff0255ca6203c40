"""Benchmark harness: the server, the browser and bench/results.json, shared by every benchmark.

A benchmark is a function `run(session) -> dict[str, float]` registered in bench/run.py. It
measures the app and its baseline in the same browser run and reports ratios, so machine speed
drifts cancel out.

    with BenchSession.start() as session:
        figures = boot.run(session)
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proxy.config import ServerConfig  # noqa: E402  (needs ROOT on sys.path)
from proxy.connections import SceneVaultServer  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


class BenchSession:
    """A server on a free loopback port (also serving bench/pages/) and one persistent Chromium."""

    def __init__(self, base_url: str, context):
        self.base_url = base_url.rstrip("/")
        self.context = context

    @classmethod
    @contextmanager
    def start(cls):
        from playwright.sync_api import sync_playwright

        config = ServerConfig(port=0, quiet=True, extra_static_dirs=("bench/pages",))
        httpd = SceneVaultServer(config)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield cls(httpd.url, context)
            finally:
                context.close()
                httpd.shutdown()


def median(values: list[float]) -> float:
    return statistics.median(values)


def merge_results(name: str, figures: dict[str, float]) -> dict:
    """Write `figures` under `name` in bench/results.json, keeping the other benchmarks' figures."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[name] = figures
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return results


def format_table(results: dict) -> str:
    """A Markdown table of every benchmark's figures (the README shows it)."""
    rows = ["| benchmark | figure | value |", "|---|---|---|"]
    for name in sorted(results):
        for figure, value in sorted(results[name].items()):
            goal = ""
            if isinstance(value, dict):  # {"value": v, "goal": "<= 1.3"}, as bench/report.py shows it
                value, goal = value.get("value"), f" (goal {value.get('goal')})"
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            rows.append(f"| {name} | {figure} | {shown}{goal} |")
    return "\n".join(rows)
