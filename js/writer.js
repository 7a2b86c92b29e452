// One crypto writer per session across tabs: the browser side.
//
// Web Locks where available: an exclusive lock, requested with `navigator.locks.request(name, {mode:
// "exclusive", ifAvailable | steal}, cb)`, whose callback returns a promise that stays pending for the
// tab's lifetime (the browser releases it when the tab closes or crashes). A steal makes the holder's
// request() promise reject with AbortError: that is how the previous holder is told.
//
// Where navigator.locks is missing (older Safari, insecure contexts, some webviews): a localStorage lease
// with a heartbeat, `storage` events and a `pagehide` release. Its decisions (claim, stale, steal, lost)
// are the wasm core's (`WriterLease`, src/writer/model.rs); this file reads and writes the entry and
// schedules the ticks.
//
// Both report to a tab census over BroadcastChannel (how many tabs of this session are open, which writes).
// Events (through `emit`): writer-acquired, writer-waiting, writer-lost.

const LEASE_KEY_PREFIX = "matrix-crypto-guardian:lease:";
const CENSUS_PREFIX = "matrix-crypto-guardian:census:";
const ROLL_CALL_MS = 200;
// After a steal, how long the new writer waits at most for the old one to say it stopped (a hung tab).
const STOPPED_ACK_MS = 1000;

function newTabId() {
  try {
    return crypto.randomUUID();
  } catch {
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }
}

/** "web-locks" where navigator.locks can be used, else "lease". */
export function writerMechanism(global = globalThis) {
  const locks = global.navigator && global.navigator.locks;
  return locks && typeof locks.request === "function" ? "web-locks" : "lease";
}

/**
 * Whether another tab is the writer under any of these lock names now (call it before this tab asks for
 * the lock): a Web Lock is held, or, on the fallback, a lease entry is there (a crashed holder's entry
 * counts too: callers use this only to stay out of the store).
 */
export async function writerHeldElsewhere(names, global = globalThis) {
  try {
    if (writerMechanism(global) === "web-locks") {
      const snapshot = await global.navigator.locks.query();
      return (snapshot.held || []).some((lock) => names.includes(lock.name));
    }
    return names.some((name) => global.localStorage.getItem(LEASE_KEY_PREFIX + name) !== null);
  } catch {
    return false;
  }
}

export class WriterLock {
  #global;
  #name;
  #emit;
  #core;
  #leaseOptions;
  #tabId = newTabId();
  #mechanism;
  #role = "idle"; // idle | waiting | writer | lost
  #since = null;
  #lost = null;
  // The one request under way: { mode, waiters: [{ mode, resolve }] } (the callers of acquire() who wait
  // on it). Whether a call makes, joins or supersedes it is the core's decision (writerAcquireStep).
  #request = null;
  #requestSerial = 0;
  // web locks
  #abortPending = null;
  #releaseHeld = null;
  // lease
  #lease = null;
  #timer = null;
  // census
  #census;
  #channel = null;
  #requestedAt = 0;
  #mode = "wait"; // the mode of the current request (a lease grant arrives on a later tick)
  #stoppedAck = null; // resolve() of a steal waiting for the old writer's "stopped"

  /**
   * @param {{ name: string, emit: (events: {type: string, detail: object}[]) => void,
   *           core: { WriterLease: Function, WriterCensus: Function, writerAcquireStep: Function, writerAfterUnavailable: Function },
   *           global?: object, leaseOptions?: object }} o
   */
  constructor({ name, emit, core, global = globalThis, leaseOptions = {} }) {
    this.#global = global;
    this.#name = name;
    this.#emit = emit;
    this.#core = core;
    this.#leaseOptions = leaseOptions;
    this.#mechanism = writerMechanism(global);
    this.#census = new core.WriterCensus(this.#tabId);
    this.#openCensus();
    global.addEventListener?.("pagehide", (e) => this.#onPageHide(e.persisted));
    global.addEventListener?.("pageshow", (e) => e.persisted && this.#onPageShowFromCache());
  }

  get name() {
    return this.#name;
  }

  /** { mechanism, name, tabId, role, since, lost, census } */
  state() {
    return {
      mechanism: this.#mechanism,
      name: this.#name,
      tabId: this.#tabId,
      role: this.#role,
      isWriter: this.#role === "writer",
      since: this.#since,
      lost: this.#lost,
      census: this.#census.snapshot(),
    };
  }

  /** Resolves true once this tab is the writer, false for "ifAvailable" when another tab holds it. */
  acquire(mode = "wait") {
    const step = this.#core.writerAcquireStep(this.#role === "writer", this.#request?.mode, mode);
    if (step === "already-writer") return Promise.resolve(true);
    if (step === "unavailable") return Promise.resolve(false); // the wait under way goes on
    return new Promise((resolve) => {
      const waiter = { mode, resolve };
      if (step === "join") this.#request.waiters.push(waiter);
      else this.#startRequest(mode, [...(step === "supersede" ? this.#request.waiters : []), waiter]);
    });
  }

  #startRequest(mode, waiters) {
    this.#request = { mode, waiters };
    this.#requestedAt = performance.now();
    this.#lost = null;
    this.#mode = mode;
    if (this.#mechanism === "web-locks") this.#requestLock(mode);
    else this.#requestLease(mode);
  }

  /** Gives the role up (or stops waiting for it). A grant still on its way for the old request is void. */
  release() {
    this.#requestSerial++; // a lock callback of an earlier request now lets its lock go at once
    this.#abortPending?.();
    this.#abortPending = null;
    this.#releaseHeld?.();
    this.#releaseHeld = null;
    this.#stoppedAck?.(); // a steal waiting for the old writer's "stopped" ends here, ungranted
    if (this.#lease) {
      this.#applyLease(this.#lease.release(this.#readLease()));
      clearTimeout(this.#timer);
    }
    this.#settle(false);
    this.#setRole("idle");
  }

  /** A roll call over the census channel: every open tab of this session answers within ~200 ms. */
  async census() {
    const since = performance.now();
    this.#post({ kind: "who" });
    await new Promise((r) => setTimeout(r, ROLL_CALL_MS));
    this.#census.forgetSilentSince(since);
    return this.#census.snapshot();
  }

  // ---------------------------------------------------------------------------------------------
  // web locks

  #requestLock(mode) {
    const serial = ++this.#requestSerial;
    const locks = this.#global.navigator.locks;
    const options = { mode: "exclusive" };
    // The spec allows a signal only without ifAvailable/steal; a pending wait gives way to a steal.
    if (mode === "ifAvailable") options.ifAvailable = true;
    else if (mode === "steal") options.steal = true;
    this.#abortPending?.();
    this.#abortPending = null;
    if (mode === "wait") {
      const controller = new AbortController();
      options.signal = controller.signal;
      this.#abortPending = () => controller.abort();
    }
    const request = locks.request(this.#name, options, (lock) => {
      if (serial !== this.#requestSerial) return undefined; // superseded by a later request (steal)
      this.#abortPending = null;
      if (!lock) {
        this.#unavailable();
        return undefined;
      }
      this.#granted(mode);
      return new Promise((resolve) => (this.#releaseHeld = resolve));
    });
    request.then(
      () => {},
      (err) => {
        if (serial !== this.#requestSerial) return; // an aborted wait that a steal replaced
        if (this.#role === "writer" && err && err.name === "AbortError") {
          // Stolen: another tab used "Use here". This tab must stop writing.
          this.#releaseHeld = null;
          this.#setLost("stolen", null);
        } else if (this.#role !== "writer") {
          this.#settle(false);
          if (this.#role === "waiting") this.#setRole("idle");
        }
      },
    );
    if (mode === "wait") this.#reportWaitingLock(serial);
  }

  async #reportWaitingLock(serial) {
    // Let the lock manager grant it first if it is free; then say we wait, with who holds and waits.
    let snapshot;
    try {
      snapshot = await this.#global.navigator.locks.query();
    } catch {
      snapshot = { held: [], pending: [] };
    }
    if (serial !== this.#requestSerial || this.#role === "writer") return;
    const held = (snapshot.held || []).filter((l) => l.name === this.#name).length;
    const pending = (snapshot.pending || []).filter((l) => l.name === this.#name).length;
    // Nobody holds it: ours is being granted, there is no waiting to report.
    if (held === 0) return;
    this.#setRole("waiting");
    this.#emit([{ type: "writer-waiting", detail: { mechanism: this.#mechanism, name: this.#name, held, pending, tabs: this.#census.snapshot().tabs } }]);
  }

  // ---------------------------------------------------------------------------------------------
  // lease

  get #leaseKey() {
    return LEASE_KEY_PREFIX + this.#name;
  }

  #readLease() {
    try {
      return this.#global.localStorage.getItem(this.#leaseKey);
    } catch {
      return null;
    }
  }

  #requestLease(mode) {
    if (!this.#lease) {
      this.#lease = new this.#core.WriterLease(this.#tabId, this.#leaseOptions);
      this.#global.addEventListener?.("storage", (e) => {
        if (e.key === this.#leaseKey || e.key === null) this.#tickLease();
      });
    }
    this.#applyLease(this.#lease.request(mode, this.#readLease(), performance.now()), mode);
  }

  #tickLease() {
    if (!this.#lease) return;
    this.#applyLease(this.#lease.tick(this.#readLease(), performance.now()));
  }

  #applyLease(step, mode) {
    if (!step) return;
    const write = step.write;
    try {
      if (write && write.op === "put") this.#global.localStorage.setItem(this.#leaseKey, JSON.stringify(write.record));
      else if (write && write.op === "remove") this.#global.localStorage.removeItem(this.#leaseKey);
    } catch {
      /* storage full or blocked: the next tick retries */
    }
    for (const ev of step.events || []) {
      if (ev.kind === "acquired") this.#granted(mode ?? this.#mode);
      else if (ev.kind === "unavailable") this.#unavailable();
      else if (ev.kind === "lost") this.#setLost(ev.reason, ev.by);
      else if (ev.kind === "waiting") {
        this.#setRole("waiting");
        const snap = this.#census.snapshot();
        this.#emit([{ type: "writer-waiting", detail: { mechanism: "lease", name: this.#name, held: ev.holder ? 1 : 0, pending: Math.max(1, snap.waiting), tabs: snap.tabs } }]);
      }
    }
    if (step.ping) this.#post({ kind: "ping" });
    clearTimeout(this.#timer);
    if (step.nextTickMs != null) this.#timer = setTimeout(() => this.#tickLease(), step.nextTickMs);
  }

  // ---------------------------------------------------------------------------------------------
  // shared

  #granted(mode) {
    const request = this.#request;
    if (mode === "steal") {
      // The old writer learns of the steal asynchronously; let it stop its engine (writer-lost handlers
      // run synchronously, then it posts "stopped") before this tab's engine starts.
      let ack;
      const wait = new Promise((resolve) => {
        ack = resolve;
        setTimeout(resolve, STOPPED_ACK_MS);
      });
      this.#stoppedAck = ack;
      wait.then(() => {
        if (this.#stoppedAck === ack) this.#stoppedAck = null;
        // Released meanwhile (or the role went to another tab): this request never makes a writer.
        if (this.#request !== request || request === null) return;
        this.#grantedNow(mode);
      });
      return;
    }
    this.#grantedNow(mode);
  }

  #grantedNow(mode) {
    this.#since = Date.now();
    this.#lost = null;
    this.#setRole("writer");
    this.#settle(true);
    const waitedMs = Math.round(performance.now() - this.#requestedAt);
    this.#emit([{ type: "writer-acquired", detail: { mechanism: this.#mechanism, name: this.#name, tabId: this.#tabId, mode: mode || "wait", waitedMs } }]);
  }

  #setLost(reason, by) {
    this.#settle(false); // a steal of ours still waiting for its grant is over too
    this.#lost = { reason, by: by || null, at: Date.now() };
    this.#setRole("lost");
    clearTimeout(this.#timer);
    this.#emit([{ type: "writer-lost", detail: { mechanism: this.#mechanism, name: this.#name, reason, by: by || null } }]);
    this.#post({ kind: "stopped" }); // after the writer-lost handlers stopped the engine
  }

  /** The request under way is over: granted (true for every caller) or not (false). */
  #settle(value) {
    const request = this.#request;
    this.#request = null;
    for (const waiter of request ? request.waiters : []) waiter.resolve(value);
  }

  /**
   * The request came back "held elsewhere" (an ifAvailable): its ifAvailable callers get false; callers
   * who joined it wanting to wait (or steal) get a request of their own (writerAfterUnavailable).
   */
  #unavailable() {
    const request = this.#request;
    this.#request = null;
    if (!request) return;
    const still = request.waiters.filter((w) => w.mode !== "ifAvailable");
    for (const waiter of request.waiters) if (waiter.mode === "ifAvailable") waiter.resolve(false);
    const next = this.#core.writerAfterUnavailable(still.map((w) => w.mode));
    if (next) this.#startRequest(next, still);
  }

  #setRole(role) {
    if (this.#role === role) return;
    this.#role = role;
    this.#census.setMyRole(role);
    this.#post({ kind: "state" });
  }

  #onPageHide(persisted) {
    // Release at once so a waiting tab takes over without waiting for the document's teardown (Web Locks)
    // or for the lease to go stale. A page entering the back/forward cache keeps its Web Lock (Chromium
    // does not cache pages that hold one).
    if (this.#releaseHeld && !persisted) {
      this.#releaseHeld();
      this.#releaseHeld = null;
    }
    if (this.#lease && this.#role === "writer") {
      this.#applyLease(this.#lease.release(this.#readLease()));
      this.#releasedForCache = true;
    }
    this.#post({ kind: "bye" });
  }

  #releasedForCache = false;
  #onPageShowFromCache() {
    // Back from the back/forward cache after pagehide released the lease: another tab may write now.
    if (this.#releasedForCache) {
      this.#releasedForCache = false;
      this.#setLost("suspended", null);
    }
    this.#post({ kind: "hello" });
  }

  #openCensus() {
    const BC = this.#global.BroadcastChannel;
    if (typeof BC !== "function") return;
    try {
      this.#channel = new BC(CENSUS_PREFIX + this.#name);
    } catch {
      return;
    }
    this.#channel.onmessage = (e) => {
      const m = e.data;
      if (!m || typeof m.tab !== "string" || m.tab === this.#tabId) return;
      const now = performance.now();
      if (m.kind === "bye") this.#census.gone(m.tab);
      else if (typeof m.role === "string") this.#census.heard(m.tab, m.role, now);
      if (m.kind === "hello" || m.kind === "who") this.#post({ kind: "state" });
      if (m.kind === "ping" && this.#lease && this.#role === "writer") this.#tickLease();
      if (m.kind === "stopped") this.#stoppedAck?.();
    };
    this.#post({ kind: "hello" });
  }

  #post(message) {
    try {
      this.#channel?.postMessage({ ...message, tab: this.#tabId, role: this.#role });
    } catch {
      /* channel closed */
    }
  }
}
