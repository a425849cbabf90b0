#!/usr/bin/env bash
# Profiles CoreDNS's forward path under load (loopback only): CoreDNS with acmeforward forwards
# 100 distinct challenge names to knot (so no two questions in flight are the same and every
# query is one exchange) while dnsperf drives it and `perf record -g` samples the process.
# Prints the functions by inclusive share.
#
#   benches/profile/run.sh [SECONDS]      (default 5; needs perf, dnsperf, build/bin/coredns)
#
# Servers on 127.0.56.x, stopped by PID at exit: knot .1:10053 and dnsmasq .2:10053 from
# tests/cmd/benchworld, CoreDNS .10:1081.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
seconds=${1:-5}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "profile: SECONDS must be a positive integer" >&2; exit 2; }
coredns=$root/build/bin/coredns
[[ -x $coredns ]] || { echo "profile: $coredns is missing: run 'make coredns'" >&2; exit 1; }
for tool in perf dnsperf dig go; do
  command -v "$tool" >/dev/null || { echo "profile: $tool not found" >&2; exit 1; }
done
net=127.0.56
work=$(mktemp -d /tmp/profile.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd tests && go build -o "$work/benchworld" ./cmd/benchworld)
mkdir -p "$work/world"
"$work/benchworld" -knot "$net.1:10053" -dnsmasq "$net.2:10053" -dir "$work/world" >"$work/world.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do grep -q '^ready:' "$work/world.log" && break; sleep 0.1; done
grep -q '^ready:' "$work/world.log" || { cat "$work/world.log" >&2; exit 1; }

cat >"$work/Corefile" <<EOF
.:1081 {
    bind $net.10
    acmeforward example.com {
        to $net.1:10053
        max_ttl 30
    }
}
EOF
"$coredns" -conf "$work/Corefile" >"$work/coredns.log" 2>&1 &
coredns_pid=$!
pids+=("$coredns_pid")
for _ in $(seq 100); do
  dig +short +tries=1 +time=1 @"$net.10" -p 1081 TXT _acme-challenge.example.com 2>/dev/null | grep -q . && break
  sleep 0.1
done

for i in $(seq 0 99); do echo "_acme-challenge.h$i.example.com TXT"; done >"$work/distinct.txt"
dnsperf -s "$net.10" -p 1081 -d "$work/distinct.txt" -l $((seconds + 2)) -c 4 -T 1 -q 64 >"$work/dnsperf.log" 2>&1 &
pids+=($!)
sleep 1
perf record -F 999 -g -p "$coredns_pid" -o "$work/perf.data" -- sleep "$seconds" 2>/dev/null
wait "${pids[-1]}" || true
grep -E 'Queries per second|Queries lost' "$work/dnsperf.log"
echo "perf: $seconds s of CoreDNS ($coredns_pid), inclusive share of the samples:"
perf report -i "$work/perf.data" --children --sort symbol --stdio 2>/dev/null |
  grep -E '^ +[0-9]' |
  grep -E 'acmeforward|roundTrip|ListenUDP|newstack|copystack|Unpack|PackBuffer|WriteMsg|refreshFilter|afwd_|hickory|mallocgc' |
  head -40
