"""PyScript entry point (index.html's <script type="py">): puts the app on sys.path and hands
over to app.startup.

pyscript.toml copies the app archive and the wheels into ./lib/ as they are (tools/shell.py);
each goes on sys.path here, so zipimport (built in, nothing to import) reads modules and their
bytecode straight from the archive, with nothing unpacked, and app/core/codecache.py gives
dataclasses the archive's compiled methods before any app dataclass is defined. Otherwise it
only imports and schedules;
app/startup.py owns the start-up sequence and its errors. An import that fails here is still
reported on the boot screen.

    <script type="py" src="app/main.py" config="pyscript.toml"></script>
"""

import asyncio
import os
import sys

import js

js.window.SceneVaultBoot.mark("main.py started")
LIB = os.path.abspath("lib")  # tools/shell.py's PAGE_LIB
sys.path[:0] = [os.path.join(LIB, name) for name in sorted(os.listdir(LIB), key=lambda n: n != "app.zip")
                if name.endswith((".zip", ".whl"))]
try:
    from app.core.codecache import install as install_code_table

    install_code_table(os.path.join(LIB, "app.zip"))
    from app.startup import start
except Exception as exc:  # a broken module must end on the error screen, not a spinner
    js.window.SceneVaultBoot.fail(f"Python could not load the app: {type(exc).__name__}: {exc}")
    raise
js.window.SceneVaultBoot.mark("app imported")

asyncio.ensure_future(start())
