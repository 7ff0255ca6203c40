/* IndexedDB as promises, for app/store/idb.py (its only caller; loaded as `sv_idb` by pyscript.toml).
 *
 * The handlers live in JS so that they attach synchronously, before Python awaits anything (in
 * Pyodide any await ends an IndexedDB transaction), and so that odd rejection values
 * (Chromium's QuotaExceededError class) reach Python as DOMExceptions. Nothing here awaits.
 */

const isQuota = (e) => !!e && (e.name === "QuotaExceededError" ||
  (e.cause && e.cause.name === "QuotaExceededError") || /quota/i.test(String(e.message || "")));

const normalize = (e, fallback) => {
  if (e == null) return new DOMException(fallback, "AbortError");
  if (isQuota(e)) return new DOMException(String(e.message || "The storage quota is full"),
                                          "QuotaExceededError");
  const tag = Object.prototype.toString.call(e);
  if (tag === "[object Error]" || tag === "[object DOMException]") return e;
  return new DOMException(String(e.message), String(e.name));
};

/** A promise of one IDBRequest's result (rejects with a normalized DOMException). */
export const request = (req) => new Promise((resolve, reject) => {
  req.addEventListener("success", () => resolve(req.result));
  req.addEventListener("error", () => reject(normalize(req.error, "The request failed")));
});

/** Call `dispatch(index, req.result)` inside the request's success event (still in the tx). */
export const listen = (req, dispatch, index) => {
  req.addEventListener("success", () => dispatch(index, req.result));
};

/** In `req`'s success event, get the record of `store` keyed by the result's `field` (same
 * transaction). Returns {first, second}, filled as the events arrive, for the caller to read
 * once the transaction has completed: two dependent reads and no call back into Python. */
export const follow = (req, store, field) => {
  const found = { first: undefined, second: undefined };
  req.addEventListener("success", () => {
    found.first = req.result;
    if (req.result == null) return;
    const next = req.transaction.objectStore(store).get(req.result[field]);
    next.addEventListener("success", () => { found.second = next.result; });
  });
  return found;
};

const completions = new WeakMap();  // IDBTransaction -> the promise `transaction` made for it

/** A promise that resolves when `tx` commits and rejects when it aborts. */
export const transaction = (tx) => {
  const completion = new Promise((resolve, reject) => {
    tx.addEventListener("complete", () => resolve());
    tx.addEventListener("abort", () => reject(normalize(tx.error, "The transaction was aborted")));
  });
  completions.set(tx, completion);
  return completion;
};

/** Mark `promise` as handled (a discarded transaction's completion: its abort was chosen). */
export const settleQuietly = (promise) => { promise.catch(() => {}); };

/** Once `promise` resolves, in that same task, `begin(value)` (Python's idb.commit_when) opens
 * and fills a transaction and returns its IDBTransaction (or null, having failed); `.settled`
 * then follows that transaction's completion, rejection reason and all.
 * Two things are Pyodide's: a promise that Python returns reaches JS wrapped in a Python
 * awaitable (its rejection turns into a PythonError), hence the IDBTransaction; and when a
 * call from Python returns a promise, Pyodide takes over the lifetime of the proxies passed to
 * it (with `begin`, a fatal "Object has already been destroyed"), hence the wrapping object. */
export const chain = (promise, begin) => ({
  settled: promise.then((value) => {
    const tx = begin(value);
    return tx == null ? undefined : completions.get(tx);
  }),
});

/** Open `name` at `version`; `upgrade(db, tx, oldVersion, newVersion)` runs in onupgradeneeded. */
export const open = (name, version, upgrade) => new Promise((resolve, reject) => {
  let gaveUp = false;
  const req = indexedDB.open(name, version);
  req.onupgradeneeded = (ev) => upgrade(req.result, req.transaction, ev.oldVersion, ev.newVersion);
  req.onblocked = (ev) => {
    gaveUp = true;
    reject(new DOMException(`Another tab keeps ${name} open at version ${ev.oldVersion}`,
                            "BlockedError"));
  };
  req.onsuccess = () => gaveUp ? req.result.close() : resolve(req.result);
  req.onerror = () => reject(normalize(req.error, "The database could not be opened"));
});
