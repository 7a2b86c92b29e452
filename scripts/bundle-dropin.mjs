// The drop-in's two files (run by scripts/build.sh with the staging directory):
//
//   dropin.js        the classic script a host puts first in <head>: the fetch tap, the console tap and the
//                    crypto-store gate, installed synchronously (an IIFE);
//   dropin-start.js  the ESM it imports: index.js and its static imports in one file — one request where
//                    there were ten, on the host's critical path, and one gzip stream.
//
// The taps are in dropin.js only: in dropin-start.js, the imports of fetch-tap.js and console-tap.js resolve
// to js/dropin-taps.js, which takes the ones dropin.js hands over, so a drop-in page loads one copy. The wasm
// glue and what index.js loads lazily stay their own files: what loads later (remedies, the prompt, the
// panel's view) shares the one initialised core, and lazy stays lazy.
import { build } from "esbuild";

const out = process.argv[2];
if (!out) throw new Error("usage: node scripts/bundle-dropin.mjs <package directory>");
const js = (file) => new URL(`../js/${file}`, import.meta.url).pathname;
const common = { bundle: true, minify: true, sourcemap: true, logLevel: "warning" };

await build({ ...common, entryPoints: [js("dropin.js")], format: "iife", target: "es2020", outfile: `${out}/dropin.js` });

const LAZY = ["./core/*", "./watch/*", "./lease/*", "./forensics/*", "./i18n/*", "./remedies.js", "./prompt.js", "./strings.js", "./panel.js", "./writer-overlay.js", "./headless.js", "./recovery.js", "./report.js", "./diagnosis.js"];
const tapsFromDropIn = {
  name: "taps-from-dropin",
  setup(b) {
    b.onResolve({ filter: /^\.\/(fetch|console)-tap\.js$/ }, () => ({ path: js("dropin-taps.js") }));
  },
};
await build({ ...common, entryPoints: [js("index.js")], format: "esm", external: LAZY, plugins: [tapsFromDropIn], outfile: `${out}/dropin-start.js` });
