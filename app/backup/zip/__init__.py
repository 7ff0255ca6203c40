"""The zip layer: the pure format (records, plans, zip64-free layout checks), the reader of
untrusted archives (JSZip) and the writer that composes archives from stored Blobs. It knows no
backup policy: callers pass their limits.

    from app.backup.zip.write import ZipWriter
    from app.backup.zip.read import ZipReader
"""
