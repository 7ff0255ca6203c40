"""The views the app routes between (browser): dashboard, workspace, library, storage. Each
exposes `render(app, scope, container, **params)`.

    view = importlib.import_module("app.ui.views.library")
"""
