#!/usr/bin/env bash
# Installs what the build and the tests need and is missing: Debian packages for the real servers and
# clients the tests start (knot, dnsmasq, unbound, dig/kdig, dnsperf, pebble, lego, valgrind),
# iptables for the replicas' Service (random DNAT inside a private network namespace), pkg-config
# and jq for the standard CoreDNS build (docs/BUILDING.md); buildah, podman, setcap and the CA
# bundle for the container image (make image) and its test.
# Rust (cargo) and Go come with the machine; pinned cargo tools are installed by the scripts that use
# them, into build/tools.
set -euo pipefail

# command -> Debian package that provides it
declare -A want=(
  [knotd]=knot [knsupdate]=knot-dnsutils [kdig]=knot-dnsutils
  [dnsmasq]=dnsmasq-base [unbound]=unbound [dig]=bind9-dnsutils
  [dnsperf]=dnsperf [pebble]=pebble [lego]=lego [valgrind]=valgrind
  [iptables]=iptables [pkg-config]=pkgconf [jq]=jq
  [buildah]=buildah [podman]=podman [setcap]=libcap2-bin [getcap]=libcap2-bin
)
missing=()
for cmd in "${!want[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
    missing+=("${want[$cmd]}")
  fi
done
# The image copies the system's CA bundle for its tls:// upstreams.
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
for tool in cargo go cc; do
  command -v "$tool" >/dev/null 2>&1 || { echo "deps: $tool is required but not installed" >&2; exit 1; }
done
[ ${#missing[@]} -eq 0 ] && exit 0

mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "deps: installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
# Without systemd (containers, CI) package scripts must not try to start the daemons we install:
# the tests start their own copies on loopback addresses.
made_policy=""
if [ ! -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  made_policy=1
fi
trap '[ -n "$made_policy" ] && $sudo rm -f /usr/sbin/policy-rc.d' EXIT
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}"
