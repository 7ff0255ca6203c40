/* The media library's queries, run in IndexedDB (for app/store/library_query.py, its only caller;
 * loaded as `sv_library` by pyscript.toml). Python makes the plan (app/store/library_index.py
 * `plan`); this runs it with index ranges and batched reads, so a page costs one round trip
 * from Python and never a read of the whole store.
 *
 * A plan: {index, prefix, check, all, words, direction, tokenRouteMax}. Every index it names has
 * the key [...prefix, createdAt, id], so a page continues after the last key shown (keyset
 * pagination: no offsets). Two routes:
 * - date walk: read the index range in date order, in batches, keep the records that pass
 *   `check` and the search words, stop after limit + 1;
 * - terms: when a search word starts at most `tokenRouteMax` terms (the `terms` index), read
 *   just those records, keep the ones that pass every filter (`all`) and sort them by date.
 * Each call is ONE readonly transaction; its requests are chained in promise callbacks, which
 * run while the transaction is still active.
 */

const BATCH = 240;
const HIGH = "\uffff";

const request = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});

const bounds = (plan, after, walk) => {
  const low = [...plan.prefix], high = [...plan.prefix, []];
  if (!after) return IDBKeyRange.bound(low, high);
  return walk === "next" ? IDBKeyRange.bound(after, high, true, false)
                         : IDBKeyRange.bound(low, after, false, true);
};

const keyOf = (plan, value) => [...plan.prefix, value.createdAt, value.id];

/** Up to `count` {key, value} of `index` in `range`, walking `direction`. */
const records = async (index, range, direction, count) => {
  if (typeof index.getAllRecords === "function") {
    const found = await request(index.getAllRecords({ query: range, count, direction }));
    return found.map((r) => ({ key: r.key, value: r.value }));
  }
  return new Promise((resolve, reject) => {
    const out = [];
    const req = index.openCursor(range, direction);
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor || out.length >= count) return resolve(out);
      out.push({ key: cursor.key, value: cursor.value });
      cursor.continue();
    };
  });
};

const fieldOf = (value, name) => (name === "provider" || name === "model"
  ? (value.recipe || {})[name] : name === "starred" ? value.starred : value[name]);

const passes = (value, check, words) => {
  for (const [name, wanted] of Object.entries(check)) if (fieldOf(value, name) !== wanted) return false;
  const terms = value.terms || [];
  return words.every((word) => terms.some((term) => term.startsWith(word)));
};

/** Page of up to `limit` records after `after` (the last key shown; null: the first page).
 * Resolves to {records, keys, more, total}; `total` is known only when the terms route ran
 * (else null). */
export const page = async (db, plan, after, limit) => {
  const tx = db.transaction(["assets"], "readonly");
  const store = tx.objectStore("assets");
  const walk = plan.direction;
  const candidates = plan.words.length ? await termCandidates(store, plan) : null;
  let found, total = null;
  if (candidates) {
    const all = await matching(store, plan, candidates);
    total = all.length;
    const start = after ? all.findIndex((r) => beyond(r.key, after, walk)) : 0;
    found = start < 0 ? [] : all.slice(start, start + limit + 1);
  } else {
    found = await dateWalk(store.index(plan.index), plan, after, walk, limit + 1);
  }
  const more = found.length > limit;
  found = found.slice(0, limit);
  return { records: found.map((r) => r.value), keys: found.map((r) => r.key), more, total };
};

const beyond = (key, from, walk) => {
  const order = indexedDB.cmp(key, from);
  return walk === "next" ? order > 0 : order < 0;
};

const dateWalk = async (index, plan, from, walk, want) => {
  const out = [];
  const exact = !plan.words.length && !Object.keys(plan.check).length;
  const size = exact && want < BATCH ? want : BATCH;  // an exact range reads just the page
  let after = from;
  for (;;) {
    const batch = await records(index, bounds(plan, after, walk), walk, size);
    for (const r of batch) {
      if (passes(r.value, plan.check, plan.words)) out.push(r);
      if (out.length >= want) return out;
    }
    if (batch.length < size) return out;
    after = batch[batch.length - 1].key;
  }
};

/** The ids holding a term that starts with the plan's rarest word, or null when every word
 * starts more than tokenRouteMax terms (then the date walk is cheaper). */
const termCandidates = async (store, plan) => {
  const terms = store.index("terms");
  const lists = await Promise.all(plan.words.map((word) => request(
    terms.getAllKeys(IDBKeyRange.bound(word, word + HIGH), plan.tokenRouteMax + 1))));
  const rarest = lists.reduce((a, b) => (b.length < a.length ? b : a));
  return rarest.length > plan.tokenRouteMax ? null : [...new Set(rarest)];
};

/** Every candidate record that passes all filters and words, in the plan's date order. */
const matching = async (store, plan, ids) => {
  const values = await Promise.all(ids.map((id) => request(store.get(id))));
  const kept = values.filter((v) => v && passes(v, plan.all, plan.words))
    .map((value) => ({ key: keyOf(plan, value), value }));
  kept.sort((a, b) => indexedDB.cmp(a.key, b.key));
  if (plan.direction === "prev") kept.reverse();
  return kept;
};

/** How many records the plan shows: an index count when the index answers every filter,
 * else the matches counted by the terms route or by a walk of the whole range. */
export const count = async (db, plan) => {
  const tx = db.transaction(["assets"], "readonly");
  const store = tx.objectStore("assets");
  if (plan.words.length) {
    const candidates = await termCandidates(store, plan);
    if (candidates) return (await matching(store, plan, candidates)).length;
  } else if (!Object.keys(plan.check).length) {
    if (!plan.prefix.length) return request(store.count());  // every record: the quickest count
    return request(store.index(plan.index).count(bounds(plan, null, "next")));
  }
  return (await dateWalk(store.index(plan.index), plan, null, "next", Infinity)).length;
};

/** The distinct first key values of each index named (e.g. every model), for the filters. */
export const distinct = async (db, names) => {
  const tx = db.transaction(["assets"], "readonly");
  const store = tx.objectStore("assets");
  const one = (name) => new Promise((resolve, reject) => {
    const out = [];
    const req = store.index(name).openKeyCursor();
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor) return resolve(out);
      out.push(cursor.key[0]);
      cursor.continue([cursor.key[0], []]);  // past every key that starts with this value
    };
  });
  return Promise.all(names.map(one));
};

/** The preview Blobs of `shas` (null where none), read in one transaction. */
export const previews = async (db, shas) => {
  const store = db.transaction(["previews"], "readonly").objectStore("previews");
  const entries = await Promise.all(shas.map((sha) => request(store.get(sha))));
  return entries.map((entry) => (entry ? entry.blob : null));
};
