"""Start-up sequence (browser): render the shell, expose the runtime API, report readiness.

Owns the hand-over from static/js/boot.js: it ends start-up with `SceneVaultBoot.ready()`, or
with `SceneVaultBoot.fail(message)` when anything raises. It also exposes `window.sceneVault`,
the page's small runtime API (`version`, `runPython(code)` for diagnostics and tests).

Start-up imports only what the first view needs: the vendored pyodide-http wheel (unpacked at
boot by pyscript.toml) costs about 0.5 s to import and patch, so HTTP clients import it on
first use.

    await start()   # from app/main.py
"""

import sys

import js

from app.ui import shell
from app.version import __version__


async def start() -> None:
    """Run start-up once; the boot screen shows the outcome either way."""
    boot = js.window.SceneVaultBoot
    try:
        boot.progress("Starting the app")
        _expose_runtime_api()
        shell.render(js.document, version=__version__)
    except Exception as exc:
        boot.fail(f"{type(exc).__name__}: {exc}")
        raise
    boot.ready()


def _expose_runtime_api() -> None:
    import pyodide_js

    api = js.Object.new()
    api.version = __version__
    api.python = sys.version.split()[0]
    api.runPython = pyodide_js.runPythonAsync
    js.window.sceneVault = api
