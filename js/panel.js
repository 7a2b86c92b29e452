// <matrix-crypto-guardian-panel>: the guardian's developer-tools panel, framework-free.
//
//   <matrix-crypto-guardian-panel></matrix-crypto-guardian-panel>   (uses window.matrixCryptoGuardian)
//   panel.guardian = guardian;                                      (or hand it one)
//
// Shadow root; text only through textContent; styles through a constructable stylesheet (no inline
// style, so a strict CSP page works); real <button>s, so Tab/Enter/Space work without any script of
// ours. Status per capability is green / amber / red with one line why; a capability this build or page
// does not run is grey "not active" — never a fake green. It reads the guardian, it decides nothing.

const TAG = "matrix-crypto-guardian-panel";
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

/** Capability rows `{ id, name, level, why }` from what the guardian exposes (pure; exported for tests). */
export function capabilityStatus(g) {
  const rows = [];
  const grey = (id, name) => rows.push({ id, name, level: "grey", why: "not active" });

  const p = typeof g.persistence === "function" ? call(() => g.persistence()) : undefined;
  if (!p) grey("persist", "Persistent storage");
  else if (p.persisted === true) rows.push({ id: "persist", name: "Persistent storage", level: "green", why: "granted: the browser will not evict the crypto store" });
  else if (p.supported === false) rows.push({ id: "persist", name: "Persistent storage", level: "red", why: "this browser cannot make storage persistent" });
  else if (p.persisted === false) rows.push({ id: "persist", name: "Persistent storage", level: "amber", why: `not granted (${p.outcome || "unknown"}): the store may be evicted` });
  else rows.push({ id: "persist", name: "Persistent storage", level: "grey", why: "not checked yet" });

  const w = typeof g.writer === "function" ? call(() => g.writer()) : undefined;
  if (!w || w.role === "idle") grey("writer", "Single writer");
  else if (w.lost) rows.push({ id: "writer", name: "Single writer", level: "red", why: "another tab took the crypto writer role" });
  else if (w.isWriter) rows.push({ id: "writer", name: "Single writer", level: "green", why: `this tab is the crypto writer (${w.mechanism})` });
  else rows.push({ id: "writer", name: "Single writer", level: "amber", why: `waiting: another tab is the writer (${w.mechanism})` });

  const sc = typeof g.storeCheck === "function" ? call(() => g.storeCheck()) : undefined;
  if (!sc || sc.verdict === "not-checked") grey("store", "Store-loss check");
  else if (sc.verdict === "store-lost") rows.push({ id: "store", name: "Store-loss check", level: "red", why: "the session survived but its crypto store is gone" });
  else if (sc.verdict === "healthy") rows.push({ id: "store", name: "Store-loss check", level: "green", why: "session and crypto store were both present at start" });
  else if (sc.verdict === "no-session") rows.push({ id: "store", name: "Store-loss check", level: "green", why: "no session at start: nothing could be lost" });
  else rows.push({ id: "store", name: "Store-loss check", level: "amber", why: `could not tell (${sc.verdict})` });

  const s = typeof g.storm === "function" ? call(() => g.storm()) : undefined;
  if (!s) {
    grey("storm", "Storm watch");
    grey("diagnosis", "Diagnosis");
  } else {
    const b = s.breaker || {};
    if (b.state === "open") rows.push({ id: "storm", name: "Storm watch", level: "red", why: `keys/upload loop stopped: breaker open, ${b.localAnswers || 0} retries answered locally` });
    else if (b.state === "probing") rows.push({ id: "storm", name: "Storm watch", level: "amber", why: "probing: one real keys/upload let through" });
    else if (s.active) rows.push({ id: "storm", name: "Storm watch", level: "amber", why: "a conflict was seen in this page; uploads pass again" });
    else rows.push({ id: "storm", name: "Storm watch", level: "green", why: "watching keys/upload: no conflict" });
    const d = s.diagnosis || {};
    if (!s.active || d.kind === "undetermined") rows.push({ id: "diagnosis", name: "Diagnosis", level: "green", why: "no conflict to explain" });
    else if (d.kind === "pending") rows.push({ id: "diagnosis", name: "Diagnosis", level: "amber", why: "the cause is being checked" });
    else rows.push({ id: "diagnosis", name: "Diagnosis", level: "red", why: `${d.kind}: ${d.reason || ""}` });
  }

  const o = typeof g.otkHealth === "function" ? call(() => g.otkHealth()) : undefined;
  if (!o) grey("otk", "One-time keys");
  else {
    const f = o.figures || {};
    const held = f.serverCount == null ? "unknown" : f.serverCount;
    if (o.kind === "otk-limit") rows.push({ id: "otk", name: "One-time keys", level: "red", why: `at the server's cap (${f.heldAtLimit ?? "?"} held, limit ${f.limit ?? "?"}): ${f.limitRejections} refusal(s) from the server, repeats answered with its own refusal. ${o.reason}` });
    else if (o.kind === "otk-inflation") rows.push({ id: "otk", name: "One-time keys", level: "red", why: `inflation: ${f.keysUploaded} keys in ${f.acceptedUploads} uploads, the server holds ${held} (device keeps ~${f.deviceCapacity}). ${o.reason}` });
    else rows.push({ id: "otk", name: "One-time keys", level: "green", why: f.serverCount == null ? "no one-time-key upload seen yet" : `${o.reason}: within what the device holds` });
  }
  const mismatch = typeof g.storeMismatch === "function" ? call(() => g.storeMismatch()) : undefined;
  if (mismatch) rows.push({ id: "store-mismatch", name: "Crypto store", level: "red", why: `initRustCrypto() refused the store: it holds another account (${mismatch.message})` });

  if (typeof g.recovery === "function") {
    const v = call(() => g.recovery());
    if (v && v.cause) rows.push({ id: "remedy", name: "Remedy", level: "amber", why: `a remedy is offered (${v.cause}): open the recovery prompt` });
    else rows.push({ id: "remedy", name: "Remedy", level: "green", why: "nothing to mend" });
  } else grey("remedy", "Remedy");

  const sum = typeof g.diagnosticsSummary === "function" ? call(() => g.diagnosticsSummary(0)) : undefined;
  const db = sum && sum.ownDatabase;
  const journal = (sum && sum.journal) || {};
  if (!sum) grey("journal", "Journal");
  else if (journal.state === "unavailable") rows.push({ id: "journal", name: "Journal", level: "amber", why: `not kept: its module could not load (${journal.reason || "unknown reason"})` });
  else if (journal.state === "asleep") rows.push({ id: "journal", name: "Journal", level: "green", why: "asleep: nothing troubling in this page (it wakes on the first sign of trouble, or for a report)" });
  else if (journal.state === "waking") rows.push({ id: "journal", name: "Journal", level: "green", why: "waking: loading the journal…" });
  else if (!db) rows.push({ id: "journal", name: "Journal", level: "amber", why: "opening the guardian's own database…" });
  else if (!db.available) rows.push({ id: "journal", name: "Journal", level: "amber", why: "kept in memory only: the guardian's own database cannot be opened" });
  else if (db.createdThisPage) rows.push({ id: "journal", name: "Journal", level: "amber", why: "kept across reloads; its database was new in this page (first run, or the site's storage was cleared)" });
  else rows.push({ id: "journal", name: "Journal", level: "green", why: "kept across reloads in the guardian's own database" });
  return rows;
}

// Outside a browser (SSR, node) importing the package must not fail: the class then has a dummy base.
const ElementBase = typeof HTMLElement !== "undefined" ? HTMLElement : class {};

export class GuardianPanel extends ElementBase {
  #guardian = null;
  #root;
  #timer = null;
  #listener = () => this.refresh();
  #readyListener = (e) => {
    if (!this.#guardian && e.detail) this.guardian = e.detail;
  };
  #out;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    const s = styles();
    if (s) this.#root.adoptedStyleSheets = [s];
    this.#build();
  }

  /** The guardian shown (default: window.matrixCryptoGuardian once it is loaded). */
  get guardian() {
    return this.#guardian;
  }

  set guardian(g) {
    if (this.#guardian === g) return;
    this.#unsubscribe();
    this.#guardian = g && typeof g.storm === "function" ? g : null;
    if (this.isConnected) this.#subscribe();
    this.refresh();
  }

  connectedCallback() {
    if (!this.#guardian) {
      const g = globalThis.matrixCryptoGuardian;
      if (g && typeof g.storm === "function") this.#guardian = g;
      else document.addEventListener("matrix-crypto-guardian:ready", this.#readyListener);
    }
    this.#subscribe();
    this.refresh();
  }

  disconnectedCallback() {
    this.#unsubscribe();
    document.removeEventListener("matrix-crypto-guardian:ready", this.#readyListener);
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
      el("h2", { part: "title" }, "Encryption guardian"),
      el("div", { class: "version" }),
      el("h3", {}, "Status"),
      el("ul", { class: "caps" }),
      el("h3", {}, "Symptoms seen (KE)"),
      el("div", { class: "badges" }),
      el("h3", {}, "Last journal entries"),
      el("ol", { class: "entries", tabindex: "0", "aria-label": "last journal entries" }),
    );
    const actions = el("div", { class: "actions" });
    const button = (action, label) => {
      const b = el("button", { type: "button", "data-action": action }, label);
      b.addEventListener("click", () => this.#act(action));
      actions.append(b);
    };
    button("download", "Download report");
    button("copy", "Copy report");
    button("persist", "Request persistent storage");
    button("recovery", "Open recovery prompt");
    this.#out = el("div", { class: "out", role: "status", "aria-live": "polite" });
    section.append(actions, this.#out);
    this.#root.append(section);
  }

  async #act(action) {
    const g = this.#guardian;
    const say = (t) => (this.#out.textContent = t);
    if (!g) return say("The guardian is not loaded.");
    try {
      if (action === "download") say(`Saved ${await g.downloadReport()}`);
      else if (action === "copy") say((await g.copyReport()) ? "Report copied to the clipboard." : "The browser refused the clipboard; use Download.");
      else if (action === "persist") {
        if (typeof g.requestPersistence !== "function") return say("Persistent storage is not active in this build.");
        const p = await g.requestPersistence();
        say(p && p.persisted ? "Storage is persistent." : `Not granted (${(p && p.outcome) || "unknown"}).`);
      } else if (action === "recovery") {
        if (typeof g.openPrompt === "function") {
          say((await g.openPrompt()) ? "Recovery prompt opened." : "Nothing to recover now (or the host shows its own prompt).");
        } else {
          this.dispatchEvent(new CustomEvent(OPEN_RECOVERY_EVENT, { bubbles: true, composed: true, detail: { storm: call(() => g.storm()) } }));
          say("No recovery prompt in this build; the host was asked to open one.");
        }
      }
    } catch (err) {
      say(`Failed: ${err && err.message ? err.message : err}`);
    }
    this.refresh();
  }

  /** Re-reads the guardian (also done on its events and every 2 s while connected). */
  refresh() {
    const g = this.#guardian;
    const q = (s) => this.#root.querySelector(s);
    q(".version").textContent = g ? `version ${call(() => g.version) ?? "?"}` : "guardian not loaded";
    const caps = g ? capabilityStatus(g) : [];
    q(".caps").replaceChildren(
      ...caps.map((c) => {
        const li = el("li", { class: "cap", "data-capability": c.id, "data-level": c.level });
        li.append(el("span", { class: "dot", "aria-hidden": "true" }), el("span", { class: "name" }, c.name), el("span", { class: "why" }, `${c.level === "grey" ? "" : c.level + " — "}${c.why}`));
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
        : [el("li", {}, "nothing journaled")]),
    );
  }
}

/** Defines the custom element once (safe to call repeatedly, and outside a browser). */
export function definePanel(name = TAG) {
  if (typeof customElements === "undefined" || typeof HTMLElement === "undefined") return false;
  if (!customElements.get(name)) customElements.define(name, name === TAG ? GuardianPanel : class extends GuardianPanel {});
  return true;
}

definePanel();
