// The guardian's own words (recovery prompt, panel, writer overlay), in the user's language.
//
// One table per language in ./i18n/<code>.js, keyed like ./i18n/en.js. English is built in and is the
// fallback for every string a language lacks, so a partial translation never shows a key or a blank.
// Only the languages shipped here are fetched: an unknown tag costs no request (and no 404).

import en from "./i18n/en.js";

import { shippedLanguage } from "./language.js";

export { LANGUAGES, shippedLanguage, guardianLanguage } from "./language.js";

// Literal specifiers, so bundlers (Vite, webpack) split each language into a chunk of its own.
const LOADERS = {
  de: () => import("./i18n/de.js"),
  fr: () => import("./i18n/fr.js"),
  es: () => import("./i18n/es.js"),
};
const tables = new Map([["en", Promise.resolve(en)]]);

/** The table of a shipped language (English for any other); a table that fails to load is English too. */
function table(language) {
  const code = shippedLanguage(language) || "en";
  if (!tables.has(code)) {
    const loading = LOADERS[code]()
      .then((m) => m.default)
      .catch(() => {
        tables.delete(code); // a network blip: tried again next time
        return {};
      });
    tables.set(code, loading);
  }
  return tables.get(code);
}

/** The strings for a language: English, then the language's table, then the host's overrides. */
export async function loadStrings(language = "en", overrides = {}) {
  const own = await table(language);
  return { ...en, ...own, ...overrides };
}

/** The English strings (what is shown before a language's table has loaded). */
export const englishStrings = en;

/** `format(strings, key, {name: value})`: the string with its {placeholders} filled, as plain text. */
export function format(strings, key, values = {}) {
  const template = (strings && strings[key]) ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}
