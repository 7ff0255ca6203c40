// Baselines for bench/vault.py, in plain JS in the same page as the Python vault.
//
// `put`/`getBlob` do the SAME work as app/store/vault.py's put_asset/get_blob (SHA-256 with
// crypto.subtle and duration from an <audio> element, concurrently, then one readwrite transaction holding the
// project touch, the slot's version bump, the record and the deduplicated blob), so their ratio
// measures what Python and its interop cost. `rawPut`/`rawGet` only store and fetch a Blob and
// a record: the floor any vault design pays.

const STORES = ["projects", "assets", "blobs", "previews"];

/** Open `name` with the stores above and, in `indexes` ([[store, name, keyPath, multiEntry],
 * ...]), the asset indexes the app's own schema keeps (bench/vault.py reads them from
 * app/store/schema.py), so that both sides maintain the same indexes on every write. */
export function openDb(name, indexes = []) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore("projects", { keyPath: "id" }).createIndex("updatedAt", "updatedAt");
      const assets = db.createObjectStore("assets", { keyPath: "id" });
      assets.createIndex("projectId", "projectId");
      assets.createIndex("projectId_slot", ["projectId", "slot"]);
      for (const [store, index, keyPath, multiEntry] of indexes) {
        if (store === "assets" && !assets.indexNames.contains(index)) {
          assets.createIndex(index, keyPath, { multiEntry });
        }
      }
      db.createObjectStore("blobs", { keyPath: "sha256" });
      db.createObjectStore("previews", { keyPath: "sha256" });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onabort = () => reject(tx.error || new DOMException("aborted", "AbortError"));
});

async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function audioDuration(blob) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(blob);
    const el = document.createElement("audio");
    const finish = (fn, value) => { el.removeAttribute("src"); el.load(); URL.revokeObjectURL(url); fn(value); };
    el.preload = "metadata";
    el.onloadedmetadata = () => finish(resolve, el.duration);
    el.onerror = () => finish(reject, new Error("cannot decode"));
    el.src = url;
  });
}

let counter = 0;
const newId = (prefix) => `${prefix}_${Date.now().toString(16)}${(counter++).toString(16)}`;

export async function createProject(db, title) {
  const project = { id: newId("prj"), title, createdAt: Date.now(), updatedAt: Date.now() };
  const tx = db.transaction(["projects"], "readwrite");
  tx.objectStore("projects").add(project);
  await done(tx);
  return project.id;
}

export async function put(db, projectId, kind, slot, blob, mimeType) {
  const [sha256, duration] = await Promise.all([sha256Hex(blob), audioDuration(blob)]);
  const record = { id: newId("ast"), projectId, kind, slot, version: 0, current: true, sha256,
                   mimeType, size: blob.size, source: "generated", createdAt: Date.now(),
                   favorite: false, missing: false, durationMs: Math.round(duration * 1000),
                   terms: [] };  // the search-term field the app's records carry (no recipe: none)
  const tx = db.transaction(STORES, "readwrite");
  const finished = done(tx);
  const projects = tx.objectStore("projects"), assets = tx.objectStore("assets");
  const blobs = tx.objectStore("blobs");
  projects.get(projectId).onsuccess = (e) => {
    const project = e.target.result;
    if (!project) { tx.abort(); return; }
    project.updatedAt = Math.max(Date.now(), project.updatedAt);
    projects.put(project);
  };
  assets.index("projectId_slot").getAll([projectId, slot]).onsuccess = (e) => {
    let version = 0;
    for (const r of e.target.result) {
      if (r.current) { r.current = false; assets.put(r); }
      version = Math.max(version, r.version);
    }
    record.version = version + 1;
    assets.add(record);
  };
  blobs.count(sha256).onsuccess = (e) => {
    if (!e.target.result) blobs.put({ sha256, blob, size: blob.size, mimeType });
  };
  await finished;
  return record.id;
}

export async function getBlob(db, assetId) {
  const tx = db.transaction(["assets", "blobs"], "readonly");
  const finished = done(tx);
  let entry = null;
  tx.objectStore("assets").get(assetId).onsuccess = (e) => {
    const record = e.target.result;
    if (record) tx.objectStore("blobs").get(record.sha256).onsuccess = (e2) => { entry = e2.target.result; };
  };
  await finished;
  if (!entry) throw new Error(`missing ${assetId}`);
  return entry.blob;
}

export async function rawPut(db, blob) {
  const id = newId("raw");
  const tx = db.transaction(["assets", "blobs"], "readwrite");
  const finished = done(tx);
  tx.objectStore("blobs").put({ sha256: id, blob, size: blob.size, mimeType: blob.type });
  tx.objectStore("assets").put({ id, projectId: "raw", slot: "raw", kind: "audio", sha256: id,
                                 size: blob.size, createdAt: Date.now() });
  await finished;
  return id;
}

export async function rawGet(db, id) {
  const tx = db.transaction(["blobs"], "readonly");
  const req = tx.objectStore("blobs").get(id);
  await done(tx);
  return req.result.blob;
}

export async function clear(db) {
  const tx = db.transaction(STORES, "readwrite");
  for (const name of STORES) tx.objectStore(name).clear();
  await done(tx);
}

// Bulk-insert `total` asset records spread over projects, `perProject` of them in `target`.
export async function fillRecords(db, total, target, perProject) {
  const tx = db.transaction(["projects", "assets"], "readwrite");
  const projects = tx.objectStore("projects"), assets = tx.objectStore("assets");
  projects.put({ id: target, title: "target", createdAt: 0, updatedAt: 0 });
  for (let i = 0; i < total; i++) {
    const projectId = i < perProject ? target : `prj_other${Math.floor(i / perProject)}`;
    if (i % perProject === 0 && i >= perProject) {
      projects.put({ id: projectId, title: "other", createdAt: 0, updatedAt: 0 });
    }
    assets.put({ id: `ast_${String(i).padStart(8, "0")}`, projectId, kind: "scene",
                 slot: `scene:${i % perProject}`, version: 1, current: true,
                 sha256: i.toString(16).padStart(64, "0"), mimeType: "image/png", size: 1000,
                 source: "generated", createdAt: i, favorite: false, missing: true,
                 recipe: { prompt: `prompt number ${i}`, seed: i, width: 1024, height: 576 } });
  }
  await done(tx);
}

// Random WAV blobs of exactly `size` bytes (8-bit mono, 8 kHz), already in the page.
export function wavBlobs(count, size) {
  const blobs = [];
  for (let n = 0; n < count; n++) {
    const body = new Uint8Array(size - 44);
    for (let off = 0; off < body.length; off += 65536) {
      crypto.getRandomValues(body.subarray(off, Math.min(off + 65536, body.length)));
    }
    const header = new DataView(new ArrayBuffer(44));
    const text = (o, s) => [...s].forEach((c, i) => header.setUint8(o + i, c.charCodeAt(0)));
    text(0, "RIFF"); header.setUint32(4, size - 8, true); text(8, "WAVE"); text(12, "fmt ");
    header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
    header.setUint32(24, 8000, true); header.setUint32(28, 8000, true);
    header.setUint16(32, 1, true); header.setUint16(34, 8, true); text(36, "data");
    header.setUint32(40, size - 44, true);
    blobs.push(new Blob([header.buffer, body], { type: "audio/wav" }));
  }
  return blobs;
}
