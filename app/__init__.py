"""SceneVault's Python app. Pure modules (version, errors, ...) import under CPython; browser
modules (startup, ui) run in Pyodide. See README's architecture picture.

    >>> import app.core.version
"""
