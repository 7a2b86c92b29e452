// In the drop-in's start bundle (dropin-start.js, scripts/bundle-dropin.mjs) the imports of fetch-tap.js and
// console-tap.js resolve here: the classic script (dropin.js) carries the taps already and hands their
// modules over, so a drop-in page loads and runs one copy. Without that hand-over (dropin-start.js imported
// on its own) this throws, the import fails, and dropin.js lets the host run unguarded.
const taps = globalThis[Symbol.for("matrix-crypto-guardian/dropin-taps")];
if (!taps) throw new Error("dropin-start.js is loaded by dropin.js");

export const { installFetchTap, isKeysUpload, GUARDIAN_HEADER, installConsoleTap, consoleTapOf, uninstallConsoleTap, OWN_PREFIX } = taps;
