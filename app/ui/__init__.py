"""SceneVault's DOM layer (browser only): rendering and event wiring, nothing else.

    from app.ui import shell
    shell.render(js.document, version="0.1.0")
"""
