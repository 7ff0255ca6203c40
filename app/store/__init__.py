"""The store (browser): the only package that touches IndexedDB. `idb` is the adapter and only
the store imports it; `vault` is the API every service uses (assets, projects, previews,
snapshots for backups, the one import write), `media` inspects blobs in JS, and
`preview_maker` makes waveforms and poster frames in the background after a write returned.

    from app.store.vault import Vault
    vault = await Vault.open()
"""
