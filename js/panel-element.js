// <matrix-crypto-guardian-panel>: the element. A small shell, registered when the package is imported:
// its view (./panel.js: status rows, journal entries, actions, styles, strings) loads the first time the
// element is connected to a page, so a page without a panel never fetches it.
//
//   <matrix-crypto-guardian-panel></matrix-crypto-guardian-panel>   (uses window.matrixCryptoGuardian)
//   panel.guardian = guardian;                                      (or hand it one)

const TAG = "matrix-crypto-guardian-panel";
const READY_EVENT = "matrix-crypto-guardian:ready";

// Outside a browser (SSR, node) importing the package must not fail: the class then has a dummy base.
const ElementBase = typeof HTMLElement !== "undefined" ? HTMLElement : class {};

export class GuardianPanel extends ElementBase {
  #guardian = null;
  #view = null; // the PanelView, once ./panel.js has loaded
  #loading = null;
  #readyListener = (e) => {
    if (!this.#guardian && e.detail) this.guardian = e.detail;
  };

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
  }

  /** The guardian shown (default: window.matrixCryptoGuardian once it is loaded). */
  get guardian() {
    return this.#guardian;
  }

  set guardian(g) {
    const next = g && typeof g.storm === "function" ? g : null;
    if (this.#guardian === next) return;
    this.#guardian = next;
    this.#view?.setGuardian(next);
  }

  connectedCallback() {
    if (!this.#guardian) {
      const g = globalThis.matrixCryptoGuardian;
      if (g && typeof g.storm === "function") this.#guardian = g;
      else document.addEventListener(READY_EVENT, this.#readyListener);
    }
    this.#loading ??= import("./panel.js").then((m) => {
      this.#view = new m.PanelView(this, this.shadowRoot);
      this.#view.setGuardian(this.#guardian);
      return this.#view;
    });
    this.#loading.then(
      (view) => this.isConnected && view.connected(),
      (err) => {
        this.#loading = null; // tried again when the element is connected again
        this.shadowRoot.textContent = `matrix-crypto-guardian: the panel did not load (${err && err.message ? err.message : err})`;
      },
    );
  }

  disconnectedCallback() {
    this.#view?.disconnected();
    document.removeEventListener(READY_EVENT, this.#readyListener);
  }

  /** Re-reads the guardian (also done on its events and every 2 s while connected). */
  refresh() {
    this.#view?.refresh();
  }
}

/** Defines the custom element once (safe to call repeatedly, and outside a browser). */
export function definePanel(name = TAG) {
  if (typeof customElements === "undefined" || typeof HTMLElement === "undefined") return false;
  if (!customElements.get(name)) customElements.define(name, name === TAG ? GuardianPanel : class extends GuardianPanel {});
  return true;
}

definePanel();
