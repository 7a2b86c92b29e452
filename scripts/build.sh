#!/usr/bin/env bash
# npm run build: writes the publishable npm package to pkg/.
#   pkg/index.js         ESM entry (Guardian), pkg/index.d.ts its types
#   pkg/dropin.js        classic <script> loader (installs the fetch tap synchronously, loads the rest)
#   pkg/dropin-start.js  the ESM the drop-in imports: index.js and its static imports in one file
#   pkg/core/…           the core wasm + wasm-bindgen glue (fetched at start: writer, store-loss check, persistence)
#   pkg/watch/…          the storm watch and the after-trouble models (fetched with the first keys/upload or trouble)
#   pkg/lease/…          the writer election on the localStorage lease (fetched at start only without Web Locks)
#   pkg/forensics/…      the matrix-sdk-crypto module (fetched only for a diagnosis or an export)
# Deterministic: same sources and Cargo.lock/package-lock.json → same bytes. No network beyond registries.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
unset RUSTFLAGS # it would replace .cargo/config.toml's --cfg=web_sys_unstable_apis
TARGET=wasm32-unknown-unknown
OUT=target/$TARGET/release

# One cargo run per module: the guardian crate makes three of them, one per feature (`start`: the core,
# `watch`: the storm watch, `lease`: the writer lock with the lease fallback), each built alone so only its own
# adapters are exported; forensics is its own crate.
mkdir -p target/modules
for module in start watch lease; do
  cargo build --release --target $TARGET -p matrix-crypto-guardian --no-default-features --features $module
  cp $OUT/matrix_crypto_guardian.wasm target/modules/$module.wasm
done
cargo build --release --target $TARGET -p matrix-crypto-guardian-forensics

# Written to pkg.next/ and swapped in at the end, so a test server reading pkg/ meanwhile never sees a
# half-written package.
NEXT=pkg.next
rm -rf "$NEXT"
mkdir -p "$NEXT/core" "$NEXT/watch" "$NEXT/lease" "$NEXT/forensics"
wasm-bindgen --target web --out-dir $NEXT/core --out-name guardian_core target/modules/start.wasm
wasm-bindgen --target web --out-dir $NEXT/watch --out-name guardian_watch target/modules/watch.wasm
wasm-bindgen --target web --out-dir $NEXT/lease --out-name guardian_lease target/modules/lease.wasm
wasm-bindgen --target web --out-dir $NEXT/forensics --out-name forensics $OUT/matrix_crypto_guardian_forensics.wasm
# The generated classes declare `[Symbol.dispose]()` (explicit resource management); index.d.ts re-exports the
# modules' types, so a host type-checking the package (skipLibCheck false) reads these files: they name the lib
# that declares Symbol.dispose themselves instead of requiring it in every host's tsconfig (TypeScript >= 5.2).
for dts in $NEXT/core/guardian_core.d.ts $NEXT/watch/guardian_watch.d.ts $NEXT/lease/guardian_lease.d.ts $NEXT/forensics/forensics.d.ts; do
  { echo '/// <reference lib="esnext.disposable" />'; cat "$dts"; } > "$dts.ref" && mv "$dts.ref" "$dts"
done

# wasm-opt from the npm package binaryen (Debian's 108 rejects current Rust output). The feature list is
# what rustc emits for wasm32-unknown-unknown by default.
WASM_FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
for wasm in $NEXT/core/guardian_core_bg.wasm $NEXT/watch/guardian_watch_bg.wasm $NEXT/lease/guardian_lease_bg.wasm $NEXT/forensics/forensics_bg.wasm; do
  # --low-memory-unused: rustc places the stack first, so nothing lives below address 1024.
  node_modules/.bin/wasm-opt -Oz --low-memory-unused --converge "${WASM_FEATURES[@]}" "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
done

# Everything a page fetches is minified (whitespace, syntax and local names; exported names stay) with a
# source map that carries the original text, so a stack trace maps back to js/ or to the generated glue.
# The wasm-bindgen glue is generated code; its types are in its .d.ts.
for glue in $NEXT/core/guardian_core.js $NEXT/watch/guardian_watch.js $NEXT/lease/guardian_lease.js $NEXT/forensics/forensics.js; do
  node_modules/.bin/esbuild "$glue" --minify --format=esm --sourcemap --allow-overwrite --log-level=warning --outfile="$glue"
done

# The JS layer: each ESM module minified as the glue is, with a source map back to js/; import-url.js as it
# is (its bundler hints are comments). The types are copied; the drop-in is bundled (scripts/bundle-dropin.mjs).
minify_js() { # in out
  node_modules/.bin/esbuild "$1" --minify --format=esm --sourcemap --log-level=warning --outfile="$2"
}
for f in js/*.js; do
  case "$f" in
    js/dropin.js | js/dropin-taps.js) ;; # the drop-in's, bundled below
    js/import-url.js) cp "$f" $NEXT/ ;;
    *) minify_js "$f" "$NEXT/$(basename "$f")" ;;
  esac
done
cp js/*.d.ts $NEXT/
mkdir -p $NEXT/i18n   # prompt strings, one file per language
for f in js/i18n/*.js; do minify_js "$f" "$NEXT/i18n/$(basename "$f")"; done
# The drop-in: the classic script and the ESM start it imports (index.js bundled with its static imports).
node scripts/bundle-dropin.mjs "$NEXT"
node scripts/write-pkg-json.mjs "$NEXT"
cp README.md $NEXT/README.md
cp LICENSE $NEXT/LICENSE
rm -rf pkg && mv "$NEXT" pkg
echo "pkg/ written:"; (cd pkg && find . -type f | sort | xargs ls -l | awk '{printf "  %8d  %s\n", $5, $9}')
