"""Backups: the pure format (manifest, schema, policy, merge), the zip layer (zip/: format,
read, write; it takes its limits as arguments) and the export/import service, which reaches
IndexedDB only through the store's API.

    from app.backup import service
    archive, filename = await service.export(vault, [project.id])
"""
