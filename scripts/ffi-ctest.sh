#!/usr/bin/env bash
# Builds the ffi staticlib in release, compiles the C test in ffi/tests/ (ffi_test.c with main,
# the ffi_test_*.c files it runs, ffi_test.h) against the checked-in header with warnings as
# errors, and runs it under valgrind (memory errors and definite leaks fail the run). Exits
# non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
out="$target/ffi-ctest"

if ! command -v valgrind >/dev/null; then
    echo "ffi-ctest: valgrind not found (apt-get install valgrind)" >&2
    exit 1
fi

cargo build --release -p acmeforward-ffi
lib="$target/release/libacmeforward_ffi.a"

mkdir -p "$out"
# -std=c11 -Wpedantic: the header must be plain standard C (cgo compiles it with the C compiler).
cc -std=c11 -Wpedantic -Wall -Wextra -Werror -g -I ffi/include \
    -o "$out/ffi_test" ffi/tests/*.c "$lib" -lpthread -ldl -lm

valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --quiet "$out/ffi_test"
