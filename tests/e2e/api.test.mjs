// The public surface without a browser: option validation (a wrong option is a clear error naming it),
// the drop-in's data-* attributes, and the npm package's manifest. Node only, no wasm is instantiated:
// Guardian.start() validates before it loads anything.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PKG = join(ROOT, 'pkg');
const built = existsSync(join(PKG, 'index.js'));
// Without pkg/ these suites fail, never skip: a run that tested nothing must not read as green.
const requireBuilt = () => assert.ok(built, `${PKG} is not built: run npm run build first`);

describe('Guardian.start() option validation', () => {
  before(requireBuilt);
  const load = () => import(pathToFileURL(join(PKG, 'index.js')).href);

  const wrong = [
    [{ probeAfterMs: 5 }, 'probeAfterMs', /≥ 1000/],
    [{ maxProbeAfterMs: 'soon' }, 'maxProbeAfterMs', /milliseconds/],
    [{ diagnose: 'yes' }, 'diagnose', /true or false/],
    [{ preset: 'cinnyy' }, 'preset', /"cinny", "element" or "generic"/],
    [{ session: { userId: '@a:hs' } }, 'session', /userId, deviceId/],
    [{ cryptoStores: 'matrix-js-sdk::matrix-sdk-crypto' }, 'cryptoStores', /array/],
    [{ persist: 1 }, 'persist', /true or false/],
    [{ prompt: 'off' }, 'prompt', /true or false/],
    [{ lang: 'english please' }, 'lang', /language tag/],
    [{ coreWasmUrl: 42 }, 'coreWasmUrl', /URL/],
    [{ presett: 'cinny' }, 'presett', /unknown option; known: .*preset/],
  ];
  for (const [options, option, why] of wrong) {
    test(`${JSON.stringify(options)} is rejected naming "${option}"`, async () => {
      const { Guardian, GuardianOptionError } = await load();
      const err = await Guardian.start(options).then(() => null, (e) => e);
      assert.ok(err instanceof GuardianOptionError, `a GuardianOptionError, got ${err}`);
      assert.ok(err instanceof TypeError);
      assert.equal(err.name, 'GuardianOptionError');
      assert.equal(err.option, option);
      assert.match(err.message, new RegExp(`^matrix-crypto-guardian: option "${option}": `));
      assert.match(err.message, why);
    });
  }

  test('options that are not an object are rejected naming "options"', async () => {
    const { Guardian } = await load();
    for (const bad of [null, 'cinny', 3]) {
      const err = await Guardian.start(bad).then(() => null, (e) => e);
      assert.equal(err?.option, 'options', String(bad));
    }
  });

  test('a wrong option installs nothing (fetch untouched)', async () => {
    const { Guardian } = await load();
    const before = globalThis.fetch;
    await Guardian.start({ probeAfterMs: -1 }).catch(() => {});
    assert.equal(globalThis.fetch, before);
    assert.equal(globalThis[Symbol.for('matrix-crypto-guardian/fetch-tap')], undefined);
  });
});

describe('index.d.ts covers the JS API', () => {
  const js = readFileSync(join(ROOT, 'js', 'index.js'), 'utf8');
  const dts = readFileSync(join(ROOT, 'js', 'index.d.ts'), 'utf8');
  const block = (text, start, end) => text.slice(text.indexOf(start), text.indexOf(end, text.indexOf(start)));

  test('every option Guardian.start() accepts is typed in GuardianOptions, and nothing else', () => {
    const checked = [...block(js, 'const OPTION_CHECKS = {', '\n};').matchAll(/^ {2}([a-zA-Z]+):/gm)].map((m) => m[1]);
    const typed = [...block(dts, 'export interface GuardianOptions', '\n}').matchAll(/^ {2}([a-zA-Z]+)\?:/gm)].map((m) => m[1]);
    assert.ok(checked.length >= 10, `options found: ${checked}`);
    assert.deepEqual([...typed].sort(), [...checked].sort());
  });

  test('every event type index.js emits has a typed detail in GuardianEventMap', () => {
    const emitted = new Set([...js.matchAll(/type: "([a-z-]+)"/g)].map((m) => m[1]));
    const map = block(dts, 'export interface GuardianEventMap', '\n}');
    for (const type of emitted) assert.ok(map.includes(`"${type}":`) || map.includes(`  ${type}:`), `${type} is missing from GuardianEventMap`);
  });
});

describe('drop-in data-* attributes', () => {
  const load = () => import(pathToFileURL(join(ROOT, 'js', 'dropin-config.js')).href);

  test('valid attributes become Guardian.start() options', async () => {
    const { readDropInConfig } = await load();
    const { options, problems } = readDropInConfig({ preset: 'element', cryptoStorePrefix: 'app::matrix-sdk-crypto', prompt: 'off', lang: 'pt-BR' });
    assert.deepEqual(problems, []);
    assert.deepEqual(options, { preset: 'element', cryptoStorePrefix: 'app::matrix-sdk-crypto', prompt: false, lang: 'pt-BR' });
  });

  test('no attributes: the generic preset', async () => {
    const { readDropInConfig } = await load();
    assert.deepEqual(readDropInConfig({}), { options: { preset: 'generic' }, problems: [] });
  });

  test('a bad or unknown attribute is ignored and named', async () => {
    const { readDropInConfig } = await load();
    const { options, problems } = readDropInConfig({ preset: 'cinnyy', prompt: 'maybe', lang: 'x', promt: 'off', cryptoStorePrefix: ' ' });
    assert.deepEqual(options, { preset: 'generic' });
    assert.equal(problems.length, 5);
    assert.match(problems[0], /^data-preset="cinnyy" is ignored: must be cinny, element or generic$/);
    assert.match(problems[1], /^data-prompt="maybe" is ignored: must be on or off$/);
    assert.match(problems[2], /^data-lang="x" is ignored/);
    assert.match(problems[3], /^data-promt is not known \(known: data-preset, data-crypto-store-prefix, data-prompt, data-lang/);
    assert.match(problems[4], /^data-crypto-store-prefix=" " is ignored/);
  });

  test('the drop-in and Guardian.start() agree on every option the attributes produce', async () => {
    const { readDropInConfig } = await load();
    const { options } = readDropInConfig({ preset: 'cinny', cryptoStorePrefix: 'p', prompt: 'on', lang: 'de', writerLockName: 'l' });
    const { Guardian } = await import(pathToFileURL(join(PKG, 'index.js')).href);
    // Validation runs first; an invalid or unknown one would reject with GuardianOptionError before any
    // browser API is touched. Here it gets past validation and fails later, on Node's missing browser.
    const err = await Guardian.start({ ...options, persist: false }).then(() => null, (e) => e);
    assert.notEqual(err?.name, 'GuardianOptionError', String(err));
  });
});

describe('the npm package', () => {
  before(requireBuilt);
  const manifest = () => JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));

  test('ESM with types, an exports map and accurate sideEffects', () => {
    const m = manifest();
    assert.equal(m.type, 'module');
    assert.deepEqual(m.exports['.'], { types: './index.d.ts', default: './index.js' });
    assert.equal(m.exports['./dropin.js'], './dropin.js');
    assert.ok(existsSync(join(PKG, 'panel.js')), 'the panel is built');
    assert.ok('./panel' in m.exports);
    assert.deepEqual(m.sideEffects, ['./dropin.js', './panel-element.js', './panel.js']);
    // Modules imported by the entry must not run code at import time that bundlers would need to keep
    // (the panel's element, which registers itself, is listed above).
    for (const f of ['index.js', 'fetch-tap.js', 'prevention.js']) {
      const src = readFileSync(join(PKG, f), 'utf8');
      assert.doesNotMatch(src, /^(?:globalThis|window|self)\.\w+\s*=|^customElements\.define/m, `${f} has a top-level side effect`);
    }
  });

  test('the manifest says what is supported: Node ≥ 22 (as matrix-js-sdk 43), an optional matrix-js-sdk 43 peer, Apache-2.0; the panel has types of its own', () => {
    const m = manifest();
    assert.equal(m.engines?.node, '>=22');
    const sdk = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'matrix-js-sdk', 'package.json'), 'utf8'));
    assert.equal(sdk.engines?.node, '>=22.0.0', 'the SDK the guardian is tested with wants Node 22 (else revisit engines)');
    assert.equal(m.peerDependencies?.['matrix-js-sdk'], `^${sdk.version.split('.')[0]}.0.0`, `the tested SDK (${sdk.version})`);
    assert.deepEqual(m.peerDependenciesMeta, { 'matrix-js-sdk': { optional: true } });
    assert.equal(m.license, 'Apache-2.0');
    assert.match(readFileSync(join(PKG, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004/);
    assert.deepEqual(m.exports['./panel'], { types: './panel.d.ts', default: './panel.js' });
    // panel.d.ts declares exactly what panel.js exports (its own and the element's it re-exports), but the
    // view class the element loads, which is internal.
    const declared = [...readFileSync(join(PKG, 'panel.d.ts'), 'utf8').matchAll(/^export declare (?:class|function|const) (\w+)/gm)].map((x) => x[1]).sort();
    const source = readFileSync(new URL('../../js/panel.js', import.meta.url), 'utf8'); // the readable source pkg/panel.js is minified from
    const own = [...source.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((x) => x[1]);
    const reexported = [...source.matchAll(/^export \{([^}]+)\} from/gm)].flatMap((x) => x[1].split(',').map((n) => n.trim()));
    assert.deepEqual([...own, ...reexported].filter((n) => n !== 'PanelView').sort(), declared);
  });

  test('npm pack ships the entry, types, drop-in, core and the lazily loaded modules', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PKG, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const files = JSON.parse(out)[0].files.map((f) => f.path);
    for (const f of ['index.js', 'index.d.ts', 'panel.js', 'panel.d.ts', 'dropin.js', 'fetch-tap.js', 'strings.js', 'i18n/en.js', 'i18n/de.js', 'i18n/fr.js', 'i18n/es.js', 'core/guardian_core.js', 'core/guardian_core_bg.wasm', 'watch/guardian_watch.js', 'watch/guardian_watch_bg.wasm', 'lease/guardian_lease.js', 'lease/guardian_lease_bg.wasm', 'forensics/forensics.js', 'forensics/forensics_bg.wasm', 'package.json', 'README.md', 'LICENSE']) {
      assert.ok(files.includes(f), `${f} in the tarball (${files.join(', ')})`);
    }
    // Every relative import of a shipped module is shipped too.
    for (const f of files.filter((p) => p.endsWith('.js') && !p.includes('/'))) {
      for (const [, spec] of readFileSync(join(PKG, f), 'utf8').matchAll(/(?:from|import)\s*\(?\s*"(\.\/[^"]+)"/g)) {
        assert.ok(files.includes(spec.slice(2)), `${f} imports ${spec}, which is not in the tarball`);
      }
    }
  });
});
