// Compiled (tsc --noEmit, strict) by tests/e2e/bundlers.test.mjs against the packed package's index.d.ts:
// the public API as a TypeScript user sees it. Never run.
import { Guardian, GuardianOptionError, isKeysUpload, GUARDIAN_HEADER } from "matrix-crypto-guardian";
import type { GuardianOptions, StormState, StoreCheck, PersistenceState, DiagnosisKind } from "matrix-crypto-guardian";
import { GuardianPanel, definePanel, capabilityStatus, OPEN_RECOVERY_EVENT } from "matrix-crypto-guardian/panel";
import type { CapabilityStatus } from "matrix-crypto-guardian/panel";
// @ts-expect-error: the panel module does not export the Guardian (its types must not claim it does)
import { Guardian as NotInThePanelModule } from "matrix-crypto-guardian/panel";

export async function typed(client: { getUserId(): string | null; getDeviceId(): string | null; getHomeserverUrl(): string }) {
  const options: GuardianOptions = { preset: "cinny", persist: false, prompt: false, lang: "de", probeAfterMs: 60_000 };
  const guardian: Guardian = await Guardian.start(options);
  guardian.attach(client);
  guardian.addEventListener("storm", (e) => {
    const state: StormState = e.detail;
    const kind: DiagnosisKind = state.diagnosis.kind;
    console.log(kind, state.breaker.failingKeyIds.length);
  });
  guardian.addEventListener("store-lost", (e) => console.log(e.detail.missing.join(), e.detail.session.deviceId));
  guardian.addEventListener("persistence", (e) => console.log(e.detail.persisted));
  const check: StoreCheck = guardian.storeCheck();
  if (check.verdict === "healthy") console.log(check.store);
  const persisted: PersistenceState = await guardian.requestPersistence();
  console.log(persisted.outcome, guardian.continueDespiteStoreLoss(), Guardian.version, guardian.version);
  console.log(isKeysUpload("https://hs/_matrix/client/v3/keys/upload", { method: "POST" }), GUARDIAN_HEADER);
  try {
    await Guardian.start({ probeAfterMs: 5 });
  } catch (err) {
    if (err instanceof GuardianOptionError) console.log(err.option, err.message);
  }
  guardian.addEventListener("writer-lost", { handleEvent: (e) => console.log(e.detail.reason) });
  // @ts-expect-error: a misspelled event name is a type error, not a listener that never runs
  guardian.addEventListener("strom", () => {});
  // @ts-expect-error: and so is a detail read from the wrong event
  guardian.addEventListener("persistence", (e) => console.log(e.detail.breaker));
  const panel: GuardianPanel = document.createElement("matrix-crypto-guardian-panel");
  panel.guardian = guardian;
  const rows: CapabilityStatus[] = capabilityStatus(guardian);
  console.log(rows.map((r) => r.level), definePanel(), OPEN_RECOVERY_EVENT, guardian.language, NotInThePanelModule);
  // Node.js bots (docs/integration-node.md)
  const bot = await guardian.checkBotStore({ homeserver: "https://hs", userId: "@b:hs", deviceId: "B", accessToken: "t", indexedDB: null });
  if (bot.verdict === "store-lost") {
    const { session, newDeviceId } = await guardian.replaceDevice({ login: async () => ({ userId: "@b:hs", deviceId: "C", accessToken: "u" }) });
    console.log(bot.knownIdentity, session.accessToken.length, newDeviceId, guardian.wrapFetch(fetch));
  }
  await guardian.stop();
  const g = window.matrixCryptoGuardian;
  if (g && "storm" in g) g.storm();
  document.addEventListener("matrix-crypto-guardian:ready", (e) => e.detail.storm());
}

// @ts-expect-error: an unknown option is a type error too
export const wrong: GuardianOptions = { presett: "cinny" };
