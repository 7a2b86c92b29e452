// What differs between a page and Node.js, which every part needs: where the wasm bytes come from (Node's
// fetch cannot read a file: URL, so Node reads the package's own files) and whether this is Node at all.
// The Node-only parts (bots, the process's writer role) are js/headless.js, loaded only where they run.
import { importUrl } from "./import-url.js";

/** True in Node.js (not in a browser page or worker, even one that polyfills `process`). */
export function isNode() {
  return typeof process === "object" && !!process?.versions?.node && typeof globalThis.window === "undefined" && typeof globalThis.importScripts !== "function";
}

// Not literal specifiers: bundlers must not try to resolve Node's modules for a browser build.
const FS = "node:fs/promises";

/**
 * The bytes of a wasm file of this package, in Node; `undefined` elsewhere (the wasm-bindgen glue fetches
 * it). `url`: absolute, or relative to this file; only file: URLs are read (others are the glue's to fetch).
 */
export async function wasmBytes(url) {
  if (!isNode()) return undefined;
  const where = new URL(String(url), import.meta.url);
  if (where.protocol !== "file:") return undefined;
  const { readFile } = await importUrl(FS);
  return readFile(where);
}

/** Where the core's wasm is in this package (relative to this file, as the glue itself places it). */
export const CORE_WASM = "./core/guardian_core_bg.wasm";

/** A lazily loaded module's wasm (`wasmName`) next to its glue module (`moduleUrl`, relative to this file or absolute). */
export function moduleWasm(moduleUrl, wasmName) {
  return new URL(wasmName, new URL(String(moduleUrl), import.meta.url)).href;
}

/**
 * Resolves once the page is idle, at the latest after `timeoutMs`: for start work nothing waits on (the
 * persistent-storage request, the own database's first look), so it never competes with the host's own
 * start. Where there is no requestIdleCallback (WebKit), after `timeoutMs`; in Node.js at once (no page).
 */
export function whenIdle(timeoutMs = 1000) {
  if (isNode()) return Promise.resolve();
  return new Promise((resolve) => {
    if (typeof globalThis.requestIdleCallback === "function") globalThis.requestIdleCallback(() => resolve(), { timeout: timeoutMs });
    else setTimeout(resolve, timeoutMs);
  });
}
