"""What other tools write into media files (pure): A1111/Forge, ComfyUI, InvokeAI and NovelAI
PNG text, EXIF and XMP in JPEG and WebP, read into SceneVault recipe fields with the raw original
kept (`source.read_source_metadata`), and the XMP packet SceneVault writes into its own PNGs.

    from app.core.metadata.source import read_source_metadata
"""
