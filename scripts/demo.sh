#!/usr/bin/env bash
# npm run demo: set up this machine, build, then run a real Synapse + the demo client with the guardian.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh
bash scripts/build.sh
exec node scripts/demo.mjs "$@"
