"""PyScript entry point (index.html's <script type="py">): hands over to app.startup.

It only imports and schedules; app/startup.py owns the start-up sequence and its errors. An
import that fails here is still reported on the boot screen.

    <script type="py" src="app/main.py" config="pyscript.toml"></script>
"""

import asyncio

import js

js.window.SceneVaultBoot.mark("main.py started")
try:
    from app.startup import start
except Exception as exc:  # a broken module must end on the error screen, not a spinner
    js.window.SceneVaultBoot.fail(f"Python could not load the app: {type(exc).__name__}: {exc}")
    raise

js.window.SceneVaultBoot.mark("app imported")
asyncio.ensure_future(start())
