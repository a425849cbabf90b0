#!/usr/bin/env bash
# Builds CoreDNS the standard way, from its unmodified release source (the version go-shim/go.mod
# pins, from the Go module proxy) plus one plugin.cfg line for acmeforward, as docs/BUILDING.md
# describes step by step. acmeforward's C library comes from pkg-config (acmeforward.pc on
# PKG_CONFIG_PATH: `make install`, or `make ffi`'s build/pkgconfig).
#
# Usage: scripts/standard-build.sh DIR [GO BUILD FLAGS...]
#   DIR/src is the CoreDNS source tree (copied afresh every run), DIR/coredns the binary.
# Go's build cache keeps the second and later builds incremental: DIR/src is the same path every
# time, so only what changed is compiled again.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -lt 1 ]; then
    echo "usage: $0 DIR [GO BUILD FLAGS...]" >&2
    exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd)
shift

if ! pkg-config --exists acmeforward; then
    echo "standard-build: pkg-config finds no acmeforward.pc (PKG_CONFIG_PATH=${PKG_CONFIG_PATH:-}):" \
        "run make install, or point PKG_CONFIG_PATH at build/pkgconfig after make ffi" >&2
    exit 1
fi

# The release and the plugin's module path, as go-shim/go.mod has them.
version=$(cd "$root/go-shim" && go list -m -f '{{.Version}}' github.com/coredns/coredns)
plugin=$(cd "$root/go-shim" && go list -m)

# 1. The unmodified source, from the module proxy. The module cache is read-only: copy it.
moddir=$(go mod download -json "github.com/coredns/coredns@$version" | jq -r .Dir)
rm -rf "$dir/src"
cp -r "$moddir" "$dir/src"
chmod -R u+w "$dir/src"
cd "$dir/src"

# 2. plugin.cfg: acmeforward right before cache (the order there is the order of the chain).
sed -i "s|^cache:cache\$|acmeforward:$plugin\n&|" plugin.cfg
if [ "$(grep -c "^acmeforward:$plugin\$" plugin.cfg)" != 1 ]; then
    echo "standard-build: plugin.cfg of CoreDNS $version has no line cache:cache" >&2
    exit 1
fi

# 3. The plugin's module is the local checkout (v0.0.0: a version no proxy is asked about).
go mod edit -require "$plugin@v0.0.0" -replace "$plugin=$root/go-shim"

# 4. What CoreDNS's own Makefile does: generate the plugin list and order, then `go get` the
#    requirements of what was generated into go.mod and go.sum; cgo on (CoreDNS's Makefile
#    defaults to CGO_ENABLED=0).
go generate coredns.go
go get
# Go's cache does not hash what pkg-config prints: the hash in CGO_CFLAGS does (as in the Makefile).
CGO_CFLAGS="-O2 -g -DACMEFORWARD_PC_HASH=$(pkg-config --cflags --libs --static acmeforward | sha256sum | cut -c1-16)" \
    CGO_ENABLED=1 go build "$@" -o "$dir/coredns" .

# The generated order, as the binary has it: acmeforward immediately before cache.
if ! grep -A1 '"acmeforward",' core/dnsserver/zdirectives.go | grep -q '"cache",'; then
    echo "standard-build: core/dnsserver/zdirectives.go does not put acmeforward right before cache" >&2
    exit 1
fi
echo "standard-build: $dir/coredns (CoreDNS $version with $plugin)"
