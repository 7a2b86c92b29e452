// Which part of the drop-in costs the host's first /sync (issue 18's budget, guarded ÷ bare ≤ 1.02): drop-in
// variants built for this measurement only (bench/variants/, never shipped), each beside the shipped one.
//
//   node bench/start-variants.mjs [pairs=201] [variant …]      (default: every variant)
//
// A diagnostic like bench/start-timeline.mjs, not part of `npm run bench`. Each variant is the built package
// with its `dropin.js` replaced (bundled from bench/variants/<name>.js), served from its own origin with its
// own user; every variant's guarded and bare reloads are measured in alternating pairs, pair i of every
// variant in turn, so the machine's drift falls on all of them alike. The login is made on the bare page:
// the variants without a core do not watch it, and every variant then starts from the same healthy session.
// Writes bench/start-variants.json.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';

import { appUrl, login, newUserPage } from '../tests/support/browser.mjs';
import { serve } from '../scripts/serve.mjs';
import { freshUser, snapshotPkg, startStack, LOGIN_TIMEOUT_MS } from '../tests/support/scenarios.mjs';
import { firstSyncAt, median, ratioInterval } from './budgets.mjs';

/** name → what it is; `shipped` is pkg/dropin.js as built, the others bench/variants/<name>.js. */
export const VARIANTS = {
  empty: 'the drop-in line with nothing in it (a blocking script first in <head>)',
  'taps-only': 'the synchronous part: fetch tap, console tap, crypto-store gate (nothing held, nothing loaded)',
  'browser-work': "+ the gate's browser calls in plain JS (session, listing, own database, lock, store read), no module",
  'module-load': '+ a wasm module of the writer\'s size loaded before the gate opens (pkg/lease, nothing run)',
  shipped: 'the drop-in as shipped',
};

/** A copy of the package whose dropin.js is the variant's (the shipped one as is). */
async function variantPackage(pkg, name) {
  const dir = mkdtempSync(join(tmpdir(), `mcg-variant-${name}-`));
  execFileSync('cp', ['-r', `${pkg}/.`, dir]);
  if (name !== 'shipped') {
    const entry = new URL(`./variants/${name}.js`, import.meta.url).pathname;
    await build({ entryPoints: [entry], bundle: true, minify: true, format: 'iife', target: 'es2020', outfile: `${dir}/dropin.js`, logLevel: 'warning' });
  }
  return dir;
}

export async function startVariants({ pairs = 201, names = Object.keys(VARIANTS) } = {}) {
  const pkg = await snapshotPkg();
  const stack = await startStack({ pkg });
  const runs = [];
  try {
    for (const name of names) {
      const dir = await variantPackage(pkg, name);
      const web = await serve({ homeserver: stack.hs.baseUrl, pkg: dir });
      const url = (guardian) => appUrl({ baseUrl: web.url, homeserver: stack.hs.baseUrl, guardian, query: { devtools: 'closed' } });
      const user = await freshUser(stack.hs, 'variant');
      const page = await newUserPage(stack.browser, { baseUrl: web.url, homeserver: stack.hs.baseUrl, guardian: 'off', name });
      await login(page, user.localpart, user.password, { homeserver: stack.hs.baseUrl, timeout: LOGIN_TIMEOUT_MS });
      await page.waitForTimeout(3000); // the login's own uploads settle
      for (let i = 0; i < 4; i++) for (const which of ['dropin', 'off']) await firstSyncAt(page, url(which)); // warm both
      runs.push({ name, dir, web, page, urls: { guarded: url('dropin'), bare: url('off') }, times: { guarded: [], bare: [] } });
    }
    for (let i = 0; i < pairs; i++) {
      for (const run of runs) {
        for (const which of i % 2 === 0 ? ['guarded', 'bare'] : ['bare', 'guarded']) run.times[which].push(await firstSyncAt(run.page, run.urls[which]));
      }
    }
    return runs.map(({ name, times }) => {
      const [low, high] = ratioInterval(times.guarded, times.bare);
      return { name, what: VARIANTS[name], guarded: median(times.guarded), bare: median(times.bare), ratio: median(times.guarded) / median(times.bare), interval: [low, high], samples: times };
    });
  } finally {
    for (const run of runs) await run.web.close().catch(() => {});
    await stack.close();
    for (const run of runs) rmSync(run.dir, { recursive: true, force: true });
    rmSync(dirname(pkg), { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [pairsArg, ...names] = process.argv.slice(2);
  const unknown = names.filter((n) => !VARIANTS[n]);
  if (unknown.length) throw new Error(`unknown variant ${unknown.join(', ')}; known: ${Object.keys(VARIANTS).join(', ')}`);
  const pairs = Number(pairsArg || 201);
  const rows = await startVariants({ pairs, names: names.length ? names : undefined });
  console.log(`\nhealthy reload → first /sync, guarded ÷ bare, ${pairs} interleaved alternating pairs per variant (Chromium)`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(13)} ×${r.ratio.toFixed(3)} (${r.interval[0].toFixed(3)}–${r.interval[1].toFixed(3)})  ${r.guarded.toFixed(1)} vs ${r.bare.toFixed(1)} ms  ${r.what}`);
  }
  const out = new URL('./start-variants.json', import.meta.url).pathname;
  // One line per variant (its samples included), so a diff of two runs reads row by row.
  writeFileSync(out, `{"date": ${JSON.stringify(new Date().toISOString())}, "pairs": ${pairs}, "rows": [\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`);
  console.log(`written ${out}`);
  process.exit(0);
}
