// The demo chat client built against an older matrix-js-sdk / @matrix-org/matrix-sdk-crypto-wasm: the SDK
// versions that showed a problem in the field, pinned in test-only packages under tests/sdk-versions/<name>/
// (package.json + package-lock.json, installed from the npm registry with `npm ci`, cached in node_modules
// there). The page is www/index.html's twin at /dist/sdk/<name>/ (www/dist is the demo's build output), so
// the e2e helpers open it with `path: sdkPagePath(name)` and everything else (guardian modes, ?guardian=off,
// the serve.mjs server) stays the same.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

import { buildOptions, DIST, WWW } from '../../scripts/build-www.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SDK_VERSIONS_DIR = join(ROOT, 'tests', 'sdk-versions');
const WASM_NAME = 'matrix_sdk_crypto_wasm_bg.wasm';
/** The packages a variant takes from its pinned directory instead of the workspace's. */
const PINNED = /^(matrix-js-sdk|@matrix-org\/matrix-sdk-crypto-wasm)(\/.*)?$/;

/** The page of the variant, for newUserPage's `path`. */
export function sdkPagePath(name) {
  return `/dist/sdk/${name}/index.html`;
}

/** Installs the pinned package set (once; `npm ci` from its lockfile, no install scripts). */
export function installSdkVersion(name) {
  const dir = join(SDK_VERSIONS_DIR, name);
  if (!existsSync(join(dir, 'package-lock.json'))) throw new Error(`no pinned SDK set ${name} in ${SDK_VERSIONS_DIR}`);
  // The lockfile installed last is kept next to node_modules (as scripts/toolchain.sh does).
  const lock = readFileSync(join(dir, 'package-lock.json'), 'utf8');
  const stamp = join(dir, 'node_modules', '.mcg-lockfile');
  const installed = existsSync(join(dir, 'node_modules', 'matrix-js-sdk', 'package.json'));
  if (!installed || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== lock) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir, stdio: 'ignore' });
    writeFileSync(stamp, lock);
  }
  return dir;
}

/** The versions a pinned set actually installed: `{ jsSdk, cryptoWasm }`. */
export function sdkVersionsOf(name) {
  const nm = join(SDK_VERSIONS_DIR, name, 'node_modules');
  const version = (pkg) => JSON.parse(readFileSync(join(nm, pkg, 'package.json'), 'utf8')).version;
  return { jsSdk: version('matrix-js-sdk'), cryptoWasm: version('@matrix-org/matrix-sdk-crypto-wasm') };
}

/**
 * Builds www/src/app.js against the pinned set into www/dist/sdk/<name>/ (app.js, chunks, the crypto
 * wasm next to the chunk that loads it, index.html). Rebuilt when the app or the lockfile is newer.
 */
export async function ensureSdkPage(name) {
  const pinned = installSdkVersion(name);
  const out = join(DIST, 'sdk', name);
  const page = join(out, 'index.html');
  const inputs = [statSync(join(WWW, 'src', 'app.js')).mtimeMs, statSync(join(pinned, 'package-lock.json')).mtimeMs, statSync(join(WWW, 'index.html')).mtimeMs];
  if (existsSync(page) && statSync(page).mtimeMs >= Math.max(...inputs)) return { path: sdkPagePath(name), rebuilt: false };

  const base = buildOptions();
  const result = await build({
    ...base,
    outdir: out,
    // matrix-js-sdk and the crypto wasm resolve from the pinned directory, as Node would resolve them there
    // (same export conditions); everything else from the workspace.
    plugins: [{
      name: 'pinned-sdk',
      setup(b) {
        b.onResolve({ filter: PINNED }, (args) => {
          if (args.pluginData === 'pinned') return undefined;
          return b.resolve(args.path, { kind: args.kind, resolveDir: pinned, importer: args.importer, pluginData: 'pinned' });
        });
      },
    }],
  });
  // The crypto wasm sits next to each output that loads it (its `new URL("./pkg/…", import.meta.url)`).
  const wasm = join(pinned, 'node_modules', '@matrix-org', 'matrix-sdk-crypto-wasm', 'pkg', WASM_NAME);
  const outputs = Object.keys(result.metafile.outputs).filter((o) => o.endsWith('.js'));
  let copied = 0;
  for (const o of outputs) {
    if (!readFileSync(join(ROOT, o), 'utf8').includes(`./pkg/${WASM_NAME}`)) continue;
    const dir = join(dirname(join(ROOT, o)), 'pkg');
    mkdirSync(dir, { recursive: true });
    copyFileSync(wasm, join(dir, WASM_NAME));
    copied++;
  }
  if (!copied) throw new Error(`sdk page ${name}: no output loads ./pkg/${WASM_NAME}`);
  const html = readFileSync(join(WWW, 'index.html'), 'utf8').replace('src="/dist/app.js"', `src="/dist/sdk/${name}/app.js"`);
  if (!html.includes(`/dist/sdk/${name}/app.js`)) throw new Error('www/index.html no longer loads /dist/app.js');
  writeFileSync(page, html.replace('<html lang="en"', `<html lang="en" data-sdk-set="${name}"`));
  return { path: sdkPagePath(name), rebuilt: true };
}
