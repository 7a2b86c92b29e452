// <matrix-crypto-guardian-panel>: the element. A small shell, registered when the package is imported:
// its view (./panel.js: status rows, journal entries, actions, styles, strings) loads the first time the
// element is shown (it has a box: not in a closed <details>, a hidden tab or a display:none pane), so a
// page without a panel, or with the panel out of sight, never fetches it at start.
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
  #shown = null; // the ResizeObserver that waits for the first box, while there is none
  #readyListener = (e) => {
    if (!this.#guardian && e.detail) this.guardian = e.detail;
  };

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    // A block box of its own before the view's styles exist: an empty inline element has no size to observe.
    const shell = shellStyles();
    if (shell) this.shadowRoot.adoptedStyleSheets = [shell];
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
    if (this.#loading) this.#loadView();
    else this.#whenShown(() => this.#loadView());
  }

  /** Runs `show` once the element has a box; at once where that cannot be observed. */
  #whenShown(show) {
    if (this.#shown) return;
    if (typeof ResizeObserver !== "function" || !shellStyles()) return show();
    this.#shown = new ResizeObserver((entries) => {
      if (!entries.some((e) => e.contentRect.width > 0 || e.contentRect.height > 0)) return;
      this.#shown.disconnect();
      this.#shown = null;
      show();
    });
    this.#shown.observe(this);
  }

  #loadView() {
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
    this.#shown?.disconnect();
    this.#shown = null;
    this.#view?.disconnected();
    document.removeEventListener(READY_EVENT, this.#readyListener);
  }

  /** Re-reads the guardian (also done on its events and every 2 s while connected). */
  refresh() {
    this.#view?.refresh();
  }
}

let shell = null;
function shellStyles() {
  if (shell === null) {
    try {
      shell = new CSSStyleSheet();
      shell.replaceSync(":host { display: block; }");
    } catch {
      shell = undefined; // no constructable stylesheets: the view loads at once (no box to wait for)
    }
  }
  return shell;
}

/** Defines the custom element once (safe to call repeatedly, and outside a browser). */
export function definePanel(name = TAG) {
  if (typeof customElements === "undefined" || typeof HTMLElement === "undefined") return false;
  if (!customElements.get(name)) customElements.define(name, name === TAG ? GuardianPanel : class extends GuardianPanel {});
  return true;
}

definePanel();
