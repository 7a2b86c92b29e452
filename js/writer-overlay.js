// The single-writer overlay of the drop-in (the glue between the writer lock and the IndexedDB gate is
// js/dropin-writer.js, which loads this module only when a tab must wait or has lost the role).
//
// <matrix-crypto-guardian-writer> renders in a shadow root (text via textContent only) as a modal dialog:
//  - state "elsewhere": the client is open in another tab; buttons "Use here" (take over) and "Close";
//  - state "lost": another tab took over; this tab stopped writing; button "Reload".
// Its host element carries data-state (hidden | elsewhere | lost) and data-mechanism for tests and styling.
// Styles are a constructable stylesheet (adoptedStyleSheets), like the prompt's and the panel's: a <style>
// element would be refused by a strict CSP (`style-src 'self'`).

import { englishStrings, format, guardianLanguage, loadStrings } from "./strings.js";

const TAG = "matrix-crypto-guardian-writer";
const STATES = ["elsewhere", "lost", "closing"];

const STYLE = `
:host { all: initial; }
.backdrop { position: fixed; inset: 0; z-index: 2147483647; background: rgba(0,0,0,.45);
  display: flex; align-items: center; justify-content: center; font: 15px/1.4 system-ui, sans-serif; }
.dialog { background: #fff; color: #111; max-width: 26rem; margin: 1rem; padding: 1.25rem 1.5rem;
  border-radius: 8px; box-shadow: 0 8px 32px rgba(0,0,0,.3); }
h2 { font-size: 1.15rem; margin: 0 0 .5rem; }
p { margin: 0 0 1rem; }
.buttons { display: flex; gap: .5rem; justify-content: flex-end; }
button { font: inherit; padding: .4rem .9rem; border-radius: 4px; border: 1px solid #888; background: #f4f4f4; cursor: pointer; }
button.primary { background: #0b5; border-color: #0a4; color: #fff; }
button:focus-visible { outline: 3px solid #36f; outline-offset: 2px; }
small { display: block; color: #555; margin-top: .75rem; font-size: .8rem; }
`;

// A constructed sheet can only be adopted in the document of the window that constructed it: one per window.
const sheets = new WeakMap();
function styleSheetFor(win) {
  if (!sheets.has(win)) {
    let sheet = null;
    try {
      sheet = new win.CSSStyleSheet();
      sheet.replaceSync(STYLE);
    } catch {
      sheet = null; // no constructable stylesheets (browsers before 2023): a <style> element instead
    }
    sheets.set(win, sheet);
  }
  return sheets.get(win);
}

function defineOverlay(win) {
  if (win.customElements.get(TAG)) return win.customElements.get(TAG);
  class WriterOverlay extends win.HTMLElement {
    #root;
    #actions = {};
    #fallbackStyle = false;
    constructor() {
      super();
      this.#root = this.attachShadow({ mode: "open" });
      try {
        this.#root.adoptedStyleSheets = [styleSheetFor(win)];
      } catch {
        this.#fallbackStyle = true; // no sheet, or no adoptedStyleSheets
      }
    }
    /** { useHere(), close(), reload() } */
    set actions(a) {
      this.#actions = a || {};
    }
    /** `strings`: the language table (js/strings.js); English by default. */
    show(state, { mechanism, strings = englishStrings } = {}) {
      const doc = this.ownerDocument;
      const t = (key) => format(strings, key);
      const shown = STATES.includes(state) ? state : "elsewhere";
      const text = { title: t(`writer.${shown}.title`), body: t(`writer.${shown}.body`) };
      const el = (tag, props = {}) => Object.assign(doc.createElement(tag), props);
      const backdrop = el("div", { className: "backdrop" });
      const dialog = el("div", { className: "dialog" });
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-modal", "true");
      dialog.setAttribute("aria-labelledby", "mcg-writer-title");
      dialog.setAttribute("aria-describedby", "mcg-writer-body");
      const title = el("h2", { id: "mcg-writer-title", textContent: text.title });
      const body = el("p", { id: "mcg-writer-body", textContent: text.body });
      const buttons = el("div", { className: "buttons" });
      const button = (label, action, primary) => {
        const b = el("button", { type: "button", textContent: label, className: primary ? "primary" : "" });
        b.dataset.action = action;
        b.addEventListener("click", () => this.#actions[action]?.());
        buttons.append(b);
        return b;
      };
      let first;
      if (state === "lost") first = button(t("writer.reload"), "reload", true);
      else if (state === "elsewhere") {
        first = button(t("writer.use-here"), "useHere", true);
        button(t("writer.close"), "close", false);
      }
      const note = el("small", { textContent: t(mechanism === "lease" ? "writer.mechanism.lease" : "writer.mechanism.web-locks") });
      dialog.append(title, body, buttons, note);
      backdrop.append(dialog);
      this.#root.replaceChildren(...(this.#fallbackStyle ? [el("style", { textContent: STYLE })] : []), backdrop);
      this.dataset.state = state;
      if (mechanism) this.dataset.mechanism = mechanism;
      if (!this.isConnected) (doc.body || doc.documentElement).append(this);
      first?.focus();
    }
    hide() {
      this.#root.replaceChildren();
      this.dataset.state = "hidden";
    }
  }
  win.customElements.define(TAG, WriterOverlay);
  return WriterOverlay;
}

/**
 * The overlay of one page, for js/dropin-writer.js (which loads this module the first time a tab must wait
 * or has lost the role): `show(state)` draws it in the page's language (English until its table has
 * loaded, then redrawn), `hide()` takes it away. "Use here" steals the writer role.
 */
export function writerOverlay({ guardian, win = window, lang }) {
  defineOverlay(win);
  const overlay = win.document.createElement(TAG);
  overlay.dataset.state = "hidden"; // not in the constructor: createElement forbids attributes there
  let strings = englishStrings;
  const show = (state) => overlay.show(state, { mechanism: guardian.writer().mechanism, strings });
  overlay.actions = {
    useHere: () => guardian.acquireWriter({ mode: "steal" }),
    close: () => {
      win.close(); // works only for tabs a script opened; otherwise say so
      show("closing");
    },
    reload: () => win.location.reload(),
  };
  loadStrings(guardianLanguage(lang, win.document)).then((loaded) => {
    strings = loaded;
    if (STATES.includes(overlay.dataset.state)) show(overlay.dataset.state);
  });
  return { show, hide: () => overlay.hide() };
}

export { defineOverlay, TAG as WRITER_OVERLAY_TAG };
