"""SceneVault's server side (server-only: server.py imports it; it lies outside the folders the
server serves, so the page can never load it): configuration, request guards, the static
allowlist, the HTTP handler, the JSON API routes, connections and the worker pool, the clip jobs,
and the generation providers.
"""
