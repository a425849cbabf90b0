#!/usr/bin/env bash
# Writes acmeforward.pc (from ffi/acmeforward.pc.in) to stdout.
# Usage: scripts/pkgconfig.sh PREFIX LIBDIR INCLUDEDIR LIBNAME
#   LIBNAME is the library's name without lib and .a: acmeforward once installed,
#   acmeforward_ffi in cargo's target directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -ne 4 ]; then
    echo "usage: $0 PREFIX LIBDIR INCLUDEDIR LIBNAME" >&2
    exit 2
fi
for dir in "$1" "$2" "$3"; do
    # pkg-config splits its variables at spaces; cgo wants absolute paths.
    case $dir in
    /*' '* | *' '*) echo "pkgconfig.sh: no spaces in paths: '$dir'" >&2; exit 2 ;;
    /*) ;;
    *) echo "pkgconfig.sh: not an absolute path: '$dir'" >&2; exit 2 ;;
    esac
done
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
if [ -z "$version" ]; then
    echo "pkgconfig.sh: no workspace version in Cargo.toml" >&2
    exit 1
fi
sed -e "s|@PREFIX@|$1|" -e "s|@LIBDIR@|$2|" -e "s|@INCLUDEDIR@|$3|" -e "s|@LIBNAME@|$4|" \
    -e "s|@VERSION@|$version|" "$root/ffi/acmeforward.pc.in"
