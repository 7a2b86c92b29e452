// Drop-in variant for bench/start-variants.mjs (never shipped): the drop-in's synchronous part alone — the
// attributes read, the fetch tap, the console tap and the crypto-store gate installed — holding nothing and
// loading nothing. What any drop-in costs the host before its first /sync.
import { installFetchTap } from "../../js/fetch-tap.js";
import { installConsoleTap } from "../../js/console-tap.js";
import { installIdbGate } from "../../js/idb-gate.js";
import { readDropInConfig } from "../../js/dropin-config.js";

const { options } = readDropInConfig(document.currentScript.dataset);
installFetchTap(window);
installConsoleTap(window);
export const gate = installIdbGate(window, { prefix: options.cryptoStorePrefix });
window.matrixCryptoGuardian = { loading: false };
