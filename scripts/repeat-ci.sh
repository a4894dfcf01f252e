#!/usr/bin/env bash
# Stability check (issue 12): run CI's command N times in a row, each on a fresh clone of HEAD,
# as CI does (CI=true bash .ci/run), and print one line per run: exit code, duration, closing line.
# Usage: bash scripts/repeat-ci.sh [N=5] [vitest args…]   (extra args narrow the run to some files)
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
shift || true
head=$(git rev-parse --short HEAD)
out="$(mktemp -d -t ridecast-repeat-XXXXXX)"
echo "repeat-ci: $runs runs of .ci/run on fresh clones of $head; logs in $out"
passed=0
for i in $(seq 1 "$runs"); do
  dir="$out/clone-$i"
  git clone -q "file://$PWD" "$dir"
  start=$(date +%s)
  if [ $# -gt 0 ]; then
    (cd "$dir" && npm ci --silent >/dev/null 2>&1 && CI=true npm test -- "$@") >"$out/run-$i.log" 2>&1
  else
    (cd "$dir" && CI=true bash .ci/run) >"$out/run-$i.log" 2>&1
  fi
  code=$?
  secs=$(( $(date +%s) - start ))
  [ "$code" -eq 0 ] && passed=$((passed + 1))
  echo "run $i: exit $code in ${secs}s — $(grep -E '^tests: ' "$out/run-$i.log" | tail -1)"
  [ "$code" -ne 0 ] && grep -E 'FAIL ' "$out/run-$i.log" | sed 's/\x1b\[[0-9;]*m//g' | sort -u | head -10
  rm -rf "$dir"
done
echo "repeat-ci: $passed of $runs runs passed"
[ "$passed" -eq "$runs" ]
