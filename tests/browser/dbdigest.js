// A digest of a whole IndexedDB database, read with plain IndexedDB (not the app's code): every
// store, every record, and the SHA-256 of every Blob inside a record. Two equal digests mean
// the database did not change at all. Returns {digest, counts: {store: n}, lines}.
// Run with page.evaluate(source, dbName).
async (dbName) => {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(dbName);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const names = Array.from(db.objectStoreNames).sort();
  const tx = db.transaction(names, "readonly");
  const read = (name) => new Promise((resolve, reject) => {
    const store = tx.objectStore(name);
    const keys = store.getAllKeys(), values = store.getAll();
    values.onsuccess = () => resolve(keys.result.map((key, i) => [key, values.result[i]]));
    values.onerror = () => reject(values.error);
  });
  const stores = await Promise.all(names.map(read));
  db.close();
  const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  const canonical = async (value) => {
    if (value instanceof Blob) {
      const digest = hex(await crypto.subtle.digest("SHA-256", await value.arrayBuffer()));
      return { blobSha256: digest, size: value.size, type: value.type };
    }
    if (Array.isArray(value)) return Promise.all(value.map(canonical));
    if (value && typeof value === "object") {
      const out = {};
      for (const key of Object.keys(value).sort()) out[key] = await canonical(value[key]);
      return out;
    }
    return value;
  };
  const lines = [];
  const counts = {};
  for (const [i, name] of names.entries()) {
    counts[name] = stores[i].length;
    for (const [key, value] of stores[i]) {
      lines.push(`${name} ${JSON.stringify(key)} ${JSON.stringify(await canonical(value))}`);
    }
  }
  lines.sort();
  const digest = hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines.join("\n"))));
  return { digest, counts, lines };
}
