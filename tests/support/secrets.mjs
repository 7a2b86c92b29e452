// The secrets scan (issue 9): what the guardian wrote in a page — its report (as returned and as
// downloaded), what its API hands the host, every record of its own IndexedDB database, the page's console
// and the DOM of its elements (shadow roots included) — searched for the session's real secrets.
//
//   const secrets = [{ kind: 'access token', value }, …];
//   const sources = await guardianOutput(page);        // { 'report()': text, … }
//   const hits = scanForSecrets(sources, secrets);      // [{ source, kind, form }] — never the value
//
// Failure messages name the source and the kind of secret, never the secret itself.
import { readFile } from 'node:fs/promises';

import { guardianDatabase, logsOf } from './browser.mjs';

/** The guardian's elements, and the demo's list of the guardian's events (their details as the host shows them). */
export const GUARDIAN_ELEMENTS = ['matrix-crypto-guardian-prompt', 'matrix-crypto-guardian-panel', 'matrix-crypto-guardian-writer', '#guardian-events'];

// A long secret is also looked for by a 32-character window from its middle: a message cut to a length
// (the journal keeps 800 characters) or a key re-wrapped into other text would still leak that part.
const WINDOW = 32;

/** The forms a secret may take in text: as is, URL-encoded, and (if long) a window from its middle. */
function formsOf(value) {
  const forms = [['as is', value]];
  const encoded = encodeURIComponent(value);
  if (encoded !== value) forms.push(['URL-encoded', encoded]);
  if (value.length >= 2 * WINDOW) {
    const at = Math.floor((value.length - WINDOW) / 2);
    forms.push(['a 32-character part', value.slice(at, at + WINDOW)]);
  }
  return forms;
}

/**
 * Every occurrence of a secret in the sources, as `{ source, kind, form }`.
 * @param {Record<string, string>} sources  name → text
 * @param {{kind: string, value: string}[]} secrets
 */
export function scanForSecrets(sources, secrets) {
  const hits = [];
  for (const [source, text] of Object.entries(sources)) {
    for (const { kind, value } of secrets) {
      if (typeof value !== 'string' || value === '') throw new Error(`scanForSecrets: the ${kind} is empty: nothing to look for`);
      for (const [form, needle] of formsOf(value)) {
        if (text.includes(needle)) {
          hits.push({ source, kind, form });
          break;
        }
      }
    }
  }
  return hits;
}

/** The session's access token, where the demo keeps it (Cinny's localStorage key). */
export function accessTokenOf(page) {
  return page.evaluate(() => localStorage.getItem('cinny_access_token'));
}

/** Every room key of the page's client, in plaintext (matrix-js-sdk's own export): the `session_key`s. */
export async function roomKeysOf(page) {
  return page.evaluate(async () => {
    const crypto = window.demo.client?.getCrypto();
    return crypto ? (await crypto.exportRoomKeys()).map((k) => k.session_key) : [];
  });
}

/** Every record of the guardian's own database (keys and values of all object stores), as JSON text. */
export async function ownDatabaseText(page) {
  return JSON.stringify(await guardianDatabase(page));
}

/** Text nodes, attributes and form values of the guardian's elements, through their shadow roots. */
export function guardianDomText(page) {
  return page.evaluate((selectors) => {
    const out = [];
    const walk = (node) => {
      if (node.nodeType === Node.TEXT_NODE) return out.push(node.data);
      if (node.attributes) for (const a of node.attributes) out.push(`${a.name}=${a.value}`);
      if (typeof node.value === 'string' && node.value) out.push(`value=${node.value}`);
      if (node.shadowRoot) walk(node.shadowRoot);
      for (const child of node.childNodes) walk(child);
    };
    for (const el of document.querySelectorAll(selectors.join(','))) walk(el);
    return out.join('\n');
  }, GUARDIAN_ELEMENTS);
}

/**
 * Everything the guardian of `page` wrote, by source. `download`: also save the report through
 * `guardian.downloadReport()` and read the file. The page's guardian is window.demo.guardian (npm or drop-in).
 */
export async function guardianOutput(page, { download = true } = {}) {
  const name = logsOf(page).name;
  const sources = {};
  await page.evaluate(() => window.demo.guardian.flushJournal?.());
  sources[`${name}: report()`] = await page.evaluate(async () => JSON.stringify(await window.demo.guardian.report()));
  if (download) {
    const [file] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.evaluate(() => window.demo.guardian.downloadReport())]);
    sources[`${name}: downloaded report`] = await readFile(await file.path(), 'utf8');
  }
  // What the guardian's API hands the host (the prompt and the demo render from these).
  sources[`${name}: API views`] = await page.evaluate(() => {
    const g = window.demo.guardian;
    const views = {};
    for (const [fn, ...args] of [['storm'], ['recovery'], ['remedies'], ['storeCheck'], ['writer'], ['persistence'], ['journal'], ['diagnosticsSummary', 200]]) {
      try {
        views[fn] = typeof g[fn] === 'function' ? g[fn](...args) : null;
      } catch (e) {
        views[fn] = `threw ${e}`;
      }
    }
    return JSON.stringify(views);
  });
  sources[`${name}: own database`] = await ownDatabaseText(page);
  // What the guardian keeps in localStorage (writer lease, a journal left by a page that went away).
  sources[`${name}: localStorage`] = await page.evaluate(() =>
    JSON.stringify(Object.entries(localStorage).filter(([key]) => key.startsWith('matrix-crypto-guardian'))),
  );
  sources[`${name}: DOM`] = await guardianDomText(page);
  sources[`${name}: console`] = consoleText(page);
  return sources;
}

/** Every console message and page error of the page so far (all of them: the guardian writes through console). */
export function consoleText(page) {
  const { console: lines, errors } = logsOf(page);
  return [...lines.map((m) => `[${m.type}] ${m.text}`), ...errors.map((e) => `[pageerror] ${e.message}\n${e.stack || ''}`)].join('\n');
}
