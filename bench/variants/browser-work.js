// Drop-in variant for bench/start-variants.mjs (never shipped): the synchronous part, then the gate's
// browser work in plain JS (gate-work.js), no module loaded.
import { gateWork, releaseWhenDone } from "./gate-work.js";

releaseWhenDone(gateWork());
