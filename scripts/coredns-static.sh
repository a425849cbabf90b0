#!/usr/bin/env bash
# Builds OUT (default build/bin/coredns-static): the custom CoreDNS as one statically linked
# executable for the container image, which has no libc. Pure-Go resolver and user lookups
# (netgo, osusergo), so the binary never needs glibc's NSS modules at run time; the Rust core is
# sans-IO and never calls the lookups that the linker warns about in Rust's std. -trimpath keeps
# the build independent of the checkout's path. The Makefile's GOFLAGS are the same flags, so this
# build shares Go's cache with make coredns and the tests.
# Skips the build when OUT is newer than every input: the Rust library, go-shim's Go files and
# module files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/bin/coredns-static}
lib=$root/target/release/libacmeforward_ffi.a
[ -f "$lib" ] || { echo "coredns-static: $lib is missing (cargo build --release -p acmeforward-ffi)" >&2; exit 1; }

if [ -x "$out" ] && [ "$out" -nt "$lib" ] &&
  [ -z "$(find "$root/go-shim" "$root/ffi/include" -newer "$out" \( -name '*.go' -o -name go.mod -o -name go.sum -o -name '*.h' \) -print -quit)" ]; then
  echo "coredns-static: $out is up to date"
  exit 0
fi
mkdir -p "$(dirname "$out")"
cd "$root/go-shim"
# The linker's warnings about getaddrinfo/getpwuid_r come from Rust's std (see above): the build's
# output is shown without them, all of it when the build fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! GOFLAGS=-buildvcs=false go build -tags netgo,osusergo -trimpath \
  -ldflags "-s -w -linkmode external -extldflags -static -X main.ffiLibrary=$(sha256sum "$lib" | cut -c1-16)" \
  -o "$out.tmp" ./cmd/coredns 2>"$log"; then
  cat "$log" >&2
  exit 1
fi
grep -v -e '^# ' -e 'in statically linked applications requires at runtime' -e 'in function `std::' "$log" >&2 || true
if ldd "$out.tmp" >/dev/null 2>&1; then
  echo "coredns-static: $out.tmp is dynamically linked:" >&2
  ldd "$out.tmp" >&2
  exit 1
fi
mv "$out.tmp" "$out"
echo "coredns-static: built $out ($(stat -c %s "$out") bytes, static)"
