#!/usr/bin/env bash
# Builds the acmeforward CoreDNS image from deploy/image/Containerfile with buildah, from scratch:
# nothing is pulled.
#   scripts/image.sh BINARY CHECK IMAGE [BUILDAH_GLOBAL_FLAGS...]
# BINARY is the static CoreDNS (scripts/coredns-static.sh), CHECK the static `acmeforward check`
# (scripts/check-static.sh; /acmeforward in the image); IMAGE the name to tag; the global flags
# (--root DIR --runroot DIR --storage-driver vfs) let a test build into a storage of its own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 3 ] || { echo "usage: $0 BINARY CHECK IMAGE [BUILDAH_GLOBAL_FLAGS...]" >&2; exit 2; }
binary=$1 check=$2 image=$3
shift 3
command -v buildah >/dev/null || { echo "image: buildah is missing (scripts/deps.sh installs it)" >&2; exit 1; }
command -v setcap >/dev/null || { echo "image: setcap is missing (Debian package libcap2-bin)" >&2; exit 1; }
if ldd "$binary" >/dev/null 2>&1; then
  echo "image: $binary is dynamically linked; the image has no libc (build it with scripts/coredns-static.sh)" >&2
  exit 1
fi
if ldd "$check" 2>&1 | grep -q '=>'; then
  echo "image: $check is dynamically linked (build it with scripts/check-static.sh)" >&2
  exit 1
fi
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || { echo "image: $ca is missing (Debian package ca-certificates)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
rootfs=$ctx/rootfs
mkdir -p "$rootfs/etc/coredns" "$rootfs/etc/ssl/certs" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp "$binary" "$rootfs/coredns"
chmod 0755 "$rootfs/coredns"
setcap cap_net_bind_service=+ep "$rootfs/coredns"
cp "$check" "$rootfs/acmeforward"
chmod 0755 "$rootfs/acmeforward"
cp "$root/deploy/image/Corefile" "$rootfs/etc/coredns/Corefile"
cp "$ca" "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
cp "$root/deploy/image/Containerfile" "$ctx/Containerfile"

# --pull=never: FROM scratch needs no image; a registry is never asked.
buildah "$@" build --pull=never --layers=false -f "$ctx/Containerfile" -t "$image" "$ctx"
