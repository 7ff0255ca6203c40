"""The pure core (imports no `js`, `pyodide` or `pyscript`; runs under CPython too): records,
recipes, errors, text rules, PNG metadata, file sniffing, storyboards.

    from app.core.model import Asset
    from app.core.errors import SceneVaultError
"""
