// Which language the guardian speaks, without any of its texts: the Guardian needs this at start, the
// tables (./strings.js, ./i18n/) load with the first prompt, panel or overlay.

/** Languages with a table in ./i18n/ (tests/e2e/i18n.test.mjs checks that each has every key). */
export const LANGUAGES = ["en", "de", "fr", "es"];

/**
 * The shipped language for a tag ("de-AT" → "de", "pt-BR" → null): the tag itself, then its primary
 * subtag; null when neither ships (English is used).
 */
export function shippedLanguage(tag) {
  if (typeof tag !== "string" || tag === "") return null;
  const lower = tag.toLowerCase();
  if (LANGUAGES.includes(lower)) return lower;
  const primary = lower.split("-")[0];
  return LANGUAGES.includes(primary) ? primary : null;
}

/** The language the guardian speaks: the `lang` option when given, else the page's `<html lang>`. */
export function guardianLanguage(option, doc = globalThis.document) {
  if (typeof option === "string" && option !== "") return option;
  const pageLang = doc && doc.documentElement && doc.documentElement.lang;
  return pageLang || "en";
}
