#!/usr/bin/env bash
# Installs the Debian packages extip's tests and lab need. Safe to run again; needs root.
# Usage: scripts/install-deps.sh [--quiet]
set -euo pipefail
packages=(
  iproute2    # ip, network namespaces (lab, agent tests)
  procps      # ps, pkill in test harnesses
  util-linux  # flock, nsenter
  curl        # tools/real-apiserver/start.sh waits for /readyz with it
  openssl     # tools/real-apiserver/start.sh makes its certificates with it
  bird2       # the lab's router and the BGP/BFD tests' peer
  frr         # FRR's bgpd (and zebra): a second real BGP peer
  gobgpd      # GoBGP: a third peer, and the speed reference of `extip bench bgp`
  tshark      # decodes every message the speaker sends in the tests
  nftables    # the tests drop a frozen node's traffic inside its namespace
  keepalived  # VRRP: the L2 failover reference of `extip bench failover`
  python3-kubernetes  # a second client library (Python) in the API conformance suite
  podman      # runs extip's OCI image in the lab (lab --image) as a kubelet's runtime would
  runc        # podman's runtime here: crun refuses machines with cgroups v1 and v2 mounted at once
  skopeo      # inspects the OCI archive scripts/build-image.sh writes
  prometheus  # promtool: checks and unit-tests deploy/monitoring/alerts.yaml
  ansible     # runs deploy/ansible/roles/externalip against the API servers
  gcc         # links the image's Native AOT binary (scripts/build-image.sh; the SDK's ILCompiler
  libc6-dev   #   calls clang or, where there is none, gcc)
  zlib1g-dev
)
# kubectl: the conformance tests drive the machine's kubectl; Debian's kubernetes-client
# provides one where the machine has none.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
# Debian's kubectl 1.20 too, unpacked beside the machine's (the conformance tests drive both).
if [ "$(id -u)" -eq 0 ]; then "$(dirname "$0")/kubectl-1.20.sh" >/dev/null; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages ${missing[*]}; run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The routing daemons must not start as services in the machine's own namespace: the tests run
# them inside namespaces they create. policy-rc.d refuses every service start during the install.
policy=/usr/sbin/policy-rc.d
[ -e "$policy" ] && had_policy=1 || had_policy=0
if [ "$had_policy" -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; fi
trap '[ "$had_policy" -eq 0 ] && rm -f "$policy"' EXIT
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: installed ${missing[*]}"
