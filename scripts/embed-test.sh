#!/usr/bin/env bash
# Embedding the C library as docs/BUILDING.md says: `make install` into a temporary PREFIX,
# compile ffi/examples/exchange.c with the installed acmeforward.pc only, run it and check what it
# prints. Also checks that acmeforward.pc's Libs.private are the system libraries rustc names for
# the static library (native-static-libs). Exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

make --no-print-directory install PREFIX="$prefix"
for f in lib/libacmeforward.a include/acmeforward.h lib/pkgconfig/acmeforward.pc; do
    [ -f "$prefix/$f" ] || { echo "embed-test: make install did not install $f" >&2; exit 1; }
done

# Only the installed files: no path into the source tree.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
read -ra flags <<<"$(pkg-config --cflags --libs --static acmeforward)"
if [[ "${flags[*]}" == *"$root"* ]]; then
    echo "embed-test: pkg-config flags point into the source tree: ${flags[*]}" >&2
    exit 1
fi
cc -std=c11 -Wpedantic -Wall -Wextra -Werror -o "$prefix/exchange" ffi/examples/exchange.c "${flags[@]}"
got=$("$prefix/exchange")
# The example's config is zone example.com, upstream 127.0.0.1:5353, default max_ttl (30); the
# made-up upstream reply has the token with TTL 3600.
want='classify _acme-challenge.www.example.com TXT: forward
classify _acme-challenge.example.org TXT: pass
classify www.example.com A: pass
send: 60 bytes over udp to 127.0.0.1:5353
reply: ok
answer: ID is the client'"'"'s
answer: NOERROR, 1 record
answer: TXT "example-token" ttl 30'
if [ "$got" != "$want" ]; then
    echo "embed-test: ffi/examples/exchange printed:" >&2
    echo "$got" >&2
    echo "embed-test: want:" >&2
    echo "$want" >&2
    exit 1
fi
echo "embed-test: ffi/examples/exchange built from the installed files and ran as expected"

# Libs.private against rustc's list, as sets (the order of shared libraries does not matter).
# In a target directory of its own: printing the list rebuilds the crate with other flags.
native=$(CARGO_TARGET_DIR="$root/build/native-static-libs" cargo rustc --quiet --release -p acmeforward-ffi \
    --crate-type staticlib -- --print native-static-libs 2>&1 | sed -n 's/.*native-static-libs: //p')
private=$(pkg-config --libs-only-other --static acmeforward; pkg-config --libs-only-l --static acmeforward)
# -lgcc_s is left out of the .pc on purpose (gcc links the unwinder itself; see acmeforward.pc.in).
set_of() { tr ' ' '\n' | grep -v -e '^$' -e '^-lacmeforward$' -e '^-lgcc_s$' | sort -u; }
if [ -z "$native" ] || [ "$(set_of <<<"$native")" != "$(set_of <<<"$private")" ]; then
    echo "embed-test: acmeforward.pc's libraries differ from rustc's native-static-libs" >&2
    echo "  rustc:      $native" >&2
    echo "  pkg-config: $private" >&2
    exit 1
fi
echo "embed-test: Libs.private match rustc's native-static-libs ($native)"
