// The console tap: pass-through wrappers on console.error/warn/log/info that hand the lines matching a
// journal signature to the diagnostics (js/diagnostics.js → the wasm journal, which classifies them).
//
// Rules: the original method is always called first, exactly once, with the same `this` and arguments,
// and its result (or exception) is the caller's; the observation after it never throws; lines are
// turned into text cheaply (strings, errors, numbers — other objects are not serialised); the
// guardian's own output ("[matrix-crypto-guardian] …") and anything logged while a line is being
// handled are skipped, so the journal cannot feed itself. Installed once per global (idempotent); the
// drop-in installs it synchronously, before the wasm exists, so early lines wait in a small buffer.

const TAP_KEY = Symbol.for("matrix-crypto-guardian/console-tap");
const LEVELS = ["error", "warn", "log", "info"];
/** Lines kept before the journal is attached. */
const EARLY_BUFFER = 200;
/** Longest text handed on per line (the journal cuts further). */
const MAX_TEXT = 4000;
/** Own output prefix: never journaled. */
export const OWN_PREFIX = "[matrix-crypto-guardian]";

// A cheap pre-filter with the journal's vocabulary (src/diagnostics/journal.rs classify_console is the
// authority: a line passing here may still be rejected there; a line failing here is never journaled).
const CANDIDATE = /already exists|missingkey|missing key at index|io\.element\.call\.encryption_keys|missing field|delayed.event|failed to process outgoing request|match the account in the constructor/i;

function textOf(args) {
  let out = "";
  for (let i = 0; i < args.length && i < 8 && out.length < MAX_TEXT; i++) {
    const a = args[i];
    let piece = "";
    if (typeof a === "string") piece = a;
    else if (typeof a === "number" || typeof a === "boolean") piece = String(a);
    else if (a && typeof a === "object") {
      // Errors and MatrixErrors: name, errcode and message; never walk arbitrary objects. A hostile
      // getter costs this argument only.
      try {
        const message = typeof a.message === "string" ? a.message : "";
        const name = typeof a.name === "string" ? a.name : "";
        const errcode = typeof a.errcode === "string" ? a.errcode : "";
        piece = [name, errcode, message].filter(Boolean).join(": ");
      } catch {
        piece = "";
      }
    }
    if (piece) out += (out ? " " : "") + (piece.length > MAX_TEXT ? piece.slice(0, MAX_TEXT) : piece);
  }
  return out.length > MAX_TEXT ? out.slice(0, MAX_TEXT) : out;
}

/**
 * Installs the tap on `target.console` (once) and returns it:
 * `{ attach(sink), detach(), candidates, buffered }` where `sink(level, text, atMs)` receives each
 * candidate line (the early ones first, on attach).
 */
export function installConsoleTap(target = globalThis) {
  try {
    if (target[TAP_KEY]) return target[TAP_KEY];
    const con = target.console;
    if (!con) return null;
    let sink = null;
    let busy = false;
    const early = [];
    const tap = {
      candidates: 0,
      get buffered() {
        return early.length;
      },
      attach(next) {
        sink = typeof next === "function" ? next : null;
        if (!sink) return;
        const lines = early.splice(0);
        for (const [level, text, at] of lines) deliver(level, text, at);
      },
      detach() {
        sink = null;
      },
    };
    const deliver = (level, text, at) => {
      busy = true;
      try {
        sink(level, text, at);
      } catch {
        // A failing journal must never disturb the host's logging.
      } finally {
        busy = false;
      }
    };
    const observe = (level, args) => {
      if (busy || args.length === 0) return;
      try {
        const first = args[0];
        if (typeof first === "string" && first.startsWith(OWN_PREFIX)) return;
        const text = textOf(args);
        if (!text || !CANDIDATE.test(text)) return;
        tap.candidates++;
        const at = Date.now();
        if (sink) deliver(level, text, at);
        else {
          if (early.length >= EARLY_BUFFER) early.shift();
          early.push([level, text, at]);
        }
      } catch {
        // Observation never throws into the host.
      }
    };
    for (const level of LEVELS) {
      const original = con[level];
      if (typeof original !== "function") continue;
      const wrapped = function (...args) {
        const result = original.apply(this, args);
        observe(level, args);
        return result;
      };
      try {
        Object.defineProperty(wrapped, "name", { value: original.name || level });
      } catch {
        // name is cosmetic
      }
      wrapped[TAP_KEY] = original;
      con[level] = wrapped;
    }
    Object.defineProperty(target, TAP_KEY, { value: tap, configurable: true });
    return tap;
  } catch {
    return null;
  }
}

/** The installed tap, if any. */
export function consoleTapOf(target = globalThis) {
  return target[TAP_KEY] || null;
}

/** Puts the console methods back (the tap's wrappers keep the originals), where they are still ours. */
export function uninstallConsoleTap(target = globalThis) {
  const key = Symbol.for("matrix-crypto-guardian/console-tap");
  const tap = target[key];
  if (!tap) return;
  tap.detach();
  const con = target.console;
  for (const level of ["error", "warn", "log", "info"]) {
    const original = con && con[level] && con[level][key];
    if (original) con[level] = original;
  }
  delete target[key];
}
