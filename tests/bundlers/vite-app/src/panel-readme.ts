// The README's panel snippet, as a strict TypeScript user writes it (compiled by `npm run typecheck`).
import "matrix-crypto-guardian/panel";
import type { Guardian } from "matrix-crypto-guardian";

export function showPanel(guardian: Guardian, devtools: HTMLElement) {
  const panel = document.createElement("matrix-crypto-guardian-panel");
  panel.guardian = guardian; // without it: window.matrixCryptoGuardian
  devtools.append(panel);
  panel.refresh();
}
