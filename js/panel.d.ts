// Types of "matrix-crypto-guardian/panel" (js/panel.js): only what that module exports.
import type { Guardian } from "./index.js";

/** `<matrix-crypto-guardian-panel>`: set `.guardian`, or it uses `window.matrixCryptoGuardian` once loaded. */
export declare class GuardianPanel extends HTMLElement {
  /** The guardian shown (null until one is set or the drop-in's is ready). */
  get guardian(): Guardian | null;
  set guardian(guardian: Guardian | null);
  /** Re-reads the guardian (also done on its events and every 2 s while connected). */
  refresh(): void;
}

/** Defines the panel element (done on import; returns false outside a browser). */
export declare function definePanel(name?: string): boolean;

/** One status row of the panel: green / amber / red, or grey for a capability that is not active. */
export interface CapabilityStatus {
  id: "persist" | "writer" | "store" | "storm" | "diagnosis" | "remedy" | "journal";
  name: string;
  level: "green" | "amber" | "red" | "grey";
  why: string;
}

/** The panel's status rows for a guardian (pure). `strings`: a language table (default English). */
export declare function capabilityStatus(guardian: Guardian, strings?: Record<string, string>): CapabilityStatus[];

/** Dispatched (bubbling, composed) by "Open recovery prompt" when the guardian has no prompt to open. */
export declare const OPEN_RECOVERY_EVENT: "matrix-crypto-guardian:open-recovery";

declare global {
  interface HTMLElementTagNameMap {
    "matrix-crypto-guardian-panel": GuardianPanel;
  }
}
