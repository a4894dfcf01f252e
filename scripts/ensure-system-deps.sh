#!/usr/bin/env bash
# System packages the tests need (they run real servers, not mocks). Quiet when all present;
# installs what is missing when root (Debian/apt), otherwise fails with one line.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
[ -f /usr/include/stdio.h ] || missing+=(libc6-dev)
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || missing+=(librdkafka-dev)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-system-deps: missing system packages, install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "ensure-system-deps: installing ${missing[*]}" >&2
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
