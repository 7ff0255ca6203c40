"""The final video: the pure timeline (what is shown when, and the render recipe) and the
in-page encoder (WebCodecs + Mediabunny).

    from app.render.timeline import plan_render
    from app.render.encoder import Renderer
"""
