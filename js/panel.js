// <matrix-crypto-guardian-panel>: the guardian's developer-tools panel, framework-free.
//
//   <matrix-crypto-guardian-panel></matrix-crypto-guardian-panel>   (uses window.matrixCryptoGuardian)
//   panel.guardian = guardian;                                      (or hand it one)
//
// Shadow root; text only through textContent; styles through a constructable stylesheet (no inline
// style, so a strict CSP page works); real <button>s, so Tab/Enter/Space work without any script of
// ours. Status per capability is green / amber / red with one line why; a capability this build or page
// does not run is grey "not active" — never a fake green. It reads the guardian, it decides nothing.

import { englishStrings, format, guardianLanguage, loadStrings } from "./strings.js";

// The element itself is a small shell (./panel-element.js, registered by the package's entry): it loads
// this module, its view, when it is first connected to a page.
export { GuardianPanel, definePanel } from "./panel-element.js";

const REFRESH_MS = 2000;
const EVENTS = [
  "storm", "diagnosis", "diagnosis-failed", "breaker-open", "breaker-probe", "breaker-closed", "store-lost",
  "store-loss-accepted", "writer-acquired", "writer-lost", "persistence", "remedy", "otk-inflation", "otk-limit",
  "store-mismatch",
];
/** Dispatched (bubbling, composed) by "Open recovery prompt" when the guardian has no prompt to open. */
export const OPEN_RECOVERY_EVENT = "matrix-crypto-guardian:open-recovery";

const CSS = `
:host { display: block; font: 13px/1.4 system-ui, sans-serif; color: CanvasText; border: 1px solid #8884; border-radius: 6px; padding: 10px 12px; max-width: 46rem; }
h2 { font-size: 14px; margin: 0 0 6px; }
h3 { font-size: 12px; margin: 10px 0 4px; text-transform: uppercase; letter-spacing: .04em; opacity: .75; }
ul { list-style: none; margin: 0; padding: 0; }
li.cap { display: grid; grid-template-columns: 1.1rem 9.5rem 1fr; gap: 6px; align-items: baseline; padding: 1px 0; }
.dot { width: .7rem; height: .7rem; border-radius: 50%; display: inline-block; background: #999; }
[data-level="green"] .dot { background: #1a7f37; }
[data-level="amber"] .dot { background: #bf8700; }
[data-level="red"] .dot { background: #cf222e; }
[data-level="grey"] { opacity: .7; }
.badges { display: flex; gap: 6px; flex-wrap: wrap; }
.badge { border-radius: 10px; padding: 1px 8px; background: #8882; font-variant-numeric: tabular-nums; }
.badge[data-hot] { background: #cf222e; color: white; }
ol.entries { margin: 0; padding: 0 0 0 1.2rem; max-height: 14rem; overflow: auto; font: 12px/1.35 ui-monospace, monospace; }
ol.entries li { margin: 2px 0; word-break: break-word; }
.actions { display: flex; gap: 6px; flex-wrap: wrap; margin-top: 10px; }
button { font: inherit; padding: 3px 10px; }
button:focus-visible { outline: 2px solid Highlight; outline-offset: 2px; }
.out { min-height: 1.2em; margin-top: 6px; }
`;

let sheet = null;
function styles() {
  if (sheet === null) {
    try {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    } catch {
      sheet = undefined; // no constructable stylesheets: unstyled, still usable
    }
  }
  return sheet;
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function call(fn) {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/**
 * Capability rows `{ id, name, level, why }` from what the guardian exposes (pure; exported for tests).
 * `strings`: the panel's language table (English by default).
 */
export function capabilityStatus(g, strings = englishStrings) {
  const t = (key, values) => format(strings, key, values);
  const rows = [];
  const row = (id, level, why) => rows.push({ id, name: t(`panel.cap.${id}`), level, why });
  const grey = (id) => row(id, "grey", t("panel.not-active"));

  const p = typeof g.persistence === "function" ? call(() => g.persistence()) : undefined;
  if (!p) grey("persist");
  else if (p.persisted === true) row("persist", "green", t("panel.cap.persist.granted"));
  else if (p.supported === false) row("persist", "red", t("panel.cap.persist.unsupported"));
  else if (p.persisted === false) row("persist", "amber", t("panel.cap.persist.denied", { outcome: p.outcome || t("panel.unknown") }));
  else row("persist", "grey", t("panel.cap.persist.unchecked"));

  const w = typeof g.writer === "function" ? call(() => g.writer()) : undefined;
  if (!w || w.role === "idle") grey("writer");
  else if (w.lost) row("writer", "red", t("panel.cap.writer.lost"));
  else if (w.isWriter) row("writer", "green", t("panel.cap.writer.writer", { mechanism: w.mechanism }));
  else row("writer", "amber", t("panel.cap.writer.waiting", { mechanism: w.mechanism }));

  const sc = typeof g.storeCheck === "function" ? call(() => g.storeCheck()) : undefined;
  if (!sc || sc.verdict === "not-checked") grey("store");
  else if (sc.verdict === "store-lost") row("store", "red", t("panel.cap.store.lost"));
  else if (sc.verdict === "healthy") row("store", "green", t("panel.cap.store.healthy"));
  else if (sc.verdict === "no-session") row("store", "green", t("panel.cap.store.no-session"));
  else row("store", "amber", t("panel.cap.store.other", { verdict: sc.verdict }));

  const s = typeof g.storm === "function" ? call(() => g.storm()) : undefined;
  if (!s) {
    grey("storm");
    grey("diagnosis");
  } else {
    const b = s.breaker || {};
    if (b.state === "open") row("storm", "red", t("panel.cap.storm.open", { answers: b.localAnswers || 0 }));
    else if (b.state === "probing") row("storm", "amber", t("panel.cap.storm.probing"));
    else if (s.active) row("storm", "amber", t("panel.cap.storm.seen"));
    else row("storm", "green", t("panel.cap.storm.watching"));
    const d = s.diagnosis || {};
    if (!s.active || d.kind === "undetermined") row("diagnosis", "green", t("panel.cap.diagnosis.none"));
    else if (d.kind === "pending") row("diagnosis", "amber", t("panel.cap.diagnosis.pending"));
    else row("diagnosis", "red", `${d.kind}: ${d.reason || ""}`);
  }

  const o = typeof g.otkHealth === "function" ? call(() => g.otkHealth()) : undefined;
  if (!o) grey("otk");
  else {
    const f = o.figures || {};
    const held = f.serverCount == null ? t("panel.unknown") : f.serverCount;
    if (o.kind === "otk-limit") row("otk", "red", t("panel.cap.otk.limit", { held: f.heldAtLimit ?? "?", limit: f.limit ?? "?", refusals: f.limitRejections, reason: o.reason }));
    else if (o.kind === "otk-inflation") row("otk", "red", t("panel.cap.otk.inflation", { uploaded: f.keysUploaded, uploads: f.acceptedUploads, held, capacity: f.deviceCapacity, reason: o.reason }));
    else row("otk", "green", f.serverCount == null ? t("panel.cap.otk.none-yet") : t("panel.cap.otk.healthy", { reason: o.reason }));
  }
  const mismatch = typeof g.storeMismatch === "function" ? call(() => g.storeMismatch()) : undefined;
  if (mismatch) row("store-mismatch", "red", t("panel.cap.store-mismatch.refused", { message: mismatch.message }));

  if (typeof g.recovery === "function") {
    const v = call(() => g.recovery());
    if (v && v.cause) row("remedy", "amber", t("panel.cap.remedy.offered", { cause: v.cause }));
    else row("remedy", "green", t("panel.cap.remedy.none"));
  } else grey("remedy");

  const sum = typeof g.diagnosticsSummary === "function" ? call(() => g.diagnosticsSummary(0)) : undefined;
  const db = sum && sum.ownDatabase;
  const journal = (sum && sum.journal) || {};
  if (!sum) grey("journal");
  else if (journal.state === "unavailable") row("journal", "amber", t("panel.cap.journal.unavailable", { reason: journal.reason || t("panel.unknown") }));
  else if (journal.state === "asleep") row("journal", "green", t("panel.cap.journal.asleep"));
  else if (journal.state === "waking") row("journal", "green", t("panel.cap.journal.waking"));
  else if (!db) row("journal", "amber", t("panel.cap.journal.opening"));
  else if (!db.available) row("journal", "amber", t("panel.cap.journal.memory"));
  else if (db.createdThisPage) row("journal", "amber", t("panel.cap.journal.new"));
  else row("journal", "green", t("panel.cap.journal.kept"));
  return rows;
}

/**
 * What the panel shows and does, drawn into its element's shadow root (the element, ./panel-element.js,
 * hands over its guardian and its connected / disconnected moments).
 */
export class PanelView {
  #host;
  #guardian = null;
  #root;
  #timer = null;
  #listener = () => this.refresh();
  #out;
  #strings = englishStrings;
  #language = null;

  constructor(host, root) {
    this.#host = host;
    this.#root = root;
    const s = styles();
    if (s) this.#root.adoptedStyleSheets = [s];
    this.#build();
  }

  /** The guardian shown (null: none yet). */
  setGuardian(g) {
    if (this.#guardian === g) return;
    this.#unsubscribe();
    this.#guardian = g;
    if (this.#host.isConnected) this.connected();
    else this.refresh();
  }

  connected() {
    this.#loadLanguage();
    this.#subscribe();
    this.refresh();
  }

  disconnected() {
    this.#unsubscribe();
  }

  #t(key, values) {
    return format(this.#strings, key, values);
  }

  /** The panel's language: its own `lang`, else the guardian's, else the page's; English until loaded. */
  #loadLanguage() {
    const own = this.#host.getAttribute("lang");
    const lang = guardianLanguage(own || this.#guardian?.language || undefined, this.#host.ownerDocument);
    if (lang === this.#language) return;
    this.#language = lang;
    loadStrings(lang).then((strings) => {
      if (this.#language !== lang) return;
      this.#strings = strings;
      this.#build();
      this.refresh();
    });
  }

  #subscribe() {
    const g = this.#guardian;
    if (g) for (const t of EVENTS) g.addEventListener(t, this.#listener);
    if (!this.#timer) this.#timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  #unsubscribe() {
    const g = this.#guardian;
    if (g) for (const t of EVENTS) g.removeEventListener(t, this.#listener);
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #build() {
    const section = el("section", { "aria-label": "matrix-crypto-guardian" });
    section.append(
      el("h2", { part: "title" }, this.#t("panel.title")),
      el("div", { class: "version" }),
      el("h3", {}, this.#t("panel.status")),
      el("ul", { class: "caps" }),
      el("h3", {}, this.#t("panel.symptoms")),
      el("div", { class: "badges" }),
      el("h3", {}, this.#t("panel.entries")),
      el("ol", { class: "entries", tabindex: "0", "aria-label": this.#t("panel.entries") }),
    );
    const actions = el("div", { class: "actions" });
    const button = (action, label) => {
      const b = el("button", { type: "button", "data-action": action }, label);
      b.addEventListener("click", () => this.#act(action));
      actions.append(b);
    };
    for (const action of ["download", "copy", "persist", "recovery"]) button(action, this.#t(`panel.action.${action}`));
    this.#out = el("div", { class: "out", role: "status", "aria-live": "polite" });
    section.append(actions, this.#out);
    this.#root.replaceChildren(section);
  }

  async #act(action) {
    const g = this.#guardian;
    const say = (key, values) => (this.#out.textContent = this.#t(key, values));
    if (!g) return say("panel.out.not-loaded");
    try {
      if (action === "download") say("panel.out.saved", { file: await g.downloadReport() });
      else if (action === "copy") say((await g.copyReport()) ? "panel.out.copied" : "panel.out.copy-refused");
      else if (action === "persist") {
        if (typeof g.requestPersistence !== "function") return say("panel.out.persist-inactive");
        const p = await g.requestPersistence();
        if (p && p.persisted) say("panel.out.persisted");
        else say("panel.out.not-granted", { outcome: (p && p.outcome) || this.#t("panel.unknown") });
      } else if (action === "recovery") {
        if (typeof g.openPrompt === "function") {
          say((await g.openPrompt()) ? "panel.out.prompt-opened" : "panel.out.nothing-to-recover");
        } else {
          this.#host.dispatchEvent(new CustomEvent(OPEN_RECOVERY_EVENT, { bubbles: true, composed: true, detail: { storm: call(() => g.storm()) } }));
          say("panel.out.host-asked");
        }
      }
    } catch (err) {
      say("panel.out.failed", { error: err && err.message ? err.message : err });
    }
    this.refresh();
  }

  /** Re-reads the guardian (also done on its events and every 2 s while connected). */
  refresh() {
    const g = this.#guardian;
    const q = (s) => this.#root.querySelector(s);
    q(".version").textContent = g ? this.#t("panel.version", { version: call(() => g.version) ?? "?" }) : this.#t("panel.not-loaded");
    const caps = g ? capabilityStatus(g, this.#strings) : [];
    q(".caps").replaceChildren(
      ...caps.map((c) => {
        const li = el("li", { class: "cap", "data-capability": c.id, "data-level": c.level });
        li.append(el("span", { class: "dot", "aria-hidden": "true" }), el("span", { class: "name" }, c.name), el("span", { class: "why" }, `${c.level === "grey" ? "" : this.#t(`panel.level.${c.level}`) + " — "}${c.why}`));
        return li;
      }),
    );
    const sum = g && typeof g.diagnosticsSummary === "function" ? call(() => g.diagnosticsSummary(8)) : null;
    const counts = (sum && sum.keCounts) || {};
    q(".badges").replaceChildren(
      ...["KE-1", "KE-2", "KE-3", "KE-4"].map((ke) => {
        const n = counts[ke] || 0;
        const b = el("span", { class: "badge", "data-ke": ke }, `${ke}: ${n}`);
        if (n > 0) b.setAttribute("data-hot", "");
        return b;
      }),
    );
    const entries = (sum && sum.last) || [];
    q(".entries").replaceChildren(
      ...(entries.length
        ? entries
            .slice()
            .reverse()
            .map((e) =>
              el("li", { "data-signature": e.signature }, `${new Date(e.lastAt).toLocaleTimeString()} ${e.ke || e.source} ×${e.count} ${e.message}`),
            )
        : [el("li", {}, this.#t("panel.no-entries"))]),
    );
  }
}
