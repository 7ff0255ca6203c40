// Test helper: writes projects, asset records and their bytes straight into the vault's
// IndexedDB in ONE transaction, in plain IndexedDB (the records are the vault's own, made by
// app.core.model under CPython). 33,000 put_asset calls would take many minutes.
// An image gets its preview in the same transaction, as a put stores it (an image's preview is
// made at write time; these test images are tiny, so each is its own preview): without one, the
// vault's background preview maker would start making 33,000 of them at the next boot.
// Argument: {dbName, projects, assets, data (base64 of every asset's bytes in order), lengths}.
// Resolves to the number of assets written.
async ({ dbName, projects, assets, data, lengths }) => {
  const raw = atob(data);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(dbName);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const tx = db.transaction(["projects", "assets", "blobs", "previews"], "readwrite");
  for (const project of projects) tx.objectStore("projects").put(project);
  const records = tx.objectStore("assets"), blobs = tx.objectStore("blobs");
  const previews = tx.objectStore("previews");
  let at = 0;
  assets.forEach((asset, i) => {
    const part = bytes.subarray(at, at + lengths[i]);
    at += lengths[i];
    records.put(asset);
    const blob = new Blob([part], { type: asset.mimeType });
    blobs.put({ sha256: asset.sha256, blob, size: part.length, mimeType: asset.mimeType });
    if (asset.mimeType.startsWith("image/")) {
      previews.put({ sha256: asset.sha256, blob, size: part.length, mimeType: asset.mimeType });
    }
  });
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  db.close();
  return assets.length;
}
