#!/usr/bin/env bash
# npm test: every test, on a fresh machine too (it installs what it needs first).
#   native   `cargo test`: the pure model and the forensics module
#   engine   per browser engine (MCG_ENGINES, default "chromium firefox webkit"):
#              wasm-bindgen-test: the browser adapters against the engine's real APIs
#              end to end against a real Synapse on 127.0.0.1 — in Chromium every file of tests/e2e/
#              (playwright-core); in Firefox ESR and WebKitGTK the user-facing scenarios of
#              tests/e2e/engines.test.mjs (WebDriver: geckodriver, WebKitWebDriver under Xvfb)
#   engine node    the guardian in Node.js (bots) on Node >= 22, against a real Synapse
#   client cinny   the real Cinny client built from its own source, with the drop-in and the npm guide
# Prints one line per suite group ("native: …", "engine chromium: N passed, M failed", …, "client cinny: …"),
# then one line "N passed, N failed" that sums them, and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
unset RUSTFLAGS
logs=target/test-logs
mkdir -p "$logs"

bash scripts/toolchain.sh || { echo "toolchain set-up failed"; echo "0 passed, 1 failed"; exit 1; }
bash scripts/build.sh > "$logs/build.log" 2>&1 || { tail -40 "$logs/build.log"; echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
tail -n +1 "$logs/build.log" | grep -A40 '^pkg/ written' || true

passed=0; failed=0; broken=(); summary=()
group_passed=0; group_failed=0

# Adds a suite's counts to its group and to the totals. A suite that exited non-zero without a failing
# test (it crashed before reporting) counts as one failure, so a broken run can never look green.
tally() { # name exit-code passed failed
  local f=$4
  if [ "$2" != 0 ]; then broken+=("$1"); [ "$f" = 0 ] && f=1; fi
  group_passed=$((group_passed + $3)); group_failed=$((group_failed + f))
  passed=$((passed + $3)); failed=$((failed + f))
}
group_start() { group_passed=0; group_failed=0; }
group_end() { summary+=("$1: $group_passed passed, $group_failed failed"); echo "$1: $group_passed passed, $group_failed failed"; }

# cargo's "test result: … N passed; M failed" lines of a log, summed: "passed failed".
cargo_counts() {
  echo "$(grep -Eo '[0-9]+ passed' "$1" | awk '{s+=$1} END {print s+0}') $(grep -Eo '[0-9]+ failed' "$1" | awk '{s+=$1} END {print s+0}')"
}
# node --test's closing "ℹ pass N" / "ℹ fail N": "passed failed".
node_counts() {
  local p f
  p=$(grep -Eo '^ℹ pass [0-9]+' "$1" | awk '{print $3}' | tail -1)
  f=$(grep -Eo '^ℹ fail [0-9]+' "$1" | awk '{print $3}' | tail -1)
  echo "${p:-0} ${f:-0}"
}

suite_native() {
  echo "== native cargo test (model, forensics)"
  cargo test --workspace 2>&1 | tee "$logs/native.log" | grep -E '^(test result|running|error|failures:|---- )'
  tally "native cargo test" "${PIPESTATUS[0]}" $(cargo_counts "$logs/native.log")
}

# wasm-bindgen-test-runner picks the WebDriver server from GECKODRIVER / SAFARIDRIVER / CHROMEDRIVER.
# WebKitGTK's WebKitWebDriver speaks the same protocol as safaridriver and, asked for no particular
# browser (the runner sends none for Safari), starts MiniBrowser; it needs a display: Xvfb.
suite_wasm() { # engine
  local engine=$1 log="$logs/wasm-$1.log" run=()
  case $engine in
    chromium) run=(env CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}") ;;
    firefox) run=(env -u CHROMEDRIVER GECKODRIVER="$(command -v geckodriver)") ;;
    webkit) run=(xvfb-run -a env -u CHROMEDRIVER SAFARIDRIVER="$(command -v WebKitWebDriver)") ;;
  esac
  echo "== wasm-bindgen-test in $engine (browser adapters)"
  "${run[@]}" cargo test --target wasm32-unknown-unknown -p matrix-crypto-guardian --test web --test web_own_db --test web_probe 2>&1 | tee "$log" \
    | grep -E '^(test |test result|error|Running headless)'
  tally "wasm-bindgen-test ($engine)" "${PIPESTATUS[0]}" $(cargo_counts "$log")
}

suite_e2e() { # engine
  local engine=$1 log="$logs/e2e-$1.log" files=(tests/e2e/)
  [ "$engine" = chromium ] || files=(tests/e2e/engines.test.mjs)
  echo "== end-to-end in $engine: real Synapse, real matrix-js-sdk (${files[*]})"
  MCG_ENGINE=$engine node --test --test-concurrency=1 --test-reporter=spec "${files[@]}" 2>&1 | tee "$log"
  tally "end-to-end ($engine)" "${PIPESTATUS[0]}" $(node_counts "$log")
}

suite_engine() { # engine
  group_start
  suite_wasm "$1"
  suite_e2e "$1"
  group_end "engine $1"
}

# engine node: Node >= 22 (matrix-js-sdk 43 wants it; the toolchain installs one from npm).
# --test-force-exit: the peers' matrix-js-sdk leaves timers after stopClient() (a 6 h capability poll, request
# timeouts of 60-110 s); that the guardian itself leaves none is asserted in a child process.
suite_node() {
  local node22 log="$logs/node.log"
  echo "== engine node: the guardian in Node.js (bots: matrix-js-sdk rust crypto, real Synapse)"
  if ! node22=$(bash scripts/node22.sh); then tally "engine node (no Node 22)" 1 0 1; return; fi
  "$node22" --test --test-force-exit --test-concurrency=1 --test-reporter=spec tests/node/*.test.mjs 2>&1 | tee "$log"
  tally "engine node" "${PIPESTATUS[0]}" $(node_counts "$log")
}

# Real clients built from their own source (tests/clients/<name>.test.mjs). Without the client's source the
# suite says so in one line and how to get it (CI has the source beside its clone, so it runs there).
suite_client() { # name
  local name=$1 log="$logs/client-$1.log" s
  echo "== real client: $name"
  node --test --test-concurrency=1 --test-reporter=spec "tests/clients/$name.test.mjs" 2>&1 | tee "$log"
  tally "client $name" "${PIPESTATUS[0]}" $(node_counts "$log")
  s=$(grep -Eo '^ℹ skipped [0-9]+' "$log" | awk '{print $3}' | tail -1)
  if [ "$group_passed" = 0 ] && [ "$group_failed" = 0 ] && [ "${s:-0}" != 0 ]; then
    summary+=("client $name: not run: $(grep -E '^﹣ .* # ' "$log" | head -1 | sed 's/.* # //')")
  else
    group_end "client $name"
  fi
}

group_start; suite_native; group_end "native"
for engine in ${MCG_ENGINES:-chromium firefox webkit}; do suite_engine "$engine"; done
group_start; suite_node; group_end "engine node"
group_start; suite_client cinny

echo
[ ${#broken[@]} -gt 0 ] && echo "failed suites: ${broken[*]}"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ ${#broken[@]} = 0 ]
