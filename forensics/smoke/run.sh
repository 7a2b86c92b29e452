#!/usr/bin/env bash
# Build the forensics wasm package, report its sizes, and smoke-test it in headless Chromium.
#
#   forensics/smoke/run.sh [--no-smoke]
#
# Environment (all optional):
#   CARGO_TARGET_DIR  cargo's target dir (default: <workspace>/target)
#   FORENSICS_PKG     output package dir (default: /tmp/forensics-pkg)
#   FORENSICS_SMOKE_DIR  scratch dir for the smoke page (default: /tmp/forensics-smoke)
#   WASM_BINDGEN      wasm-bindgen CLI 0.2.130 (default: wasm-bindgen on PATH, else ~/.cargo/bin)
#   WASM_OPT          binaryen wasm-opt (default: on PATH, else /tmp/binaryen/node_modules/.bin)
#   WASM_OPT_LEVEL    default -Oz (smallest raw; -O1 gives a ~7% smaller gzip, see the report)
#   CHROMIUM          default /usr/bin/chromium
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# .cargo/config.toml carries the wasm32 rustflags; a RUSTFLAGS variable would replace them.
unset RUSTFLAGS
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PKG=${FORENSICS_PKG:-/tmp/forensics-pkg}
SMOKE=${FORENSICS_SMOKE_DIR:-/tmp/forensics-smoke}
export FORENSICS_SMOKE_DIR=$SMOKE
WASM_BINDGEN=${WASM_BINDGEN:-$(command -v wasm-bindgen || echo "$HOME/.cargo/bin/wasm-bindgen")}
WASM_OPT=${WASM_OPT:-$(command -v wasm-opt || echo /tmp/binaryen/node_modules/.bin/wasm-opt)}
WASM_OPT_LEVEL=${WASM_OPT_LEVEL:--Oz}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
NAME=matrix_crypto_guardian_forensics

# 1. Release build. strip=false only for this build: wasm-bindgen needs the target_features
#    section that `strip = true` removes (it then warns and emits more glue); wasm-opt strips after.
cargo build -p matrix-crypto-guardian-forensics --release --target wasm32-unknown-unknown \
  --config profile.release.strip=false
RAW="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/$NAME.wasm"

# 2. JS glue (ES module, `init()` + named exports).
rm -rf "$PKG"
"$WASM_BINDGEN" --target web --out-dir "$PKG" "$RAW"

# 3. Optimize for size, dropping names and producers.
"$WASM_OPT" $WASM_OPT_LEVEL --strip-debug --strip-producers "$PKG/${NAME}_bg.wasm" -o "$PKG/${NAME}_bg.opt.wasm"
mv "$PKG/${NAME}_bg.opt.wasm" "$PKG/${NAME}_bg.wasm"

size() { stat -c %s "$1"; }
gz() { gzip -9c "$1" | wc -c; }
echo "sizes (bytes):"
echo "  cargo .wasm (unstripped)     $(size "$RAW")"
echo "  after wasm-bindgen+wasm-opt  $(size "$PKG/${NAME}_bg.wasm")  gzip -9: $(gz "$PKG/${NAME}_bg.wasm")"
echo "  JS glue                      $(size "$PKG/$NAME.js")  gzip -9: $(gz "$PKG/$NAME.js")"
echo "  total gzipped                $(( $(gz "$PKG/${NAME}_bg.wasm") + $(gz "$PKG/$NAME.js") ))  (budget 204800)"

[ "${1:-}" = "--no-smoke" ] && exit 0

# 4. Smoke test: real vectors (throwaway keys) from a native helper, the page in headless Chromium,
#    then the export the browser made is decrypted natively.
cargo test -q -p matrix-crypto-guardian-forensics --test smoke_vectors -- --ignored write_smoke_vectors
cp forensics/smoke/index.html "$SMOKE/"
rm -rf "$SMOKE/pkg" && cp -r "$PKG" "$SMOKE/pkg"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$SMOKE" "$PORT" >/dev/null 2>&1 &
SERVER=$!
PROFILE=$(mktemp -d /tmp/forensics-chromium.XXXXXX)
cleanup() { kill "$SERVER" 2>/dev/null || true; rm -rf "$PROFILE"; }
trap cleanup EXIT
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null && break; sleep 0.1; done

timeout 120 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic \
  --no-first-run --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$PROFILE" --virtual-time-budget=60000 --dump-dom "http://127.0.0.1:$PORT/index.html" \
  >"$SMOKE/dom.html" 2>"$SMOKE/chromium.log"

python3 - "$SMOKE" <<'EOF'
import html, json, re, sys
d = sys.argv[1]
dom = open(f"{d}/dom.html").read()
title = re.search(r"<title>(.*?)</title>", dom).group(1)
result = json.loads(html.unescape(re.search(r'<pre id="result">(.*?)</pre>', dom, re.S).group(1)))
export = html.unescape(re.search(r'<pre id="export">(.*?)</pre>', dom, re.S).group(1))
open(f"{d}/browser-export.txt", "w").write(export)
for c in result.get("checks", []):
    print(("  ok   " if c["pass"] else "  FAIL ") + c["name"] + ("" if c["pass"] else f"  got {c['got']!r}"))
print(f"  {title}; {result.get('version')}; init {result.get('initMs')} ms (virtual time)")
if result.get("error"):
    print("  error:", result["error"])
sys.exit(0 if result.get("ok") else 1)
EOF
cargo test -q -p matrix-crypto-guardian-forensics --test smoke_vectors -- --ignored decrypt_browser_export
echo "smoke: PASS (the browser's export decrypts natively)"
