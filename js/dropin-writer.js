// The drop-in's single writer: the glue between the writer lock and the IndexedDB gate. Loaded by the
// drop-in once the guardian is ready; the overlay (js/writer-overlay.js, with its strings) is loaded only
// the first time this tab must wait for another one or has lost the role: the writer tab never fetches it.

/**
 * Asks for the writer role ("wait"), keeps the gate's `hold` until this tab is the writer, shows the
 * overlay while a crypto-store open waits on another tab, and after a steal closes this tab's crypto-store
 * connections (its engine must not keep writing), holds the gate again and offers to reload. Resolves when
 * the role is first acquired.
 */
export function guardDropIn({ guardian, gate, hold, win = window, lang }) {
  let release = hold || null;
  let overlay = null; // a promise of the overlay: its module loads the first time it must show
  const ui = () => (overlay ??= import("./writer-overlay.js").then((m) => m.writerOverlay({ guardian, win, lang })));
  const show = (state) =>
    ui().then(
      (o) => o.show(state),
      (e) => {
        // Fail open: a tab that cannot show why it waits must not wait silently (the role goes on being
        // asked for; the crypto store opens now). A tab that lost the role stays stopped: another tab writes.
        overlay = null;
        if (state !== "lost") {
          release?.();
          release = null;
        }
        console.warn("[matrix-crypto-guardian] the writer overlay did not load, this tab no longer waits:", e && e.message ? e.message : e);
      },
    );
  // Only while another tab holds the role ("waiting"): while this tab's own request is being granted (a
  // lease claim settles for about 60 ms) the open just waits, with nothing to say.
  const showIfWaiting = () => {
    if (guardian.writer().role === "waiting" && gate.pending() > 0) show("elsewhere");
  };

  guardian.addEventListener("writer-acquired", () => {
    overlay?.then((o) => o.hide(), () => {}); // in order: after a show() asked for before it
    release?.();
    release = null;
  });
  guardian.addEventListener("writer-waiting", showIfWaiting);
  gate.onPending(() => showIfWaiting());
  guardian.addEventListener("writer-lost", () => {
    release ??= gate.hold("writer");
    gate.closeConnections();
    show("lost");
  });
  return guardian.acquireWriter({ mode: "wait" });
}
