// The drop-in: one classic script, placed first in <head>, needs no other change to the host.
//
//   <script src="/matrix-crypto-guardian/dropin.js"></script>
//
// It installs the fetch tap synchronously (so it is in place before the host's first request), then
// loads the ESM entry (index.js bundled with its static imports: dropin-start.js) and the wasm core
// asynchronously from next to itself. Only keys/upload waits for the core; every other request passes
// straight through. If anything fails to load (404, CSP, blocked wasm), the tap is abandoned, the host
// runs exactly as without the guardian, and one console warning says why. Bundled by scripts/build.sh into pkg/dropin.js (an IIFE).
import { installFetchTap, isKeysUpload, GUARDIAN_HEADER } from "./fetch-tap.js";
import { installConsoleTap, consoleTapOf, uninstallConsoleTap, OWN_PREFIX } from "./console-tap.js";
import { installIdbGate } from "./idb-gate.js";
import { readDropInConfig } from "./dropin-config.js";

(function startDropIn() {
  const script = document.currentScript;
  mark("script-start"); // npm run bench: script start -> ready, next to the page's own load
  let config = { options: { preset: "generic" }, problems: [] };
  try {
    config = readDropInConfig(script && script.dataset);
  } catch {
    /* defaults */
  }
  if (config.problems.length) console.warn(`[matrix-crypto-guardian] drop-in <script> attributes: ${config.problems.join("; ")}`);
  let tap = null;
  try {
    tap = installFetchTap(window);
  } catch {
    return;
  }
  // The journal's console tap, before the host logs anything; lines wait in a buffer until the core loads.
  installConsoleTap(window);
  // Single writer: crypto-store opens wait until this tab is the writer (released at once if we fail).
  let gate = null;
  let writerHold = null;
  let storeHold = null;
  let deletionHold = null;
  try {
    gate = installIdbGate(window, { prefix: config.options.cryptoStorePrefix });
    writerHold = gate && gate.hold("writer");
    // Store loss: a blank crypto store must not even be created until the user has chosen.
    storeHold = gate && gate.hold("store-check");
    // A crypto store deleted by the host while it runs: its next open waits for the check to look again.
    if (gate) gate.onDelete(() => (deletionHold ??= gate.hold("store-check")));
  } catch {
    gate = null;
  }
  const base = script && script.src ? new URL(".", script.src) : new URL("./", location.href);
  // The core wasm starts downloading and compiling now, beside the ESM entry's module graph, rather than
  // after it (index.js takes the compiled module; on any failure it fetches the wasm itself, as the npm path does).
  try {
    const compiling = WebAssembly.compileStreaming(tap.original.call(window, new URL("core/guardian_core_bg.wasm", base)));
    compiling.catch(() => {});
    window[Symbol.for("matrix-crypto-guardian/core-module")] = compiling;
  } catch {
    /* no streaming compile here: index.js fetches the wasm */
  }
  // dropin-start.js imports the core's glue: fetched now beside it, not one round trip after it.
  try {
    const glue = document.createElement("link");
    glue.rel = "modulepreload";
    glue.href = new URL("core/guardian_core.js", base).href;
    document.head.appendChild(glue);
  } catch {
    /* no preload: the import fetches it */
  }
  // The ESM it loads (dropin-start.js) uses these very modules (js/dropin-taps.js): one copy per page.
  window[Symbol.for("matrix-crypto-guardian/dropin-taps")] = { installFetchTap, isKeysUpload, GUARDIAN_HEADER, installConsoleTap, consoleTapOf, uninstallConsoleTap, OWN_PREFIX };
  let markReady;
  const ready = new Promise((resolve) => (markReady = resolve));
  window.matrixCryptoGuardian = { loading: true, ready };

  import(/* webpackIgnore: true */ new URL("dropin-start.js", base).href)
    .then(({ Guardian }) => Guardian.start(config.options))
    .then(
      (guardian) => {
        guardian.ready = ready;
        window.matrixCryptoGuardian = guardian;
        markReady(guardian);
        mark("ready");
        if (storeHold) releaseAfterStoreCheck(guardian, storeHold);
        if (gate) recheckAfterDeletion(guardian, gate, () => {
          const release = deletionHold;
          deletionHold = null;
          return release;
        });
        if (gate) {
          import(/* webpackIgnore: true */ new URL("dropin-writer.js", base).href)
            .then(({ guardDropIn }) => guardDropIn({ guardian, gate, hold: writerHold, lang: config.options.lang }))
            .catch((e) => {
              // Only the writer's own hold goes with its module: the store-loss hold stays until its own
              // reason is settled (the user's choice in the prompt), whatever else failed to load.
              if (writerHold) writerHold();
              console.warn("[matrix-crypto-guardian] single writer not active:", e && e.message ? e.message : e);
            });
        }
        document.dispatchEvent(new CustomEvent("matrix-crypto-guardian:ready", { detail: guardian }));
      },
      (err) => {
        if (tap) tap.abandon();
        if (gate) gate.releaseAll();
        window.matrixCryptoGuardian = { loading: false, failed: String(err && err.message ? err.message : err), ready };
        markReady(null);
        console.warn("[matrix-crypto-guardian] not active (the client runs unguarded):", err && err.message ? err.message : err);
      },
    );
})();

/** Lets the crypto store open once the store-loss check is clear, or once the user chose to continue. */
function releaseAfterStoreCheck(guardian, release) {
  const check = typeof guardian.storeCheck === "function" ? guardian.storeCheck() : null;
  if (!check || check.verdict !== "store-lost") return release();
  guardian.addEventListener("store-loss-accepted", () => release(), { once: true });
}

/**
 * A host that deletes its own crypto store and opens it again (some clients do on "the account in the store
 * doesn't match the account in the constructor", keeping the device id) makes a store loss in this page.
 * When such an open waits on the deletion's hold, the store-loss check runs again (the verdict is the
 * core's); the open proceeds unless the store is lost, and then once the user chose to continue.
 */
function recheckAfterDeletion(guardian, gate, takeHold) {
  let checking = false;
  const recheck = () => {
    if (checking || gate.pending() === 0) return;
    const release = takeHold();
    if (!release) return;
    checking = true;
    guardian.checkStoreAgain().then(
      (check) => {
        checking = false;
        if (check.verdict !== "store-lost") return release();
        guardian.addEventListener("store-loss-accepted", () => release(), { once: true });
      },
      () => {
        checking = false;
        release(); // fail open
      },
    );
  };
  gate.onPending(recheck);
  recheck();
}

function mark(name) {
  try {
    performance.mark(`matrix-crypto-guardian:${name}`);
  } catch {
    /* no User Timing: no figure */
  }
}
