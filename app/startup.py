"""Start-up sequence (browser): open the vault, render the first view, report readiness.

Owns the hand-over from static/js/boot.js: it ends start-up with `SceneVaultBoot.ready()`, or
with `SceneVaultBoot.fail(message)` when anything raises (the vault cannot open, say). It also
exposes `window.sceneVault`, the page's small runtime API (`version`, `python`, and
`runPython(code)` for diagnostics and tests), and `current_vault()` for Python code in the page.

Start-up imports only what the first view needs: the vendored pyodide-http wheel (unpacked at
boot by pyscript.toml) costs about 0.5 s to import and patch, so HTTP clients import it on
first use.

    await start()   # from app/main.py
"""

import sys

import js

from app.core.errors import StartupError, VaultError
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.ui import shell
from app.ui.app import App
from app.ui.parts import folder_panel
from app.store.vault import Vault
from app.core.version import __version__

_vault: Vault | None = None
_app: App | None = None


def current_app() -> App:
    """The app controller (views, notices) created at start-up."""
    if _app is None:
        raise StartupError("The app has not started yet")
    return _app


def current_vault() -> Vault:
    """The vault opened at start-up."""
    if _vault is None:
        raise StartupError("The vault is not open yet")
    return _vault


async def start() -> None:
    """Run start-up once; the boot screen shows the outcome either way."""
    global _vault, _app
    boot = js.window.SceneVaultBoot
    try:
        boot.progress("Opening your vault")
        try:
            _vault = await Vault.open(on_closed=lambda message: shell.show_notice(js.document, message))
        except VaultError as exc:
            raise StartupError(f"Your local vault could not be opened: {exc}") from None
        boot.mark("vault opened")
        _expose_runtime_api()
        shell.show_version(js.document, __version__)
        generation = GenerationService(_vault, ProxyClient())
        _app = App(js.document, _vault, generation)
        _vault.on_notice = _app.info  # e.g. old trash freed to make room
        _app.start_offline_queue()
        _app.resume_jobs()
        _app.render_nav()
        await folder_panel.start(_app)
        await _app.show()
    except Exception as exc:
        boot.fail(str(exc) if isinstance(exc, StartupError) else f"{type(exc).__name__}: {exc}")
        raise
    boot.ready()
    _vault.preview_maker.resume_pending()  # previews a reload interrupted, after the first paint


def _expose_runtime_api() -> None:
    import pyodide_js

    api = js.Object.new()
    api.version = __version__
    api.python = sys.version.split()[0]
    api.runPython = pyodide_js.runPythonAsync
    js.window.sceneVault = api
