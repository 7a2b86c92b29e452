// Built only when the installed package has the panel (see the bundler config). TypeScript, so that
// `tsc --noEmit` (strict) and `vite build` check the same imports of "matrix-crypto-guardian/panel": types
// that claimed an export the module lacks would pass one and fail the other.
import { GuardianPanel, definePanel } from "matrix-crypto-guardian/panel";
import type { Guardian } from "matrix-crypto-guardian";
import { publish, startGuardian } from "./check.js";

declare global {
  interface Window {
    guardian?: Guardian; // set by ./check.js
  }
}

const result = { ...(await startGuardian()), panel: null as { defined: boolean; shadow: boolean; text: string } | null };
if (window.guardian) {
  definePanel(); // already defined on import: a second call is a no-op
  const panel = document.createElement("matrix-crypto-guardian-panel");
  panel.guardian = window.guardian;
  document.body.append(panel);
  await customElements.whenDefined("matrix-crypto-guardian-panel");
  await new Promise((r) => setTimeout(r, 100)); // let it render its first frame
  result.panel = {
    defined: customElements.get("matrix-crypto-guardian-panel") === GuardianPanel,
    shadow: !!panel.shadowRoot,
    text: (panel.shadowRoot || panel).textContent?.slice(0, 400) ?? "",
  };
}
publish(result);
