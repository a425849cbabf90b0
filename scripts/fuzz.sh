#!/usr/bin/env bash
# Runs every cargo-fuzz target for N seconds each (default 60). cargo-fuzz needs a nightly toolchain;
# the pinned cargo-fuzz is installed into build/tools.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
tools=$PWD/build/tools
if ! [ -x "$tools/bin/cargo-fuzz" ]; then
  cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools"
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
export PATH=$tools/bin:$PATH
cd fuzz
for target in $(cargo +nightly fuzz list); do
  echo "fuzz: $target for ${seconds}s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds"
done
