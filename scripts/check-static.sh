#!/usr/bin/env bash
# Builds OUT (default build/bin/acmeforward-static): `acmeforward check` as one statically linked
# executable for the container image, which has no libc (glibc linked statically: the check
# resolves no names through the system, so the NSS functions the linker warns about are never
# called). Its own target directory: RUSTFLAGS would otherwise rebuild the workspace's target/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/bin/acmeforward-static}
host=$(rustc -vV | sed -n 's/^host: //p')
# With --target, RUSTFLAGS reach the target's crates only, not build scripts and proc macros.
# No debug information and no symbols: the image carries the binary, not a debugger's view of it.
RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --quiet --release -p acmeforward-check \
  --target "$host" --target-dir "$root/build/static-target" --manifest-path "$root/Cargo.toml"
bin=$root/build/static-target/$host/release/acmeforward
# A static PIE: ldd says "statically linked" and lists no library ("=>").
if ldd "$bin" 2>&1 | grep -q '=>'; then
  echo "check-static: $bin is dynamically linked:" >&2
  ldd "$bin" >&2
  exit 1
fi
install -D -m 0755 "$bin" "$out"
echo "check-static: built $out ($(stat -c %s "$out") bytes, static)"
