// Diagnostics glue: feeds the journal (console tap + guardian events), persists it per session in the
// guardian's own IndexedDB (src/diagnostics/own_db.rs), keeps the per-device sentinel, and asks for the
// redacted report (its browser side, js/report.js, is loaded for the first one). Classification, bounds,
// de-duplication and redaction are the model's (src/diagnostics/journal.rs, redact.rs), run by the lazily
// loaded module like the report (report.rs).
//
// The journal sleeps until the first sign of trouble in the page (the core says which events and console
// lines wake it) or until it is read (journal(), the report, the panel). A healthy page so never fetches
// the journal's code and never writes a journal; the few routine events it has (writer, persistence) are
// kept in memory and journaled, with their times, if the journal wakes later in that page.
//
// This file only gathers browser facts and schedules writes. Every failure here is swallowed and
// journaled or printed once with the guardian's prefix: diagnostics never break the host or the guardian.
import { consoleLineWakesJournal, sentinelUpdate, wakesJournal } from "./core/guardian_core.js";
import { OwnDb } from "./core/guardian_core.js";
import { OWN_PREFIX } from "./console-tap.js";
import { whenIdle } from "./platform.js";

/** Journal writes are coalesced: at most one per this many ms during a storm. */
const SAVE_DELAY_MS = 1000;
/**
 * Where a page that goes away with an unfinished journal write leaves it (localStorage + session key). An
 * IndexedDB write started in `pagehide` cannot finish (it must open the database first); a localStorage
 * write is synchronous. The next page of that session takes it back instead of the stored journal.
 */
const TAIL_PREFIX = "matrix-crypto-guardian:journal-tail:";

export class Diagnostics {
  #guardian;
  #journal = null; // the module's JournalCore once awake
  #waking = null; // the wake under way
  #wakeFailure = null; // why the last wake failed (the next need tries again)
  #early = []; // what the page saw while the journal slept: { event | console, at }
  #redact = null; // the module's redactText once loaded
  #db;
  #capacity;
  #loadModule;
  #session = null; // { userId, deviceId, key }
  #client = null;
  #saveTimer = null;
  #saving = Promise.resolve();
  #dirty = false;
  #savesUnderway = 0;
  #lastSaveAt = 0;
  #ownDb = null; // { available, createdThisPage, previousVersion, error }
  #ownDbReady;
  #otkCounts = null;
  #sentinel = null;
  #sentinelWrites = Promise.resolve();
  #warned = false;

  #sdkVersion;

  /**
   * `loadModule`: resolves to the lazily loaded module (the report is built there). `signal`: the guardian's
   * lifetime; its abort (Guardian.stop(), which then flushes) removes the page listeners.
   */
  constructor(guardian, { capacity, db, dbName, consoleTap, sdkVersion, loadModule, signal } = {}) {
    this.#guardian = guardian;
    this.#sdkVersion = sdkVersion ?? null;
    this.#capacity = capacity ?? 200;
    this.#loadModule = loadModule;
    this.#db = db ?? new OwnDb(dbName);
    // Nothing needs the answer at start: asked when the page is idle, by then usually from the store-loss
    // check's sentinel read on the same OwnDb (one open at start, and still "created by this page" or not).
    this.#ownDbReady = whenIdle().then(() => this.#db.open()).then(
      (o) => (this.#ownDb = { available: true, createdThisPage: o.previousVersion === 0, previousVersion: o.previousVersion }),
      (err) => (this.#ownDb = { available: false, createdThisPage: false, previousVersion: null, error: String(err) }),
    );
    if (consoleTap) consoleTap.attach((level, text, at) => this.#recordConsole(level, text, at));
    globalThis.addEventListener?.("pagehide", () => this.#leaveTail(), { signal });
    // Back from the back/forward cache: this page lives on and saves as usual; its tail is stale.
    globalThis.addEventListener?.("pageshow", (e) => e.persisted && this.#journal && this.#takeTail(this.#journal.sessionKey()), { signal });
  }

  #leaveTail() {
    try {
      const key = this.#journal && this.#journal.sessionKey();
      if (key && (this.#dirty || this.#savesUnderway > 0)) globalThis.localStorage.setItem(TAIL_PREFIX + key, this.#journal.toStoredJson());
    } catch {
      // No localStorage, or full: the last second of a storm's journal is lost, nothing else.
    }
  }

  /** The journal a previous page of this session could not finish writing (removed as it is read). */
  #takeTail(key) {
    try {
      const tail = key ? globalThis.localStorage.getItem(TAIL_PREFIX + key) : null;
      if (tail !== null) globalThis.localStorage.removeItem(TAIL_PREFIX + key);
      return tail;
    } catch {
      return null;
    }
  }

  #recordConsole(level, text, at) {
    if (this.#journal) {
      if (this.#journal.recordConsole(level, text, at)) this.#scheduleSave();
    } else if (consoleLineWakesJournal(text)) {
      this.#keepEarly({ console: { level, text }, at });
      this.#wake().catch(() => {});
    }
  }

  /** A guardian event (from Guardian#emit). */
  record(type, detail) {
    try {
      if (this.#journal) {
        if (this.#journal.recordEvent(type, detail ?? null, Date.now())) this.#scheduleSave();
        return;
      }
      this.#keepEarly({ event: { type, detail: detail ?? null }, at: Date.now() });
      if (wakesJournal(type)) this.#wake().catch(() => {});
    } catch (err) {
      this.#warn("journal", err);
    }
  }

  /** While the journal sleeps: the newest `capacity` of what it would have been told. */
  #keepEarly(item) {
    this.#early.push(item);
    if (this.#early.length > this.#capacity) this.#early.shift();
  }

  /**
   * Wakes the journal: loads the module, tells it what the page saw so far, merges the session's stored
   * journal and writes. Resolves when done; rejects when the module cannot load (tried again on the next
   * need; what the page saw is kept meanwhile).
   */
  #wake() {
    if (this.#journal && !this.#waking) return Promise.resolve();
    this.#waking ??= this.#wakeNow().finally(() => (this.#waking = null));
    return this.#waking;
  }

  async #wakeNow() {
    try {
      const module = await this.#loadModule();
      const journal = new module.JournalCore(this.#capacity);
      this.#redact = module.redactText;
      if (this.#session) journal.setSession(this.#session.userId, this.#session.deviceId, false);
      for (const { event, console: line, at } of this.#early) {
        if (event) journal.recordEvent(event.type, event.detail, at);
        else journal.recordConsole(line.level, line.text, at);
      }
      this.#early = [];
      this.#journal = journal;
      this.#wakeFailure = null;
    } catch (err) {
      this.#wakeFailure = String(err && err.message ? err.message : err);
      throw err;
    }
    if (this.#session) await this.#mergeStored(this.#session.key);
    this.#dirty = true;
    await this.flush();
  }

  /** Folds the session's stored journal under this page's entries (a tail first: it is the newer). */
  async #mergeStored(key) {
    try {
      await this.#ownDbReady;
      const stored = this.#takeTail(key) ?? (await this.#db.load("journal", key));
      // The page may have switched sessions meanwhile: then this journal is not that session's.
      if (!stored || this.#journal.sessionKey() !== key) return;
      if (!this.#journal.mergeStored(stored)) this.#warn("journal", "stored journal unreadable; starting anew");
    } catch (err) {
      this.#warn("own database", err);
    }
  }

  /** `asleep` (nothing troubling yet), `waking`, `awake`, or `unavailable` with the reason. */
  journalState() {
    if (this.#journal) return { state: "awake" };
    if (this.#waking) return { state: "waking" };
    if (this.#wakeFailure) return { state: "unavailable", reason: this.#wakeFailure };
    return { state: "asleep" };
  }

  /** The client's session: its sentinel is observed; an awake journal folds the session's stored one in. */
  async attachSession(client) {
    this.#client = client;
    await this.adoptSession(client.getUserId && client.getUserId(), client.getDeviceId && client.getDeviceId());
  }

  /** Journals under this session from now on (attach, or the user/device of a keys/upload request). */
  async adoptSession(userId, deviceId) {
    if (typeof userId !== "string" || typeof deviceId !== "string" || !userId || !deviceId) return;
    const key = `${userId}|${deviceId}`;
    if (this.#session && this.#session.key === key) return;
    const switching = this.#session !== null;
    if (switching) await this.flush();
    this.#session = { userId, deviceId, key };
    this.#otkCounts = null;
    // A new session in this page starts its own journal; the first one takes the page's early lines.
    if (this.#journal) {
      this.#journal.setSession(userId, deviceId, switching);
      await this.#mergeStored(key);
    } else if (switching) {
      this.#early = [];
    }
    try {
      await this.#ownDbReady;
      this.#sentinel = await this.#observeSentinel(userId, deviceId, undefined);
    } catch (err) {
      this.#warn("own database", err);
    }
    this.#dirty = true;
    await this.flush();
  }

  /**
   * A keys/upload answer seen by the fetch tap: accepted ones give OTK counts and the ed25519.
   * `readAcceptedUpload`: the watch module's reader (loaded already: the storm watch decided about this
   * upload), passed in so the session is adopted at once, as the answer comes.
   */
  observeUpload(body, status, bytes, readAcceptedUpload) {
    try {
      const seen = readAcceptedUpload(typeof body === "string" ? body : "", status === 200 && bytes ? bytes : new Uint8Array());
      // Without attach() (the drop-in) the session is the one the uploads name. The device keys travel
      // only in the first accepted upload, so its identity is recorded once the session is adopted.
      const adopted = !this.#session && seen.userId && seen.deviceId ? this.adoptSession(seen.userId, seen.deviceId) : null;
      if (status !== 200) return;
      Promise.resolve(adopted).then(() => this.#learnFromAccepted(seen));
    } catch (err) {
      this.#warn("upload", err);
    }
  }

  #learnFromAccepted(seen) {
    try {
      if (!this.#session) return;
      if (seen.otkCounts) this.#otkCounts = { counts: seen.otkCounts, seenAt: Date.now(), source: "keys/upload" };
      const { userId, deviceId } = this.#session;
      if (seen.ed25519 && seen.userId === userId && seen.deviceId === deviceId) {
        this.#observeSentinel(userId, deviceId, seen.ed25519).then(
          (s) => (this.#sentinel = s),
          (err) => this.#warn("own database", err),
        );
      }
    } catch (err) {
      this.#warn("upload", err);
    }
  }

  /**
   * Observes the session (and an ed25519 from an accepted upload): the core says whether the stored
   * sentinel needs a write (a new device or key, or once a day). Resolves to the current sentinel or null.
   * One at a time: each is a read-modify-write, and the session's observation and the first accepted
   * upload's come close together; run side by side, the later write could drop the ed25519 the other wrote.
   */
  #observeSentinel(userId, deviceId, ed25519) {
    const run = this.#sentinelWrites.then(() => this.#observeSentinelNow(userId, deviceId, ed25519));
    this.#sentinelWrites = run.catch(() => {});
    return run;
  }

  async #observeSentinelNow(userId, deviceId, ed25519) {
    const key = `${userId}|${deviceId}`;
    const stored = await this.#db.load("sentinel", key);
    const next = sentinelUpdate(stored ?? undefined, userId, deviceId, ed25519 ?? undefined, Date.now());
    if (next) {
      await this.#db.save("sentinel", key, JSON.stringify(next));
      return next;
    }
    return parseOrNull(stored);
  }

  // Leading-edge throttle: a lone entry is written at once (a reload right after it keeps it); a storm's
  // entries are coalesced into at most one write per SAVE_DELAY_MS.
  #scheduleSave() {
    this.#dirty = true;
    if (this.#saveTimer || !this.#session) return;
    const wait = Math.max(0, this.#lastSaveAt + SAVE_DELAY_MS - Date.now());
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = null;
      this.flush();
    }, wait);
    this.#saveTimer?.unref?.(); // Node: never what keeps a bot's process alive (Guardian.stop() flushes)
  }

  /** Writes the journal now if it changed; resolves when written (never rejects). */
  flush() {
    if (this.#saveTimer) {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = null;
    }
    this.#saving = this.#saving.then(async () => {
      const key = this.#journal && this.#journal.sessionKey();
      if (!this.#dirty || !key) return;
      this.#dirty = false;
      this.#lastSaveAt = Date.now();
      this.#savesUnderway++;
      try {
        await this.#ownDbReady;
        if (this.#ownDb && this.#ownDb.available) await this.#db.save("journal", key, this.#journal.toStoredJson());
      } catch (err) {
        this.#warn("own database", err);
      } finally {
        this.#savesUnderway--;
      }
    });
    return this.#saving;
  }

  /** Resolves to the journal, woken if asleep: `{ v, session, capacity, total, dropped, keCounts, entries }`. */
  async journal() {
    await this.#wake();
    return this.#journal.snapshot();
  }

  /** KE counts of the journal; `{}` while it sleeps (nothing troubling in this page). */
  keCounts() {
    return this.#journal ? this.#journal.keCounts() : {};
  }

  lastEntries(n = 20) {
    return this.#journal ? this.#journal.last(n) : [];
  }

  ownDatabase() {
    return this.#ownDb;
  }

  /** The redacted report object (schema: docs/diagnostics.md); its browser side is js/report.js, loaded for it. */
  async report() {
    const [{ reportInput }] = await Promise.all([import("./report.js"), this.#ownDbReady]);
    const input = reportInput(this.#guardian, this.#client, {
      sdkVersion: this.#sdkVersion,
      session: this.#session,
      ownDatabase: this.#ownDb ? { ...this.#ownDb, sentinel: this.#sentinel ?? null } : null,
      otkCounts: this.#otkCounts,
      journalSessions: await safeAsync(() => (this.#ownDb?.available ? this.#db.sessions("journal") : null)),
    });
    // Without attach() and before any upload (a store loss holds them), the session is the checked one.
    const checked = input.storeCheck && input.storeCheck.session;
    const key = this.#session?.key ?? (checked && checked.userId && checked.deviceId ? `${checked.userId}|${checked.deviceId}` : null);
    if (this.#ownDb?.available && key && !this.#sentinel) {
      input.ownDatabase.sentinel = parseOrNull(await safeAsync(() => this.#db.load("sentinel", key)));
    }
    const module = await this.#loadModule();
    await this.#wake();
    return module.buildReport(input, this.#journal.toStoredJson(), this.#capacity);
  }

  /** Saves the report as `matrix-crypto-guardian-report-<UTC time>.json`; resolves to the file name. */
  async downloadReport() {
    const [report, { download }] = await Promise.all([this.report(), import("./report.js")]);
    return download(report);
  }

  /** Copies the report (JSON text) to the clipboard; resolves to true when it was copied. */
  async copyReport() {
    const [report, { copy }] = await Promise.all([this.report(), import("./report.js")]);
    return copy(report);
  }

  #warn(what, err) {
    if (this.#warned) return;
    this.#warned = true;
    // Printed with the guardian's prefix (the console tap skips it). A message is printed redacted, so only
    // once the module that redacts is loaded; until then the error's name says what kind it was.
    const why = typeof err === "string" ? err : this.#redact ? this.#redact(String(err && err.message ? err.message : err)) : (err && err.name) || "Error";
    console.warn(`${OWN_PREFIX} diagnostics: ${what}: ${why}`);
  }
}

/** JSON text → value; null for null or unreadable text. */
function parseOrNull(text) {
  try {
    return typeof text === "string" ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

async function safeAsync(fn) {
  try {
    return (await fn()) ?? null;
  } catch {
    return null;
  }
}
