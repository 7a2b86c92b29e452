#!/usr/bin/env bash
# Prints the path of a Node >= 22 (for the Node.js suite and examples/bot): $MCG_NODE22, else the one
# scripts/toolchain.sh installed from npm into ~/.cache/mcg-node22, else `node` if it is new enough.
set -euo pipefail
for candidate in "${MCG_NODE22:-}" "${MCG_NODE22_CACHE:-$HOME/.cache/mcg-node22}/node_modules/.bin/node" "$(command -v node || true)"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  major=$("$candidate" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge 22 ]; then echo "$candidate"; exit 0; fi
done
echo "no Node >= 22: run scripts/toolchain.sh (it installs one from npm) or set MCG_NODE22" >&2
exit 1
