#!/usr/bin/env bash
# Debian's own kubectl (package kubernetes-client, v1.20.2: what `apt install kubernetes-client`
# gives a Debian 12 user), unpacked beside the machine's kubectl without replacing it, for the
# tests that check the embedded API server serves old kubectl too (OpenAPI v2 in protobuf, JSON bodies).
# Usage: kubectl-1.20.sh   Prints the binary's path as its last line. Needs root the first time.
set -euo pipefail
dir=${EXTIP_KUBECTL_120_DIR:-/var/cache/extip-kubectl-1.20}
bin="$dir/usr/bin/kubectl"
if [ -x "$bin" ] && "$bin" version --client 2>/dev/null | grep -q 'v1\.20\.'; then echo "$bin"; exit 0; fi
mkdir -p "$dir/deb"
cd "$dir/deb"
rm -f kubernetes-client_*.deb
if ! apt-get download kubernetes-client >/dev/null 2>&1; then
  apt-get update -q >/dev/null
  apt-get download kubernetes-client >/dev/null
fi
dpkg -x kubernetes-client_*.deb "$dir"
"$bin" version --client | grep -q 'v1\.20\.' || { echo "kubectl-1.20: $bin is not v1.20" >&2; exit 1; }
echo "$bin"
