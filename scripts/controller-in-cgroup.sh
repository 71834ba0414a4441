#!/usr/bin/env bash
# The image's controller in a memory cgroup, as a Pod's limits.memory puts it: the embedded API
# server, the controller under LIMIT MiB, N Services of type LoadBalancer created with kubectl;
# prints the controller's resident memory once all are allocated, and whether the limit was hit.
# Needs root and a built image (scripts/build-image.sh). Cleans up its cgroup and processes.
# Usage: scripts/controller-in-cgroup.sh LIMIT_MIB [SERVICES]     (measured in deploy/README.md)
set -euo pipefail
limit=${1:?usage: controller-in-cgroup.sh LIMIT_MIB [SERVICES]}
services=${2:-10000}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary="$root/.build/image/rootfs/app/extip"
[ -x "$binary" ] || { echo "no $binary: run scripts/build-image.sh first" >&2; exit 1; }
work=$(mktemp -d /tmp/extip-cgroup-XXXX)
if [ -d /sys/fs/cgroup/memory ]; then   # cgroup v1
  cg="/sys/fs/cgroup/memory$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup)/extip-footprint-$$"
  mkdir -p "$cg"; echo $((limit*1048576)) > "$cg/memory.limit_in_bytes"; hits() { cat "$cg/memory.failcnt"; }
else                                    # cgroup v2
  cg="/sys/fs/cgroup$(awk -F: '$1=="0"{print $3}' /proc/self/cgroup)/extip-footprint-$$"
  mkdir -p "$cg"; echo $((limit*1048576)) > "$cg/memory.max"; hits() { awk '$1=="max"{print $2}' "$cg/memory.events"; }
fi
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rmdir "$cg" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$root/extip" apiserver --listen 127.0.0.1:0 --kubeconfig-out "$work/kc" >"$work/api.log" 2>&1 & pids+=($!)
for _ in $(seq 300); do [ -s "$work/kc" ] && break; sleep 1; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' x "$cg" "$binary" controller --kubeconfig "$work/kc" --install-crds \
  --namespace extip-system --metrics "127.0.0.1:$port" >"$work/controller.log" 2>&1 & ctl=$!; pids+=($ctl)
export KUBECONFIG="$work/kc"
for _ in $(seq 120); do kubectl get crd ippools.extip.io >/dev/null 2>&1 && break; sleep 1; done
kubectl create namespace many >/dev/null
printf 'apiVersion: extip.io/v1alpha1\nkind: IPPool\nmetadata: {name: many}\nspec: {addresses: ["198.18.0.0/15"]}\n' | kubectl apply -f - >/dev/null
python3 - "$services" >"$work/services.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Service",
  "metadata": {"name": f"s{i}", "namespace": "many"},
  "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False, "ports": [{"port": 443, "protocol": "TCP"}]}} for i in range(n)]}))
PY
kubectl create -f "$work/services.json" >/dev/null
assigned=0
for _ in $(seq 300); do
  assigned=$(curl -s "127.0.0.1:$port/metrics" | awk '/^extip_pool_in_use\{pool="many"/{s+=$2} END{print s+0}')
  [ "${assigned%.*}" -ge "$services" ] && break; sleep 2
done
sleep 5
rss=$(awk '/^VmRSS/{print $2}' "/proc/$ctl/status"); anon=$(awk '/^RssAnon/{print $2}' "/proc/$ctl/status")
printf '{"bench":"controller-in-cgroup","limitMiB":%s,"services":%s,"assigned":%s,"rssMiB":%.1f,"anonMiB":%.1f,"limitHits":%s}\n' \
  "$limit" "$services" "${assigned%.*}" "$(awk "BEGIN{print $rss/1024}")" "$(awk "BEGIN{print $anon/1024}")" "$(hits)"
