#!/usr/bin/env bash
# Runs every cargo-fuzz target for N seconds each (default 60), one after the other, each from a
# fresh copy of its checked-in seeds (fuzz/seeds/<target>/) in build/fuzz/corpus/<target>, so that
# what the fuzzer finds never lands in the repository. Prints each target's executions, coverage
# and corpus size; fails when a target found a crash (the input is in fuzz/artifacts/<target>/,
# the whole output in build/fuzz/<target>.log).
#
# cargo-fuzz needs a nightly toolchain; the pinned cargo-fuzz is installed into build/tools.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
shift $(($# > 0 ? 1 : 0))
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: SECONDS must be a positive whole number, not '$seconds'" >&2
  exit 2
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
cargo_fuzz_version=0.13.2
tools=$root/build/tools
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked --root "$tools"
fi
export PATH=$tools/bin:$PATH

cd fuzz
cargo +nightly fuzz build
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

out=$root/build/fuzz
mkdir -p "$out"
summary=()
failed=()
for target in "${targets[@]}"; do
  if ! [ -d "seeds/$target" ]; then
    echo "fuzz: no seeds for target '$target' (fuzz/seeds/$target)" >&2
    exit 2
  fi
  corpus=$out/corpus/$target
  log=$out/$target.log
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp seeds/"$target"/* "$corpus"/
  seeds=$(find "seeds/$target" -type f | wc -l)
  echo "fuzz: $target for ${seconds}s ($seeds seeds)"
  status=0
  # -timeout: an input that runs for seconds is a hang (the core has no loop without a bound).
  cargo +nightly fuzz run "$target" "$corpus" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  # The last status line (`#N DONE cov: C ft: F corp: K/...`) and the final stats.
  last=$(grep -E '^#[0-9]+[[:space:]].*cov: ' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -E -n 's/^#([0-9]+)[[:space:]].*/\1/p' <<<"$last")
  cov=$(sed -E -n 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -E -n 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -E -n 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  line=$(printf '%-9s %10s execs  cov %5s  ft %6s  corpus %5s' \
    "$target" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
  if [ "$status" -ne 0 ]; then
    line="$line  FAILED (exit $status)"
    failed+=("$target")
    {
      echo "fuzz: $target failed (whole output: $log):"
      grep -m 1 -A 3 'panicked at' "$log" || true
      grep -m 2 -E 'ERROR: |SUMMARY: ' "$log" || true
      grep -m 1 -A 2 'Failing input' "$log" | tail -n 1 | sed 's|^[[:space:]]*|input: fuzz/|' || true
    } >&2
  fi
  echo "$line"
  grep '^stat::' "$log" | sed 's/^/    /' || true
  summary+=("$line")
done

echo
echo "fuzz: ${seconds}s per target"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crash or failure in: ${failed[*]} (inputs in fuzz/artifacts/<target>/, logs in build/fuzz/)" >&2
  exit 1
fi
