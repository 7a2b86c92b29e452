// Drop-in variant for bench/start-variants.mjs (never shipped): browser-work.js, and the gate also waits for
// a wasm module of the writer's size to load (the lease module: the writer election with its fallback,
// 95 KB of wasm and 13 KB of glue; fetched, compiled and instantiated, nothing run) — what a start module
// holding only what the gate waits on would at least cost.
import { gateWork, releaseWhenDone } from "./gate-work.js";

const base = new URL(".", document.currentScript.src);
const loaded = import(/* webpackIgnore: true */ new URL("lease/guardian_lease.js", base).href).then((m) => m.default());
releaseWhenDone(Promise.all([gateWork(), loaded]).then(([holds]) => holds));
