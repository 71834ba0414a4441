#!/usr/bin/env bash
# Time from start to /readyz of the image's controller, tiered compilation off and on, in turns
# against one embedded API server. Needs the image built (scripts/build-image.sh) and the CLI
# (./extip help builds it). Usage: scripts/ready-time.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
bin=${BIN:-.build/image/rootfs/app/extip}
[ -x "$bin" ] || { echo "no image binary at $bin: run scripts/build-image.sh" >&2; exit 1; }
dir=$(mktemp -d /tmp/extip-ready-XXXX)
kc=$dir/kubeconfig
DOTNET_TieredCompilation=1 dotnet .build/cli/extip.dll apiserver --listen 127.0.0.1:0 --kubeconfig-out "$kc" > "$dir/api.log" 2>&1 &
api=$!
trap 'kill $api 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do [ -s "$kc" ] && break; sleep 0.1; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for round in $(seq 1 "$rounds"); do
  for tc in 0 1; do
    start=$(date +%s.%N)
    DOTNET_TieredCompilation=$tc "$bin" controller --kubeconfig "$kc" --install-crds --namespace extip-system \
      --metrics "127.0.0.1:$port" --id "ready-$round-$tc" > "$dir/controller.log" 2>&1 &
    pid=$!
    until curl -sf "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; do
      kill -0 $pid 2>/dev/null || { cat "$dir/controller.log" >&2; exit 1; }
      sleep 0.02
    done
    echo "round $round: tiered compilation $tc: ready after $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s"
    kill $pid; wait $pid 2>/dev/null || true
  done
done
