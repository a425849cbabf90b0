#!/usr/bin/env bash
# acmeforward against CoreDNS baselines under dnsperf, A and B alternated in one run (loopback
# only), printed as a markdown table for benches/RESULTS.md.
#
#   benches/compare/run.sh [SECONDS] [ROUNDS]     (defaults 5 and 2; make bench-compare)
#
# SECONDS per dnsperf run; ROUNDS rounds, each measuring every row once per side, A first in odd
# rounds and B first in even ones (A B, B A, ...), so that drift hits both sides alike.
# Environment: COMPARE_NET (127.0.54: the first three octets of every address used; must be in
# 127.0.0.0/8), COMPARE_LATENCY_QPS (2000: the fixed rate of the latency runs), COMPARE_KEEP=1
# (keep the work directory: Corefiles, logs, every dnsperf output).
#
# Servers, all on COMPARE_NET (default 127.0.54.x) and stopped by PID at exit; knot and dnsmasq
# come from tests/cmd/benchworld (the demo's world on addresses of its own, since a running demo
# holds the fixed ones, and with every listed zone, so that acmeforward's prefetch finds them all):
#   .1:10053 knot (example.com as in the demo plus 100 challenge names, example.net/.org/.io/.dev)
#   .2:10053 dnsmasq (the internal view: hides those zones, answers internal.example.com and www)
#   .10:1071-1076 CoreDNS: a-pass, a-fwd (same acmeforward Corefile), plain, view, fwd, hosts
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

die() { echo "compare: $*" >&2; exit 1; }
seconds=${1:-5}
rounds=${2:-2}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive integer, not '$seconds'"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$rounds'"
net=${COMPARE_NET:-127.0.54}
lat_qps=${COMPARE_LATENCY_QPS:-2000}
[[ $lat_qps =~ ^[1-9][0-9]*$ ]] || die "COMPARE_LATENCY_QPS must be a positive integer"
# Never any address outside the loopback range: this is the only place addresses come from.
if ! [[ $net =~ ^127\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$ ]] || ((10#${BASH_REMATCH[1]} > 255 || 10#${BASH_REMATCH[2]} > 255)); then
  die "COMPARE_NET must be 127.X.Y (loopback), not '$net'"
fi
knot=$net.1:10053
dnsmasq=$net.2:10053
ip=$net.10
coredns=$root/build/bin/coredns
[[ -x $coredns ]] || die "$coredns is missing: run 'make coredns'"
for tool in dnsperf dig go ss; do command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh)"; done

# CoreDNS and knot set SO_REUSEPORT: a second server on a taken address would share it silently.
port_taken() { # host port
  ss -Hlntu | awk -v a="$1:$2" -v p=":$2" '$5 == a || $5 == "0.0.0.0" p || $5 == "*" p || $5 == "[::]" p {f = 1} END {exit !f}'
}
for hp in "$knot" "$dnsmasq" "$ip:1071" "$ip:1072" "$ip:1073" "$ip:1074" "$ip:1075" "$ip:1076"; do
  if port_taken "${hp%:*}" "${hp##*:}"; then die "$hp is in use: set COMPARE_NET=127.X.Y to another free range"; fi
done

# The same load for every run: 4 clients on one thread, at most 64 queries outstanding.
perf_flags=(-c 4 -T 1 -q 64)

work=$(mktemp -d /tmp/compare.XXXXXX)
pids=()
perf_pid=
cleanup() {
  local rc=$? pid i
  if [[ -n $perf_pid ]]; then kill -TERM "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  # A failure keeps the logs that its message points to.
  if [[ ${COMPARE_KEEP:-} == 1 || ! $rc =~ ^(0|130|143)$ ]]; then echo "compare: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

(cd tests && go build -o "$work/benchworld" ./cmd/benchworld)
mkdir -p "$work/world" "$work/out"
"$work/benchworld" -knot "$knot" -dnsmasq "$dnsmasq" -dir "$work/world" >"$work/benchworld.log" 2>&1 &
pids+=($!)
until=$((SECONDS + 60))
while ((SECONDS < until)); do
  grep -q '^ready:' "$work/benchworld.log" && break
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 0.1
done
grep -q '^ready:' "$work/benchworld.log" || { cat "$work/benchworld.log" >&2; die "knot and dnsmasq did not start"; }

q() { # port type name: the answer section, one record a line, as dig +short gives it
  dig +short +tries=2 +time=2 @"$ip" -p "$1" "$2" "$3"
}
expect() { # name port type qname want: the answer must hold want as one of its lines
  local got
  got=$(q "$2" "$3" "$4" 2>&1) || true
  grep -qxF -- "$5" <<<"$got" || die "$1 ($ip:$2): $3 $4 gave '${got//$'\n'/ | }', want '$5' (logs in $work)"
}
expect_nx() { # name port type qname
  local got
  got=$(dig +tries=2 +time=2 @"$ip" -p "$2" "$3" "$4" 2>&1) || true
  grep -q 'status: NXDOMAIN' <<<"$got" || die "$1 ($ip:$2): $3 $4 is not NXDOMAIN (logs in $work)"
}

start_coredns() { # name port corefile-text
  printf '%s\n' "$3" >"$work/$1.Corefile"
  "$coredns" -conf "$work/$1.Corefile" >"$work/$1.log" 2>&1 &
  pids+=($!)
  local pid=$!
  # An acmeforward instance answers only after its first prefetch round (up to 5 s).
  local until=$((SECONDS + 30))
  while ((SECONDS < until)); do
    dig +short +tries=1 +time=1 @"$ip" -p "$2" A ready.svc.cluster.local 2>/dev/null | grep -q . && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/$1.log" >&2
  die "CoreDNS $1 did not answer on $ip:$2"
}
block() { # port body: one server block on the bench address
  printf '.:%s {\n    bind %s\n%s\n}\n' "$1" "$ip" "$2"
}

zones="example.com example.net example.org example.io example.dev"
# What every instance has: the cluster's own names, a public-looking internal zone answered in
# CoreDNS, the internal server for the rest.
common="    template IN A svc.cluster.local {
        answer \"{{ .Name }} 60 IN A 10.96.0.10\"
    }
    template IN A internal.example.com {
        answer \"{{ .Name }} 60 IN A 10.96.1.10\"
    }
    forward . $dnsmasq"
afwd="    acmeforward $zones {
        to $knot
        max_ttl 30
        hairpin www.example.com 10.96.0.80
        hairpin *.apps.example.org 10.96.0.81
    }"
# The view baseline routes challenge names of the same five zones to a block that forwards them.
view_expr="name() matches '^_acme-challenge[.](.+[.])?example[.](com|net|org|io|dev)[.]\$'"

start_coredns a-pass 1071 "$(block 1071 "$afwd
$common")"
start_coredns a-fwd 1072 "$(block 1072 "$afwd
$common")"
start_coredns plain 1073 "$(block 1073 "$common")"
start_coredns view 1074 "$(block 1074 "    view acme {
        expr $view_expr
    }
    forward . $knot")
$(block 1074 "$common")"
start_coredns fwd 1075 "$(block 1075 "    forward example.com $knot
$common")"
start_coredns hosts 1076 "$(block 1076 "    hosts {
        10.96.0.80 www.example.com
        fallthrough
    }
$common")"

# Every instance answers what it will be measured on, correctly. For the acmeforward instances
# this is also the populated state: the first forwarded challenge is made, and ns1 of every zone
# is forwarded only once the prefetch has found it.
token='"demo-token-123"'
www_token='"demo-token-www-456"'
for inst in a-pass:1071 a-fwd:1072; do
  n=${inst%:*} p=${inst#*:}
  expect "$n" "$p" TXT _acme-challenge.example.com "$token"
  for z in $zones; do expect "$n" "$p" A "ns1.$z" 192.0.2.53; done
  expect "$n" "$p" A svc1.default.svc.cluster.local 10.96.0.10
  expect "$n" "$p" A host1.internal.example.com 10.96.1.10
  expect "$n" "$p" A www.example.com 10.96.0.80
  expect "$n" "$p" A x.apps.example.org 10.96.0.81
done
for inst in a-fwd:1072 view:1074 fwd:1075; do
  n=${inst%:*} p=${inst#*:}
  expect "$n" "$p" TXT _acme-challenge.example.com "$token"
  expect "$n" "$p" TXT _acme-challenge.www.example.com "$www_token"
  expect "$n" "$p" TXT _acme-challenge.alias.example.com "$www_token"
  expect "$n" "$p" TXT _acme-challenge.h99.example.com '"bench-token-99"'
done
for inst in plain:1073 view:1074 fwd:1075 hosts:1076; do
  n=${inst%:*} p=${inst#*:}
  expect "$n" "$p" A svc1.default.svc.cluster.local 10.96.0.10
done
expect plain 1073 A host1.internal.example.com 10.96.1.10
expect_nx plain 1073 TXT _acme-challenge.example.com # without acmeforward the internal view hides it
expect hosts 1076 A www.example.com 10.96.0.80

for i in $(seq 0 99); do echo "svc$i.default.svc.cluster.local A"; done >"$work/svc.txt"
for i in $(seq 0 99); do echo "host$i.internal.example.com A"; done >"$work/internal.txt"
echo "www.example.com A" >"$work/hairpin.txt"
echo "_acme-challenge.example.com TXT" >"$work/challenge.txt"
printf '%s TXT\n' _acme-challenge.example.com _acme-challenge.www.example.com \
  _acme-challenge.alias.example.com >"$work/mix.txt"
# benchworld's 100 distinct names: with 64 queries outstanding few are the same question at once,
# so that row shows the cost of each exchange; with one or three names acmeforward also answers
# identical questions in flight with a single exchange.
for i in $(seq 0 99); do echo "_acme-challenge.h$i.example.com TXT"; done >"$work/distinct.txt"

# Rows: id|A port|B port|data|latency (1: also fixed-rate runs for p50/p99)|goal ratio (- for none)|
# p99 goal (1: A's p99 no worse)|what|A|B
rows=(
  "svc-plain|1071|1073|svc|0|0.99|0|ordinary: \`*.svc.cluster.local A\` (template)|acmeforward, 5 zones, 2 hairpins|same CoreDNS without acmeforward"
  "svc-view|1071|1074|svc|0|1.15|0|ordinary: \`*.svc.cluster.local A\` (template)|acmeforward, 5 zones, 2 hairpins|\`view\` sends challenge names to a forwarding block"
  "internal-plain|1071|1073|internal|0|0.99|0|ordinary, in a listed zone: \`*.internal.example.com A\` (template)|acmeforward, 5 zones, 2 hairpins|same CoreDNS without acmeforward"
  "hairpin-hosts|1071|1076|hairpin|0|0.9|0|hairpin: \`www.example.com A\` → 10.96.0.80|acmeforward \`hairpin\`|\`hosts\` plugin"
  "chal-fwd|1072|1075|challenge|1|1.0|1|forward: \`_acme-challenge.example.com TXT\` → knot|acmeforward → knot|\`forward example.com\` → knot"
  "chal-view|1072|1074|challenge|1|1.2|0|forward: \`_acme-challenge.example.com TXT\` → knot|acmeforward → knot|\`view\` + \`forward\` → knot"
  "mix-fwd|1072|1075|mix|1|1.0|1|forward, mix: apex, www and a CNAME'd challenge, TXT → knot|acmeforward → knot|\`forward example.com\` → knot"
  "distinct-fwd|1072|1075|distinct|1|-|0|forward, 100 distinct challenge names, TXT → knot|acmeforward → knot|\`forward example.com\` → knot"
)

declare -A qps_sum lost rcode_bad rounds_txt
# One dnsperf run. mode qps: as fast as it goes; mode lat: at COMPARE_LATENCY_QPS with one line per
# query (-v), whose latencies are kept for the percentiles.
perf() { # row side port data mode round
  local out=$work/out/$1-$2-$5-$6.txt
  local extra=()
  [[ $5 == lat ]] && extra=(-Q "$lat_qps" -v)
  # In the background, so that a signal to this script ends it now, not after the run.
  dnsperf -s "$ip" -p "$3" -d "$work/$4.txt" -l "$seconds" "${perf_flags[@]}" "${extra[@]}" >"$out" 2>&1 &
  perf_pid=$!
  wait "$perf_pid" || { cat "$out" >&2; die "dnsperf failed ($1 $2)"; }
  perf_pid=
  local sent q l noerr
  sent=$(awk '/Queries sent:/ {print $3}' "$out")
  q=$(awk '/Queries per second:/ {print $4}' "$out")
  l=$(awk '/Queries lost:/ {print $3}' "$out")
  noerr=$(awk '/Response codes:/ {for (i = 3; i <= NF; i++) if ($i == "NOERROR") {v = $(i + 1)}} END {print v + 0}' "$out")
  [[ -n $q && -n $l && -n $sent ]] || { cat "$out" >&2; die "no statistics from dnsperf ($1 $2)"; }
  lost[$1,$2]=$((${lost[$1,$2]:-0} + l))
  rcode_bad[$1,$2]=$((${rcode_bad[$1,$2]:-0} + sent - l - noerr))
  if [[ $5 == lat ]]; then
    awk '$1 == ">" && $2 != "T" && $2 != "I" {print $NF}' "$out" >>"$work/out/$1-$2.lat"
  else
    qps_sum[$1,$2]=$(awk -v a="${qps_sum[$1,$2]:-0}" -v b="$q" 'BEGIN {printf "%.3f", a + b}')
    rounds_txt[$1,$2]+="${rounds_txt[$1,$2]:+ / }$(printf '%.0f' "$q")"
  fi
}

start_load=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "compare: ${#rows[@]} rows x $rounds rounds x 2 sides, ${seconds}s a run; this takes about" \
  "$(((${#rows[@]} + 4) * rounds * 2 * (seconds + 1) / 60 + 1)) min" >&2
for ((r = 1; r <= rounds; r++)); do
  for row in "${rows[@]}"; do
    IFS='|' read -r id pa pb data lat _ <<<"$row"
    if ((r % 2)); then order="A B"; else order="B A"; fi
    modes=qps
    if ((lat)); then modes+=" lat"; fi
    for mode in $modes; do
      for side in $order; do
        if [[ $side == A ]]; then port=$pa; else port=$pb; fi
        echo "compare: round $r, $id, $side, $mode" >&2
        perf "$id" "$side" "$port" "$data" "$mode" "$r"
      done
    done
  done
done
end_load=$(cut -d' ' -f1-3 /proc/loadavg)

pct() { # file: "p50 p99" in µs, nearest rank over every query's latency
  sort -g "$1" | awk '{v[NR] = $1}
    function rank(p,  k) {k = int(NR * p); if (k < NR * p) k++; if (k < 1) k = 1; return v[k] * 1e6}
    END {if (NR) printf "%.0f %.0f\n", rank(0.50), rank(0.99); else print "- -"}'
}
thousands() { sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[^0-9]\)/\1 \2\3/;ta' <<<"$1"; }

gitrev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain 2>/dev/null) ]] || gitrev+=" (with uncommitted changes)"
env_used=""
for v in COMPARE_NET COMPARE_LATENCY_QPS; do [[ -n ${!v:-} ]] && env_used+="$v=${!v} "; done

echo
echo "Command: \`${env_used}benches/compare/run.sh $seconds $rounds\` (\`make bench-compare\` runs it with COMPARE_SECONDS=5 COMPARE_ROUNDS=2 unless given), commit $gitrev, $started"
echo
echo "- dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ {print $2}'): throughput runs \`dnsperf -s $ip -p PORT -d FILE -l $seconds ${perf_flags[*]}\`;" \
  "latency runs (forward rows) the same with \`-Q $lat_qps -v\`, p50/p99 by nearest rank over every answered query's own latency, all rounds pooled"
echo "- $rounds round(s), A and B alternated (A first in odd rounds, B first in even ones); qps is the mean over the rounds"
echo "- nproc $(nproc), CPU$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), kernel $(uname -r), load average $start_load at the start, $end_load at the end"
echo "- $("$coredns" -version | head -1) (build/bin/coredns), $(knotd -V 2>&1 | head -1), $(dnsmasq -v 2>&1 | head -1 | cut -d' ' -f1-3)"
echo "- everything on $net.0/24 (loopback): knot $knot, dnsmasq $dnsmasq, CoreDNS $ip:1071-1076; dnsperf and the servers share the CPUs"
echo
echo "| path | A | B | A qps | B qps | A / B | A p50 / p99 | B p50 / p99 | goal | met | lost (A / B) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
warnings=()
for row in "${rows[@]}"; do
  IFS='|' read -r id _ _ _ lat goal p99goal what adesc bdesc <<<"$row"
  qa=$(awk -v s="${qps_sum[$id,A]}" -v n="$rounds" 'BEGIN {printf "%.0f", s / n}')
  qb=$(awk -v s="${qps_sum[$id,B]}" -v n="$rounds" 'BEGIN {printf "%.0f", s / n}')
  ratio=$(awk -v a="$qa" -v b="$qb" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')
  met=$(awk -v x="$ratio" -v g="$goal" 'BEGIN {print (x != "-" && x + 0 >= g) ? "yes" : "no"}')
  la="–" lb="–" goaltxt="A / B ≥ $goal"
  [[ $goal != - ]] || met="–" goaltxt="none (reported)"
  if ((lat)); then
    read -r a50 a99 < <(pct "$work/out/$id-A.lat")
    read -r b50 b99 < <(pct "$work/out/$id-B.lat")
    la="$(thousands "$a50") / $(thousands "$a99") µs"
    lb="$(thousands "$b50") / $(thousands "$b99") µs"
    if ((p99goal)); then
      goaltxt+=", A p99 ≤ B p99"
      [[ $a99 != - && $b99 != - ]] && ((a99 <= b99)) || met=no
    fi
  fi
  echo "| $what | $adesc | $bdesc | $(thousands "$qa") | $(thousands "$qb") | $ratio | $la | $lb | $goaltxt | $met | ${lost[$id,A]} / ${lost[$id,B]} |"
  for side in A B; do
    ((${lost[$id,$side]} == 0)) || warnings+=("$id $side: ${lost[$id,$side]} queries lost")
    ((${rcode_bad[$id,$side]} == 0)) || warnings+=("$id $side: ${rcode_bad[$id,$side]} answers other than NOERROR")
  done
done
echo
echo "Rounds (qps of each round, in order):"
for row in "${rows[@]}"; do
  IFS='|' read -r id _ <<<"$row"
  echo "- $id: A $(thousands "${rounds_txt[$id,A]}"); B $(thousands "${rounds_txt[$id,B]}")"
done
echo
echo "A is CoreDNS with \`acmeforward $zones\` (to knot, max_ttl 30, \`hairpin www.example.com 10.96.0.80\`," \
  "\`hairpin *.apps.example.org 10.96.0.81\`), in the populated state: its prefetch found all five zones'" \
  "nameservers and one challenge was forwarded before measuring. Every instance also has \`template\` for" \
  "svc.cluster.local and internal.example.com and \`forward .\` to dnsmasq; no \`cache\`. The ordinary rows" \
  "and the forward rows use two A processes with the same Corefile, so that the CNAME'd challenge of the" \
  "mix (whose target acmeforward learns) does not change the state the ordinary rows see."
if ((${#warnings[@]})); then
  echo
  echo "Warnings:"
  printf -- '- %s\n' "${warnings[@]}"
fi
