/* SceneVault service worker: the app boots with no network and no server.
 *
 * It owns the Cache Storage caches named "scenevault-shell-<version>". The list of files and
 * the version come from static/precache.js, which tools/precache.py writes at `make setup`:
 * index.html, pyscript.toml, app/*.py, static/ (css, icons, scripts, manifest) and the
 * vendored PyScript, Pyodide, JSZip and wheels, each with its SHA-256.
 *
 * - Install fills a NEW cache for the new version, all or nothing: every file must hash to
 *   what the list says (a file the server changed meanwhile fails the install, and the old
 *   version keeps serving), so new app code never meets an old runtime. Unchanged files are
 *   copied from the previous version's cache instead of being downloaded again.
 * - The new worker then waits. static/js/offline.js shows "A new version is ready" and posts
 *   {type: "skip-waiting"} when the user reloads; activation deletes every older cache.
 * - Fetch: cache-first for the precached files (navigations to the app get index.html); every
 *   other request, and all of /api/*, goes to the network untouched and is never cached.
 *
 * Registered by static/js/offline.js:
 *   navigator.serviceWorker.register("static/sw.js", {scope: "./", updateViaCache: "none"})
 * (server.py sends `Service-Worker-Allowed: /` with this file so its scope can be the root).
 */
"use strict";

importScripts("precache.js"); // defines self.SCENEVAULT_PRECACHE = {version, cache, files}

const PRECACHE = self.SCENEVAULT_PRECACHE;
const CACHE_PREFIX = "scenevault-shell-";
const LIST_KEY = "__precache__.json"; // the list a cache was filled from, stored in the cache
const SCOPE = self.registration.scope;
const INDEX = new URL("index.html", SCOPE).href;
const API = new URL("api/", SCOPE).href;
const PRECACHED = new Set(PRECACHE.files.map((file) => new URL(file.url, SCOPE).href));
let versionCache = null; // this version's cache, opened once for every fetch

self.addEventListener("install", (event) => event.waitUntil(fillCache()));
self.addEventListener("activate", (event) => event.waitUntil(activate()));
self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
});
self.addEventListener("fetch", (event) => {
  const key = cacheKey(event.request);
  if (key) event.respondWith(cacheFirst(key, event.request));
});

// --- install ------------------------------------------------------------------------------------
async function fillCache() {
  const cache = await caches.open(PRECACHE.cache);
  try {
    const reusable = await previousCopies();
    const stored = await Promise.allSettled(PRECACHE.files.map((f) => storeFile(cache, f, reusable)));
    const failed = stored.find((outcome) => outcome.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    await caches.delete(PRECACHE.cache); // never leave half a version behind
    throw error; // the install fails; the current version keeps serving
  }
  // Written last: a cache holding the list is complete and can lend files to the next version.
  await cache.put(new URL(LIST_KEY, SCOPE).href, jsonResponse(PRECACHE));
}

async function storeFile(cache, file, reusable) {
  const url = new URL(file.url, SCOPE).href;
  const copy = reusable.get(`${file.url} ${file.sha256}`);
  if (copy) return cache.put(url, copy);
  const response = await fetch(new Request(url, { cache: "no-cache" }));
  if (!response.ok) throw new Error(`${file.url} answered HTTP ${response.status}`);
  const digest = await sha256(await response.clone().arrayBuffer());
  if (digest !== file.sha256) {
    throw new Error(`${file.url} does not match the precache list (the server changed it ` +
                    "during the update); keeping the current version");
  }
  return cache.put(url, response);
}

// Responses of complete older caches, keyed "path sha256": only identical bytes are reused.
async function previousCopies() {
  const copies = new Map();
  for (const name of await caches.keys()) {
    if (!name.startsWith(CACHE_PREFIX) || name === PRECACHE.cache) continue;
    const cache = await caches.open(name);
    const list = await cache.match(new URL(LIST_KEY, SCOPE).href);
    if (!list) continue;
    for (const file of (await list.json()).files) {
      const response = await cache.match(new URL(file.url, SCOPE).href);
      if (response) copies.set(`${file.url} ${file.sha256}`, response);
    }
  }
  return copies;
}

async function sha256(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function jsonResponse(value) {
  return new Response(JSON.stringify(value), { headers: { "Content-Type": "application/json" } });
}

// --- activate -----------------------------------------------------------------------------------
async function activate() {
  const names = await caches.keys();
  const old = names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== PRECACHE.cache);
  await Promise.all(old.map((name) => caches.delete(name)));
  await self.clients.claim(); // the first visit's tab works offline without a reload
}

// --- fetch --------------------------------------------------------------------------------------
// The cache key for a request this worker answers, or null to leave it to the network.
function cacheKey(request) {
  if (request.method !== "GET") return null;
  const url = new URL(request.url);
  const bare = url.origin + url.pathname;
  if (bare.startsWith(API)) return null;
  if (request.mode === "navigate" && (bare === SCOPE || bare === INDEX)) return INDEX;
  return PRECACHED.has(bare) ? bare : null;
}

async function cacheFirst(key, request) {
  versionCache = versionCache || caches.open(PRECACHE.cache);
  const hit = await (await versionCache).match(key);
  return hit || fetch(request); // evicted or not yet installed: the network, not cached
}
