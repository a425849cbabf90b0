#!/usr/bin/env bash
# Generates or checks the C header of the ffi crate with the pinned cbindgen.
#
#   scripts/ffi-header.sh generate   write ffi/include/acmeforward.h
#   scripts/ffi-header.sh check      fail, with a diff, when the checked-in header is stale
#
# cbindgen is installed into build/tools (git-ignored) when missing or of another version.
set -euo pipefail

CBINDGEN_VERSION=0.29.4

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/build/tools"
cbindgen="$tools/bin/cbindgen"
header="$root/ffi/include/acmeforward.h"

usage() {
    echo "usage: $0 generate|check" >&2
    exit 2
}

[ $# -eq 1 ] || usage
mode=$1
case "$mode" in generate | check) ;; *) usage ;; esac

installed_version() {
    # `cbindgen --version` prints "cbindgen 0.29.4".
    [ -x "$cbindgen" ] && "$cbindgen" --version 2>/dev/null | awk '{print $2}'
}

if [ "$(installed_version || true)" != "$CBINDGEN_VERSION" ]; then
    echo "ffi-header: installing cbindgen $CBINDGEN_VERSION into $tools" >&2
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --force --root "$tools"
fi
version=$(installed_version || true)
if [ "$version" != "$CBINDGEN_VERSION" ]; then
    echo "ffi-header: $cbindgen is version '${version}', want $CBINDGEN_VERSION" >&2
    exit 1
fi

generate() {
    # Single-file mode: cbindgen follows the `mod` declarations from lib.rs and needs no cargo
    # metadata. -q: errors only (it warns about every private item it skips).
    "$cbindgen" -q --config "$root/ffi/cbindgen.toml" --output "$1" "$root/ffi/src/lib.rs"
}

case "$mode" in
generate)
    mkdir -p "$(dirname "$header")"
    generate "$header"
    echo "ffi-header: wrote ${header#"$root"/}"
    ;;
check)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    generate "$tmp/acmeforward.h"
    if [ ! -f "$header" ]; then
        echo "ffi-header: ${header#"$root"/} is missing; run: scripts/ffi-header.sh generate" >&2
        exit 1
    fi
    if ! diff -u --label "${header#"$root"/} (checked in)" --label "${header#"$root"/} (generated)" \
        "$header" "$tmp/acmeforward.h"; then
        echo "ffi-header: ${header#"$root"/} is stale; run: scripts/ffi-header.sh generate" >&2
        exit 1
    fi
    echo "ffi-header: ${header#"$root"/} is up to date"
    ;;
esac
