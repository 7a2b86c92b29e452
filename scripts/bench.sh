#!/usr/bin/env bash
# npm run bench: prints one table of figures and writes bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh
bash scripts/build.sh > /dev/null
exec node bench/run.mjs "$@"
