// No loader or plugin is needed for the guardian's wasm: webpack 5 turns the glue's
// `new URL("guardian_core_bg.wasm", import.meta.url)` into an asset. The panel page is built when the
// installed package has the panel.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const hasPanel = existsSync(here("./node_modules/matrix-crypto-guardian/panel.js"));

// The HTML pages (no html-webpack-plugin: one less dependency).
class WritePages {
  apply(compiler) {
    compiler.hooks.afterEmit.tap("WritePages", () => {
      mkdirSync(here("./dist"), { recursive: true });
      for (const name of Object.keys(compiler.options.entry)) {
        const html = readFileSync(here("./page.html"), "utf8").replace("ENTRY", `${name}.js`);
        writeFileSync(here(`./dist/${name}.html`), html);
      }
    });
  }
}

export default {
  entry: { index: "./src/main.js", ...(hasPanel ? { "with-panel": "./src/with-panel.js" } : {}) },
  output: {
    path: here("./dist"),
    filename: "[name].js",
    assetModuleFilename: "[name]-[contenthash][ext]",
    clean: true,
  },
  experiments: { topLevelAwait: true },
  devtool: false,
  plugins: [new WritePages()],
};
