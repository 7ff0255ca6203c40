/* "Install SceneVault" (page side): keeps the browser's `beforeinstallprompt` event, which
 * fires once, early, and only in browsers that offer an install prompt (Chromium), so the
 * loss warnings (app/ui/parts/loss_banner.py) can show an Install button that opens it.
 * Loaded as a classic script before PyScript, so the event is never missed.
 *
 * window.SceneVaultInstall:
 *   state()            "installed" (running as the installed app), "available" (a prompt was
 *                      offered and can be opened) or "manual" (say where the Install item is)
 *   await prompt()     opens the browser's install dialog: "accepted", "dismissed" or
 *                      "unavailable" (no prompt was offered, or it was used already)
 *   subscribe(fn)      fn() runs when the state changes; returns a function that unsubscribes
 */
(function () {
  "use strict";
  let offered = null;
  let installed = false;
  const listeners = new Set();
  const changed = () => listeners.forEach((listener) => {
    try { listener(); } catch (error) { console.error(error); }
  });
  const standalone = () => installed || navigator.standalone === true ||
    window.matchMedia("(display-mode: standalone)").matches;

  window.addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault();  // the app offers it in its warning instead of a mini-infobar
    offered = event;
    changed();
  });
  window.addEventListener("appinstalled", () => {
    offered = null;
    installed = true;
    changed();
  });

  window.SceneVaultInstall = {
    state() { return standalone() ? "installed" : offered ? "available" : "manual"; },
    async prompt() {
      if (!offered) return "unavailable";
      const event = offered;
      offered = null;  // a prompt can be shown once
      await event.prompt();
      const choice = await event.userChoice;
      changed();
      return choice.outcome;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
})();
