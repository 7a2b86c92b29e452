// Built only when the installed package has the panel (see the bundler config).
import "matrix-crypto-guardian/panel";
import { publish, startGuardian } from "./check.js";

const result = await startGuardian();
if (window.guardian) {
  const panel = document.createElement("matrix-crypto-guardian-panel");
  panel.guardian = window.guardian;
  document.body.append(panel);
  await customElements.whenDefined("matrix-crypto-guardian-panel");
  await new Promise((r) => setTimeout(r, 100)); // let it render its first frame
  result.panel = { defined: !!customElements.get("matrix-crypto-guardian-panel"), shadow: !!panel.shadowRoot, text: (panel.shadowRoot || panel).textContent.slice(0, 400) };
}
publish(result);
