// The diagnostics report's browser side, loaded the first time a report is asked for (guardian.report(),
// downloadReport(), copyReport(), the panel's buttons): a page that never asks for one never fetches it.
// What goes into the report, and its redaction, are the model's (src/diagnostics/report.rs, run by the
// lazily loaded module); this file gathers what the browser, the host and the guardian know, and saves or
// copies the finished report.

/**
 * The report's input (`ReportInput` in report.rs): every member optional, every failure to read one null.
 * `facts`: what the diagnostics glue holds (js/diagnostics.js): `{ sdkVersion, session, ownDatabase,
 * otkCounts, journalSessions }`.
 */
export function reportInput(guardian, client, facts) {
  const g = guardian;
  return {
    generatedAt: Date.now(),
    guardianVersion: safe(() => g.version),
    sdk: {
      name: client ? "matrix-js-sdk" : null,
      version: facts.sdkVersion,
      cryptoVersion: safe(() => client && client.getCrypto && client.getCrypto()?.getVersion()) ?? null,
    },
    userId: facts.session?.userId ?? null,
    deviceId: facts.session?.deviceId ?? null,
    homeserver: safe(() => client && client.getHomeserverUrl()) ?? null,
    browser: safe(() => ({
      userAgent: navigator.userAgent,
      language: navigator.language,
      online: navigator.onLine,
      cookieEnabled: navigator.cookieEnabled,
    })),
    storage: safe(() => {
      const p = typeof g.persistence === "function" ? g.persistence() : null;
      return p ? { persisted: p.persisted ?? null, usage: p.usage ?? null, quota: p.quota ?? null } : null;
    }),
    ownDatabase: facts.ownDatabase,
    writer: safe(() => {
      const w = typeof g.writer === "function" ? g.writer() : null;
      if (!w) return null;
      const t = w.census ? w.census.tabs : null;
      const tabs = typeof t === "number" ? t : Array.isArray(t) ? t.length : null;
      return { mechanism: w.mechanism ?? null, state: w.role ?? null, tabs, census: w.census ?? null };
    }),
    otkCounts: facts.otkCounts,
    storm: safe(() => g.storm()),
    otkHealth: safe(() => (typeof g.otkHealth === "function" ? g.otkHealth() : null)),
    storeMismatch: safe(() => (typeof g.storeMismatch === "function" ? g.storeMismatch() : null)),
    journalSessions: facts.journalSessions,
    // The store-loss check and the pending recovery: the report names the verdict and the remedy at top
    // level (no token in either: the recovery view never holds one).
    storeCheck: safe(() => g.storeCheck()),
    recovery: safe(() => g.recovery()),
  };
}

/** Saves `report` as `matrix-crypto-guardian-report-<UTC time>.json`; returns the file name. */
export function download(report) {
  const name = `matrix-crypto-guardian-report-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  const url = URL.createObjectURL(new Blob([JSON.stringify(report, null, 2)], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

/** Copies `report` (JSON text) to the clipboard; resolves to true when it was copied. */
export async function copy(report) {
  try {
    await navigator.clipboard.writeText(JSON.stringify(report, null, 2));
    return true;
  } catch {
    return false;
  }
}

function safe(fn) {
  try {
    return fn();
  } catch {
    return null;
  }
}
