// The drop-in's configuration: the data-* attributes of its <script> tag, turned into Guardian.start()
// options. Trivial parsing on purpose (it runs before the wasm exists); a bad attribute is ignored (its
// default is used) and named in one console warning, so a typo never breaks the host.
//
//   <script src="…/dropin.js" data-preset="cinny" data-crypto-store-prefix="matrix-js-sdk::matrix-sdk-crypto"
//           data-prompt="off" data-lang="de"></script>

// attribute (as in the dataset) -> [option name, value -> option value | undefined (= invalid), what is valid]
const ATTRIBUTES = {
  preset: ["preset", (v) => (["cinny", "element", "generic"].includes(v) ? v : undefined), "cinny, element or generic"],
  cryptoStorePrefix: ["cryptoStorePrefix", (v) => (v.trim() !== "" ? v : undefined), "a non-empty IndexedDB name prefix"],
  prompt: ["prompt", (v) => ({ on: true, off: false })[v], "on or off"],
  lang: ["lang", (v) => (/^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i.test(v) ? v : undefined), "a language tag such as en or pt-BR"],
  writerLockName: ["writerLockName", (v) => (v.trim() !== "" ? v : undefined), "a non-empty lock name"],
};

const attributeName = (key) => "data-" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** `{ options, problems }` from a script element's dataset; `problems` are readable sentences. */
export function readDropInConfig(dataset) {
  const options = { preset: "generic" };
  const problems = [];
  for (const [key, raw] of Object.entries(dataset || {})) {
    const spec = ATTRIBUTES[key];
    if (!spec) {
      problems.push(`${attributeName(key)} is not known (known: ${Object.keys(ATTRIBUTES).map(attributeName).join(", ")})`);
      continue;
    }
    const [option, parse, valid] = spec;
    const value = parse(String(raw));
    if (value === undefined) problems.push(`${attributeName(key)}="${raw}" is ignored: must be ${valid}`);
    else options[option] = value;
  }
  return { options, problems };
}
