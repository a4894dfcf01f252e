#!/usr/bin/env bash
# The single test command (`npm test [-- vitest args]`): system deps, node deps, typecheck, vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
[ -d node_modules ] || npm ci
npx tsc --noEmit
npx vitest run "$@"
