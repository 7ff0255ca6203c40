// Independent check of the vault's on-disk invariants, in plain IndexedDB (not the vault's code).
// Returns {problems: [...], counts: {store: n}}. Run with page.evaluate(source, dbName).
// The trash holds references too: a blob is a leak only when no live asset AND no trash item
// names its SHA-256, and a trashed record must keep its bytes. (A trashed record may be live
// again: a backup import can bring the same ids back while the trash still holds them.)
// A blob may have no preview yet (the background maker has not made it: "pending"); an entry
// in `previews` is either a preview (an image Blob) or a failure mark (failed, a reason, no
// Blob), and either way it must belong to a stored blob: a leftover is an orphan.
// From schema version 4 every asset carries the library's index fields: `terms` must be what
// app/store/library_index.py derives from its recipe (re-implemented here, independently) and
// `starred` must be 1 exactly on favorites, so a write path that forgets them fails the suite.
async (dbName) => {
  const IDEOGRAPHIC = [[0x3040, 0x30FF], [0x3400, 0x4DBF], [0x4E00, 0x9FFF], [0xF900, 0xFAFF],
                       [0x20000, 0x2FA1F]];
  const ideographic = (ch) => IDEOGRAPHIC.some(([lo, hi]) => ch.codePointAt(0) >= lo && ch.codePointAt(0) <= hi);
  const clip = (word) => Array.from(word).slice(0, 64).join("");
  const words = (text) => {
    const out = [];
    let current = "";
    for (const ch of text.normalize("NFKC").toLowerCase().replaceAll("ς", "σ")) {
      if (/[\p{L}\p{M}\p{N}]/u.test(ch) && !ideographic(ch)) { current += ch; continue; }
      if (current) { out.push(clip(current)); current = ""; }
      if (ideographic(ch)) out.push(ch);
    }
    if (current) out.push(clip(current));
    return out;
  };
  const byCodePoint = (a, b) => {
    const x = Array.from(a, (c) => c.codePointAt(0)), y = Array.from(b, (c) => c.codePointAt(0));
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  };
  const text = (v) => (typeof v === "string" ? v : "");
  const libraryTerms = (recipe) => {
    const seen = new Set();
    for (const w of [...words(text((recipe || {}).prompt)), ...words(text((recipe || {}).model))]) {
      if (seen.size >= 256) break;
      seen.add(w);
    }
    return [...seen].sort(byCodePoint);
  };
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(dbName);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const hasTrash = db.objectStoreNames.contains("trash");
  const names = ["projects", "assets", "blobs", "previews"].concat(hasTrash ? ["trash"] : []);
  const tx = db.transaction(names, "readonly");
  const read = (name) => new Promise((resolve, reject) => {
    const req = tx.objectStore(name).getAll();
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const [projects, assets, blobs, previews, trash = []] = await Promise.all(names.map(read));
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
  if (db.version >= 4) for (const a of assets) {
    const want = libraryTerms(a.recipe);
    if (JSON.stringify(a.terms) !== JSON.stringify(want))
      problems.push(`asset ${a.id} terms ${JSON.stringify(a.terms)} != ${JSON.stringify(want)} of its recipe`);
    if ((a.starred === 1) !== !!a.favorite) problems.push(`asset ${a.id} starred ${a.starred} but favorite ${a.favorite}`);
  }
  for (const [slot, n] of currentBySlot) if (n !== 1) problems.push(`slot ${slot} has ${n} current versions`);
  let trashedAssets = 0;
  for (const item of trash) {
    if (typeof item.trashedAt !== "number") problems.push(`trash ${item.id} has no trashedAt`);
    if (!["project", "slot", "versions"].includes(item.what)) problems.push(`trash ${item.id} is a ${item.what}`);
    if (!Array.isArray(item.assets)) { problems.push(`trash ${item.id} has no assets list`); continue; }
    if (item.what === "project" && !item.project) problems.push(`trash ${item.id} lost its project record`);
    for (const a of item.assets) {
      trashedAssets += 1;
      referenced.add(a.sha256);
      const blob = blobBySha.get(a.sha256);
      if (!blob && !a.missing) problems.push(`trashed asset ${a.id} (trash ${item.id}) lost its blob`);
    }
  }
  for (const b of blobs) {
    if (!referenced.has(b.sha256)) problems.push(`blob ${b.sha256} is referenced by no asset and no trash item`);
    if (b.size !== b.blob.size) problems.push(`blob ${b.sha256} entry size ${b.size} != ${b.blob.size}`);
  }
  let failedPreviews = 0;
  for (const p of previews) {
    if (!blobBySha.has(p.sha256)) problems.push(`preview ${p.sha256} has no blob`);
    if (p.failed === true) {
      failedPreviews += 1;
      if (typeof p.reason !== "string" || !p.reason) problems.push(`preview mark ${p.sha256} gives no reason`);
      if (p.blob !== undefined) problems.push(`preview mark ${p.sha256} also holds a picture`);
    } else if (!(p.blob instanceof Blob) || !p.blob.size || p.size !== p.blob.size) {
      problems.push(`preview ${p.sha256} is neither a picture nor a failure mark`);
    }
  }
  return {problems, counts: {projects: projects.length, assets: assets.length,
                             blobs: blobs.length, previews: previews.length, failedPreviews,
                             trash: trash.length, trashedAssets}};
}
