#!/usr/bin/env bash
# Counts the instructions of Engine::classify per question with callgrind (benches/examples/
# classify_ir.rs): repeatable on a shared machine, where criterion's timings move by tens of
# percent between runs. Prints one line per case: state/name and instructions per question.
#
#   benches/profile/classify.sh        (needs valgrind)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v valgrind >/dev/null || { echo "classify.sh: valgrind not found" >&2; exit 1; }
cargo build --release -q -p acmeforward-benches --example classify_ir
bin=$root/target/release/examples/classify_ir
work=$(mktemp -d /tmp/classify-ir.XXXXXX)
trap 'rm -rf "$work"' EXIT
rounds=100000
# One callgrind run per case, counting only inside `run` (and what it calls).
"$bin" >"$work/cases"
while read -r case _; do
  case=${case%:}
  valgrind --tool=callgrind --callgrind-out-file="$work/out" --toggle-collect='*classify_ir::run*' \
    "$bin" "$case" >/dev/null 2>"$work/log"
  total=$(callgrind_annotate "$work/out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  echo "$case: $((total / rounds)) instructions per question"
done <"$work/cases"
