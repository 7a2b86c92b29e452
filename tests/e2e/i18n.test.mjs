// The guardian's own words in the user's language (issue 15, item 10).
//  - Node: every shipped language (js/strings.js LANGUAGES) has every key of js/i18n/en.js, no key of its
//    own, the same {placeholders}, and no empty string; a language that is not shipped, or a key a table
//    lacks, falls back to English per string.
//  - Chromium: a page with the drop-in and data-lang="de" shows the recovery prompt, the writer overlay and
//    the panel in German. No Synapse: the server is tests/support/tap-harness.mjs on 127.0.0.1, answering a
//    keys/upload with Synapse's own conflict.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { launchBrowser, saveArtifacts } from '../support/browser.mjs';
import { startHostileServer, UPLOAD_PATH } from '../support/tap-harness.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const strings = () => import(pathToFileURL(join(ROOT, 'js', 'strings.js')).href);
const table = async (code) => (await import(pathToFileURL(join(ROOT, 'js', 'i18n', `${code}.js`)).href)).default;
const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the guardian\'s languages', () => {
  test('every shipped language has every English key, no other key, the same placeholders, no empty text', async () => {
    const { LANGUAGES } = await strings();
    const en = await table('en');
    assert.deepEqual(LANGUAGES.slice(0, 1), ['en']);
    assert.ok(LANGUAGES.length >= 4, `English and at least German, French and Spanish: ${LANGUAGES}`);
    for (const code of LANGUAGES.slice(1)) {
      assert.ok(existsSync(join(ROOT, 'js', 'i18n', `${code}.js`)), `js/i18n/${code}.js`);
      const own = await table(code);
      const missing = Object.keys(en).filter((k) => !(k in own));
      const extra = Object.keys(own).filter((k) => !(k in en));
      assert.deepEqual(missing, [], `${code} lacks these keys (they would show in English)`);
      assert.deepEqual(extra, [], `${code} has keys English does not`);
      for (const [key, text] of Object.entries(own)) {
        assert.equal(typeof text, 'string', `${code} ${key}`);
        assert.notEqual(text.trim(), '', `${code} ${key} is empty`);
        assert.deepEqual(placeholders(text), placeholders(en[key]), `${code} ${key}: the placeholders of "${en[key]}"`);
      }
      // Translated, not copied: the sentences differ from the English ones.
      const same = Object.keys(en).filter((k) => own[k] === en[k] && en[k].split(/\s+/).length >= 3);
      assert.deepEqual(same, [], `${code}: sentences left in English`);
    }
  });

  test('per-string fallback: a key a table lacks is English; an unshipped language is English; a regional tag uses its language', async () => {
    const { loadStrings, format, shippedLanguage } = await strings();
    const en = await table('en');
    const de = await table('de');
    const german = await loadStrings('de-AT');
    assert.equal(german['title.store-lost'], de['title.store-lost']);
    assert.notEqual(german['title.store-lost'], en['title.store-lost']);
    assert.equal(format({ 'fact.yes': 'ja' }, 'fact.no'), en['fact.no'], 'a key the table lacks: English');
    assert.equal(format(german, 'export.done', { count: 3, file: 'k.txt' }), '3 Raumschlüssel in k.txt gespeichert.');
    assert.equal(shippedLanguage('pt-BR'), null);
    assert.deepEqual(await loadStrings('pt-BR'), en, 'not shipped: English, with no request');
    assert.equal((await loadStrings('fr', { 'remedy.snooze': 'Pas maintenant' }))['remedy.snooze'], 'Pas maintenant', 'the host\'s overrides win');
  });
});

describe('a data-lang="de" drop-in page speaks German', { timeout: 120_000 }, () => {
  let hs;
  let browser;
  before(async () => {
    assert.ok(existsSync(join(ROOT, 'pkg', 'dropin.js')), 'pkg/ is built (npm run build)');
    [hs, browser] = await Promise.all([startHostileServer(), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await hs?.close();
  });

  // The drop-in first, then a host that opens the crypto store (held in a second tab) and shows the panel.
  const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<script src="/pkg/dropin.js" data-lang="de"></script>
<script>indexedDB.open('matrix-js-sdk::matrix-sdk-crypto', 1).onupgradeneeded = (e) => e.target.result.createObjectStore('s');</script>
</head><body><h1>host</h1></body></html>`;

  const shadowText = (page, selector) => page.evaluate((s) => document.querySelector(s)?.shadowRoot?.textContent ?? null, selector);

  test('the recovery prompt after a refused upload, the overlay of a second tab and the panel are German', async () => {
    const de = await table('de');
    const context = await browser.newContext();
    const url = `${hs.url}/de.html`;
    await context.route(url, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
    const page = await context.newPage();
    const pages = [page];
    try {
      await page.goto(url);
      await page.evaluate(() => window.matrixCryptoGuardian.ready);
      assert.equal(await page.evaluate(() => window.matrixCryptoGuardian.language), 'de');

      // Synapse's "already exists" answer: the breaker opens, the diagnosis runs, the prompt opens.
      const keyId = 'signed_curve25519:AAAAde';
      const status = await page.evaluate(
        async ({ url, keyId }) =>
          (await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer syt_i18n_test' },
            body: JSON.stringify({ one_time_keys: { [keyId]: { key: 'k', signatures: {} } } }),
          })).status,
        { url: `${UPLOAD_PATH}?case=conflict&tag=i18n`, keyId },
      );
      assert.equal(status, 400);
      await page.waitForFunction(() => !!document.querySelector('matrix-crypto-guardian-prompt[open]')?.shadowRoot?.querySelector('h2'), null, { timeout: 30_000 });
      const prompt = await page.evaluate(() => {
        const root = document.querySelector('matrix-crypto-guardian-prompt').shadowRoot;
        return {
          cause: window.matrixCryptoGuardian.recovery().cause,
          title: root.querySelector('#mcg-title').textContent,
          what: root.querySelector('#mcg-what').textContent,
          heading: root.querySelector('#mcg-facts h3').textContent,
          snooze: root.querySelector('#remedy-snooze')?.textContent ?? null,
        };
      });
      assert.equal(prompt.title, de[`title.${prompt.cause}`], JSON.stringify(prompt));
      assert.equal(prompt.what, de[`what.${prompt.cause}`]);
      assert.equal(prompt.heading, de['facts.heading']);
      assert.equal(prompt.snooze, de['remedy.snooze']);

      // A second tab of the same page: its crypto-store open waits, and the overlay says why, in German.
      const second = await context.newPage();
      pages.push(second);
      await second.goto(url);
      await second.waitForFunction((title) => document.querySelector('matrix-crypto-guardian-writer')?.shadowRoot?.querySelector('h2')?.textContent === title, de['writer.elsewhere.title'], { timeout: 20_000 });
      const overlay = await shadowText(second, 'matrix-crypto-guardian-writer');
      assert.ok(overlay.includes(de['writer.elsewhere.body']) && overlay.includes(de['writer.use-here']), overlay);

      // The panel takes the guardian's language.
      await page.evaluate(async () => {
        await import('/pkg/panel.js');
        document.body.append(document.createElement('matrix-crypto-guardian-panel'));
      });
      await page.waitForFunction((title) => document.querySelector('matrix-crypto-guardian-panel')?.shadowRoot?.querySelector('h2')?.textContent === title, de['panel.title'], { timeout: 10_000 });
      const panel = await shadowText(page, 'matrix-crypto-guardian-panel');
      assert.ok(panel.includes(de['panel.cap.storm']) && panel.includes(de['panel.action.download']), panel);
    } catch (err) {
      await saveArtifacts('i18n-de', pages).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
