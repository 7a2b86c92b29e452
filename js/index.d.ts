// Types of matrix-crypto-guardian's public API.

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
}

export type BreakerStateName = "closed" | "open" | "probing";

/** The circuit breaker on the keys/upload loop, as `guardian.storm().breaker` and in events. */
export interface BreakerSnapshot {
  state: BreakerStateName;
  /** One-time/fallback key ids of the upload the server rejects (e.g. "signed_curve25519:AAAAAAAAAA0"). */
  failingKeyIds: string[];
  /** When the breaker opened (ms since the epoch), or null. */
  since: number | null;
  /** When the next real request will be let through as a probe, or null. */
  nextProbeAt: number | null;
  backoffMs: number | null;
  /** Conflicting uploads the server answered. */
  serverConflicts: number;
  /** Uploads answered locally with the server's own last 400 while open. */
  localAnswers: number;
  probes: number;
}

export type DiagnosisKind = "pending" | "identity-replaced" | "concurrent-writers" | "exhaustion-or-other" | "undetermined";

export interface Diagnosis {
  kind: DiagnosisKind;
  /** One sentence on why, in plain words. */
  reason: string;
}

/** `guardian.storm()` and the detail of the "storm" event. */
export interface StormState {
  /** True once a keys/upload conflict has been seen in this page. */
  active: boolean;
  keyIds: string[];
  diagnosis: Diagnosis;
  breaker: BreakerSnapshot;
  /** First conflict seen (ms since the epoch), or null. */
  firstSeen: number | null;
  /** Conflicting answers seen: from the server plus local replays. */
  count: number;
  /** The last conflict as parsed from the server's answer. */
  conflict: ConflictSummary | null;
}

export interface ConflictSummary {
  kind: "one-time-key" | "fallback-key";
  algorithm: string | null;
  keyId: string | null;
  oldKey: string | null;
  newKey: string | null;
  signerUserId: string | null;
  signerDeviceId: string | null;
  detailsKnown: boolean;
  homeserver: string;
}

export interface GuardianEventMap {
  /** The first keys/upload conflict of this page: the loop is detected and the breaker opened. */
  storm: CustomEvent<StormState>;
  /** The diagnosis of the storm's cause is known. */
  diagnosis: CustomEvent<StormState>;
  "diagnosis-failed": CustomEvent<{ reason: string }>;
  "breaker-open": CustomEvent<BreakerSnapshot>;
  "breaker-probe": CustomEvent<BreakerSnapshot>;
  "breaker-closed": CustomEvent<BreakerSnapshot>;
}

export declare class Guardian extends EventTarget {
  /** Starts the guardian (once per page; later calls resolve to the same one). Installs the fetch tap
   *  synchronously: call it before the MatrixClient's first request. */
  static start(options?: GuardianOptions): Promise<Guardian>;
  static readonly version: string;
  readonly version: string;
  /** Connect a matrix-js-sdk MatrixClient (user, device, homeserver). Returns the guardian. */
  attach(client: { getUserId(): string | null; getDeviceId(): string | null; getHomeserverUrl(): string }): this;
  /** The current storm state. */
  storm(): StormState;
  addEventListener<K extends keyof GuardianEventMap>(
    type: K,
    listener: (this: Guardian, ev: GuardianEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof GuardianEventMap>(
    type: K,
    listener: (this: Guardian, ev: GuardianEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** Thrown by Guardian.start() for an unknown or invalid option; `option` names it. */
export declare class GuardianOptionError extends TypeError {
  readonly option: string;
}

/** True when a fetch(input, init) call is a POST to the client-server keys/upload endpoint. */
export declare function isKeysUpload(input: RequestInfo | URL, init?: RequestInit): boolean;
/** The response header that marks an answer given by the guardian (a replay of the server's last 400). */
export declare const GUARDIAN_HEADER: string;
