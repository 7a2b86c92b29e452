// Writes pkg/package.json, the manifest of the published npm package, from the workspace's version.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const workspace = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
// The package directory: pkg/ by default; the build passes its staging directory.
const pkgDir = new URL(`../${process.argv[2] ?? "pkg"}/`, import.meta.url);
const built = (file) => existsSync(new URL(file, pkgDir));
// The panel's element (panel-element.js, imported by the entry and by panel.js) defines itself when
// imported: a side effect bundlers must keep.
const hasPanel = built("panel.js");
const manifest = {
  name: "matrix-crypto-guardian",
  version: workspace.version,
  description:
    "Keeps the end-to-end-encryption store of web Matrix clients healthy: stops the keys/upload 'already exists' loop, explains it, and mends it.",
  license: "Apache-2.0",
  type: "module",
  main: "./index.js",
  types: "./index.d.ts",
  exports: {
    ".": { types: "./index.d.ts", default: "./index.js" },
    // The panel's own types: only what panel.js exports (never the entry's, which it does not have).
    ...(hasPanel ? { "./panel": { types: "./panel.d.ts", default: "./panel.js" } } : {}),
    "./dropin.js": "./dropin.js",
    "./package.json": "./package.json",
  },
  // Importing the ESM entry has no side effects until Guardian.start(); the drop-in installs its gates on
  // load; the panel's element registers <matrix-crypto-guardian-panel> (its view loads when one is connected).
  sideEffects: ["./dropin.js", ...(hasPanel ? ["./panel-element.js", "./panel.js"] : [])],
  files: ["*.js", "*.js.map", "*.d.ts", "core/", "watch/", "lease/", "forensics/", ...(built("i18n") ? ["i18n/"] : []), "README.md", "LICENSE"],
  // What it is tested with: matrix-js-sdk 43, which wants Node 22 or later (for the host's build; the
  // guardian itself runs in the browser). The SDK is optional: the drop-in and the store-loss check need none.
  engines: { node: ">=22" },
  peerDependencies: { "matrix-js-sdk": "^43.0.0" },
  peerDependenciesMeta: { "matrix-js-sdk": { optional: true } },
  keywords: ["matrix", "e2ee", "matrix-js-sdk", "webassembly", "one-time-keys", "crypto"],
};
writeFileSync(new URL("package.json", pkgDir), JSON.stringify(manifest, null, 2) + "\n");
