#!/usr/bin/env bash
# dnsperf against CoreDNS, acmeforward beside a baseline in the same run (loopback only).
#
#   benches/dnsperf/run.sh [SECONDS]      (default 10 per measurement; make bench-dnsperf)
#
# Starts the demo world (knot 127.0.53.1:10053 with the token, dnsmasq 127.0.53.2:10053), then
# two CoreDNS pairs, each measured twice, alternating A/B so that drift hits both sides:
#   pass path:    `template` answers *.svc.cluster.local. itself;
#                 A = with `acmeforward example.com`, B = without (the plugin's cost on every
#                 ordinary query)
#   forward path: _acme-challenge.example.com TXT;
#                 A = acmeforward -> knot, B = CoreDNS's own `forward example.com` -> knot
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
coredns=$PWD/build/bin/coredns
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd tests && go build -o "$work/demo" ./cmd/demo)
"$work/demo" -coredns "$coredns" -corefile "$PWD/examples/Corefile" >"$work/demo.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q 'dig @' "$work/demo.log" && break; sleep 0.2; done
grep -q 'dig @' "$work/demo.log" || { cat "$work/demo.log"; exit 1; }

start_coredns() { # name port body
  printf '.:%s {\n    bind 127.0.0.1\n%s\n}\n' "$2" "$3" >"$work/$1.Corefile"
  "$coredns" -conf "$work/$1.Corefile" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    dig +short +tries=1 +time=1 @127.0.0.1 -p "$2" A ready.svc.cluster.local >/dev/null 2>&1 && return
    sleep 0.1
  done
  cat "$work/$1.log"; exit 1
}
template='    template IN A svc.cluster.local {
        answer "{{ .Name }} 60 IN A 10.96.0.10"
    }'
afwd='    acmeforward example.com {
        to 127.0.53.1:10053
        max_ttl 30
    }'
start_coredns pass-a 1061 "$afwd
$template"
start_coredns pass-b 1062 "$template"
start_coredns fwd-a 1063 "$afwd
$template"
start_coredns fwd-b 1064 "    forward example.com 127.0.53.1:10053
$template"

for i in $(seq 0 99); do echo "svc$i.default.svc.cluster.local A"; done >"$work/pass.txt"
echo "_acme-challenge.example.com TXT" >"$work/fwd.txt"

measure() { # label port file
  dnsperf -s 127.0.0.1 -p "$2" -d "$3" -l "$seconds" -c 4 -T 1 -q 64 2>&1 |
    awk -v l="$1" '/Queries per second/ {q=$4} /Average Latency/ {lat=$4} /Queries lost/ {lost=$3}
                   END {printf "%-44s %10.0f qps  avg %.6f s  lost %s\n", l, q, lat, lost}'
}
echo "dnsperf ${seconds}s per run, -c 4 -T 1 -q 64, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for round in 1 2; do
  measure "pass    A: with acmeforward (round $round)" 1061 "$work/pass.txt"
  measure "pass    B: without (round $round)" 1062 "$work/pass.txt"
  measure "forward A: acmeforward -> knot (round $round)" 1063 "$work/fwd.txt"
  measure "forward B: forward plugin -> knot (round $round)" 1064 "$work/fwd.txt"
done
