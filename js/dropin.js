// The drop-in: one classic script, placed first in <head>, needs no other change to the host.
//
//   <script src="/matrix-crypto-guardian/dropin.js"></script>
//
// It installs the fetch tap synchronously (so it is in place before the host's first request), then
// loads the ESM entry and the wasm core asynchronously from next to itself. Only keys/upload waits for
// the core; every other request passes straight through. If anything fails to load (404, CSP, blocked
// wasm), the tap is abandoned, the host runs exactly as without the guardian, and one console warning
// says why. Bundled by scripts/build.sh into pkg/dropin.js (an IIFE).
import { installFetchTap } from "./fetch-tap.js";

(function startDropIn() {
  const script = document.currentScript;
  let tap = null;
  try {
    tap = installFetchTap(window);
  } catch {
    return;
  }
  const base = script && script.src ? new URL(".", script.src) : new URL("./", location.href);
  let markReady;
  const ready = new Promise((resolve) => (markReady = resolve));
  window.matrixCryptoGuardian = { loading: true, ready };

  import(/* webpackIgnore: true */ new URL("index.js", base).href)
    .then(({ Guardian }) => Guardian.start({ preset: (script && script.dataset.preset) || "generic" }))
    .then(
      (guardian) => {
        guardian.ready = ready;
        window.matrixCryptoGuardian = guardian;
        markReady(guardian);
        document.dispatchEvent(new CustomEvent("matrix-crypto-guardian:ready", { detail: guardian }));
      },
      (err) => {
        if (tap) tap.abandon();
        window.matrixCryptoGuardian = { loading: false, failed: String(err && err.message ? err.message : err), ready };
        markReady(null);
        console.warn("[matrix-crypto-guardian] not active (the client runs unguarded):", err && err.message ? err.message : err);
      },
    );
})();
