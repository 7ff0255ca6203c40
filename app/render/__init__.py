"""The final video: the pure timeline (what is shown when: a scene's clip or its frame image,
the narration and the clips' own sound, and the render recipe) and the encoder, which hands the
plan to a render Worker (static/js/render/worker.mjs: WebCodecs through Mediabunny, an
OffscreenCanvas, a streamed OPFS file).

    from app.render.timeline import plan_render
    from app.render.encoder import Renderer
"""
