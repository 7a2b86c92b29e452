// What a web client does with the package, and what the test reads back (window.bundlerCheck).
// Shared text with ../../vite-app/src/check.js: the two apps differ only in their bundler config.
import { Guardian, GuardianOptionError } from "matrix-crypto-guardian";

export async function startGuardian() {
  const result = { started: false, version: null, optionError: null, panel: null, error: null };
  try {
    // A wrong option is a clear error naming the option (and starts nothing).
    await Guardian.start({ probeAfterMs: 5 }).then(
      () => (result.optionError = { unexpected: "accepted" }),
      (err) => (result.optionError = { name: err.name, option: err.option, message: err.message, typed: err instanceof GuardianOptionError }),
    );
    const guardian = await Guardian.start({ persist: false });
    window.guardian = guardian;
    result.started = guardian instanceof Guardian;
    result.version = guardian.version;
    result.storm = guardian.storm().breaker.state;
  } catch (err) {
    result.error = String(err && err.stack ? err.stack : err);
  }
  return result;
}

export function publish(result) {
  window.bundlerCheck = result;
  const out = document.getElementById("out");
  out.textContent = JSON.stringify(result, null, 2);
  document.body.dataset.state = result.error ? "error" : "done";
}
