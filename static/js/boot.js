/* SceneVault boot guard: owns <html data-app-state> until Python is running.
 *
 * - Shows progress while PyScript and Pyodide load (PyScript's `py:progress` events).
 * - Turns every start-up failure into data-app-state="error" with a visible message: a vendored
 *   file that does not load, an exception in Python, an unhandled rejection, or a silent hang
 *   (the watchdog).
 * - Python finishes start-up with `SceneVaultBoot.ready()` or `SceneVaultBoot.fail(message)`
 *   (app/startup.py). After either, later errors belong to the app, not to the boot.
 * - Keeps the boot's timeline in `SceneVaultBoot.marks` ({step: ms since navigation}): each
 *   PyScript progress step as it arrives, the app's own steps (`SceneVaultBoot.mark(step)`,
 *   from app/main.py and app/startup.py) and "ready". bench/boot.py reads it for its breakdown.
 *
 * Example (from Python):  js.window.SceneVaultBoot.ready()
 */
(function () {
  "use strict";
  // Python runs without WebAssembly stack switching (JSPI). Pyodide uses JSPI when the browser
  // has it, and then runs Python on secondary stacks that V8 allocates. Chromium's sampling heap
  // profiler (on for a random share of browser sessions) walks the stack of a sampled allocation
  // by frame pointers, bounded by the THREAD's stack end, so on a secondary stack its scan runs
  // past the stack's top into a guard page and kills the tab (SIGSEGV, SEGV_ACCERR; issue 13,
  // docs/security.md). SceneVault never needs `run_sync`, so it hides JSPI from Pyodide, which
  // reads `"Suspending" in WebAssembly` when it loads (after this script).
  // tests/browser/test_renderer_crash.py forces the profiler on and checks the tab survives.
  ["Suspending", "promising", "Suspender"].forEach(function (name) {
    try { if (typeof WebAssembly === "object") delete WebAssembly[name]; } catch (e) { /* kept */ }
  });
  var root = document.documentElement;
  var WATCHDOG_MS = 90000;
  var SETUP_HINT = "The app's runtime files are missing or incomplete. If you run SceneVault " +
    "from source, run `make setup` (or `make run`), then reload.";
  var RETRY_HINT = "Reload the page. If it keeps happening, restart the server with `make run`.";
  var RUNTIME_PATH = /^\/(static\/vendor\/|static\/app\.zip$|app\/|pyscript\.toml$)/;
  var settled = false;

  function byId(id) { return document.getElementById(id); }

  function whenDom(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn, { once: true });
    } else {
      fn();
    }
  }

  function describe(reason) {
    if (reason && reason.message) return String(reason.message);
    return String(reason);
  }

  // The first runtime file that answered 4xx/5xx, if any: the root cause of most boot failures.
  function failedRuntimeFile() {
    var entries = performance.getEntriesByType("resource");
    for (var i = 0; i < entries.length; i++) {
      var url = new URL(entries[i].name, location.href);
      if (url.origin === location.origin && RUNTIME_PATH.test(url.pathname) &&
          entries[i].responseStatus >= 400) {
        return "Could not load " + url.pathname + " (HTTP " + entries[i].responseStatus + ").";
      }
    }
    return null;
  }

  function fail(message, hint) {
    if (settled) return false;
    var rootCause = failedRuntimeFile();
    if (rootCause) {
      message = rootCause;
      hint = SETUP_HINT;
    }
    settled = true;
    clearTimeout(watchdog);
    api.error = String(message);
    root.dataset.appState = "error";
    console.error("SceneVault start-up failed: " + message);
    whenDom(function () {
      byId("boot-status").hidden = true;
      byId("view").hidden = true;
      byId("boot-error-message").textContent = String(message);
      byId("boot-error-hint").textContent = hint || RETRY_HINT;
      byId("boot-error").hidden = false;
      byId("boot-reload").addEventListener("click", function () { location.reload(); });
    });
    return true;
  }

  function ready() {
    if (settled) return false;
    settled = true;
    clearTimeout(watchdog);
    // One reading of the clock for both, so the timeline's "ready" is readyAt exactly.
    api.readyAt = performance.now();
    mark("ready", api.readyAt);
    byId("boot-status").hidden = true;
    byId("view").hidden = false;
    root.dataset.appState = "ready";
    return true;
  }

  // The first time a step happened (a repeated step keeps its first time).
  function mark(step, at) {
    if (!(step in api.marks)) api.marks[step] = at === undefined ? performance.now() : at;
  }

  function progress(text) {
    var detail = byId("boot-detail");
    if (detail && !settled) detail.textContent = String(text);
  }

  function isRuntimeResource(target) {
    return target && (target.tagName === "SCRIPT" || target.tagName === "LINK");
  }

  // A <script> or <link> that fails does not bubble its error, but it does pass the capture phase.
  window.addEventListener("error", function (event) {
    var target = event.target;
    if (isRuntimeResource(target)) {
      var url = new URL(target.src || target.href, location.href);
      fail("Could not load " + url.pathname + ".", SETUP_HINT);
    } else if (target === window || !target) {
      fail(event.message || describe(event.error));
    }
  }, true);

  window.addEventListener("unhandledrejection", function (event) {
    var message = describe(event.reason);
    var missingModule = /dynamically imported module|Failed to fetch|404/.test(message);
    fail(message, missingModule ? SETUP_HINT : undefined);
  });

  // Some loaders swallow a failed fetch (Pyodide's wasm streaming logs a warning and hangs), so
  // watch the resource timeline too: a runtime file answered with 4xx/5xx ends the boot at once.
  if (window.PerformanceObserver) {
    new PerformanceObserver(function () {
      var rootCause = failedRuntimeFile();
      if (!rootCause) return;
      if (!settled) {
        fail("A runtime file did not load.");
      } else if (root.dataset.appState === "error" && api.error !== rootCause) {
        // The loader reported its own error before the 404 reached the timeline: name the cause.
        api.error = rootCause;
        whenDom(function () {
          byId("boot-error-message").textContent = rootCause;
          byId("boot-error-hint").textContent = SETUP_HINT;
        });
      }
    }).observe({ type: "resource", buffered: true });
  }

  window.addEventListener("py:progress", function (event) {
    mark(String(event.detail));
    progress(event.detail);
  });

  var watchdog = setTimeout(function () {
    fail("Start-up did not finish within " + WATCHDOG_MS / 1000 + " seconds.", RETRY_HINT);
  }, WATCHDOG_MS);

  var api = { ready: ready, fail: fail, progress: progress, mark: mark, marks: {}, readyAt: null,
              error: null };
  window.SceneVaultBoot = api;
})();
