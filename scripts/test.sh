#!/usr/bin/env bash
# npm test: every test, on a fresh machine too (it installs what it needs first).
#   1. native `cargo test`: the pure model and the forensics module
#   2. wasm-bindgen-test in headless Chromium: the browser adapters against real browser APIs
#   3. end-to-end (node --test + playwright-core + Chromium) against a real Synapse on 127.0.0.1
#   4. engine node: the guardian in Node.js (bots) on Node >= 22, against a real Synapse
# Ends with one line "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
unset RUSTFLAGS
logs=target/test-logs
mkdir -p "$logs"

bash scripts/toolchain.sh || { echo "toolchain set-up failed"; echo "0 passed, 1 failed"; exit 1; }
bash scripts/build.sh > "$logs/build.log" 2>&1 || { tail -40 "$logs/build.log"; echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
tail -n +1 "$logs/build.log" | grep -A40 '^pkg/ written' || true

passed=0; failed=0; broken=()

# Sums cargo's "test result: … N passed; M failed" lines of a log.
count_cargo() {
  local p f
  p=$(grep -Eo '[0-9]+ passed' "$1" | awk '{s+=$1} END {print s+0}')
  f=$(grep -Eo '[0-9]+ failed' "$1" | awk '{s+=$1} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + f))
}

echo "== native cargo test (model, forensics)"
cargo test --workspace 2>&1 | tee "$logs/native.log" | grep -E '^(test result|running|error|failures:|---- )' 
[ "${PIPESTATUS[0]}" = 0 ] || broken+=("native cargo test")
count_cargo "$logs/native.log"

echo "== wasm-bindgen-test in headless Chromium (browser adapters)"
CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}" \
  cargo test --target wasm32-unknown-unknown -p matrix-crypto-guardian --test web --test web_own_db 2>&1 | tee "$logs/wasm.log" \
  | grep -E '^(test |test result|error)'
[ "${PIPESTATUS[0]}" = 0 ] || broken+=("wasm-bindgen-test")
count_cargo "$logs/wasm.log"

echo "== end-to-end: real Synapse, real matrix-js-sdk, Chromium"
node --test --test-concurrency=1 --test-reporter=spec tests/e2e/ 2>&1 | tee "$logs/e2e.log"
[ "${PIPESTATUS[0]}" = 0 ] || broken+=("end-to-end")
p=$(grep -Eo '^ℹ pass [0-9]+' "$logs/e2e.log" | awk '{print $3}' | tail -1)
f=$(grep -Eo '^ℹ fail [0-9]+' "$logs/e2e.log" | awk '{print $3}' | tail -1)
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))

# engine node: the guardian in Node.js (bots, issue 20) on Node >= 22 (matrix-js-sdk 43 wants it; the
# toolchain installs one from npm), against a real Synapse. Its own line, then counted with the rest.
# --test-force-exit: the peers' matrix-js-sdk leaves timers after stopClient() (a 6 h capability poll, request
# timeouts of 60-110 s); that the guardian itself leaves none is asserted in a child process.
run_engine_node() {
  echo "== engine node: the guardian in Node.js (bots: matrix-js-sdk rust crypto, real Synapse)"
  local node22 p f
  if ! node22=$(bash scripts/node22.sh); then
    broken+=("engine node"); echo "engine node: 0 passed, 1 failed"; failed=$((failed + 1)); return
  fi
  "$node22" --test --test-force-exit --test-concurrency=1 --test-reporter=spec tests/node/*.test.mjs 2>&1 | tee "$logs/node.log"
  [ "${PIPESTATUS[0]}" = 0 ] || broken+=("engine node")
  p=$(grep -Eo '^ℹ pass [0-9]+' "$logs/node.log" | awk '{print $3}' | tail -1)
  f=$(grep -Eo '^ℹ fail [0-9]+' "$logs/node.log" | awk '{print $3}' | tail -1)
  echo "engine node: ${p:-0} passed, ${f:-0} failed"
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}
run_engine_node
# Real clients built from their own source (tests/clients/<name>.test.mjs): each ends with its own line
# "client <name>: N passed, M failed" just before the total, and counts in it. Without the client's source
# the suite says so in one line (in CI, which has the source, its absence is a failure).
client_lines=()
run_client() {
  local name=$1 log="$logs/client-$1.log" p f s
  echo "== real client: $name"
  node --test --test-concurrency=1 --test-reporter=spec "tests/clients/$name.test.mjs" 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" = 0 ] || broken+=("client $name")
  p=$(grep -Eo '^ℹ pass [0-9]+' "$log" | awk '{print $3}' | tail -1)
  f=$(grep -Eo '^ℹ fail [0-9]+' "$log" | awk '{print $3}' | tail -1)
  s=$(grep -Eo '^ℹ skipped [0-9]+' "$log" | awk '{print $3}' | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "${p:-0}" = 0 ] && [ "${f:-0}" = 0 ] && [ "${s:-0}" != 0 ]; then
    client_lines+=("client $name: not run: $(grep -E '^﹣ .* # ' "$log" | head -1 | sed 's/.* # //')")
  else
    client_lines+=("client $name: ${p:-0} passed, ${f:-0} failed")
  fi
}
run_client cinny

# A suite that crashed before reporting counts as one failure, so a broken run can never look green.
if [ ${#broken[@]} -gt 0 ] && [ "$failed" = 0 ]; then failed=${#broken[@]}; fi
[ ${#broken[@]} -gt 0 ] && echo "failed suites: ${broken[*]}"
for line in "${client_lines[@]}"; do echo "$line"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ ${#broken[@]} = 0 ]
