// No plugin is needed for the guardian's wasm: its glue loads it with `new URL(…, import.meta.url)`,
// which `vite build` emits as an asset. The panel page is built when the installed package has the panel.
import { existsSync } from "node:fs";
import { defineConfig } from "vite";

const hasPanel = existsSync(new URL("./node_modules/matrix-crypto-guardian/panel.js", import.meta.url));

export default defineConfig({
  build: {
    target: "es2022",
    rollupOptions: { input: { index: "index.html", ...(hasPanel ? { "with-panel": "with-panel.html" } : {}) } },
  },
  // Only for `vite dev`: pre-bundling would move the glue away from its .wasm.
  optimizeDeps: { exclude: ["matrix-crypto-guardian"] },
});
