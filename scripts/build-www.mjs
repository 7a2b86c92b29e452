#!/usr/bin/env node
// Bundle the demo chat client (www/src/app.js) with esbuild into www/dist/.
//
//   node scripts/build-www.mjs [--minify] [--watch]
//
// The rust crypto: @matrix-org/matrix-sdk-crypto-wasm's browser entry (index.mjs, picked by the "import"
// condition) fetches its wasm from `new URL("./pkg/matrix_sdk_crypto_wasm_bg.wasm", import.meta.url)` when
// matrix-js-sdk calls initAsync(). esbuild keeps `import.meta.url` as is in ESM output, so it resolves against
// the bundle file that contains that code (a chunk in www/dist/). We copy the .wasm to www/dist/pkg/ to sit
// exactly there. `import('/pkg/index.js')` (the guardian) stays external: the browser loads it from /pkg/.

import { build, context } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const WWW = join(ROOT, 'www');
export const DIST = join(WWW, 'dist');

/** Path of the matrix-sdk-crypto-wasm .wasm that matrix-js-sdk will load. */
export function cryptoWasmPath() {
  // resolve from matrix-js-sdk's point of view, in case the wasm package is nested under it
  const require = createRequire(join(ROOT, 'package.json'));
  const sdkMain = require.resolve('matrix-js-sdk');
  const fromSdk = createRequire(sdkMain);
  const wasmEntry = fromSdk.resolve('@matrix-org/matrix-sdk-crypto-wasm'); // .../index.cjs (require condition)
  return join(dirname(wasmEntry), 'pkg', 'matrix_sdk_crypto_wasm_bg.wasm');
}

export function buildOptions({ minify = false } = {}) {
  return {
    absWorkingDir: ROOT,
    entryPoints: { app: join(WWW, 'src', 'app.js') },
    outdir: DIST,
    bundle: true,
    format: 'esm',
    splitting: true,
    platform: 'browser',
    target: ['chrome111', 'firefox115', 'safari16.4'],
    sourcemap: true,
    minify,
    chunkNames: 'chunks/[name]-[hash]',
    external: ['/pkg/*'],
    logLevel: 'warning',
    metafile: true,
    define: { 'process.env.NODE_ENV': minify ? '"production"' : '"development"' },
  };
}

const WASM_NAME = 'matrix_sdk_crypto_wasm_bg.wasm';

/** Copy the crypto .wasm to `<dir of each output that references it>/pkg/` (that's where import.meta.url points). */
function copyWasm(outputs) {
  const src = cryptoWasmPath();
  const dirs = new Set(
    outputs
      .filter((o) => o.endsWith('.js') && readFileSync(join(ROOT, o), 'utf8').includes(`./pkg/${WASM_NAME}`))
      .map((o) => join(dirname(join(ROOT, o)), 'pkg')),
  );
  if (dirs.size === 0) throw new Error(`build-www: no output references ./pkg/${WASM_NAME}; the wasm loading scheme changed`);
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true });
    copyFileSync(src, join(dir, WASM_NAME));
  }
  return { src, dirs: [...dirs] };
}

export async function buildWww({ minify = false, clean = true, quiet = false } = {}) {
  const t0 = Date.now();
  if (clean) rmSync(DIST, { recursive: true, force: true });
  const result = await build(buildOptions({ minify }));
  const outputs = Object.keys(result.metafile.outputs);
  const wasm = copyWasm(outputs);
  if (!quiet) {
    const size = outputs.filter((o) => o.endsWith('.js')).reduce((n, o) => n + statSync(join(ROOT, o)).size, 0);
    const where = wasm.dirs.map((d) => d.slice(ROOT.length + 1)).join(', ');
    console.log(`build-www: ${outputs.length} files, ${(size / 1024).toFixed(0)} KiB js, crypto wasm ${(statSync(wasm.src).size / 1048576).toFixed(1)} MiB -> ${where}, ${Date.now() - t0} ms`);
  }
  return { dist: DIST, outputs, warnings: result.warnings };
}

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Build only if www/dist is missing or older than www/src, the crypto wasm or matrix-js-sdk; never deletes
 * dist/ (safe when several test files call it). For tests: `await ensureWwwBuilt()`.
 */
export async function ensureWwwBuilt({ quiet = true } = {}) {
  const app = join(DIST, 'app.js');
  const require = createRequire(join(ROOT, 'package.json'));
  const inputs = [newestMtime(join(WWW, 'src')), statSync(cryptoWasmPath()).mtimeMs, statSync(require.resolve('matrix-js-sdk')).mtimeMs];
  const built = existsSync(app) && existsSync(join(DIST, 'chunks')) ? statSync(app).mtimeMs : 0;
  if (built && built >= Math.max(...inputs)) return { dist: DIST, rebuilt: false };
  const r = await buildWww({ clean: false, quiet });
  return { ...r, rebuilt: true };
}

export async function watchWww({ minify = false } = {}) {
  rmSync(DIST, { recursive: true, force: true });
  const ctx = await context({
    ...buildOptions({ minify }),
    logLevel: 'info',
    plugins: [{ name: 'copy-wasm', setup: (b) => b.onEnd((r) => r.metafile && copyWasm(Object.keys(r.metafile.outputs))) }],
  });
  await ctx.watch();
  console.log('build-www: watching www/src …');
  return ctx;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const minify = args.includes('--minify');
  if (args.includes('--watch')) await watchWww({ minify });
  else await buildWww({ minify });
}
