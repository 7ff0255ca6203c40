/* SceneVault offline support, page side: is the server reachable, and is a new version ready.
 *
 * - window.SceneVaultNet owns the connectivity state and the header's #net-status indicator
 *   ("Online" / "Offline"). Online means the SceneVault server answers GET /api/health, not
 *   just navigator.onLine. It checks at start, on the browser's online/offline events, when
 *   the tab becomes visible, every 15 s while offline and every 60 s while online. Each change
 *   fires `scenevault:connectivity` on window ({detail: {reachable}}); app/generation/connectivity.py
 *   wraps this for Python.
 * - window.SceneVaultUpdate owns the service worker registration (static/sw.js, scope "/"),
 *   made once start-up has settled so it never competes with the boot. When a new version has
 *   installed and waits, it shows "A new version is ready" in #notices with a Reload button;
 *   the button tells the waiting worker to take over, and the page reloads when it has. A tab
 *   that did not ask (another tab updated) is told to reload instead of being reloaded.
 *
 * Example (page or tests):
 *   await SceneVaultNet.check()            // true when /api/health answers
 *   const stop = SceneVaultNet.subscribe((reachable) => console.log(reachable))
 *   await SceneVaultUpdate.check()         // look for a new version now
 */
(function () {
  "use strict";
  const HEALTH_URL = new URL("api/health", document.baseURI).href;
  const WORKER_URL = "static/sw.js";
  const CHECK_TIMEOUT_MS = 5000;
  const POLL_OFFLINE_MS = 15000;
  const POLL_ONLINE_MS = 60000;
  const EVENT = "scenevault:connectivity";
  const OFFLINE_TITLE = "The SceneVault server cannot be reached. Your files are all here; " +
    "generation waits until the server is back.";
  const ONLINE_TITLE = "The SceneVault server is reachable.";

  // --- connectivity ------------------------------------------------------------------------------
  let pending = null;
  let pollTimer = null;

  const net = {
    reachable: null, // null until the first check has answered
    check: check,
    subscribe: subscribe,
  };

  function check() {
    if (!navigator.onLine) return Promise.resolve(settle(false));
    if (!pending) pending = probe().then(settle).finally(() => { pending = null; });
    return pending;
  }

  async function probe() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), CHECK_TIMEOUT_MS);
    try {
      const response = await fetch(HEALTH_URL, { cache: "no-store", signal: abort.signal });
      return response.ok && (await response.json()).ok === true;
    } catch (error) {
      return false; // refused, timed out or offline: all mean "not reachable"
    } finally {
      clearTimeout(timer);
    }
  }

  function settle(reachable) {
    const before = net.reachable;
    net.reachable = reachable;
    showStatus(reachable);
    schedulePoll(reachable);
    if (before !== reachable) {
      window.dispatchEvent(new CustomEvent(EVENT, { detail: { reachable: reachable } }));
      if (reachable && before === false) update.check(); // the server is back: maybe it is newer
    }
    return reachable;
  }

  function showStatus(reachable) {
    const indicator = document.getElementById("net-status");
    if (!indicator) return;
    indicator.textContent = reachable ? "Online" : "Offline";
    indicator.dataset.state = reachable ? "online" : "offline";
    indicator.title = reachable ? ONLINE_TITLE : OFFLINE_TITLE;
  }

  function schedulePoll(reachable) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(check, reachable ? POLL_ONLINE_MS : POLL_OFFLINE_MS);
  }

  function subscribe(callback) {
    const listener = (event) => callback(event.detail.reachable);
    window.addEventListener(EVENT, listener);
    return () => window.removeEventListener(EVENT, listener);
  }

  // --- updates -----------------------------------------------------------------------------------
  const workers = navigator.serviceWorker;
  const hadController = Boolean(workers && workers.controller);
  let reloading = false;
  let resolveRegistration;

  const update = {
    registration: new Promise((resolve) => { resolveRegistration = resolve; }),
    check: async function () {
      const registration = await update.registration;
      if (registration) await registration.update().catch(() => undefined); // offline: later
      return Boolean(registration && registration.waiting);
    },
  };

  function register() {
    if (!workers) return resolveRegistration(null);
    workers.register(WORKER_URL, { scope: "./", updateViaCache: "none" }).then((registration) => {
      watch(registration);
      resolveRegistration(registration);
    }, (error) => {
      console.warn("SceneVault will not work offline: the service worker did not register.", error);
      resolveRegistration(null);
    });
  }

  function watch(registration) {
    if (!registration) return;  // service workers blocked (policy, private mode): nothing to watch
    if (registration.waiting && workers.controller) showUpdateReady(registration);
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing;
      if (!worker) return;
      worker.addEventListener("statechange", () => {
        if (worker.state === "installed" && workers.controller) showUpdateReady(registration);
      });
    });
  }

  function showUpdateReady(registration) {
    showNotice("A new version is ready: reload to start using it.", () => {
      reloading = true;
      if (!registration.waiting) return location.reload();
      registration.waiting.postMessage({ type: "skip-waiting" });
    });
  }

  function onControllerChange() {
    if (reloading) {
      location.reload();
    } else if (hadController) {
      showNotice("SceneVault was updated in another tab: reload this tab to use the new version.",
                 () => location.reload());
    }
  }

  function showNotice(message, onReload) {
    const notice = document.createElement("div");
    notice.id = "update-notice";
    notice.className = "notice notice-update";
    notice.setAttribute("role", "status");
    const text = document.createElement("span");
    text.className = "notice-text";
    text.textContent = message;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "notice-action";
    button.textContent = "Reload";
    button.addEventListener("click", () => {
      button.disabled = true;
      button.textContent = "Reloading…";
      onReload();
    });
    notice.append(text, button);
    const existing = document.getElementById("update-notice");
    if (existing) existing.replaceWith(notice);
    else document.getElementById("notices").append(notice);
  }

  // Register once start-up has settled (ready or error), so precaching never slows the boot.
  function registerAfterStartUp() {
    const root = document.documentElement;
    const settled = () => root.dataset.appState !== "loading";
    if (settled()) return register();
    const observer = new MutationObserver(() => {
      if (!settled()) return;
      observer.disconnect();
      register();
    });
    observer.observe(root, { attributes: true, attributeFilter: ["data-app-state"] });
  }

  // --- start ---------------------------------------------------------------------------------------
  window.SceneVaultNet = net;
  window.SceneVaultUpdate = update;
  window.addEventListener("online", check);
  window.addEventListener("offline", () => settle(false));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") check();
  });
  if (workers) workers.addEventListener("controllerchange", onControllerChange);
  registerAfterStartUp();
  check();
})();
