#!/usr/bin/env bash
# Flood-and-soak of CoreDNS with acmeforward (loopback only); see README.md.
#
#   benches/soak/run.sh [COREDNS]      (default build/bin/coredns)
#
# Environment: SOAK_DURATION (30s per phase), SOAK_RATE (5000 questions/s), SOAK_MAX_CONCURRENT
# (1000; 0 leaves the line out), SOAK_PHASES (silent,slow,healthy). Anything after COREDNS is passed
# to the soak program (`-h` lists its flags).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
coredns=${1:-$root/build/bin/coredns}
shift || true
# A relative path is relative to where the script was called from.
coredns=$(realpath -e "$coredns")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root/tests" && go build -o "$work/soak" ./cmd/soak)
# The soak program starts dnsmasq and CoreDNS itself and stops them by PID (also on Ctrl-C; if it
# is killed, they die with it).
"$work/soak" -coredns "$coredns" \
  -duration "${SOAK_DURATION:-30s}" \
  -rate "${SOAK_RATE:-5000}" \
  -max-concurrent "${SOAK_MAX_CONCURRENT:-1000}" \
  -phases "${SOAK_PHASES:-silent,slow,healthy}" \
  "$@"
