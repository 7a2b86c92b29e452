// <matrix-crypto-guardian-prompt>: the recovery prompt. It only renders what the guardian says
// (guardian.recovery(), .runRemedy()) — every decision is the core's. Accessible: role=dialog with a
// label and description, focus moves in on open and Tab cycles inside it, Esc = "Later" (snooze), every
// button has a text label, all of it works with the keyboard alone. Light and dark follow
// prefers-color-scheme. Styles are a constructable stylesheet (no inline style, strict CSP is fine).
// Text — and above all anything the server said — is set with textContent only, never as HTML.
//
// It is docked, not modal: the host's page stays usable (people may want to read their messages before
// choosing), but while focus is in the prompt it stays there until the user leaves with Esc or a choice.
import { englishStrings as en, format, loadStrings } from "./strings.js";

// Kept here too: hosts imported them from this module.
export { format, loadStrings };

export const PROMPT_TAG = "matrix-crypto-guardian-prompt";

const CSS = `
:host { all: initial; }
.card {
  --bg: #ffffff; --fg: #1b1d21; --muted: #5b6270; --border: #c9ced6; --accent: #0b5cad; --accent-fg: #ffffff;
  --warn-bg: #fff4e5; --warn-fg: #6b3d00; --ok: #17663a;
  position: fixed; z-index: 2147483000; right: 16px; bottom: 16px; box-sizing: border-box;
  width: min(440px, calc(100vw - 32px)); max-height: calc(100vh - 32px); overflow: auto;
  background: var(--bg); color: var(--fg); border: 1px solid var(--border); border-radius: 10px;
  box-shadow: 0 8px 30px rgba(0,0,0,.25); padding: 16px 18px;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  .card { --bg: #1e2127; --fg: #e8eaed; --muted: #a7adb8; --border: #454b55; --accent: #6fb1ff; --accent-fg: #0b1320;
    --warn-bg: #3a2a12; --warn-fg: #ffd8a3; --ok: #7ad39c; }
}
h2 { font-size: 16px; margin: 0 0 8px; }
h3 { font-size: 13px; margin: 14px 0 6px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
p { margin: 0 0 8px; }
.cause { color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: 1fr auto; gap: 2px 12px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; font-weight: 600; text-align: right; }
ul.choices { list-style: none; padding: 0; margin: 0; display: grid; gap: 10px; }
ul.choices > li { border: 1px solid var(--border); border-radius: 8px; padding: 8px 10px; }
.what { margin: 4px 0 0; color: var(--muted); font-size: 13px; }
.loses { margin: 4px 0 0 18px; padding: 0; font-size: 12px; color: var(--warn-fg); }
.badge { font-size: 11px; margin-left: 6px; padding: 1px 6px; border-radius: 8px; background: var(--accent); color: var(--accent-fg); }
button { font: inherit; cursor: pointer; border-radius: 6px; padding: 6px 12px; border: 1px solid var(--accent);
  background: transparent; color: var(--accent); }
button.primary { background: var(--accent); color: var(--accent-fg); }
button:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
button[disabled] { opacity: .55; cursor: progress; }
label { display: block; margin: 6px 0; }
input { font: inherit; width: 100%; box-sizing: border-box; padding: 6px; margin-top: 2px; border-radius: 6px;
  border: 1px solid var(--border); background: var(--bg); color: var(--fg); }
.status { margin-top: 12px; min-height: 1em; overflow-wrap: anywhere; }
.status.ok { color: var(--ok); }
.alert:not(:empty) { margin-top: 12px; padding: 8px 10px; border-radius: 6px; background: var(--warn-bg); color: var(--warn-fg); overflow-wrap: anywhere; white-space: pre-wrap; }
.row { display: flex; gap: 8px; margin-top: 8px; flex-wrap: wrap; }
[hidden] { display: none !important; }
`;

let sheet = null;
function styleSheet() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "hidden") e.hidden = true;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

const FOCUSABLE = "button:not([disabled]), input:not([disabled]), [tabindex]:not([tabindex='-1'])";

/** Defines the element once (no-op where custom elements are missing: the guardian then stays headless). */
export function definePrompt() {
  if (typeof customElements === "undefined" || typeof HTMLElement === "undefined") return false;
  if (customElements.get(PROMPT_TAG)) return true;
  customElements.define(PROMPT_TAG, GuardianPrompt);
  return true;
}

class GuardianPrompt extends (globalThis.HTMLElement || class {}) {
  #root;
  #guardian = null;
  #strings = en;
  #view = null;
  #busy = false;
  #returnFocus = null;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    this.#root.adoptedStyleSheets = [styleSheet()];
    this.#root.addEventListener("keydown", (e) => this.#onKeydown(e));
  }

  /** Connects the prompt to a guardian and its strings. */
  bind(guardian, strings) {
    this.#guardian = guardian;
    this.#strings = strings || en;
    return this;
  }

  get open() {
    return this.hasAttribute("open");
  }

  /** Shows (or refreshes) the prompt for `view` = guardian.recovery(). */
  show(view) {
    const wasOpen = this.open;
    // A new opening, or another cause: what was said about an earlier choice no longer applies.
    if (!wasOpen || (this.#view && view && this.#view.cause !== view.cause)) this.#forgetChoice();
    this.#view = view;
    this.setAttribute("open", "");
    this.hidden = false;
    this.#render();
    if (!wasOpen) {
      this.#returnFocus = document.activeElement;
      this.#focusFirst();
    }
  }

  /** Updates facts/offers without moving focus. */
  update(view) {
    if (!this.open) return;
    if (this.#view && view && this.#view.cause !== view.cause) this.#forgetChoice();
    const focusedId = this.#root.activeElement && this.#root.activeElement.id;
    this.#view = view;
    this.#render();
    const again = focusedId && this.#root.getElementById(focusedId);
    if (again) again.focus();
    else if (this.#root.activeElement === null && this.matches(":focus-within")) this.#focusFirst();
  }

  close() {
    this.removeAttribute("open");
    this.hidden = true;
    this.#root.replaceChildren();
    if (this.#returnFocus && typeof this.#returnFocus.focus === "function" && this.#returnFocus.isConnected) this.#returnFocus.focus();
    this.#returnFocus = null;
  }

  #t(key, values) {
    return format(this.#strings, key, values);
  }

  #focusFirst() {
    const dialog = this.#root.querySelector("[role=dialog]");
    const first = this.#root.querySelector("button.primary:not([disabled])") || this.#root.querySelector(FOCUSABLE);
    (first || dialog)?.focus();
  }

  #onKeydown(e) {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      if (!this.#busy) this.#run("snooze");
      return;
    }
    if (e.key !== "Tab") return;
    const items = [...this.#root.querySelectorAll(FOCUSABLE)].filter((x) => !x.closest("[hidden]"));
    if (!items.length) return;
    const at = items.indexOf(this.#root.activeElement);
    const next = e.shiftKey ? (at <= 0 ? items.length - 1 : at - 1) : at === items.length - 1 ? 0 : at + 1;
    e.preventDefault();
    items[next].focus();
  }

  #render() {
    const v = this.#view || {};
    const cause = v.cause || "undetermined";
    const dialog = el("section", { class: "card", role: "dialog", "aria-modal": "false", "aria-labelledby": "mcg-title", "aria-describedby": "mcg-what", tabindex: "-1" });
    dialog.append(
      el("h2", { id: "mcg-title", text: this.#t(`title.${cause}`) }),
      el("p", { id: "mcg-what", text: this.#t(`what.${cause}`) }),
    );
    if (v.reason) dialog.append(el("p", { class: "cause", id: "mcg-cause", text: this.#t("cause.label", { reason: v.reason }) }));
    if (v.storeMismatch && (cause === "store-lost" || cause === "identity-replaced")) {
      dialog.append(el("p", { class: "cause", id: "mcg-store-mismatch", text: this.#t("storeMismatch.explained", { message: v.storeMismatch.message || "" }) }));
    }
    dialog.append(this.#factsView(v.facts));
    if (this.#exporting) dialog.append(this.#exportForm());
    else dialog.append(this.#choicesView(v.offers || []));
    dialog.append(el("div", { class: "status", id: "mcg-status", role: "status", "aria-live": "polite" }));
    dialog.append(el("div", { class: "alert", id: "mcg-alert", role: "alert" }));
    if (this.#clearAnyway) {
      dialog.append(
        el("p", { class: "what", id: "mcg-clear-anyway-what", text: this.#t("signout.clear-anyway.what") }),
        el("div", { class: "row" }, this.#button("clear-anyway", this.#t("signout.clear-anyway"), () => this.#run("sign-out", { clearAnyway: true }), { describedby: "mcg-clear-anyway-what" })),
      );
    }
    this.#root.replaceChildren(dialog);
    this.#setStatus(this.#lastStatus.text, this.#lastStatus.kind);
    this.#setAlert(this.#lastAlert);
  }

  #exporting = false;
  #clearAnyway = false;
  #lastStatus = { text: "", kind: "" };
  #lastAlert = "";

  #forgetChoice() {
    this.#exporting = false;
    this.#clearAnyway = false;
    this.#lastStatus = { text: "", kind: "" };
    this.#lastAlert = "";
  }

  /**
   * After a choice the prompt shows the guardian's state after it, not the one it was opened with:
   * nothing pending any more (the store loss accepted, a snooze) closes it; another cause replaces it.
   */
  #showStateAfterChoice() {
    let view = null;
    try {
      view = this.#guardian && typeof this.#guardian.recovery === "function" ? this.#guardian.recovery() : null;
    } catch {
      view = null;
    }
    if (!view) {
      if (this.open) this.close();
    } else if (this.open && (!this.#view || view.cause !== this.#view.cause)) {
      this.update(view);
    }
  }

  #factsView(facts) {
    const box = el("div", { id: "mcg-facts" }, el("h3", { text: this.#t("facts.heading") }));
    if (!facts) {
      box.append(el("p", { text: this.#t("facts.checking") }));
      return box;
    }
    const yn = (k) => this.#t(`fact.${k === "yes" ? "yes" : k === "no" ? "no" : "unknown"}`);
    const rows = [
      ["keyBackup", facts.keyBackup === "yes" && facts.keyBackupVersion ? this.#t("fact.backupVersion", { version: facts.keyBackupVersion }) : yn(facts.keyBackup)],
      ["secretStorage", yn(facts.secretStorage)],
      ["crossSigning", yn(facts.crossSigning)],
      ["deviceVerified", yn(facts.deviceVerified)],
      ["exportableKeys", Number.isFinite(facts.exportableKeys) ? String(facts.exportableKeys) : yn("unknown")],
    ];
    const dl = el("dl");
    for (const [key, value] of rows) dl.append(el("dt", { text: this.#t(`fact.${key}`) }), el("dd", { "data-fact": key, text: value }));
    box.append(dl);
    return box;
  }

  #choicesView(offers) {
    const box = el("div", { id: "mcg-choices" }, el("h3", { text: this.#t("choices.heading") }));
    const list = el("ul", { class: "choices" });
    for (const offer of offers) {
      const name = offer.remedy;
      const whatId = `mcg-what-${name}`;
      const item = el("li", { "data-remedy": name });
      const action = name === "export-keys" ? () => this.#startExport() : () => this.#run(name);
      // The store-loss continue keeps its historic id (hosts and tests use it).
      const id = name === "continue" ? "store-lost-continue" : `remedy-${name}`;
      const button = this.#button(id, this.#t(`remedy.${name}`), action, { primary: offer.recommended, describedby: whatId, remedy: name });
      item.append(button);
      if (offer.recommended) item.append(el("span", { class: "badge", text: this.#t("recommended") }));
      item.append(el("p", { class: "what", id: whatId, text: this.#t(`remedy.${name}.what`) }));
      if (offer.loses && offer.loses.length) {
        item.append(el("p", { class: "what", text: this.#t("loses.heading") }));
        const ul = el("ul", { class: "loses" });
        for (const loss of offer.loses) ul.append(el("li", { "data-loss": loss, text: this.#t(`loss.${loss}`) }));
        item.append(ul);
      }
      list.append(item);
    }
    box.append(list);
    return box;
  }

  #button(id, label, onClick, { primary = false, describedby, remedy } = {}) {
    const b = el("button", { type: "button", id, class: primary ? "primary" : null, "aria-describedby": describedby, "data-remedy": remedy, text: label });
    b.disabled = this.#busy;
    b.addEventListener("click", () => {
      if (!this.#busy) onClick();
    });
    return b;
  }

  #exportForm() {
    const form = el("form", { id: "mcg-export", "aria-labelledby": "mcg-export-title" });
    form.append(
      el("h3", { id: "mcg-export-title", text: this.#t("export.heading") }),
      el("label", { text: this.#t("export.passphrase") }, el("input", { id: "mcg-passphrase", type: "password", autocomplete: "new-password", required: true })),
      el("label", { text: this.#t("export.confirm") }, el("input", { id: "mcg-passphrase-confirm", type: "password", autocomplete: "new-password", required: true })),
      el("div", { class: "row" }, el("button", { type: "submit", id: "mcg-export-start", class: "primary", text: this.#t("export.start") }), this.#button("mcg-export-cancel", this.#t("export.cancel"), () => {
        this.#exporting = false;
        this.#render();
        this.#root.getElementById("remedy-export-keys")?.focus();
      })),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (this.#busy) return;
      const pass = this.#root.getElementById("mcg-passphrase").value;
      const again = this.#root.getElementById("mcg-passphrase-confirm").value;
      if (pass.length < 8) return this.#setAlert(this.#t("export.short"));
      if (pass !== again) return this.#setAlert(this.#t("export.mismatch"));
      this.#run("export-keys", { passphrase: pass });
    });
    return form;
  }

  #startExport() {
    this.#exporting = true;
    this.#setAlert("");
    this.#render();
    this.#root.getElementById("mcg-passphrase")?.focus();
  }

  #setStatus(text, kind = "") {
    this.#lastStatus = { text, kind };
    const s = this.#root.getElementById("mcg-status");
    if (s) {
      s.textContent = text || "";
      s.className = `status ${kind}`;
    }
  }

  #setAlert(text) {
    this.#lastAlert = text || "";
    const a = this.#root.getElementById("mcg-alert");
    if (a) a.textContent = this.#lastAlert;
  }

  #setBusy(busy) {
    this.#busy = busy;
    for (const b of this.#root.querySelectorAll("button")) b.disabled = busy;
    this.toggleAttribute("busy", busy);
  }

  /** Progress from the guardian's `remedy` events while a remedy runs. */
  progress(detail) {
    if (!this.open || !detail) return;
    if (detail.remedy === "repair" && detail.phase === "progress") {
      this.#setStatus(this.#t("repair.working", { claimed: detail.claimed ?? 0, remaining: detail.remaining ?? "?" }));
    } else if (detail.remedy === "repair" && detail.phase === "repaired") {
      this.#setStatus(this.#t("repair.done"), "ok");
      // Nothing left to choose: only Close.
      this.#root.getElementById("mcg-choices")?.replaceWith(el("div", { class: "row" }, this.#button("mcg-close", this.#t("close"), () => this.close())));
      this.#root.getElementById("mcg-close")?.focus();
    } else if (detail.remedy === "export-keys" && detail.phase === "working") {
      this.#setStatus(this.#t("export.working", { count: detail.count }));
    } else if (detail.remedy === "sign-out" && detail.phase === "clearing") {
      this.#setStatus(this.#t("signout.clearing"));
    }
  }

  async #run(name, args = {}) {
    const g = this.#guardian;
    if (!g) return;
    this.#setAlert("");
    this.#setBusy(true);
    if (name === "sign-out") this.#setStatus(this.#t("signout.working"));
    let result;
    try {
      result = await g.runRemedy(name, args);
    } catch (err) {
      this.#setBusy(false);
      this.#setAlert(this.#t(name === "export-keys" ? "export.failed" : "error.generic", { error: err && err.message ? err.message : String(err) }));
      this.#showStateAfterChoice();
      return;
    }
    this.#setBusy(false);
    this.#showStateAfterChoice();
    if (!this.open) return;
    if (name === "export-keys") {
      this.#exporting = false;
      this.#setStatus(this.#t("export.done", { count: result.count, file: result.file }), "ok");
      this.#render();
      this.#focusFirst();
    } else if (name === "sign-out") {
      if (result.deleted) {
        this.#setStatus(this.#t("signout.done"), "ok");
        return;
      }
      const o = result.logout || {};
      this.#setStatus("");
      this.#setAlert(
        o.outcome === "unreachable"
          ? this.#t("signout.unreachable", { error: o.reason || "" })
          : o.outcome === "unconfirmed"
            ? this.#t("signout.unconfirmed", { reason: o.reason || "" })
            : this.#t("signout.failed", { status: o.status ?? "?", error: o.error || o.errcode || "" }),
      );
      this.#clearAnyway = true;
      this.#render();
      this.#root.getElementById("clear-anyway")?.focus();
    } else if (name === "repair") {
      if (result.outcome === "done") this.#setStatus(this.#t("repair.drained", { claimed: result.claimed }), "ok");
      else this.#setAlert(this.#t("repair.stopped", { reason: result.reason || "" }));
    }
  }
}
