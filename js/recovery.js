// The recovery flow: when to prompt, the facts, and running a remedy. The decisions (offers, what may be
// deleted, drain steps, snooze) are the model's (src/remedy/model.rs), run by the lazily loaded module
// (fetched when a recovery is first needed: after trouble only); the prompt (./prompt.js) only draws
// this state. Headless hosts (Guardian.start({ prompt: false })) get the same through the guardian's
// `recovery`, `recovery-facts` and `remedy` events and recovery()/recoveryFacts()/remedies()/runRemedy().
import { OWN_PREFIX } from "./console-tap.js";

const REMEDIES = ["export-keys", "sign-out", "repair", "continue", "snooze"];
/** Waits before loading the remedy module again after a failed load. */
const MODULE_RETRY_MS = [2000, 8000, 30000];

/**
 * The prompt, its strings and the remedies' browser side, loaded with the module when a recovery is first
 * needed: a healthy page never fetches them (bundlers split them into lazy chunks).
 */
function loadUi() {
  return Promise.all([import("./remedies.js"), import("./prompt.js"), import("./strings.js")]).then(([remedies, prompt, strings]) => ({
    ...remedies,
    ...prompt,
    ...strings,
  }));
}

export class RecoveryFlow {
  #guardian;
  #ctx;
  #state = null; // { cause, reason, facts, offers }
  #snoozedUntil = null;
  #exported = false;
  #repairing = false;
  #prompt = null;
  #factsRun = 0;
  #m = null; // the lazily loaded module, once loaded
  #ui = null; // loadUi()'s modules, loaded with it
  #pending = null; // the last needed() while its module loads
  #generation = 0; // which needed() is the latest: a retry of an older one gives way
  #storeLossSettled = false; // store-loss-accepted seen: the store-lost prompt is moot

  /** `ctx.signal`: the guardian's lifetime; Guardian.stop() closes the prompt and ends the module retries. */
  constructor(guardian, ctx) {
    this.#guardian = guardian;
    this.#ctx = ctx;
    ctx.signal?.addEventListener("abort", () => this.#closePrompt(), { once: true });
  }

  view() {
    if (!this.#state) return null;
    const s = this.#ctx.session();
    return {
      cause: this.#state.cause,
      reason: this.#state.reason,
      session: { userId: s.userId, deviceId: s.deviceId, homeserver: s.baseUrl },
      facts: this.#state.facts ? { ...this.#state.facts } : null,
      offers: this.#state.offers.map((o) => ({ ...o, loses: [...o.loses] })),
      snoozedUntil: this.#snoozedUntil,
      // initRustCrypto() refused another account's store earlier in this page: what likely made the loss.
      storeMismatch: this.#ctx.storeMismatch?.() ?? null,
    };
  }

  /** The module that runs the remedy decisions (loaded once; a failed load is retried next time). */
  async #module() {
    if (!this.#m) {
      const [m, ui] = await Promise.all([this.#ctx.models(), loadUi()]);
      this.#ui = ui;
      this.#m = m;
    }
    return this.#m;
  }

  /**
   * A cause needs the user: store-lost at start, or a diagnosis. `serverConflict`: a new one from the
   * server. Resolves once the prompt state is set; a module that cannot load is reported, not thrown.
   */
  needed(cause, reason, serverConflict) {
    // A remedy asked for meanwhile (e.g. "continue" right after start) waits for this to settle.
    this.#pending = this.#needed(++this.#generation, cause, reason, serverConflict);
    return this.#pending;
  }

  async #needed(generation, cause, reason, serverConflict, attempt = 0) {
    if (generation !== this.#generation || (cause === "store-lost" && this.#storeLossSettled)) return;
    let m;
    try {
      m = await this.#module();
    } catch (err) {
      // A network blip at the wrong moment should not cost the user the prompt: try again a few times, in
      // the background (a remedy asked for meanwhile does not wait for the retries).
      if (attempt < MODULE_RETRY_MS.length && !this.#ctx.signal?.aborted) {
        const retry = () => (this.#pending = this.#needed(generation, cause, reason, serverConflict, attempt + 1));
        setTimeout(retry, MODULE_RETRY_MS[attempt])?.unref?.(); // Node: never keeps the process alive
        return;
      }
      const held = cause === "store-lost" ? "; key uploads stay held until continueDespiteStoreLoss() or a reload" : "";
      console.warn(`${OWN_PREFIX} recovery: the prompt cannot open, its module did not load (${err && err.message ? err.message : err})${held}`);
      return;
    }
    if (generation !== this.#generation || (cause === "store-lost" && this.#storeLossSettled)) return;
    if (!m.shouldPrompt(this.#snoozedUntil ?? undefined, Date.now(), !!serverConflict)) return;
    this.#snoozedUntil = null;
    const same = this.#state && this.#state.cause === cause;
    this.#state = { cause, reason: reason || "", facts: same ? this.#state.facts : null, offers: [] };
    this.#state.offers = this.#offers();
    this.#ctx.emit([{ type: "recovery", detail: this.view() }]);
    this.openPrompt();
    this.refreshFacts().catch(() => {});
  }

  /** Every guardian event passes here: diagnosis → prompt; a reopened breaker → back after a snooze. */
  observe(type, detail) {
    try {
      if (type === "store-loss-accepted") {
        this.#storeLossSettled = true;
        // However the user chose (the prompt, the host's own UI, the API), the store-lost prompt is over.
        if (this.#state && this.#state.cause === "store-lost") {
          this.#state = null;
          this.#closePrompt();
        }
      }
      if (type === "diagnosis" && detail && detail.diagnosis) {
        this.needed(detail.diagnosis.kind, detail.diagnosis.reason, true).catch(() => {});
      } else if (type === "breaker-open" && detail && detail.type === "reopened" && this.#state) {
        // The probe met the conflict again: a new answer from the server.
        this.needed(this.#state.cause, this.#state.reason, true).catch(() => {});
      } else if (type === "breaker-closed" && this.#repairing) {
        this.#repairing = false;
        this.#state = null;
        this.#ctx.emit([{ type: "remedy", detail: { remedy: "repair", phase: "repaired", at: Date.now() } }]);
      }
      if (type === "remedy") this.#prompt?.progress(detail);
    } catch {
      // Fail open: the prompt never breaks the guardian's events.
    }
  }

  /** The client was attached: facts the client knows (room keys, verification) can be read now. */
  attached() {
    if (this.#state) this.refreshFacts().catch(() => {});
  }

  #offers() {
    return this.#m.remedyOffers(this.#state.cause, this.#factsForCore());
  }

  #factsForCore() {
    const f = this.#state.facts || {};
    const storm = this.#ctx.storm();
    const kind = storm && storm.conflict ? storm.conflict.kind : null;
    let writer = "unknown";
    // Issue 4's writer lock: only a tab that holds it may repair; no lock (or never asked) = unknown.
    if (typeof this.#guardian.writer === "function") {
      try {
        const w = this.#guardian.writer();
        if (w && w.isWriter === true) writer = "writer";
        else if (w && w.role && w.role !== "idle") writer = "not-writer";
      } catch {
        writer = "unknown";
      }
    }
    // After a store loss there is nothing local to export: the verdict says the store is gone.
    const exportable = Number.isFinite(f.exportableKeys) ? f.exportableKeys : this.#state.cause === "store-lost" ? 0 : null;
    return {
      keyBackup: f.keyBackup || "unknown",
      keyBackupVersion: f.keyBackupVersion ?? null,
      secretStorage: f.secretStorage || "unknown",
      crossSigning: f.crossSigning || "unknown",
      deviceVerified: f.deviceVerified || "unknown",
      exportableKeys: exportable,
      writer,
      conflictOnOneTimeKey: kind === "one-time-key" ? "yes" : kind ? "no" : "unknown",
      exported: this.#exported,
    };
  }

  async refreshFacts() {
    if (!this.#state) return null;
    const run = ++this.#factsRun;
    const session = this.#ctx.session();
    let facts;
    if (session.accessToken && session.baseUrl && session.userId) {
      const m = await this.#module();
      facts = await this.#ui.gatherFacts(session, this.#ctx.client(), m);
    } else {
      facts = { keyBackup: "unknown", secretStorage: "unknown", crossSigning: "unknown", deviceVerified: "unknown", exportableKeys: null };
    }
    if (run !== this.#factsRun || !this.#state) return this.view();
    this.#state.facts = facts;
    this.#state.facts.exportableKeys = this.#factsForCore().exportableKeys;
    this.#state.offers = this.#offers();
    const view = this.view();
    this.#ctx.emit([{ type: "recovery-facts", detail: view }]);
    this.#prompt?.update(view);
    return view;
  }

  openPrompt() {
    if (!this.#state || this.#ctx.options.prompt === false) return false;
    if (!this.#prompt) {
      // #state is set only once #module() loaded: so is the UI.
      const { definePrompt, PROMPT_TAG, loadStrings, guardianLanguage } = this.#ui;
      if (!definePrompt()) return false;
      const el = document.createElement(PROMPT_TAG);
      this.#prompt = el;
      loadStrings(guardianLanguage(this.#ctx.options.lang), this.#ctx.options.strings || {}).then((strings) => {
        el.bind(this.#guardian, strings);
        // Mounted on <html>, outside <body>: a host that re-renders its body (some replace all of its
        // children) must not take the prompt away with it.
        document.documentElement.append(el);
        if (this.#state) el.show(this.view());
      });
      return true;
    }
    if (this.#prompt.isConnected) this.#prompt.show(this.view());
    return true;
  }

  #closePrompt() {
    this.#prompt?.close();
  }

  async run(name, args = {}) {
    // `action` is what the journal's one-line summary keeps (e.g. "sign-out clear-anyway").
    const emit = (detail) => this.#ctx.emit([{ type: "remedy", detail: { remedy: name, action: `${name} ${detail.phase}`, at: Date.now(), ...detail } }]);
    if (!REMEDIES.includes(name)) throw new TypeError(`matrix-crypto-guardian: unknown remedy "${name}"`);
    await Promise.resolve(this.#pending).catch(() => {});
    if (!this.#state) throw new Error("matrix-crypto-guardian: no recovery is pending");
    const m = this.#m; // loaded: a recovery is pending only once needed() had it
    if (name !== "snooze" && !m.remedyAllowed(this.#state.cause, this.#factsForCore(), name)) {
      emit({ phase: "refused", cause: this.#state.cause });
      throw new Error(`matrix-crypto-guardian: "${name}" is not offered for ${this.#state.cause}`);
    }
    const session = this.#ctx.session();
    switch (name) {
      case "snooze": {
        this.#snoozedUntil = m.snoozeUntil(Date.now(), Number.isFinite(args.ms) ? args.ms : undefined);
        emit({ phase: "done", until: this.#snoozedUntil, cause: this.#state.cause });
        this.#closePrompt();
        return { until: this.#snoozedUntil };
      }
      case "continue": {
        const released = this.#guardian.continueDespiteStoreLoss();
        emit({ phase: "done", released });
        this.#state = null;
        this.#closePrompt();
        return { released };
      }
      case "export-keys": {
        if (typeof args.passphrase !== "string" || args.passphrase === "") throw new TypeError("export-keys needs { passphrase }");
        const forensics = await this.#ctx.forensics();
        const out = await this.#ui.exportRoomKeys(this.#ctx.client(), forensics, args.passphrase, {
          rounds: args.rounds,
          fileName: args.fileName,
          download: args.download !== false,
          onWorking: (count) => emit({ phase: "working", count }),
        });
        this.#exported = true;
        this.#state.offers = this.#offers();
        emit({ phase: "done", count: out.count, file: out.file });
        this.#prompt?.update(this.view());
        return out;
      }
      case "sign-out": {
        const clearAnyway = args.clearAnyway === true;
        let logout = null;
        if (!clearAnyway) {
          emit({ phase: "logout" });
          logout = await this.#ui.serverLogout(session, m);
          emit({ phase: "logout-answered", logout });
        } else {
          // Journaled: the user chose to clear without a server sign-out.
          emit({ phase: "clear-anyway", journal: true });
        }
        const host = this.#ctx.options.signOut || {};
        // A host that names its stores gets exactly those; otherwise the preset's, narrowed to this
        // session's own stores (found by the store-loss check, whatever their names; never another account's).
        const hostPlan = host.databases || host.localStorageKeys || host.localStoragePrefixes ? (() => {
          const base = m.presetStores(session.preset);
          return {
            databases: host.databases || base.databases,
            localStorageKeys: host.localStorageKeys || base.localStorageKeys,
            localStoragePrefixes: host.localStoragePrefixes || base.localStoragePrefixes,
          };
        })() : null;
        const databases = await Promise.resolve()
          .then(() => indexedDB.databases())
          .then((l) => l.map((d) => d.name).filter(Boolean), () => []);
        const plan = m.deletionPlan(logout ? logout.outcome === "signed-out" : false, clearAnyway, session.preset, hostPlan, {
          databases,
          ownStore: session.ownStore,
          others: session.otherStores,
          userId: session.userId,
        });
        if (!plan) {
          emit({ phase: "kept", deleted: false });
          return { deleted: false, logout };
        }
        emit({ phase: "clearing" });
        const cleared = await this.#ui.clearStores(plan, this.#ctx.client());
        emit({ phase: "done", deleted: true, clearAnyway, databases: cleared.databases, localStorageKeys: cleared.localStorageKeys });
        if (args.reload !== false && host.reload !== false) {
          // The journal keeps the sign-out (and any "clear anyway") across the reload.
          await Promise.race([Promise.resolve(this.#guardian.flushJournal?.()).catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
          setTimeout(() => (host.reloadTo ? location.assign(String(host.reloadTo)) : location.reload()), 50);
        }
        return { deleted: true, logout, cleared };
      }
      case "repair": {
        emit({ phase: "started" });
        const out = await this.#ui.drainOneTimeKeys(session, m, (p) => emit({ phase: "progress", ...p }));
        if (out.outcome === "done") {
          this.#repairing = true;
          // The SDK re-sends its pending upload after the next sync: let it through as a probe.
          this.#ctx.requestProbe();
          emit({ phase: "drained", claimed: out.claimed, initial: out.initial });
        } else {
          emit({ phase: "stopped", reason: out.reason, claimed: out.claimed });
        }
        return out;
      }
    }
    return null;
  }
}
