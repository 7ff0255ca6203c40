// Independent check of the vault's on-disk invariants, in plain IndexedDB (not the vault's code).
// Returns {problems: [...], counts: {store: n}}. Run with page.evaluate(source, dbName).
async (dbName) => {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(dbName);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const names = ["projects", "assets", "blobs", "previews"];
  const tx = db.transaction(names, "readonly");
  const read = (name) => new Promise((resolve, reject) => {
    const req = tx.objectStore(name).getAll();
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const [projects, assets, blobs, previews] = await Promise.all(names.map(read));
  db.close();
  const problems = [];
  const projectIds = new Set(projects.map((p) => p.id));
  const blobBySha = new Map(blobs.map((b) => [b.sha256, b]));
  const referenced = new Set(assets.map((a) => a.sha256));
  const currentBySlot = new Map();
  for (const a of assets) {
    if (!projectIds.has(a.projectId)) problems.push(`asset ${a.id} belongs to no project`);
    const blob = blobBySha.get(a.sha256);
    if (!blob && !a.missing) problems.push(`asset ${a.id} has no blob and is not marked missing`);
    if (blob && blob.blob.size !== a.size) problems.push(`asset ${a.id} size ${a.size} != blob ${blob.blob.size}`);
    const slot = `${a.projectId} ${a.slot}`;
    currentBySlot.set(slot, (currentBySlot.get(slot) || 0) + (a.current ? 1 : 0));
  }
  for (const [slot, n] of currentBySlot) if (n !== 1) problems.push(`slot ${slot} has ${n} current versions`);
  for (const b of blobs) {
    if (!referenced.has(b.sha256)) problems.push(`blob ${b.sha256} is referenced by no asset`);
    if (b.size !== b.blob.size) problems.push(`blob ${b.sha256} entry size ${b.size} != ${b.blob.size}`);
  }
  for (const p of previews) if (!blobBySha.has(p.sha256)) problems.push(`preview ${p.sha256} has no blob`);
  return {problems, counts: {projects: projects.length, assets: assets.length,
                             blobs: blobs.length, previews: previews.length}};
}
