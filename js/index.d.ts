// Types of matrix-crypto-guardian's public API: the JS layer's own (Guardian, its options and events) here;
// the shapes the wasm modules return come from their generated .d.ts and are re-exported.
import type { SessionFacts, StoreCheck, DeviceSentinel } from "./core/guardian_core.js";
import type { OtkHealthKind, OtkFigures, OtkHealth, BreakerStateName, BreakerSnapshot, DiagnosisKind, Diagnosis, StormState, ConflictSummary, Known, RemedyName, Loss, RecoveryFacts, RemedyOffer, LogoutOutcome, Ke, KeCounts, JournalEntry, JournalSnapshot } from "./watch/guardian_watch.js";
export type { OtkHealthKind, OtkFigures, OtkHealth, BreakerStateName, BreakerSnapshot, DiagnosisKind, Diagnosis, StormState, ConflictSummary, SessionFacts, StoreCheck, DeviceSentinel };
export type { Known, RemedyName, Loss, RecoveryFacts, RemedyOffer, LogoutOutcome, Ke, KeCounts, JournalEntry, JournalSnapshot };

/** Options of Guardian.start(); every one is optional. An unknown or invalid one throws GuardianOptionError. */
export interface GuardianOptions {
  /** First half-open probe after the breaker opens, in ms (default 60 000); doubles after each failed probe. */
  probeAfterMs?: number;
  /** Cap of the probe backoff, in ms (default 1 800 000 = 30 min). */
  maxProbeAfterMs?: number;
  /** Diagnose a conflict with the forensics module, fetched on the first conflict only (default true). */
  diagnose?: boolean;
  /** Where the core wasm is fetched from (default: core/guardian_core_bg.wasm next to index.js). */
  coreWasmUrl?: string | URL;
  /** Where the forensics module is imported from (default: forensics/forensics.js next to index.js). */
  forensicsUrl?: string | URL;
  /** Name of the single-writer lock (Web Lock or localStorage lease). Default:
   *  `matrix-crypto-guardian/writer/<cryptoStorePrefix>/<userId>/<deviceId>`, or
   *  `matrix-crypto-guardian/writer/<cryptoStorePrefix>` when the user and device are not known (the drop-in). */
  writerLockName?: string;
  /** Prefix of the crypto store's IndexedDB names (default "matrix-js-sdk::matrix-sdk-crypto"; it also matches the -meta store). */
  cryptoStorePrefix?: string;
  /** Where the client keeps its session in localStorage, for the store-loss check at start (default "generic":
   *  only `session` is used). "cinny": `matrixSessions` and the legacy `cinny_*` keys; "element": the `mx_*` keys. */
  preset?: GuardianPreset;
  /** The session, when the host names it itself; wins over the preset's localStorage keys. */
  session?: { userId: string; deviceId: string };
  /** IndexedDB names of the crypto store (default: the preset's rust and legacy names). */
  cryptoStores?: string[];
  /** Ask for persistent storage at start, and again on the next user gesture if denied (default true). */
  persist?: boolean;
  /** Show the guardian's own recovery prompt (default true); false: the host handles the events itself. */
  prompt?: boolean;
  /** Language of the guardian's own texts (prompt, panel, writer overlay), e.g. "de" or "de-AT" (default: the
   *  page's `<html lang>`). Shipped: en, de, fr, es; any other language, and any string a table lacks, is English. */
  lang?: string;
  /** Most entries the diagnostics journal keeps per session, 10–10000 (default 200; repeats are counted, not added). */
  journalCapacity?: number;
  /** The host's matrix-js-sdk version, shown in the report (the SDK does not expose it at run time). */
  sdkVersion?: string;
  /** Name of the guardian's own IndexedDB database (default "matrix-crypto-guardian"). */
  ownDatabaseName?: string;
  /** Replacements for any string of the recovery prompt (keys as in i18n/en.js). */
  strings?: Record<string, string>;
  /** What "sign out" clears after the server logout (default: the preset's stores), and where it goes after. */
  signOut?: SignOutOptions;
}

export interface SignOutOptions {
  /** IndexedDB databases to delete (default: the preset's crypto + sync stores). */
  databases?: string[];
  /** localStorage keys to remove (default: the preset's session keys). */
  localStorageKeys?: string[];
  /** localStorage key prefixes to remove (default ["mxjssdk_"] for cinny/element). */
  localStoragePrefixes?: string[];
  /** Where to go once cleared (default: reload this page). */
  reloadTo?: string | URL;
  /** false: stay on the page (the host navigates itself on the `remedy` event, phase "done"). */
  reload?: boolean;
}

/** Why the recovery prompt is shown: the store-loss check at start, or the storm's diagnosis. */
export type RecoveryCause = "store-lost" | "identity-replaced" | "concurrent-writers" | "exhaustion-or-other" | "undetermined" | "pending";



/** `guardian.recovery()` and the detail of the "recovery" and "recovery-facts" events. */
export interface RecoveryView {
  cause: RecoveryCause;
  reason: string;
  session: { userId: string | null; deviceId: string | null; homeserver: string | null };
  /** null while being gathered. */
  facts: RecoveryFacts | null;
  offers: RemedyOffer[];
  snoozedUntil: number | null;
  /** initRustCrypto() refused a store holding another account earlier in this page (else null). */
  storeMismatch: StoreMismatch | null;
}

/** initRustCrypto() failed with "the account in the store doesn't match the account in the constructor". */
export interface StoreMismatch {
  at: number;
  /** The SDK's message (it names the expected and the found user and device). */
  message: string;
}





/** Detail of the "remedy" event: one step of a remedy (journaled). */
export interface RemedyEventDetail {
  /** "replace-device": Node.js, `replaceDevice()` (phases started, logout, logout-answered, login, stopped, done). */
  remedy: RemedyName | "replace-device";
  /** started | progress | drained | stopped | repaired | working | done | logout | logout-answered | login | clear-anyway | clearing | kept | refused */
  phase: string;
  /** `${remedy} ${phase}`, for the journal. */
  action: string;
  at: number;
  [field: string]: unknown;
}

export interface RemedyArgs {
  /** export-keys: the passphrase that encrypts the file (required). */
  passphrase?: string;
  /** export-keys: PBKDF2 rounds (default 500 000, as Element). */
  rounds?: number;
  /** export-keys: file name (default "element-keys.txt"); download: false returns the text only. */
  fileName?: string;
  download?: boolean;
  /** sign-out: delete without a server logout (after it failed); journaled. */
  clearAnyway?: boolean;
  /** sign-out: false = do not reload afterwards. */
  reload?: boolean;
  /** snooze: how long, in ms (1 min – 24 h; default 1 h). The prompt also comes back on the next server conflict. */
  ms?: number;
}

export type GuardianPreset = "cinny" | "element" | "generic";



/** Node.js: `checkBotStore()`'s verdict (src/remedy/headless.rs). */
export type BotStoreCheck = Extract<StoreCheck, { verdict: "new-device" | "healthy" | "store-lost" | "unknown" }>;

/** Node.js: what `checkBotStore()` checks. `indexedDB`: the IDBFactory the SDK uses (the global one: the guardian reads the store through `globalThis.indexedDB`, where matrix-sdk-crypto-wasm opens it), or null for an in-memory store. */
export interface BotSession {
  homeserver: string;
  userId: string;
  deviceId: string;
  accessToken: string;
  indexedDB: IDBFactory | null;
  /** The store's database names (default ["matrix-js-sdk::matrix-sdk-crypto"]). */
  cryptoStores?: string[];
}

/** Node.js: the session a `replaceDevice()` login resolves to (matrix-js-sdk's snake_case login answer works too). */
export interface NewDeviceSession {
  userId: string;
  deviceId: string;
  accessToken: string;
}

/** `guardian.persistence()` and the detail of "persistence". */
export interface PersistenceState {
  /** The Storage API (persist/persisted) is there. */
  supported: boolean | null;
  persisted: boolean | null;
  /**
   * "not-requested" (persist: false; in a page also until it is first idle after start), "pending",
   * "already-persisted", "awaiting-gesture" (asking may prompt: asked on the first click or key), "asking"
   * (the browser has not answered), "granted"/"denied" (at load, when the permission was already decided), "granted-on-gesture"/"denied-on-gesture",
   * "granted-on-request"/"denied-on-request" (requestPersistence()), "unsupported" (no navigator.storage).
   */
  outcome: string;
  usage: number | null;
  quota: number | null;
}







export type WriterMode = "wait" | "ifAvailable" | "steal";
export type WriterMechanism = "web-locks" | "lease" | "process"; // "process": Node.js (one process, one writer)
export type WriterRole = "idle" | "waiting" | "writer" | "lost";

/** Who writes, from the tab census over BroadcastChannel. */
export interface WriterCensus {
  /** Open tabs of this session that answered, this one included. */
  tabs: number;
  /** The writer's tab id, or null. */
  writer: string | null;
  waiting: number;
  /** Tabs beyond one that say they write (expected 0). */
  conflictingWriters: number;
  me: string;
  writerIsMe: boolean;
}

/** `guardian.writer()`. */
export interface WriterState {
  /** Web Locks, or the localStorage lease where navigator.locks is missing. */
  mechanism: WriterMechanism;
  /** The lock's name; null before acquireWriter(). */
  name: string | null;
  tabId: string | null;
  role: WriterRole;
  isWriter: boolean;
  /** When this tab became the writer (ms since the epoch), or null. */
  since: number | null;
  /** Why this tab lost the role, or null. */
  lost: { reason: WriterLostReason; by: string | null; at: number } | null;
  census: WriterCensus | null;
}

/** stolen: another tab used "Use here"; superseded: the lease was taken over after this tab's heartbeat
 *  stalled; suspended: the page came back from the back/forward cache after releasing the lease. */
export type WriterLostReason = "stolen" | "superseded" | "suspended";

export interface GuardianEventMap {
  /** At start: the session survived but its crypto store is gone. Key uploads are held until
   *  `continueDespiteStoreLoss()` (or a sign-out): a blank store would publish a new identity under the old device id. */
  "store-lost": CustomEvent<Extract<StoreCheck, { verdict: "store-lost" }>>;
  /** The store-loss check could not tell: a line in the diagnostics, no prompt. */
  "store-check": CustomEvent<Extract<StoreCheck, { verdict: "unknown" }>>;
  /** The user chose to go on with this device after a store loss; uploads are released. */
  "store-loss-accepted": CustomEvent<{ at: number; session: SessionFacts | null }>;
  /** Persistent storage was asked for (at start, on a gesture, or by requestPersistence()). */
  persistence: CustomEvent<PersistenceState>;
  /** This tab is now the session's crypto writer: start (or go on with) the crypto engine. */
  "writer-acquired": CustomEvent<{ mechanism: WriterMechanism; name: string; tabId: string; mode: WriterMode; waitedMs: number }>;
  /** Another tab writes; this one waits. held/pending: requests for this lock (navigator.locks.query(), or the lease). */
  "writer-waiting": CustomEvent<{ mechanism: WriterMechanism; name: string; held: number; pending: number; tabs: number }>;
  /** Another tab took over: stop the crypto engine now (client.stopClient()); reload to use this tab again. */
  "writer-lost": CustomEvent<{ mechanism: WriterMechanism; name: string; reason: WriterLostReason; by: string | null }>;
  /** The first keys/upload conflict of this page: the loop is detected and the breaker opened. */
  storm: CustomEvent<StormState>;
  /** The diagnosis of the storm's cause is known. */
  diagnosis: CustomEvent<StormState>;
  "diagnosis-failed": CustomEvent<{ reason: string }>;
  "breaker-open": CustomEvent<BreakerSnapshot>;
  "breaker-probe": CustomEvent<BreakerSnapshot>;
  "breaker-closed": CustomEvent<BreakerSnapshot>;
  /** The SDK piles one-time keys up on the server (matrix-js-sdk issue 5501): said once per page. */
  "otk-inflation": CustomEvent<OtkHealth & { breaker: BreakerSnapshot }>;
  /** The server refused one-time keys over its cap; the breaker stops the re-sent upload. */
  "otk-limit": CustomEvent<OtkHealth & { breaker: BreakerSnapshot }>;
  /** initRustCrypto() refused a store that holds another account. */
  "store-mismatch": CustomEvent<StoreMismatch>;
  /** A store loss or a diagnosis needs the user's choice (the prompt opens unless `prompt: false`). */
  recovery: CustomEvent<RecoveryView>;
  /** The facts shown before any choice were gathered (again); offers may have changed. */
  "recovery-facts": CustomEvent<RecoveryView>;
  /** A step of a remedy: export, sign-out (incl. "clear anyway"), repair progress, snooze. */
  remedy: CustomEvent<RemedyEventDetail>;
}

export declare class Guardian extends EventTarget {
  /** Starts the guardian (once per page; later calls resolve to the same one). Installs the fetch tap
   *  synchronously: call it before the MatrixClient's first request. */
  static start(options?: GuardianOptions): Promise<Guardian>;
  static readonly version: string;
  readonly version: string;
  /** The language of the guardian's own texts: the `lang` option, else the page's `<html lang>`, else "en". */
  readonly language: string;
  /** Connect a matrix-js-sdk MatrixClient (user, device, homeserver). Returns the guardian. */
  attach(client: { getUserId(): string | null; getDeviceId(): string | null; getHomeserverUrl(): string }): this;
  /** The current storm state. */
  storm(): StormState;
  /** One-time-key health beyond the conflict: inflation, the server's cap. */
  otkHealth(): OtkHealth;
  /** initRustCrypto()'s store-account mismatch seen in this page, or null. */
  storeMismatch(): StoreMismatch | null;
  /** What the recovery prompt shows (cause, facts, offers), or null when nothing is pending. */
  recovery(): RecoveryView | null;
  /** Gathers the facts again (key backup, secret storage, cross-signing, verification, exportable keys). */
  recoveryFacts(): Promise<RecoveryView | null>;
  /** The remedies offered now, best first. */
  remedies(): RemedyOffer[];
  /**
   * Runs a remedy (refused unless offered now). Resolves to: export-keys `{ count, file, text }`;
   * sign-out `{ deleted, logout: LogoutOutcome | null, cleared? }` (nothing is deleted unless the server
   * signed out or `clearAnyway` was given); repair `{ outcome: "done" | "stop", claimed, initial, remaining, reason? }`;
   * continue `{ released }`; snooze `{ until }`.
   */
  runRemedy(name: RemedyName, args?: RemedyArgs): Promise<unknown>;
  /** Opens the recovery prompt again (false when none is pending or `prompt: false`). */
  openPrompt(): boolean;
  /** The result of the store-loss check made at start. */
  storeCheck(): StoreCheck;
  /** Runs the store-loss check again on the session and databases as they are now (a store deleted while the page runs). */
  checkStoreAgain(): Promise<StoreCheck>;
  /** Persistent storage as last seen. */
  persistence(): PersistenceState;
  /** Ask for persistent storage now (call it from a user gesture, e.g. at login). */
  requestPersistence(): Promise<PersistenceState>;
  /** After a store loss, the user goes on with this device anyway: held key uploads are released.
   *  False when nothing was held. */
  continueDespiteStoreLoss(): boolean;
  /** Make this tab the session's one crypto writer; call before `client.initRustCrypto()`. Resolves true
   *  when acquired, false for "ifAvailable" when another tab holds it. userId/deviceId default to the attached client's. */
  acquireWriter(options?: { mode?: WriterMode; userId?: string; deviceId?: string }): Promise<boolean>;
  /** Give the writer role up (or stop waiting for it). */
  releaseWriter(): void;
  /** The writer role of this tab, and the mechanism in use. */
  writer(): WriterState;
  /** Roll call of this session's tabs (about 200 ms); null before acquireWriter(). */
  writerCensus(): Promise<WriterCensus | null>;
  /** Node.js: a bot's store-loss check before its first upload (docs/integration-node.md). On "store-lost"
   *  key uploads are held until `replaceDevice()` or `continueDespiteStoreLoss()`. */
  checkBotStore(bot: BotSession): Promise<BotStoreCheck>;
  /** Node.js: after "store-lost", signs the old device out, then `login` logs a new device in; rejects with the
   *  reason when the old device was not signed out or the new one is not new. */
  replaceDevice(options: { login: (old: { userId: string; oldDeviceId: string }) => Promise<NewDeviceSession | { user_id: string; device_id: string; access_token: string }> }): Promise<{ session: NewDeviceSession; oldDeviceId: string; newDeviceId: string }>;
  /** Guards a client's own fetchFn like the global fetch (one that does not call the global fetch itself). */
  wrapFetch<F extends (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>>(fetchFn: F): F;
  /** Takes the guardian down: taps removed, held uploads let go, writer released, journal written. */
  stop(): Promise<void>;
  /**
   * The diagnostics journal of this session (null if diagnostics could not start). The journal sleeps until
   * the first sign of trouble in the page (its code is in the lazily loaded module); reading it wakes it, so
   * this rejects if that module cannot load.
   */
  journal(): Promise<JournalSnapshot | null>;
  /** Writes the journal to the guardian's own database now (otherwise within about a second). */
  flushJournal(): Promise<void>;
  /** The redacted diagnostics report (schema in docs/diagnostics.md). */
  report(): Promise<GuardianReport>;
  /** Saves the report as `matrix-crypto-guardian-report-<UTC time>.json`; resolves to the file name. */
  downloadReport(): Promise<string>;
  /** Copies the report (JSON) to the clipboard; resolves to false when the browser refused. */
  copyReport(): Promise<boolean>;
  /** What the panel shows, now, without building a report or waking the journal (keCounts `{}` and last `[]` while it sleeps). */
  diagnosticsSummary(lastN?: number): { journal: JournalState; keCounts: Partial<KeCounts>; last: JournalEntry[]; ownDatabase: OwnDatabaseState | null } | null;
  // Only the guardian's own event names: a misspelled one is a type error, not a listener that never runs.
  addEventListener<K extends keyof GuardianEventMap>(
    type: K,
    listener: ((this: Guardian, ev: GuardianEventMap[K]) => unknown) | { handleEvent(ev: GuardianEventMap[K]): unknown } | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof GuardianEventMap>(
    type: K,
    listener: ((this: Guardian, ev: GuardianEventMap[K]) => unknown) | { handleEvent(ev: GuardianEventMap[K]): unknown } | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/** Thrown by Guardian.start() for an unknown or invalid option; `option` names it. */
export declare class GuardianOptionError extends TypeError {
  readonly name: "GuardianOptionError";
  /** The option's name as passed (e.g. "probeAfterMs"), or "options" when the argument is not an object. */
  readonly option: keyof GuardianOptions | "options" | (string & {});
}

/** `window.matrixCryptoGuardian` of the drop-in: a placeholder while loading (or after a failed load), then the Guardian. */
export type DropInGlobal =
  | { loading: true; ready: Promise<Guardian | null> }
  | { loading: false; failed: string; ready: Promise<Guardian | null> }
  | (Guardian & { ready: Promise<Guardian | null> });

declare global {
  interface Window {
    /** Set by the drop-in script (pkg/dropin.js). */
    matrixCryptoGuardian?: DropInGlobal;
  }
  interface DocumentEventMap {
    /** Dispatched by the drop-in once its guardian is ready. */
    "matrix-crypto-guardian:ready": CustomEvent<Guardian>;
  }
}

/** True when a fetch(input, init) call is a POST to the client-server keys/upload endpoint. */
export declare function isKeysUpload(input: RequestInfo | URL, init?: RequestInit): boolean;
/** The response header that marks an answer given by the guardian (a replay of the server's last 400). */
export declare const GUARDIAN_HEADER: string;

// ---- diagnostics (docs/diagnostics.md) ----



/** The journal sleeps until trouble (or a read) wakes it; "unavailable" when its module could not load (tried again on the next need). */
export interface JournalState {
  state: "asleep" | "waking" | "awake" | "unavailable";
  /** Why the module could not load ("unavailable" only). */
  reason?: string;
}


export interface OwnDatabaseState {
  available: boolean;
  /** The database did not exist before this page (first run, or whole-origin eviction). */
  createdThisPage: boolean;
  previousVersion: number | null;
  error?: string;
}


/** `guardian.report()`: schema "matrix-crypto-guardian.report", version 1. Null sections were not measured. */
export interface GuardianReport {
  schema: "matrix-crypto-guardian.report";
  schemaVersion: 1;
  generatedAt: number | null;
  guardian: { version: string | null };
  sdk: { name: string | null; version: string | null; cryptoVersion: string | null } | null;
  session: { userId: string | null; deviceId: string | null; homeserver: string | null };
  browser: { userAgent: string | null; language: string | null; online: boolean | null; cookieEnabled: boolean | null } | null;
  storage: { persisted: boolean | null; usage: number | null; quota: number | null } | null;
  ownDatabase: (OwnDatabaseState & { sentinel: DeviceSentinel | null }) | null;
  notes: string[];
  writer: { mechanism: string | null; state: string | null; tabs: number | null; census: unknown } | null;
  otkCounts: { counts: Record<string, number> | null; seenAt: number | null; source: string | null } | null;
  storm: {
    active: boolean | null;
    count: number | null;
    firstSeen: number | null;
    breaker: BreakerSnapshot | null;
    diagnosis: Diagnosis | null;
    lastConflict: ConflictSummary | null;
  } | null;
  keCounts: KeCounts;
  journal: { capacity: number; total: number; dropped: number; sessions: string[] | null; entries: JournalEntry[] };
}

// The panel, re-exported by the entry too (its own module: "matrix-crypto-guardian/panel", ./panel.d.ts).
export { GuardianPanel, definePanel } from "./panel.js";
